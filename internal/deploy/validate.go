package deploy

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/naming"
	"github.com/stratahq/strata/internal/record"
)

// Limits and defaults of a function's configuration. schema/strata.schema.json
// repeats them; TestSchemaAgreesWithGo in internal/manifest keeps the two in
// step.
const (
	MinMemoryMB     = 16
	MaxMemoryMB     = 4096
	DefaultMemoryMB = 128

	MinTimeout     = time.Millisecond
	MaxTimeout     = 15 * time.Minute
	DefaultTimeout = 10 * time.Second

	MinConcurrency        = 1
	MaxConcurrency        = 10000
	DefaultMaxConcurrency = 64

	// MaxCPUMS is the largest cpu_ms (the longest timeout); 0 is no
	// limit.
	MaxCPUMS = 900000

	MaxNameLen = naming.MaxLen
)

// Rule texts, shared by the validators below and by the manifest's type
// errors, so a user reads the same sentence whatever was wrong.
const (
	NameRule        = naming.Rule
	MemoryRule      = "must be an integer number of MB between 16 and 4096"
	TimeoutRule     = `must be a duration like "10s" or "1m30s" between 1ms and 15m`
	CPURule         = "must be an integer number of milliseconds between 0 (no limit) and 900000"
	ConcurrencyRule = "must be an integer between 1 and 10000"
	KindRule        = `must be "reactor", "command" or "process"`
	RuntimeRule     = `must be "nodejs", "python" or "provided"`
	HandlerRule     = `must be "file.function" (like "index.handler"): a file path of letters, digits, _, - and / without "..", then a function name`
	EventsRule      = `must be "cloudevents" (the default) or "lambda"`
	EnvKeyRule      = "must be a letter or _ followed by letters, digits or _"
	SHA256Rule      = "must be 64 lowercase hex digits (a SHA-256)"
)

// ErrInvalidSpec marks every error of Validate, so the admin API can
// answer 400.
var ErrInvalidSpec = errors.New("invalid deploy spec")

// ValidateName checks a project or function name against the one rule
// that `strata new` and the manifest use too (internal/naming).
func ValidateName(s string) error { return naming.Check(s) }

// ValidateMemoryMB checks a memory limit.
func ValidateMemoryMB(n int) error {
	if n < MinMemoryMB || n > MaxMemoryMB {
		return fmt.Errorf("%s, got %d", MemoryRule, n)
	}
	return nil
}

// ValidateTimeout checks a timeout. It must be a whole number of
// milliseconds because versions store it in ms.
func ValidateTimeout(d time.Duration) error {
	if d < MinTimeout || d > MaxTimeout {
		return fmt.Errorf("%s, got %s", TimeoutRule, d)
	}
	if d%time.Millisecond != 0 {
		return fmt.Errorf("must be a whole number of milliseconds, got %s", d)
	}
	return nil
}

// ValidateCPUMS checks a CPU-time limit on its own; CheckCPU checks it
// against the function's timeout and kind.
func ValidateCPUMS(n int64) error {
	if n < 0 || n > MaxCPUMS {
		return fmt.Errorf("%s, got %d", CPURule, n)
	}
	return nil
}

// CheckCPUAgainstTimeout checks that a CPU-time limit can be reached
// before the timeout: CPU time never runs faster than the wall clock, so a
// limit at or above the timeout would never apply.
func CheckCPUAgainstTimeout(cpuMS, timeoutMS int64) error {
	if cpuMS > 0 && cpuMS >= timeoutMS {
		return fmt.Errorf("must be below the timeout (%d ms), got %d: CPU time never outruns the wall clock, so the timeout would always end the call first", timeoutMS, cpuMS)
	}
	return nil
}

// CheckCPUKind refuses a CPU-time limit on a kind that does not enforce
// it: a command module (a fresh instance per request, bounded by its
// timeout) or a process function (its runtime runs outside wazero).
func CheckCPUKind(kind string) error {
	if kind == record.KindCommand || kind == record.KindProcess {
		return fmt.Errorf("is not enforced for a %s function (only reactor functions, built with the Go SDK, have a CPU-time limit); remove it, the timeout bounds the call", kind)
	}
	return nil
}

// validateCPU checks cpu_ms of a function and of its object classes.
func validateCPU(c record.FunctionConfig) []error {
	var errs []error
	check := func(where string, n int64) {
		if n == 0 {
			return
		}
		err := ValidateCPUMS(n)
		if err == nil {
			err = CheckCPUAgainstTimeout(n, c.TimeoutMS)
		}
		if err == nil {
			err = CheckCPUKind(c.Kind)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%scpu_ms: %w", where, err))
		}
	}
	check("", c.CPUMS)
	for _, o := range c.Objects {
		check(fmt.Sprintf("object %q: ", o.Name), o.CPUMS)
	}
	return errs
}

// ValidateMaxConcurrency checks a concurrency limit.
func ValidateMaxConcurrency(n int) error {
	if n < MinConcurrency || n > MaxConcurrency {
		return fmt.Errorf("%s, got %d", ConcurrencyRule, n)
	}
	return nil
}

// ValidateKind checks an explicit module kind.
func ValidateKind(k string) error {
	if k != record.KindReactor && k != record.KindCommand && k != record.KindProcess {
		return fmt.Errorf("%s, got %q", KindRule, k)
	}
	return nil
}

// ValidateRuntime checks a process function's runtime.
func ValidateRuntime(r string) error {
	switch r {
	case record.RuntimeNode, record.RuntimePython, record.RuntimeProvided:
		return nil
	}
	return fmt.Errorf("%s, got %q", RuntimeRule, r)
}

