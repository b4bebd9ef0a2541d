package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/deploy"
)

func newStateMachinesCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "sm",
		Aliases: []string{"state-machines", "statemachines"},
		Short:   "List, show, validate and run Step Functions state machines",
		Long: `State machines belong to a project: --project names it; by default it is the
project in the current directory, else the project of a token limited to one.
strata deploy creates them from state_machines: in strata.yaml; the Step
Functions API (docs/stepfunctions.md) reaches the same machines.

start --sync runs an EXPRESS machine to its end and prints its output;
start without --sync starts an execution and prints its ARN. A STANDARD
execution is durable: executions lists them, describe shows one, history
prints its events as GetExecutionHistory has them, stop aborts it, redrive
continues one that failed, timed out or was aborted where it stopped.`,
	}
	cmd.AddCommand(
		newSMListCmd(stdio),
		newSMShowCmd(stdio),
		newSMValidateCmd(stdio),
		newSMStartCmd(stdio),
		newSMExecutionsCmd(stdio),
		newSMExecutionCmd(stdio, "describe", "Show a STANDARD execution: status, input, output or error"),
		newSMExecutionCmd(stdio, "history", "Print a STANDARD execution's history events"),
		newSMExecutionCmd(stdio, "stop", "Stop (abort) a running STANDARD execution"),
		newSMExecutionCmd(stdio, "redrive", "Continue a failed, timed-out or aborted STANDARD execution where it stopped"),
	)
	return cmd
}

// checkMachineName refuses a name no machine can have before asking.
func checkMachineName(name string) error {
	if err := deploy.ValidateStateMachineName(name); err != nil {
		return usagef("state machine name %v", err)
	}
	return nil
}

func newSMListCmd(stdio IO) *cobra.Command {
	var o objectsTarget
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List a project's state machines",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, project, err := o.resolve()
			if err != nil {
				return err
			}
			list, err := c.StateMachines(cmd.Context(), project)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTYPE\tREVISION\tUPDATED")
			for _, m := range list {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", m.Name, m.Type, m.Revision, clock(m.UpdatedAt))
			}
			return tw.Flush()
		},
	}
	o.bind(cmd)
	return cmd
}

func newSMShowCmd(stdio IO) *cobra.Command {
	var o objectsTarget
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a state machine: its type, revision, ARN and definition",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkMachineName(args[0]); err != nil {
				return err
			}
			c, project, err := o.resolve()
			if err != nil {
				return err
			}
			m, err := c.StateMachine(cmd.Context(), project, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(stdio.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(m)
			}
			var def bytes.Buffer
			if json.Indent(&def, []byte(m.Definition), "", "  ") != nil {
				def.Reset()
				def.WriteString(m.Definition)
			}
			_, err = fmt.Fprintf(stdio.Out, "name:      %s\nproject:   %s\ntype:      %s\nrevision:  %d\narn:       %s\ncreated:   %s\nupdated:   %s\ndefinition:\n%s\n",
				m.Name, m.Project, m.Type, m.Revision, m.Arn, clock(m.CreatedAt), clock(m.UpdatedAt), def.String())
			return err
		},
	}
	o.bind(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the machine as JSON")
	return cmd
}

// definitionJSON reads a definition file: JSON, or YAML (.yaml, .yml)
// converted to JSON as strata deploy converts it.
func definitionJSON(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		j, err := yaml.YAMLToJSON(data)
		if err != nil {
			return "", fmt.Errorf("%s is not valid YAML: %v", path, err)
		}
		data = j
	}
	return string(data), nil
}

func newSMValidateCmd(stdio IO) *cobra.Command {
	var t target
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Validate an Amazon States Language definition (JSON or YAML) as Step Functions does",
		Long: `Validate a definition file with the server's States Language checks, the ones
CreateStateMachine and strata deploy apply. Each problem is printed with its
code and JSON pointer; the command fails when there is one.`,
		Example: `  strata sm validate orders.asl.json`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			def, err := definitionJSON(args[0])
			if err != nil {
				return err
			}
			c, err := t.client()
			if err != nil {
				return err
			}
			res, err := c.StateMachineValidate(cmd.Context(), def)
			if err != nil {
				return err
			}
			if res.Result == "OK" {
				_, err := fmt.Fprintf(stdio.Out, "%s: OK\n", args[0])
				return err
			}
			for _, d := range res.Diagnostics {
				at := d.Location
				if at == "" {
					at = "null"
				}
				fmt.Fprintf(stdio.Out, "%s: %s: %s at %s\n", args[0], d.Code, d.Message, at)
			}
			return fmt.Errorf("%s: %d problem(s)", args[0], len(res.Diagnostics))
		},
	}
	t.bind(cmd)
	return cmd
}

