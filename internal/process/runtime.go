package process

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/trace"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/sdk/go/wire"
)

//go:embed bootstrap/*
var bootstraps embed.FS

// Defaults of Config.
const (
	DefaultInitTimeout = 10 * time.Second // as Lambda's init phase
	DefaultTmpMB       = 64               // the private /tmp of each process
	DefaultMaxProcs    = 64               // processes and threads of one sandbox
	DefaultLogBytes    = 1 << 20          // stdout+stderr of one invocation
	DefaultFileMB      = 64               // the largest file a process may write
	// MaxPayload is the largest response a handler may return, as
	// Lambda's synchronous invocations (6 MiB).
	MaxPayload = 6 << 20
)

// Config configures a Runtime. Zero values mean the defaults.
type Config struct {
	// Dir holds the unpacked code of every version (code/<sha256>) and
	// each live process's private directory (run/<id>). It must be on
	// the node's disk and not inside any function's view.
	Dir string
	// Bwrap, Node and Python are the executables; empty looks them up in
	// PATH. Python is resolved to the real interpreter (through a pyenv
	// shim, for example) and its installation is mapped read-only into
	// each Python sandbox.
	Bwrap, Node, Python string
	InitTimeout         time.Duration
	TmpMB               int   // size cap of each sandbox's /tmp
	MaxProcs            int   // processes and threads per sandbox (fork bombs)
	LogBytes            int64 // output one invocation may write before its process is killed
	FileMB              int   // RLIMIT_FSIZE of the sandbox
	Logger              *slog.Logger
	// Bindings and Events serve the binding calls processes make on
	// their Runtime API socket (docs/process.md, "Bindings"): the same
	// handlers as the Wasm runtime's (wasm.Config), given the calling
	// invocation's *host.Call. Nil answers those calls with an error.
	Bindings wasm.Bindings
	Events   wasm.EventSink
	// Tracer records a span for each binding call and message sent
	// (wasm.Traced, wasm.SendEvent), a child of the invocation's span;
	// nil records none.
	Tracer *trace.Tracer
}

// ErrUnavailable means this node cannot run process functions (no
// bubblewrap, or no interpreter for the runtime).
var ErrUnavailable = errors.New("process functions unavailable on this node")

// Runtime starts sandboxed processes. It is safe for concurrent use.
type Runtime struct {
	cfg    Config
	python string // the resolved interpreter
	pyHome string // its installation prefix, mapped into Python sandboxes
	boot   string // the directory of the bootstraps, mapped read-only
	run    string // the processes' private directories (run/<id>)
	// forwarder is this executable, which a "provided" sandbox runs as
	// its Runtime API forwarder (Forward) when the node may not listen
	// inside the sandbox itself (forwardOnly, netns.go).
	forwarder   string
	forwardOnly atomic.Bool
	cg          *cgroups
	seq         atomic.Uint64

	// codeUsers counts, per unpacked code directory, the modules and live
	// instances using it; the last to go removes it (releaseCode).
	codeMu    sync.Mutex
	codeUsers map[string]int
}

