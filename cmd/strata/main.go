// Command strata is the Strata serverless platform: CLI, dev server and
// production server in one binary.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/stratahq/strata/internal/cli"
	"github.com/stratahq/strata/internal/process"
)

func main() {
	if process.IsForwarder() {
		// Started inside a process function's sandbox (internal/process).
		os.Exit(process.Forward())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