// ValidateHandler checks a process function's handler: the bootstraps
// turn its file part into a path under the code directory, so it must not
// climb out of it, and its function part into an attribute name.
func ValidateHandler(h string) error {
	i := strings.LastIndexByte(h, '.')
	if i < 0 {
		return fmt.Errorf("%s, got %q", HandlerRule, h)
	}
	file, fn := h[:i], h[i+1:]
	bad := file == "" || fn == "" || len(h) > 128 || strings.HasPrefix(file, "/") || strings.Contains(file, "..")
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '/' || r == '.') {
			bad = true
		}
	}
	for _, r := range fn {
		if r == '-' || r == '/' {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("%s, got %q", HandlerRule, h)
	}
	return nil
}

// validateProcess checks what a process function needs and what only a
// process function may have.
func validateProcess(c record.FunctionConfig) []error {
	var errs []error
	if c.Kind != record.KindProcess {
		if c.Runtime != "" || c.Handler != "" {
			errs = append(errs, fmt.Errorf("runtime, handler: only a process function (kind: process) has them"))
		}
		return errs
	}
	if err := ValidateRuntime(c.Runtime); err != nil {
		errs = append(errs, fmt.Errorf("runtime: %w", err))
	}
	if c.Runtime != record.RuntimeProvided {
		if err := ValidateHandler(c.Handler); err != nil {
			errs = append(errs, fmt.Errorf("handler: %w", err))
		}
	}
	if c.Events != record.EventsLambda {
		errs = append(errs, fmt.Errorf(`events: a process function takes Lambda event shapes ("lambda"), got %q`, c.Events))
	}
	// SQL, KV, fetch, secrets, queues and topics reach a process through
	// its Runtime API socket (docs/process.md); workflows and durable
	// objects are driven by the Wasm SDK's host calls, which a process
	// has no counterpart of.
	if len(c.Workflows) > 0 {
		errs = append(errs, fmt.Errorf("workflows: a process function cannot orchestrate workflows (they need the Wasm SDK); declare them on a Wasm function and start them from here through a queue"))
	}
	if len(c.Objects) > 0 {
		errs = append(errs, fmt.Errorf("objects: a process function cannot define durable objects (they need the Wasm SDK); define them in a Wasm function"))
	}
	for _, b := range c.Bindings {
		if b.Kind == record.BindingObject {
			errs = append(errs, fmt.Errorf("bindings: %q: a process function cannot bind durable objects (stubs need the Wasm SDK); it may bind sql databases and kv namespaces", b.Name))
		}
	}
	return errs
}

// ValidateEvents checks a function's event shape as versions store it:
// empty (CloudEvents, the default) or record.EventsLambda. The manifest
// writes "cloudevents" as empty.
func ValidateEvents(e string) error {
	if e != record.EventsCloudEvents && e != record.EventsLambda {
		return fmt.Errorf(`must be empty (CloudEvents, the default) or "lambda", got %q`, e)
	}
	return nil
}

// ValidateEnvKey checks an environment variable name.
func ValidateEnvKey(k string) error {
	ok := k != ""
	for i := 0; ok && i < len(k); i++ {
		c := k[i]
		ok = c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9'
	}
	if !ok {
		return fmt.Errorf("%s, got %q", EnvKeyRule, k)
	}
	return nil
}

// ValidateSHA256 checks a module digest as the store keys blobs.
func ValidateSHA256(s string) error {
	ok := len(s) == 64
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = '0' <= c && c <= '9' || 'a' <= c && c <= 'f'
	}
	if !ok {
		return fmt.Errorf("%s, got %q", SHA256Rule, s)
	}
	return nil
}

// ValidateConfig checks a function configuration as it arrives over the
// API, bindings included (their names, kinds, secret names and fetch
// patterns; Validate checks that the resources exist) and workflows.
// An empty Kind is allowed: the server detects it from the module's
// exports when it compiles it.
func ValidateConfig(c record.FunctionConfig) error {
	var errs []error
	if c.Kind != "" {
		if err := ValidateKind(c.Kind); err != nil {
			errs = append(errs, fmt.Errorf("kind: %w", err))
		}
	}
	if err := ValidateMemoryMB(c.MemoryMB); err != nil {
		errs = append(errs, fmt.Errorf("memory_mb: %w", err))
	}
	if c.TimeoutMS < MinTimeout.Milliseconds() || c.TimeoutMS > MaxTimeout.Milliseconds() {
		errs = append(errs, fmt.Errorf("timeout_ms: must be between %d and %d, got %d",
			MinTimeout.Milliseconds(), MaxTimeout.Milliseconds(), c.TimeoutMS))
	}
	if err := ValidateMaxConcurrency(c.MaxConcurrency); err != nil {
		errs = append(errs, fmt.Errorf("max_concurrency: %w", err))
	}
	for _, k := range sortedKeys(c.Env) {
		if err := ValidateEnvKey(k); err != nil {
			errs = append(errs, fmt.Errorf("env: key %w", err))
		}
	}
	if err := ValidateEvents(c.Events); err != nil {
		errs = append(errs, fmt.Errorf("events: %w", err))
	}
	errs = append(errs, validateCPU(c)...)
	errs = append(errs, validateProcess(c)...)
	errs = append(errs, validateFunctionBindings(c)...)
	errs = append(errs, validateFunctionWorkflows(c)...)
	errs = append(errs, validateFunctionObjects(c)...)
	return errors.Join(errs...)
}
