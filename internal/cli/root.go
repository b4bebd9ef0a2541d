package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata/internal/client"
)

// Exit codes.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitUsage       = 2
	ExitUnreachable = 3
)

// IO is where a command reads and writes.
type IO struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// Version is the binary's version, set at link time with
// -ldflags "-X github.com/stratahq/strata/internal/cli.Version=v1.2.3".
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// usageError marks a wrong command line (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// exitError carries an explicit exit code with an optional message.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

// Run runs the strata command line and returns the exit code.
func Run(ctx context.Context, args []string, stdio IO) int {
	root := newRoot(stdio)
	root.SetArgs(args)
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := exitCode(err)
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(stdio.Err, "error:", msg)
	}
	return code
}

func exitCode(err error) int {
	var ee exitError
	var ue usageError
	var ae *client.APIError
	var ce *client.UnreachableError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
		return ExitUnreachable
	case errors.As(err, &ce):
		// Only the client's own "no answer": a file error or a server's
		// listen failure (net errors too) is a failure, not unreachable.
		return ExitUnreachable
	default:
		return ExitFailure
	}
}

func newRoot(stdio IO) *cobra.Command {
	root := &cobra.Command{
		Use:   "strata",
		Short: "Strata: serverless functions in WebAssembly isolates, self-hosted",
		Long: `Strata runs functions as WebAssembly isolates behind HTTP routes, from one binary.

Start here:
  strata new hello && cd hello    scaffold a project
  strata dev                      build, deploy and serve it on 127.0.0.1:8080
  curl localhost:8080/hello/world

Commands that talk to a server (deploy, invoke, logs, usage, versions,
rollback, functions, workflow, objects, ...) find the dev server of the project in the current
directory by themselves; elsewhere pass --server and --token or set
STRATA_SERVER and STRATA_TOKEN.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (run '%s --help' for usage)", err, c.CommandPath())}
	})
	root.AddCommand(
		newNewCmd(stdio),
		newBuildCmd(stdio),
		newDevCmd(stdio),
		newServerCmd(stdio),
		newDeployCmd(stdio),
		newInvokeCmd(stdio),
		newLogsCmd(stdio),
		newUsageCmd(stdio),
		newFunctionsCmd(stdio),
		newVersionsCmd(stdio),
		newRollbackCmd(stdio),
		newVersionCmd(stdio),
		newQueueCmd(stdio),
		newTopicCmd(stdio),
		newDLQCmd(stdio),
		newSchedulesCmd(stdio),
		newSecretsCmd(stdio),
		newTokenCmd(stdio),
		newDBCmd(stdio),
		newWorkflowCmd(stdio),
		newObjectsCmd(stdio),
		newStateMachinesCmd(stdio),

		newConnectionsCmd(stdio),
		newNodesCmd(stdio),
	)
	return root
}

// exactArgs is cobra.ExactArgs with a usage error (exit code 2).
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s takes %d argument(s), got %d\nUsage: %s", cmd.CommandPath(), n, len(args), cmd.UseLine())
		}
		return nil
	}
}

func newVersionCmd(stdio IO) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the strata version",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(stdio.Out, "strata", version())
			return nil
		},
	}
}