// New prepares a Runtime: it writes the bootstraps under cfg.Dir and finds
// bwrap and the interpreters. A missing interpreter is reported when a
// function needs it, not here.
func New(cfg Config) (*Runtime, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("process runtime: no directory")
	}
	if cfg.InitTimeout <= 0 {
		cfg.InitTimeout = DefaultInitTimeout
	}
	if cfg.TmpMB <= 0 {
		cfg.TmpMB = DefaultTmpMB
	}
	// Binding calls record their spans as the Wasm runtime's do.
	cfg.Bindings = wasm.Traced(cfg.Bindings, cfg.Tracer)
	if cfg.MaxProcs <= 0 {
		cfg.MaxProcs = DefaultMaxProcs
	}
	if cfg.LogBytes <= 0 {
		cfg.LogBytes = DefaultLogBytes
	}
	if cfg.FileMB <= 0 {
		cfg.FileMB = DefaultFileMB
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Bwrap == "" {
		cfg.Bwrap, _ = exec.LookPath("bwrap")
	}
	if cfg.Node == "" {
		cfg.Node, _ = exec.LookPath("node")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	cfg.Dir = dir
	r := &Runtime{cfg: cfg, boot: filepath.Join(dir, "bootstrap"), codeUsers: map[string]int{}}
	if err := os.MkdirAll(filepath.Join(dir, "code"), 0o700); err != nil {
		return nil, fmt.Errorf("process runtime: %w", err)
	}
	// No module uses any code yet: what an earlier run left (code of
	// versions since replaced, an unpack cut short) goes. What is still
	// deployed is unpacked again from its blob as it loads.
	if err := sweepCode(filepath.Join(dir, "code")); err != nil {
		return nil, fmt.Errorf("process runtime: %w", err)
	}
	// The processes' sockets live under a short directory of their own: a
	// unix socket's path must fit in 108 bytes, which a data directory
	// deep in a project (or a test's temporary directory) may not leave.
	run, err := os.MkdirTemp("", "strata-run-")
	if err != nil {
		return nil, fmt.Errorf("process runtime: %w", err)
	}
	if err := os.Chmod(run, 0o711); err != nil {
		return nil, fmt.Errorf("process runtime: %w", err)
	}
	r.run = run
	if err := r.writeBootstraps(); err != nil {
		return nil, fmt.Errorf("process runtime: write bootstraps: %w", err)
	}
	r.python, r.pyHome = findPython(cfg.Python)
	if exe, err := os.Executable(); err == nil {
		r.forwarder, _ = filepath.EvalSymlinks(exe)
	}
	r.cg = newCgroups(cfg.Logger)
	return r, nil
}

// Close removes the directory of the processes' sockets and this
// runtime's cgroups; close every instance (the registry) first.
func (r *Runtime) Close() error {
	r.cg.close()
	return os.RemoveAll(r.run)
}

// writeBootstraps writes the embedded bootstraps to r.boot, replacing
// what an older binary wrote.
func (r *Runtime) writeBootstraps() error {
	tmp, err := os.MkdirTemp(r.cfg.Dir, "bootstrap.")
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o700); err != nil {
		return err
	}
	des, err := bootstraps.ReadDir("bootstrap")
	if err != nil {
		return err
	}
	for _, d := range des {
		b, err := bootstraps.ReadFile("bootstrap/" + d.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tmp, d.Name()), b, 0o400); err != nil {
			return err
		}
	}
	_ = os.RemoveAll(r.boot)
	return os.Rename(tmp, r.boot)
}

// findPython resolves the interpreter behind a name or shim (pyenv's
// shims are scripts that pick one) and the installation it needs: both are
// what the sandbox maps.
func findPython(name string) (exe, home string) {
	if name == "" {
		name = "python3"
	}
	out, err := exec.Command(name, "-c", "import sys; print(sys.executable); print(sys.base_prefix)").Output()
	if err != nil {
		return "", ""
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		return "", ""
	}
	exe, _ = filepath.EvalSymlinks(lines[0])
	return exe, lines[1]
}

// Spec is what Compile needs to know of a version.
type Spec struct {
	Name     string // "fn@3"
	Function string
	Project  string
	Version  int
	Runtime  string // record.RuntimeNode, RuntimePython, RuntimeProvided
	Handler  string
	MemoryMB int
	Env      map[string]string
}

// Module is one version's code, unpacked, ready for instances.
type Module struct {
	r        *Runtime
	spec     Spec
	code     string // the unpacked directory
	initTime time.Duration
	// closeOnce: Close releases the code once (the registry may close a
	// module on more than one path).
	closeOnce sync.Once
}

// Compile unpacks a version's code (once per digest on this node) and
// starts one instance to prove it initialises: an init error (the handler
// cannot be loaded, it throws while loading, the process exits or takes
// longer than InitTimeout) refuses the deploy as *wasm.InitError does for
// Wasm, with the process's own words.
func (r *Runtime) Compile(ctx context.Context, archive []byte, spec Spec) (*Module, error) {
	if err := r.usable(spec.Runtime); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(archive)
	code := filepath.Join(r.cfg.Dir, "code", hex.EncodeToString(sum[:]))
	if err := r.holdCode(code, archive); err != nil {
		return nil, fmt.Errorf("unpack the code of %s: %w", spec.Name, err)
	}
	if spec.Runtime == record.RuntimeProvided {
		fi, err := os.Stat(filepath.Join(code, "bootstrap"))
		if err != nil || fi.Mode()&0o111 == 0 {
			r.releaseCode(code)
			return nil, &InitError{Module: spec.Name, Message: `a "provided" function's directory needs an executable file named bootstrap`}
		}
	}
	m := &Module{r: r, spec: spec, code: code}
	start := time.Now()
	inst, err := m.instantiate(ctx)
	if err != nil {
		r.releaseCode(code)
		return nil, err
	}
	m.initTime = time.Since(start)
	_ = inst.Close(ctx)
	return m, nil
}

