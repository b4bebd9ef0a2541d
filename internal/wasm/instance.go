package wasm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Env is one invocation's environment: where its logs go and what its
// host calls act for. The invoker builds one per invocation.
type Env struct {
	Stdout io.Writer // reactor: guest stdout; command: unused (stdout is the response). Nil discards.
	Stderr io.Writer // nil discards
	// Call is the invocation as host-call handlers see it: every handler
	// (Bindings, Flow) receives it as an argument. Nil: the handlers
	// answer as outside an invocation.
	Call *host.Call
	// Deadline, when not zero, bounds the invocation as a context
	// deadline would (the earlier of the two applies). The invoker passes
	// the function's timeout here rather than deriving a context, which
	// costs a timer per invocation; Handle enforces it with the
	// instance's own.
	Deadline time.Time
	// CPULimit, when not zero, bounds the on-CPU time of the call (the
	// guest's work, not its waits in host calls): over it the guest is
	// interrupted, Handle returns a *CPULimitError and the instance is
	// broken. Enforced on Linux only (cpuclock_linux.go); elsewhere
	// ignored.
	CPULimit time.Duration
}

// Result codes of strata_handle, mirrored from sdk/go (docs/ABI.md).
const (
	codeOK         = 0
	codePanic      = 1
	codeBadRequest = 2
	codeRejected   = 3
	codeNoHandler  = 4
)

// headerAllowance is room for the encoded status and headers on top of the
// body cap, so the cap means "body bytes" as users expect.
const headerAllowance = 256 << 10

// keepReqBuf is the largest request buffer an idle instance keeps; bigger
// ones are dropped after the call so idle instances do not pin megabytes.
const keepReqBuf = 64 << 10

// Instance is one live reactor instance. It serves one Handle at a time;
// the pool guarantees that.
type Instance struct {
	m      *Module
	mod    api.Module
	handle api.Function
	stdout swapWriter
	stderr swapWriter
	stack  []uint64
	intr   *interrupter // nil when the module's runtime is guarded
	watch  *watch       // ends a call at its deadline or with its caller; made at the first Handle
	mem    *cowMemory   // the memory, when mapped from the module's image (Reset)
	cpu    *cpuMeter    // enforces Env.CPULimit; made at the first call with one

	// Per-invocation state, reached by the host functions through the
	// instance the context carries (invocationKey).
	call         *host.Call
	reqBuf       []byte
	resp         *wire.Response
	respErr      error
	result       []byte // text of the last host call (event_send, binding_call): an answer or an error
	invocationID string
	traceParent  string

	broken bool
}

// sleep is the instance's nanosleep (poll_oneoff's clock waits). A guest
// sleeping during a call (time.Sleep, a timer) wakes when the call's
// context ends, so the interrupt stops it at its deadline rather than when
// the sleep ends. The guest runs on Handle's goroutine, so nanosleep reads
// the running call there.
func (i *Instance) sleep(ns int64) {
	if i.cpu.pause() {
		defer i.cpu.resume()
	}
	var done <-chan struct{}
	if i.watch != nil {
		if c := i.watch.cur.Load(); c != nil {
			done = c.Done()
		}
	}
	sleepUntil(done, ns)
}

// sleepUntil sleeps ns nanoseconds or until done closes. Returning early
// is safe: the guest sees a clock that has not advanced, and the interrupt
// armed for the same deadline stops it at its next loop back-edge.
func sleepUntil(done <-chan struct{}, ns int64) {
	if ns <= 0 {
		return
	}
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-done:
	}
}

// invocationKey carries the running instance to the host functions. It
// is the one context value of the host ABI, and private to this package:
// wazero calls a host function with (ctx, module, stack) only, and its
// host modules are shared by every instance of an engine, so the context
// of the call is the only way to reach the instance. What the handlers
// outside this package need travels as arguments (Env.Call).
type invocationKey struct{}

// swapWriter lets a long-lived instance send each invocation's output to
// that invocation's writers: wazero fixes stdout and stderr at
// instantiation.
type swapWriter struct {
	w, idle io.Writer
	// oom is set when the guest wrote the Go runtime's out-of-memory line
	// (oomMarker), so the trap that follows is reported as what it is.
	oom bool
}

func (s *swapWriter) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, oomMarker) {
		s.oom = true
	}
	return s.w.Write(p)
}

func (s *swapWriter) set(w io.Writer) {
	if w == nil {
		w = io.Discard
	}
	s.w = w
}

