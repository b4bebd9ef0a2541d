package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/client"
	"github.com/stratahq/strata/sdk/go/wire"
)

func newWorkflowCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "workflow",
		Aliases: []string{"wf"},
		Short:   "Start, inspect, signal, cancel and restart workflow executions",
		Long: `Workflow executions are durable: each has an id (its idempotency key), a status
(running, completed, failed, canceled, terminated) and a history of events.

--data takes inline JSON, @file, or - for standard input; it is checked to be
JSON before anything is sent (a string needs its quotes: --data '"text"').`,
	}
	cmd.AddCommand(
		newWorkflowStartCmd(stdio),
		newWorkflowListCmd(stdio),
		newWorkflowShowCmd(stdio),
		newWorkflowSignalCmd(stdio),
		newWorkflowCancelCmd(stdio),
		newWorkflowTerminateCmd(stdio),
		newWorkflowRestartCmd(stdio),
	)
	return cmd
}

// jsonData reads --data (inline, @file or -) and checks that it is JSON;
// empty means no value (null).
func jsonData(data string, stdin io.Reader) ([]byte, error) {
	b, err := readData(data, stdin)
	if err != nil {
		return nil, usagef("--data: %v", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, usagef("--data is not valid JSON (%v); a string needs its quotes: --data '\"text\"'", err)
	}
	return b, nil
}

func newWorkflowStartCmd(stdio IO) *cobra.Command {
	var t target
	var data, id string
	cmd := &cobra.Command{
		Use:   "start WORKFLOW",
		Short: "Start an execution and print its id",
		Long: `Start an execution of WORKFLOW with --data as its input and print its id.
Starting is idempotent on --id: when an execution with that id exists, its id is
printed with "(existing, STATUS)" and nothing new starts.`,
		Example: `  strata workflow start fulfil --data @order.json --id order-42`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			input, err := jsonData(data, stdio.In)
			if err != nil {
				return err
			}
			c, err := t.client()
			if err != nil {
				return err
			}
			ex, created, err := c.ExecutionStart(cmd.Context(), args[0], id, input)
			if err != nil {
				return err
			}
			if created {
				fmt.Fprintln(stdio.Out, ex.ID)
			} else {
				fmt.Fprintf(stdio.Out, "%s (existing, %s)\n", ex.ID, ex.Status)
			}
			return nil
		},
	}
	t.bind(cmd)
	cmd.Flags().StringVarP(&data, "data", "d", "", "input: inline JSON, @file, or - for stdin (default null)")
	cmd.Flags().StringVar(&id, "id", "", "execution id, also the idempotency key (default: a new UUIDv7)")
	return cmd
}

func newWorkflowListCmd(stdio IO) *cobra.Command {
	var t target
	var p client.ExecutionListParams
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List executions, newest first",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := t.client()
			if err != nil {
				return err
			}
			list, err := c.Executions(cmd.Context(), p)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tWORKFLOW\tSTATUS\tRUN\tSTARTED\tCLOSED")
			for _, e := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", e.ID, e.Workflow, e.Status, e.Run, clock(e.CreatedAt), clock(e.ClosedAt))
			}
			return tw.Flush()
		},
	}
	t.bind(cmd)
	cmd.Flags().StringVar(&p.Status, "status", "", "only executions with this status: running, completed, failed, canceled, terminated")
	cmd.Flags().StringVar(&p.Workflow, "workflow", "", "only executions of this workflow")
	cmd.Flags().StringVar(&p.ParentID, "parent", "", "only the children of this execution")
	cmd.Flags().StringVar(&p.Before, "before", "", "only executions started before this execution id (paging)")
	cmd.Flags().IntVar(&p.Limit, "limit", 0, "show at most this many (default 100)")
	return cmd
}

// clock formats a time for tables: local, to the second; "-" when zero.
func clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}

func newWorkflowShowCmd(stdio IO) *cobra.Command {
	var t target
	var asJSON bool
	var run int
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show an execution: status, input, output, error and its history as a timeline",
		Long: `Show an execution and the history of its current run (or --run N), one line
per event: time since the run started, event type, step, name and data.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := t.client()
			if err != nil {
				return err
			}
			ex, err := c.Execution(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			evs, err := c.ExecutionHistory(cmd.Context(), args[0], run)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(stdio.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Execution *apitype.ExecutionInfo   `json:"execution"`
					Events    []apitype.ExecutionEvent `json:"events"`
				}{ex, evs})
			}
			writeExecution(stdio.Out, ex, run, evs)
			return nil
		},
	}
	t.bind(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"execution": …, "events": […]} as JSON, values in full`)
	cmd.Flags().IntVar(&run, "run", 0, "history of this run (default: the current one)")
	return cmd
}

// showLimit bounds a JSON value in `workflow show`; --json prints it all.
const showLimit = 400