// usable says why a runtime cannot run here, if it cannot.
func (r *Runtime) usable(runtime string) error {
	if r.cfg.Bwrap == "" {
		return fmt.Errorf("%w: bubblewrap (bwrap) is not installed; install the bubblewrap package", ErrUnavailable)
	}
	switch runtime {
	case record.RuntimeNode:
		if r.cfg.Node == "" {
			return fmt.Errorf("%w: no node executable for runtime nodejs", ErrUnavailable)
		}
	case record.RuntimePython:
		if r.python == "" {
			return fmt.Errorf("%w: no python3 interpreter for runtime python", ErrUnavailable)
		}
	case record.RuntimeProvided:
		if r.forwarder == "" {
			return fmt.Errorf("%w: cannot find this executable to forward a provided runtime's Runtime API", ErrUnavailable)
		}
	default:
		return fmt.Errorf("unknown process runtime %q", runtime)
	}
	return nil
}

// InitError is a process function that failed to initialise: what it
// reported to /runtime/init/error, or how it died, with the end of its
// output.
type InitError struct {
	Module  string
	Message string
	Output  string // the last lines the process wrote
}

func (e *InitError) Error() string {
	msg := fmt.Sprintf("init failed (%s): %s", e.Module, e.Message)
	if e.Output != "" {
		msg += "\nprocess output during init:\n  " + strings.ReplaceAll(strings.TrimRight(e.Output, "\n"), "\n", "\n  ")
	}
	return msg
}

// Is makes an init failure a module the deploy refuses (400), as a Wasm
// module's init failure is.
func (e *InitError) Is(target error) bool { return target == wasm.ErrInvalidModule }

// Name, Function, Kind and MemoryMB describe the module to the pool.
func (m *Module) Name() string     { return m.spec.Name }
func (m *Module) Function() string { return m.spec.Function }
func (m *Module) Kind() string     { return record.KindProcess }
func (m *Module) MemoryMB() int    { return m.spec.MemoryMB }

// CompileTime is 0 (there is nothing to compile); InitTime is how long the
// deploy's trial instance took to be ready.
func (m *Module) CompileTime() time.Duration { return 0 }
func (m *Module) InitTime() time.Duration    { return m.initTime }

// Snapshotted is false: processes start from scratch.
func (m *Module) Snapshotted() bool { return false }

// Close gives up the module's use of its unpacked code, which is removed
// once no other module of the same digest and no instance uses it.
// Instances are closed by their pool.
func (m *Module) Close(context.Context) error {
	m.closeOnce.Do(func() { m.r.releaseCode(m.code) })
	return nil
}

// holdCode counts a user of an unpacked code directory, unpacking the
// archive first if no one has (archive nil: it must be there already).
func (r *Runtime) holdCode(code string, archive []byte) error {
	r.codeMu.Lock()
	defer r.codeMu.Unlock()
	if r.codeUsers[code] == 0 && archive != nil {
		if _, err := os.Stat(code); err != nil {
			if err := Unpack(archive, code); err != nil {
				return err
			}
		}
	}
	r.codeUsers[code]++
	return nil
}

// releaseCode ends a use of an unpacked code directory and removes it
// when it was the last: a node keeps only the code of what it runs.
func (r *Runtime) releaseCode(code string) {
	r.codeMu.Lock()
	defer r.codeMu.Unlock()
	r.codeUsers[code]--
	if r.codeUsers[code] > 0 {
		return
	}
	delete(r.codeUsers, code)
	if err := os.RemoveAll(code); err != nil {
		r.cfg.Logger.Warn("remove unused process code", "dir", code, "err", err)
	}
}

// sweepCode removes every unpacked code directory (and unpack left over)
// under dir.
func sweepCode(dir string) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, d := range des {
		if err := os.RemoveAll(filepath.Join(dir, d.Name())); err != nil {
			return err
		}
	}
	return nil
}

// Instantiate starts one sandboxed process and waits until its runtime
// asks for its first invocation.
func (m *Module) Instantiate(ctx context.Context) (*Instance, error) { return m.instantiate(ctx) }

// RunCommand is never called: a process function is no command.
func (m *Module) RunCommand(context.Context, *wire.Request, wasm.Env) (*wire.Response, error) {
	return nil, fmt.Errorf("%s is a process function, not a command module", m.spec.Name)
}