func newSMStartCmd(stdio IO) *cobra.Command {
	var o objectsTarget
	var input, name string
	var sync bool
	cmd := &cobra.Command{
		Use:   "start NAME",
		Short: "Start an execution of an EXPRESS state machine",
		Long: `Start an execution with --input (JSON, @FILE or - for stdin; default {}).
With --sync it runs to its end and its output is printed; a failed execution
prints its error and cause and the command fails. Without --sync it runs in
the background and its ARN is printed (Strata keeps no EXPRESS execution).`,
		Example: `  strata sm start orders --input '{"id": 7}' --sync`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkMachineName(args[0]); err != nil {
				return err
			}
			req := apitype.StateMachineStart{Name: name, Sync: sync}
			if input != "" {
				b, err := readData(input, stdio.In)
				if err != nil {
					return err
				}
				if !json.Valid(b) {
					return usagef("--input is not valid JSON")
				}
				req.Input = b
			}
			c, project, err := o.resolve()
			if err != nil {
				return err
			}
			x, err := c.StateMachineStart(cmd.Context(), project, args[0], req)
			if err != nil {
				return err
			}
			if !sync {
				_, err := fmt.Fprintln(stdio.Out, x.ExecutionArn)
				return err
			}
			if x.Status != "SUCCEEDED" {
				return fmt.Errorf("execution %s %s: %s: %s", x.Name, x.Status, x.Error, x.Cause)
			}
			// The answer's JSON indents the output with it; print it as
			// one line, as the execution produced it.
			var out bytes.Buffer
			if json.Compact(&out, x.Output) != nil {
				out.Reset()
				out.Write(x.Output)
			}
			_, err = fmt.Fprintf(stdio.Out, "%s\n", out.Bytes())
			return err
		},
	}
	o.bind(cmd)
	cmd.Flags().StringVar(&input, "input", "", "the execution's input: JSON, @FILE, or - for stdin (default {})")
	cmd.Flags().StringVar(&name, "name", "", "the execution's name (default: generated)")
	cmd.Flags().BoolVar(&sync, "sync", false, "run to the end and print the output")
	return cmd
}

func newSMExecutionCmd(stdio IO, verb, short string) *cobra.Command {
	var o objectsTarget
	var errName, cause string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   verb + " NAME EXECUTION",
		Short: short,
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkMachineName(args[0]); err != nil {
				return err
			}
			c, project, err := o.resolve()
			if err != nil {
				return err
			}
			switch verb {
			case "stop":
				if err := c.StateMachineStop(cmd.Context(), project, args[0], args[1], errName, cause); err != nil {
					return err
				}
				_, err = fmt.Fprintf(stdio.Out, "stopped %s\n", args[1])
				return err
			case "redrive":
				if err := c.StateMachineRedrive(cmd.Context(), project, args[0], args[1]); err != nil {
					return err
				}
				_, err = fmt.Fprintf(stdio.Out, "redriven %s\n", args[1])
				return err
			case "describe":
				out, err := c.StateMachineDescribe(cmd.Context(), project, args[0], args[1])
				if err != nil {
					return err
				}
				return printIndented(stdio, out)
			}
			out, err := c.StateMachineHistory(cmd.Context(), project, args[0], args[1])
			if err != nil {
				return err
			}
			if asJSON {
				return printIndented(stdio, out)
			}
			var h struct {
				Events []map[string]any `json:"events"`
			}
			if err := json.Unmarshal(out, &h); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTYPE\tSTATE\tDETAIL")
			for _, e := range h.Events {
				state, detail := eventSummary(e)
				fmt.Fprintf(tw, "%v\t%v\t%s\t%s\n", e["id"], e["type"], state, detail)
			}
			return tw.Flush()
		},
	}
	o.bind(cmd)
	switch verb {
	case "stop":
		cmd.Flags().StringVar(&errName, "error", "", "the error the execution is aborted with")
		cmd.Flags().StringVar(&cause, "cause", "", "the cause the execution is aborted with")
	case "history":
		cmd.Flags().BoolVar(&asJSON, "json", false, "print the events as the API answers them")
	}
	return cmd
}

// eventSummary is the state an event is about and its most telling
// detail (input, output, or error and cause), clipped to a line.
func eventSummary(e map[string]any) (string, string) {
	var state, detail string
	for k, v := range e {
		d, ok := v.(map[string]any)
		if !ok || !strings.HasSuffix(k, "EventDetails") {
			continue
		}
		if n, ok := d["name"].(string); ok {
			state = n
		}
		for _, f := range []string{"error", "output", "input", "parameters", "resource"} {
			if s, ok := d[f].(string); ok && s != "" {
				detail = f + "=" + s
				if f == "error" {
					if c, ok := d["cause"].(string); ok && c != "" {
						detail += " cause=" + c
					}
				}
				break
			}
		}
	}
	// One line per event: a cause or an output may hold line breaks.
	detail = strings.Join(strings.Fields(detail), " ")
	if len(detail) > 100 {
		detail = detail[:97] + "..."
	}
	return state, detail
}

func newSMExecutionsCmd(stdio IO) *cobra.Command {
	var o objectsTarget
	var status string
	cmd := &cobra.Command{
		Use:   "executions NAME",
		Short: "List a STANDARD machine's executions, newest first",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkMachineName(args[0]); err != nil {
				return err
			}
			c, project, err := o.resolve()
			if err != nil {
				return err
			}
			out, err := c.StateMachineExecutions(cmd.Context(), project, args[0], status)
			if err != nil {
				return err
			}
			var l struct {
				Executions []struct {
					Name      string   `json:"name"`
					Status    string   `json:"status"`
					StartDate float64  `json:"startDate"`
					StopDate  *float64 `json:"stopDate"`
				} `json:"executions"`
			}
			if err := json.Unmarshal(out, &l); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATUS\tSTARTED\tSTOPPED")
			for _, x := range l.Executions {
				stopped := "-"
				if x.StopDate != nil {
					stopped = epochTime(*x.StopDate)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.Name, x.Status, epochTime(x.StartDate), stopped)
			}
			return tw.Flush()
		},
	}
	o.bind(cmd)
	cmd.Flags().StringVar(&status, "status", "", "only executions with this status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED)")
	return cmd
}

func epochTime(s float64) string {
	return time.UnixMilli(int64(s * 1000)).UTC().Format(time.RFC3339)
}

func printIndented(stdio IO, raw []byte) error {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return err
	}
	b.WriteByte('\n')
	_, err := stdio.Out.Write(b.Bytes())
	return err
}
