package process

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
)

// forwarderPath is where a "provided" sandbox finds the forwarder: this
// very executable, mapped read-only, started under the name
// forwarderName (which is how it knows to forward rather than be
// Strata).
const (
	forwarderName = "strata-runtime-forward"
	forwarderPath = "/opt/forward/" + forwarderName
)

// IsForwarder reports whether this process was started as a sandbox's
// Runtime API forwarder; main then runs Forward instead of Strata.
func IsForwarder() bool { return filepath.Base(os.Args[0]) == forwarderName }

// Forward is the forwarder of a "provided" sandbox: a custom bootstrap
// (an aws-lambda-go binary, say) reads AWS_LAMBDA_RUNTIME_API as a TCP
// host:port, but the sandbox has no network but its own loopback and its
// Runtime API is a unix socket. Forward listens on that loopback address,
// relays each connection to the socket, runs the bootstrap (os.Args[1:])
// and returns its exit code.
func Forward() int {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, forwarderName+": usage: "+forwarderName+" BOOTSTRAP [ARGS]")
		return 2
	}
	sock := os.Getenv("STRATA_RUNTIME_SOCKET")
	ln, err := net.Listen("tcp", providedAPI)
	if err != nil {
		fmt.Fprintln(os.Stderr, forwarderName+":", err)
		return 1
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go relay(c, sock)
		}
	}()
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode()
	default:
		fmt.Fprintln(os.Stderr, forwarderName+": run the bootstrap:", err)
		return 1
	}
}

// relay copies one connection both ways to the Runtime API socket.
func relay(c net.Conn, sock string) {
	defer c.Close()
	u, err := net.Dial("unix", sock)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done
}
