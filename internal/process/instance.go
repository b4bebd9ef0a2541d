package process

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Instance is one sandboxed process and its private Runtime API. It serves
// one Handle at a time (the pool guarantees that).
type Instance struct {
	m       *Module
	id      string
	dir     string // run/<id>: the socket, mapped into the sandbox alone
	cmd     *exec.Cmd
	srv     *http.Server
	cgroups []string

	ready     chan struct{} // closed at the runtime's first /next
	readyOnce sync.Once
	exited    chan struct{} // closed when the process is gone
	exitErr   error         // set before exited closes
	invoke    chan *pending // the invocation /next hands out (capacity 1)
	closing   chan struct{}
	sem       chan struct{} // binding calls in flight (maxBindingCalls)

	mu      sync.Mutex
	cur     *pending // the invocation in flight, nil between invocations
	initErr string   // what the runtime reported to /runtime/init/error
	logs    logs

	broken    bool
	closeOnce sync.Once
	holdsCode bool // counted as a user of its module's code (releaseCode)
}

// pending is one invocation between Handle and the runtime's answer.
type pending struct {
	id       string
	body     []byte
	deadline time.Time
	arn      string
	trace    string
	done     chan result // capacity 1: the first answer wins

	// For binding calls (bindings.go): the invocation as the host-call
	// handlers see it, and what ends its calls.
	call        *host.Call
	traceParent string
	parent      context.Context // Handle's
	// ctx and cancel are made by the first binding call (most
	// invocations make none), under Instance.mu while this is cur;
	// calls counts the calls in flight.
	ctx    context.Context
	cancel context.CancelFunc
	calls  sync.WaitGroup
}