func writeExecution(w io.Writer, ex *apitype.ExecutionInfo, run int, evs []apitype.ExecutionEvent) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ID\t%s\n", ex.ID)
	fmt.Fprintf(tw, "Workflow\t%s (function %s, project %s)\n", ex.Workflow, dash(ex.Function), dash(ex.Project))
	fmt.Fprintf(tw, "Status\t%s\n", ex.Status)
	fmt.Fprintf(tw, "Run\t%d\n", ex.Run)
	if ex.ParentID != "" {
		fmt.Fprintf(tw, "Parent\t%s (step %d)\n", ex.ParentID, ex.ParentStep)
	}
	fmt.Fprintf(tw, "Trace\t%s\n", dash(ex.TraceID))
	fmt.Fprintf(tw, "Started\t%s\n", clock(ex.CreatedAt))
	if !ex.ClosedAt.IsZero() {
		fmt.Fprintf(tw, "Closed\t%s (after %s)\n", clock(ex.ClosedAt), elapsed(ex.ClosedAt.Sub(ex.CreatedAt)))
	}
	fmt.Fprintf(tw, "Input\t%s\n", shortJSON(ex.Input, showLimit))
	if len(ex.Output) > 0 && string(ex.Output) != "null" {
		fmt.Fprintf(tw, "Output\t%s\n", shortJSON(ex.Output, showLimit))
	}
	if len(ex.Error) > 0 && string(ex.Error) != "null" {
		fmt.Fprintf(tw, "Error\t%s\n", flowError(ex.Error))
	}
	_ = tw.Flush()

	if run == 0 {
		run = ex.Run
	}
	fmt.Fprintf(w, "\nHistory of run %d (%d events)\n", run, len(evs))
	if len(evs) == 0 {
		return
	}
	start := evs[0].Time
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, e := range evs {
		step := "-"
		if e.Step > 0 {
			step = strconv.Itoa(e.Step)
		}
		data := ""
		if len(e.Data) > 0 && string(e.Data) != "null" {
			data = cut(oneLine(e.Data), 80)
		}
		fmt.Fprintf(tw, "  +%s\t%s\t%s\t%s\t%s\n", elapsed(e.Time.Sub(start)), e.Type, step, dash(e.Name), data)
	}
	_ = tw.Flush()
}

// elapsed rounds a duration for reading: milliseconds under a minute,
// seconds above.
func elapsed(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// oneLine is JSON on one line.
func oneLine(b []byte) string {
	if len(b) == 0 {
		return "null"
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return string(b)
	}
	return buf.String()
}

// shortJSON is JSON on one line, cut to about n bytes with a note that
// --json shows it all.
func shortJSON(b []byte, n int) string {
	s := oneLine(b)
	if len(s) > n {
		return cut(s, n) + fmt.Sprintf(" (%d bytes; --json shows all)", len(s))
	}
	return s
}

// cut shortens s to at most n bytes, on a rune boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// flowError reads the engine's error shape (wire.FlowError); anything else
// is shown as JSON.
func flowError(b []byte) string {
	var fe wire.FlowError
	if err := json.Unmarshal(b, &fe); err != nil || (fe.Type == "" && fe.Message == "") {
		return shortJSON(b, showLimit)
	}
	s := fe.Type + ": " + fe.Message
	switch {
	case fe.Step > 0 && fe.Name != "":
		s += fmt.Sprintf(" (step %d, %s)", fe.Step, fe.Name)
	case fe.Step > 0:
		s += fmt.Sprintf(" (step %d)", fe.Step)
	case fe.Name != "":
		s += fmt.Sprintf(" (%s)", fe.Name)
	}
	if fe.Attempts > 1 {
		s += fmt.Sprintf(" after %d attempts", fe.Attempts)
	}
	return s
}

func newWorkflowSignalCmd(stdio IO) *cobra.Command {
	var t target
	var data string
	cmd := &cobra.Command{
		Use:     "signal ID NAME",
		Short:   "Send a signal (a JSON value) to a running execution",
		Example: `  strata workflow signal order-42 approval --data true`,
		Args:    exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			value, err := jsonData(data, stdio.In)
			if err != nil {
				return err
			}
			c, err := t.client()
			if err != nil {
				return err
			}
			if err := c.ExecutionSignal(cmd.Context(), args[0], args[1], value); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "sent signal %s to %s\n", args[1], args[0])
			return nil
		},
	}
	t.bind(cmd)
	cmd.Flags().StringVarP(&data, "data", "d", "", "the signal's value: inline JSON, @file, or - for stdin (default null)")
	return cmd
}

func newWorkflowCancelCmd(stdio IO) *cobra.Command {
	var t target
	var reason string
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Ask a running execution to cancel (its code sees it and may compensate)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := t.client()
			if err != nil {
				return err
			}
			if err := c.ExecutionCancel(cmd.Context(), args[0], reason); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "cancel requested for %s\n", args[0])
			return nil
		},
	}
	t.bind(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded in the history")
	return cmd
}

func newWorkflowTerminateCmd(stdio IO) *cobra.Command {
	var t target
	var reason string
	cmd := &cobra.Command{
		Use:   "terminate ID --reason REASON",
		Short: "End a running execution at once, without running its code (no compensation)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return usagef("terminate needs --reason: it is recorded as the execution's error")
			}
			c, err := t.client()
			if err != nil {
				return err
			}
			if err := c.ExecutionTerminate(cmd.Context(), args[0], reason); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "terminated %s\n", args[0])
			return nil
		},
	}
	t.bind(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why (required), recorded as the execution's error")
	return cmd
}

func newWorkflowRestartCmd(stdio IO) *cobra.Command {
	var t target
	var fromFailure bool
	cmd := &cobra.Command{
		Use:   "restart ID",
		Short: "Run a finished execution again: a new run from the start, or --from-failure",
		Long: `Reopen a finished execution. By default a new run starts from the beginning with
the same input. With --from-failure the run that failed continues: every result
recorded before the failed step is kept, and that step runs again.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := t.client()
			if err != nil {
				return err
			}
			ex, err := c.ExecutionRestart(cmd.Context(), args[0], fromFailure)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "restarted %s: run %d, %s\n", ex.ID, ex.Run, ex.Status)
			return nil
		},
	}
	t.bind(cmd)
	cmd.Flags().BoolVar(&fromFailure, "from-failure", false, "continue from the failed step, keeping earlier results")
	return cmd
}