func (s *swapWriter) reset() { s.w = s.idle }

// logWriter logs guest output written outside an invocation (package init,
// goroutines running between calls).
type logWriter struct {
	log    *slog.Logger
	module string
	stream string
}

func (l logWriter) Write(p []byte) (int, error) {
	l.log.Info("guest output outside an invocation", "module", l.module, "stream", l.stream,
		"text", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Instantiate creates a reactor instance and runs _initialize (the Go
// runtime and package init), or, when Compile took a snapshot, restores the
// state _initialize left instead (snapshot.go). This is the cold start.
func (m *Module) Instantiate(ctx context.Context) (*Instance, error) {
	inst, err := m.instantiate(ctx)
	if ie := (*InitError)(nil); errors.As(err, &ie) {
		// A cold start whose init failed after the deploy's succeeded
		// (init that depends on the clock, say) fails the request as the
		// guest's failure (500), not as a bad module; the guest's output
		// goes to the node's log in one record.
		m.r.log.WarnContext(ctx, "cold start failed in init", "module", m.name, "err", ie.Error())
		return nil, &TrapError{Module: m.name, Message: "_initialize: " + ie.Reason}
	}
	return inst, err
}

// instantiate is Instantiate, with an init failure as *InitError (the
// deploy's check, initAtDeploy, rejects the version with it).
func (m *Module) instantiate(ctx context.Context) (*Instance, error) {
	if m.kind != KindReactor {
		return nil, fmt.Errorf("instantiate %s: a %s module runs with RunCommand", m.name, m.kind)
	}
	i := &Instance{m: m, stack: make([]uint64, 1)}
	i.stdout.idle = logWriter{log: m.r.log, module: m.name, stream: "stdout"}
	i.stderr.idle = logWriter{log: m.r.log, module: m.name, stream: "stderr"}
	i.stdout.reset()
	i.stderr.reset()
	cfg := m.withEnv(m.base).WithStdout(&i.stdout).WithStderr(&i.stderr).
		WithNanosleep(i.sleep).
		WithStartFunctions() // _initialize is called below, to tell its failures apart
	if m.snap != nil {
		return i.restore(ctx, cfg)
	}
	mod, err := m.eng.rt.InstantiateModule(withLinearMemory(ctx), m.entry.cm, cfg)
	if err != nil {
		return nil, m.classify(ctx, "instantiate", err, nil)
	}
	if m.entry.interrupt {
		if i.intr, err = newInterrupter(mod); err != nil {
			_ = mod.Close(ctx)
			return nil, fmt.Errorf("instantiate %s: %w", m.name, err)
		}
	}
	// The guest's output during init is gathered and reported once: a
	// panic's stack arrives a few bytes per write.
	out := &initOutput{}
	i.stdout.set(out)
	i.stderr.set(out)
	initialize := mod.ExportedFunction("_initialize")
	err = i.intr.call(ctx, func() error { _, err := initialize.Call(ctx); return err })
	i.stdout.reset()
	i.stderr.reset()
	if err != nil {
		_ = mod.Close(context.WithoutCancel(ctx))
		if ctx.Err() != nil {
			return nil, m.classify(ctx, "_initialize", err, nil)
		}
		return nil, m.initError(err, out)
	}
	if text := out.text(); text != "" {
		m.r.log.InfoContext(ctx, "guest output during init", "module", m.name, "text", text)
	}
	i.mod = mod
	i.handle = mod.ExportedFunction("strata_handle")
	return i, nil
}

// restore is the cold start from a snapshot: instantiate the lean module
// (no data segments), copy the snapshot in and skip _initialize.
func (i *Instance) restore(ctx context.Context, cfg wazero.ModuleConfig) (*Instance, error) {
	m := i.m
	actx := withAllocator(ctx, m.alloc)
	if m.img != nil {
		mem, err := m.img.newMemory()
		if err != nil {
			return nil, fmt.Errorf("instantiate %s: %w", m.name, err)
		}
		i.mem, actx = mem, experimental.WithMemoryAllocator(ctx, mem)
	}
	mod, err := m.eng.rt.InstantiateModule(actx, m.entry.cm, cfg)
	if err != nil {
		if i.mem != nil {
			i.mem.Free()
		}
		return nil, m.classify(ctx, "instantiate", err, nil)
	}
	if err := m.snap.restore(mod); err != nil {
		_ = mod.Close(ctx)
		return nil, fmt.Errorf("instantiate %s: restore snapshot: %w", m.name, err)
	}
	if i.intr, err = newInterrupter(mod); err != nil {
		_ = mod.Close(ctx)
		return nil, fmt.Errorf("instantiate %s: %w", m.name, err)
	}
	i.mod = mod
	i.handle = mod.ExportedFunction("strata_handle")
	return i, nil
}

// Broken reports whether the instance failed in a way that leaves its state
// unknown (trap, timeout, panic, exit). A broken instance must be closed.
func (i *Instance) Broken() bool { return i.broken }

// Close closes the instance and frees its memory.
func (i *Instance) Close(ctx context.Context) error {
	i.broken = true
	return i.mod.Close(ctx)
}

// Handle runs one invocation. A ctx deadline, or out.Deadline, bounds it:
// at the deadline the guest is interrupted, Handle returns an error
// wrapping ErrTimeout and the instance is broken. If the request has no
// DeadlineMS, the deadline is passed to the guest.
func (i *Instance) Handle(ctx context.Context, req *wire.Request, out Env) (*wire.Response, error) {
	if i.broken {
		return nil, fmt.Errorf("invoke %s: %w", i.m.name, ErrInstanceBroken)
	}
	c := &callContext{parent: ctx, inst: i}
	c.deadline, c.hasDeadline = ctx.Deadline()
	if !out.Deadline.IsZero() && (!c.hasDeadline || out.Deadline.Before(c.deadline)) {
		c.deadline, c.hasDeadline = out.Deadline, true
	}
	// Host calls may keep the context; it ends with the call.
	defer c.end(callFinished)
	dlMS := req.DeadlineMS
	if dlMS == 0 && c.hasDeadline {
		dlMS = c.deadline.UnixMilli()
	}
	i.reqBuf = wire.AppendRequest(i.reqBuf[:0], req)
	if dlMS != req.DeadlineMS {
		// DeadlineMS is the encoding's last field.
		binary.LittleEndian.PutUint64(i.reqBuf[len(i.reqBuf)-8:], uint64(dlMS))
	}
	i.resp, i.respErr = nil, nil
	i.result = i.result[:0]
	i.invocationID, i.traceParent = req.InvocationID, req.TraceParent
	i.call = out.Call
	i.stdout.set(out.Stdout)
	i.stderr.set(out.Stderr)
	defer func() {
		i.stdout.reset()
		i.stderr.reset()
		i.resp, i.respErr = nil, nil
		i.result = i.result[:0]
		if cap(i.result) > keepResult {
			i.result = nil
		}
		i.invocationID, i.traceParent = "", ""
		i.call = nil
		if cap(i.reqBuf) > keepReqBuf {
			i.reqBuf = nil
		}
	}()

	i.stack[0] = api.EncodeU32(uint32(len(i.reqBuf)))
	if i.watch == nil {
		i.watch = newWatch(i.intr)
	}
	i.stderr.oom = false
	var cpu *cpuMeter
	if cpuLimitEnforced && out.CPULimit > 0 {
		if i.cpu == nil {
			i.cpu = newCPUMeter(i.watch)
		}
		cpu = i.cpu
	}
	err := i.watch.run(c, cpu, out.CPULimit, func() error { return i.handle.CallWithStack(c, i.stack) })
	if err != nil {
		i.broken = true
		if c.state.Load() == callCPULimit {
			return nil, &CPULimitError{Module: i.m.name, Limit: out.CPULimit}
		}
		if pd, ok := ctx.Deadline(); ok && !time.Now().Before(pd) {
			// The instance's timer can end the call an instant before the
			// caller's context marks its own deadline; wait for it, so a
			// caller that asks ctx.Err() after a timeout (the flow engine
			// telling a step's limit from the function's) sees it set.
			<-ctx.Done()
		}
		if i.stderr.oom && c.Err() == nil {
			if out.Stderr != nil {
				_, _ = io.WriteString(out.Stderr, err.Error()+"\n")
			}
			return nil, &TrapError{Module: i.m.name, Message: "invoke: " + i.m.oomReason()}
		}
		return nil, i.m.classify(c, "invoke", err, out.Stderr)
	}
	if errors.Is(i.respErr, ErrResponseTooLarge) {
		return nil, fmt.Errorf("invoke %s: body above %d bytes: %w", i.m.name, i.m.r.cfg.MaxResponseBytes, ErrResponseTooLarge)
	}
	if i.respErr != nil {
		i.broken = true
		return nil, &TrapError{Module: i.m.name, Message: i.respErr.Error()}
	}
	code := api.DecodeI32(i.stack[0])
	switch code {
	case codeOK:
		if i.resp == nil {
			i.broken = true
			return nil, &TrapError{Module: i.m.name, Message: "strata_handle returned 0 without calling response_write"}
		}
		return i.resp, nil
	case codeNoHandler:
		// Deterministic and harmless: every instance would say the same.
		return nil, &TrapError{Module: i.m.name, Message: "no handler registered: call strata.HandleHTTP or strata.HandleFunc from an init function"}
	}
	// A recovered Go panic may leave globals half-updated (a held mutex, a
	// partly built cache); a fresh instance is the safe answer.
	i.broken = true
	switch code {
	case codePanic:
		return nil, &TrapError{Module: i.m.name, Message: "handler panicked (the panic and stack are in the invocation's stderr)"}
	case codeBadRequest:
		return nil, &TrapError{Module: i.m.name, Message: "guest could not read the request"}
	case codeRejected:
		return nil, &TrapError{Module: i.m.name, Message: "host rejected the response"}
	default:
		return nil, &TrapError{Module: i.m.name, Message: fmt.Sprintf("strata_handle returned %d", code)}
	}
}

// classify turns an error from calling into the guest into ErrTimeout,
// context.Canceled or a *TrapError. The full trap text (with the wasm stack)
// goes to stderr when given; the error keeps its first line.
func (m *Module) classify(ctx context.Context, phase string, err error, stderr io.Writer) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return fmt.Errorf("%s %s: %w", phase, m.name, ErrTimeout)
		case sys.ExitCodeContextCanceled:
			return fmt.Errorf("%s %s: %w", phase, m.name, context.Canceled)
		case 2:
			return &TrapError{Module: m.name, Message: fmt.Sprintf("%s: guest exited with code 2 "+
				"(a Go guest does this on a fatal error such as running out of memory; see its stderr)", phase)}
		default:
			return &TrapError{Module: m.name, Message: fmt.Sprintf("%s: guest exited with code %d", phase, exit.ExitCode())}
		}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s %s: %w", phase, m.name, ErrTimeout)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("%s %s: %w", phase, m.name, context.Canceled)
	}
	msg := err.Error()
	if stderr != nil {
		fmt.Fprintf(stderr, "%s\n", msg)
	}
	if first, _, ok := strings.Cut(msg, "\n"); ok {
		msg = first
	}
	return &TrapError{Module: m.name, Message: fmt.Sprintf("%s: %s", phase, msg)}
}