type result struct {
	payload []byte
	err     error
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// instantiate starts a process and waits for its runtime's first /next,
// which is Lambda's end of the init phase.
func (m *Module) instantiate(ctx context.Context) (*Instance, error) {
	r := m.r
	i := &Instance{
		m: m, id: fmt.Sprintf("%d-%s", r.seq.Add(1), newID()),
		ready: make(chan struct{}), exited: make(chan struct{}), closing: make(chan struct{}),
		invoke: make(chan *pending, 1), sem: make(chan struct{}, maxBindingCalls),
	}
	i.logs.limit = r.cfg.LogBytes
	i.logs.overflow = make(chan struct{}, 1)
	i.dir = filepath.Join(r.run, i.id)
	if err := os.Mkdir(i.dir, 0o755); err != nil {
		return nil, fmt.Errorf("start %s: %w", m.spec.Name, err)
	}
	sock := filepath.Join(i.dir, socketName)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		_ = os.RemoveAll(i.dir)
		return nil, fmt.Errorf("start %s: runtime API socket: %w", m.spec.Name, err)
	}
	_ = os.Chmod(sock, 0o666)
	i.srv = &http.Server{Handler: i.api(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
	go func() { _ = i.srv.Serve(ln) }()

	// The code stays on disk while this process has it mapped, even
	// after its module is closed.
	_ = r.holdCode(m.code, nil)
	i.holdsCode = true
	if err := i.start(ctx); err != nil {
		i.kill()
		i.cleanup()
		if errors.Is(err, errNoNetns) {
			// This node may not listen inside a sandbox: from now
			// on provided sandboxes run the forwarder.
			r.forwardOnly.Store(true)
			r.cfg.Logger.Info("provided runtimes use the Runtime API forwarder", "reason", err)
			return m.instantiate(ctx)
		}
		return nil, err
	}
	init := time.NewTimer(r.cfg.InitTimeout)
	defer init.Stop()
	select {
	case <-i.ready:
		return i, nil
	case <-i.exited:
		i.mu.Lock()
		msg := i.initErr
		i.mu.Unlock()
		if msg == "" {
			msg = "the process exited before asking for an invocation: " + describeExit(i.exitErr)
		}
		i.kill()
		i.cleanup()
		return nil, &InitError{Module: m.spec.Name, Message: msg, Output: i.logs.tailText()}
	case <-init.C:
		i.kill()
		i.cleanup()
		return nil, &InitError{Module: m.spec.Name, Message: fmt.Sprintf("not ready after %s (init timeout)", r.cfg.InitTimeout), Output: i.logs.tailText()}
	case <-ctx.Done():
		i.kill()
		i.cleanup()
		return nil, fmt.Errorf("start %s: %w", m.spec.Name, ctx.Err())
	}
}

// start runs the sandbox. When the node may create cgroups, a shell puts
// itself into this process's groups and then becomes bwrap, so every
// process of the sandbox is counted from its first instruction.
func (i *Instance) start(ctx context.Context) error {
	m := i.m
	procs, dirs := m.r.cg.create("p"+i.id, m.r.cfg.MaxProcs, m.spec.MemoryMB)
	i.cgroups = dirs
	direct := m.spec.Runtime == record.RuntimeProvided && !m.r.forwardOnly.Load()
	args := append([]string{m.r.cfg.Bwrap}, m.bwrapArgs(i.dir, direct)...)
	if len(procs) > 0 {
		script := `n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 111; shift; n=$((n-1)); done; exec "$@"`
		args = append(append([]string{"/bin/sh", "-c", script, "sh", strconv.Itoa(len(procs))}, procs...), args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = m.env()
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	// The sandbox's ends of the pipes: closed here once the child has
	// them, so a bwrap that dies before reporting its child is an EOF
	// (sandboxPid), not a read that waits for ever.
	childEnds := []*os.File{outW, errW}
	var infoR, blockW *os.File
	if direct {
		var infoW, blockR *os.File
		if infoR, infoW, err = os.Pipe(); err == nil {
			if blockR, blockW, err = os.Pipe(); err != nil {
				infoR.Close()
				infoW.Close()
			}
		}
		if err != nil {
			for _, f := range []*os.File{outR, outW, errR, errW} {
				f.Close()
			}
			return err
		}
		cmd.ExtraFiles = []*os.File{infoW, blockR} // fds 3 and 4 (bwrapArgs)
		childEnds = append(childEnds, infoW, blockR)
		defer infoR.Close()
		defer blockW.Close()
	}
	err = cmd.Start()
	for _, f := range childEnds {
		f.Close()
	}
	if err != nil {
		outR.Close()
		errR.Close()
		return fmt.Errorf("start %s: %w", m.spec.Name, err)
	}
	i.cmd = cmd
	var readers sync.WaitGroup
	readers.Add(2)
	i.logs.pipes = []*os.File{outR, errR}
	go func() { defer readers.Done(); i.logs.pump(outR, false, i.kill) }()
	go func() { defer readers.Done(); i.logs.pump(errR, true, i.kill) }()
	go func() {
		err := cmd.Wait()
		readers.Wait()
		i.exitErr = err
		close(i.exited)
	}()
	if direct {
		return i.listenInside(infoR, blockW)
	}
	return nil
}

// listenInside opens the Runtime API's TCP listener in a direct provided
// sandbox's network namespace, serves the Runtime API on it, and lets the
// sandbox run its bootstrap (netns.go). It listens on every address of
// that namespace, which has only its loopback, because the loopback may
// not be up yet.
func (i *Instance) listenInside(info io.Reader, unblock *os.File) error {
	pid, err := sandboxPid(info)
	if err != nil {
		return fmt.Errorf("start %s: %w", i.m.spec.Name, err)
	}
	_, port, _ := net.SplitHostPort(providedAPI)
	ln, err := listenInNetns(pid, ":"+port)
	if err != nil {
		return fmt.Errorf("start %s: %w", i.m.spec.Name, err)
	}
	go func() { _ = i.srv.Serve(ln) }()
	if _, err := unblock.Write([]byte{1}); err != nil {
		_ = ln.Close()
		return fmt.Errorf("start %s: release the sandbox: %w", i.m.spec.Name, err)
	}
	return nil
}

func describeExit(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + ws.Signal().String()
		}
		if ee.ExitCode() == 128+int(syscall.SIGKILL) {
			// bwrap reports its child's death by a signal as 128+n.
			return "killed (SIGKILL: most often its memory limit)"
		}
		return "exit status " + strconv.Itoa(ee.ExitCode())
	}
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// Handle runs one invocation: req's body is the event (already shaped by
// the invoker), the answer's body the handler's result. A handler error is
// a *wasm.TrapError (the instance stays: the runtime asked for the next
// invocation); a timeout, too much output or the process dying break the
// instance, which the pool then replaces.
func (i *Instance) Handle(ctx context.Context, req *wire.Request, out wasm.Env) (*wire.Response, error) {
	if i.broken {
		return nil, wasm.ErrInstanceBroken
	}
	select {
	case <-i.exited:
		// It died while idle (its memory limit, a stray timer's crash):
		// the pool replaces it after this invocation fails.
		i.broken = true
		return nil, &wasm.TrapError{Module: i.m.spec.Name, Message: "the process had exited while idle: " + describeExit(i.exitErr) + tailSuffix(i.logs.tailText())}
	default:
	}
	project := ""
	if out.Call != nil {
		project = out.Call.Project
	}
	p := &pending{
		id: req.InvocationID, body: req.Body, deadline: out.Deadline,
		arn:   fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", lambdaRegion, project, i.m.spec.Function),
		trace: xrayTrace(req.TraceParent),
		done:  make(chan result, 1),
		call:  out.Call, traceParent: req.TraceParent, parent: ctx,
	}
	if p.id == "" {
		p.id = newID()
	}
	i.logs.begin(out.Stdout, out.Stderr)
	defer i.logs.end()
	i.mu.Lock()
	i.cur = p
	i.mu.Unlock()
	defer func() {
		i.mu.Lock()
		i.cur = nil
		cancel := p.cancel
		i.mu.Unlock()
		// No binding call outlives its invocation: those still running
		// are cancelled and waited for (no new one is admitted: cur is
		// no longer p).
		if cancel != nil {
			cancel()
			p.calls.Wait()
		}
		select { // not taken by the runtime: take it back
		case <-i.invoke:
		default:
		}
	}()
	i.invoke <- p

	var deadline <-chan time.Time
	if !out.Deadline.IsZero() {
		t := time.NewTimer(time.Until(out.Deadline))
		defer t.Stop()
		deadline = t.C
	}
	select {
	case res := <-p.done:
		// What the handler printed before it answered is in the pipes
		// (or in the pumps' hands): it belongs to this invocation.
		i.logs.settle(settleFor)
		if res.err != nil {
			return nil, res.err
		}
		return &wire.Response{Status: 200, Headers: []wire.Header{{Name: "Content-Type", Values: []string{"application/json"}}}, Body: res.payload}, nil
	case <-deadline:
		i.breakNow()
		return nil, fmt.Errorf("%s: the handler did not answer in time; its process was killed: %w", i.m.spec.Name, wasm.ErrTimeout)
	case <-ctx.Done():
		i.breakNow()
		return nil, fmt.Errorf("%s: %w", i.m.spec.Name, ctx.Err())
	case <-i.logs.overflow:
		i.breakNow()
		return nil, i.overflowError()
	case <-i.exited:
		i.broken = true
		if i.logs.overflowed() {
			// The pump killed it for its output before Handle saw why.
			return nil, i.overflowError()
		}
		return nil, &wasm.TrapError{Module: i.m.spec.Name, Message: "the process exited during the invocation: " + describeExit(i.exitErr) + tailSuffix(i.logs.tailText())}
	}
}

func (i *Instance) overflowError() error {
	return &wasm.TrapError{Module: i.m.spec.Name, Message: fmt.Sprintf("the process wrote more than %d bytes of output in one invocation and was killed", i.logs.limit)}
}

func tailSuffix(s string) string {
	if s == "" {
		return ""
	}
	return "; its last output: " + s
}

// xrayTrace writes a W3C traceparent as the X-Ray trace header Lambda
// passes (Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>), so
// code that reads _X_AMZN_TRACE_ID finds the invocation's trace.
func xrayTrace(tp string) string {
	// 00-<32 hex trace>-<16 hex span>-<2 hex flags>
	if len(tp) != 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' {
		return ""
	}
	sampled := "0"
	if tp[54]&1 == 1 {
		sampled = "1"
	}
	return "Root=1-" + tp[3:11] + "-" + tp[11:35] + ";Parent=" + tp[36:52] + ";Sampled=" + sampled
}

// Broken reports whether the instance must not serve again.
func (i *Instance) Broken() bool { return i.broken }

func (i *Instance) breakNow() {
	i.broken = true
	i.kill()
}

// kill stops the sandbox: bwrap dies, and with it (--die-with-parent and
// the PID namespace) every process inside.
func (i *Instance) kill() {
	if i.cmd != nil && i.cmd.Process != nil {
		_ = syscall.Kill(-i.cmd.Process.Pid, syscall.SIGKILL)
		_ = i.cmd.Process.Kill()
	}
}

// Close kills the process and removes its private directory and groups.
func (i *Instance) Close(context.Context) error {
	i.kill()
	i.cleanup()
	return nil
}

func (i *Instance) cleanup() {
	i.closeOnce.Do(func() {
		close(i.closing)
		if i.cmd != nil {
			select {
			case <-i.exited:
			case <-time.After(5 * time.Second):
			}
		}
		_ = i.srv.Close()
		_ = os.RemoveAll(i.dir)
		if i.holdsCode {
			i.m.r.releaseCode(i.m.code)
		}
		// The kernel frees a group a moment after its last process is
		// gone; removing it must not hold up the invocation whose
		// process broke (the pool closes it on that path).
		if len(i.cgroups) > 0 {
			i.m.r.cg.removeLater(i.cgroups)
		}
	})
}

// logs takes the process's stdout and stderr: during an invocation to its
// writers (the function's logs), counting against the per-invocation cap;
// between invocations (init, idle) only into the tail kept for error
// messages. Output beyond the cap kills the process.
type logs struct {
	// pipes are the read ends the pumps drain; busy counts pumps
	// between taking bytes from a pipe and passing them on (settle).
	pipes    []*os.File
	busy     atomic.Int32
	mu       sync.Mutex
	stdout   io.Writer
	stderr   io.Writer
	n        int64 // bytes this invocation (or since the last one)
	limit    int64
	overflow chan struct{}
	over     bool   // the cap was passed: the process is being killed
	tail     []byte // the last tailBytes bytes written
}

const tailBytes = 2048

func (l *logs) begin(stdout, stderr io.Writer) {
	l.mu.Lock()
	l.stdout, l.stderr, l.n = stdout, stderr, 0
	select {
	case <-l.overflow:
	default:
	}
	l.mu.Unlock()
}

func (l *logs) end() {
	l.mu.Lock()
	l.stdout, l.stderr, l.n = nil, nil, 0
	l.mu.Unlock()
}

// settleFor bounds how long an answered invocation waits for the output
// its process wrote before answering: a process that keeps writing (a
// stray timer) does not hold the answer up.
const settleFor = 50 * time.Millisecond

// settle waits until both pipes are empty and no pump holds bytes it has
// not passed on, or for max: the output a process wrote before it
// answered then reaches this invocation's logs rather than arriving after
// end() and being dropped. The pumps usually have it already: one check
// of each pipe.
func (l *logs) settle(max time.Duration) {
	deadline := time.Now().Add(max)
	for {
		pending := l.busy.Load() > 0
		for _, f := range l.pipes {
			if pending {
				break
			}
			rc, err := f.SyscallConn()
			if err != nil {
				continue
			}
			_ = rc.Control(func(fd uintptr) {
				if n, err := unix.IoctlGetInt(int(fd), unix.TIOCINQ); err == nil && n > 0 {
					pending = true
				}
			})
		}
		if !pending || time.Now().After(deadline) {
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func (l *logs) pump(r *os.File, stderr bool, kill func()) {
	defer r.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			l.busy.Add(1)
			ok := l.write(buf[:n], stderr)
			l.busy.Add(-1)
			if !ok {
				kill()
				_, _ = io.Copy(io.Discard, r) // until the process is gone
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// write passes p on and reports whether the process stays within its cap.
func (l *logs) write(p []byte, stderr bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n += int64(len(p))
	if l.n > l.limit {
		l.over = true
		select {
		case l.overflow <- struct{}{}:
		default:
		}
		return false
	}
	w := l.stdout
	if stderr {
		w = l.stderr
	}
	if w != nil {
		_, _ = w.Write(p)
	}
	l.tail = append(l.tail, p...)
	if len(l.tail) > tailBytes {
		l.tail = append(l.tail[:0], l.tail[len(l.tail)-tailBytes:]...)
	}
	return true
}

func (l *logs) overflowed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.over
}

func (l *logs) tailText() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.tail)
}
