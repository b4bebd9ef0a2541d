package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// A "provided" bootstrap (an aws-lambda-go program, say) finds its Runtime
// API at AWS_LAMBDA_RUNTIME_API, a TCP host:port, but its sandbox has no
// network other than its own loopback. Rather than start a forwarder
// inside the sandbox (a second, large executable before the bootstrap: a
// third of a cold start), the node opens the Runtime API's TCP listener
// inside the sandbox's network namespace itself, between bwrap creating
// the namespaces and running the command: bwrap reports its child's pid
// (--info-fd), the node enters that network namespace on one locked
// thread, listens, returns, and lets the child go on (--block-fd). The
// listener is the node's, so the bootstrap talks to the node's Runtime API
// server directly; the sandbox still reaches nothing but it.
//
// Entering another network namespace needs CAP_SYS_ADMIN in the node's
// user namespace (a node run as root has it). A node without it falls back
// to the forwarder (forward.go) from its first provided sandbox on.

// errNoNetns is a node that may not enter a sandbox's network namespace.
var errNoNetns = errors.New("cannot enter the sandbox's network namespace")

// sandboxPid reads the pid of bwrap's child from its --info-fd stream: one
// JSON object. It does not wait for the end of the stream, which the
// child (blocked on --block-fd) may still hold open.
func sandboxPid(r io.Reader) (int, error) {
	var info struct {
		ChildPid int `json:"child-pid"`
	}
	if err := json.NewDecoder(r).Decode(&info); err != nil {
		return 0, fmt.Errorf("bwrap's sandbox info: %w", err)
	}
	if info.ChildPid <= 0 {
		return 0, errors.New("bwrap's sandbox info has no child pid")
	}
	return info.ChildPid, nil
}

// listenInNetns listens on addr (TCP) inside the network namespace of
// process pid. The socket is made on a thread locked to this call and
// moved into that namespace; the thread goes back to the node's own
// namespace before it is released, or, if it cannot, stays locked and ends
// with its goroutine, so no other goroutine ever runs in the sandbox's
// namespace.
func listenInNetns(pid int, addr string) (net.Listener, error) {
	type result struct {
		ln  net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		own, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer own.Close()
		target, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("the sandbox's network namespace: %w", err)}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("%w: %v", errNoNetns, err)}
			return
		}
		ln, lerr := net.Listen("tcp", addr)
		if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); err != nil {
			// The thread stays locked and in the sandbox's namespace:
			// it exits with this goroutine.
			if ln != nil {
				_ = ln.Close()
			}
			ch <- result{err: fmt.Errorf("return to the node's network namespace: %w", err)}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{ln, lerr}
	}()
	r := <-ch
	return r.ln, r.err
}