// requestRead implements strata_v1.request_read(ptr, len) -> i32.
func requestRead(ctx context.Context, mod api.Module, stack []uint64) {
	i, _ := ctx.Value(invocationKey{}).(*Instance)
	if i == nil {
		stack[0] = api.EncodeI32(-1)
		return
	}
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	if int(n) > len(i.reqBuf) {
		n = uint32(len(i.reqBuf))
	}
	if !mod.Memory().Write(ptr, i.reqBuf[:n]) {
		stack[0] = api.EncodeI32(-1)
		return
	}
	stack[0] = api.EncodeI32(int32(n))
}

// responseWrite implements strata_v1.response_write(ptr, len) -> i32.
func responseWrite(ctx context.Context, mod api.Module, stack []uint64) {
	i, _ := ctx.Value(invocationKey{}).(*Instance)
	if i == nil {
		stack[0] = api.EncodeI32(-1)
		return
	}
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	max := i.m.r.cfg.MaxResponseBytes
	if int64(n) > int64(max)+headerAllowance {
		i.respErr = ErrResponseTooLarge
		stack[0] = api.EncodeI32(-1)
		return
	}
	view, ok := mod.Memory().Read(ptr, n)
	if !ok {
		i.respErr = errors.New("response_write: range outside guest memory")
		stack[0] = api.EncodeI32(-1)
		return
	}
	// The view aliases guest memory, which the next call overwrites: the
	// response is decoded from a copy it then owns (its strings and body
	// alias the copy).
	resp, err := wire.ResponseView(append([]byte(nil), view...))
	if err != nil {
		i.respErr = fmt.Errorf("response_write: malformed response: %w", err)
		stack[0] = api.EncodeI32(-1)
		return
	}
	if len(resp.Body) > max {
		i.respErr = ErrResponseTooLarge
		stack[0] = api.EncodeI32(-1)
		return
	}
	i.resp, i.respErr = resp, nil
	stack[0] = api.EncodeI32(0)
}
