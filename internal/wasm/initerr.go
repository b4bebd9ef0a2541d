package wasm

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
)

// maxInitOutput bounds the guest output kept from one _initialize: a Go
// panic's message and the first goroutines of its stack fit well within
// it, and a guest printing in a loop cannot grow the node's memory.
const maxInitOutput = 16 << 10

// oomMarker starts the line the Go runtime prints when memory.grow fails
// at the memory limit ("runtime: out of memory: cannot allocate N-byte
// block"), just before its fatal error. The runtime writes that prefix in
// one fd_write, so a write-by-write check sees it whole.
var oomMarker = []byte("runtime: out of memory")

// initOutput gathers what the guest writes to stdout and stderr while
// _initialize runs, so it is reported as one message (a deploy rejection
// or one log record) instead of one log record per write: the Go runtime
// writes a panic and its stack a few bytes at a time.
type initOutput struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	truncated bool
	oom       bool
}

func (o *initOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if bytes.HasPrefix(p, oomMarker) {
		o.oom = true
	}
	room := maxInitOutput - o.buf.Len()
	if len(p) > room {
		o.buf.Write(p[:max(room, 0)])
		o.truncated = true
		return len(p), nil
	}
	o.buf.Write(p)
	return len(p), nil
}

// text returns the output, trimmed, marked when it was cut.
func (o *initOutput) text() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := strings.TrimRight(o.buf.String(), "\n")
	if o.truncated {
		s += fmt.Sprintf("\n... (output cut at %d bytes)", maxInitOutput)
	}
	return s
}

func (o *initOutput) outOfMemory() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.oom
}

// InitError is a module whose initialisation failed: _initialize (the Go
// runtime's start and package init) panicked, trapped, exited or ran out
// of memory. Compile returns it for a version that must not be deployed,
// a cold start for an instance that could not start. It is an
// ErrInvalidModule: the module is at fault, and retrying cannot help.
type InitError struct {
	Module string // "fn@3"
	// Reason is the failure in one line: the guest's panic or fatal error
	// line when it printed one, else the trap.
	Reason string
	// OutOfMemory is set when the guest ran out of its memory limit.
	OutOfMemory bool
	// Output is what the guest printed to stdout and stderr meanwhile
	// (the panic message and its stack), bounded by maxInitOutput.
	Output string
}

func (e *InitError) Error() string {
	// The module is not named: callers say which function they deploy
	// ("function hello: init failed: panic: ...").
	msg := "init failed: " + e.Reason
	if e.Output != "" {
		msg += "\nguest output during init:\n" + indent(e.Output)
	}
	return msg
}

// Is makes an InitError an ErrInvalidModule.
func (e *InitError) Is(target error) bool { return target == ErrInvalidModule }

// indent prefixes each line of s with two spaces, so the guest's output
// reads as a block under the message.
func indent(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" { // no trailing blanks on empty lines
			lines[i] = "  " + l
		}
	}
	return strings.Join(lines, "\n")
}

// initError builds the InitError for an _initialize that failed with err
// while writing out.
func (m *Module) initError(err error, out *initOutput) *InitError {
	e := &InitError{Module: m.name, Output: out.text(), OutOfMemory: out.outOfMemory()}
	trap, _, _ := strings.Cut(err.Error(), "\n")
	switch {
	case e.OutOfMemory:
		e.Reason = m.oomReason()
	case guestHeadline(e.Output) != "":
		e.Reason = guestHeadline(e.Output)
	default:
		e.Reason = trap
	}
	return e
}

// oomReason names the memory limit a guest ran out of.
func (m *Module) oomReason() string {
	return fmt.Sprintf("out of memory: the guest needed more than the function's memory limit of %d MB "+
		"(raise memory in strata.yaml, or allocate less)", m.memoryMB)
}

// guestHeadline returns the first line of a Go panic or fatal error in
// output ("panic: ...", "fatal error: ..."), or "".
func guestHeadline(output string) string {
	for line := range strings.SplitSeq(output, "\n") {
		if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") {
			return line
		}
	}
	return ""
}
