package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/stratahq/strata/internal/client"
)

func newInvokeCmd(stdio IO) *cobra.Command {
	var t target
	var data, method, path, event, contentType string
	var sources = map[string]*string{"queue": new(string), "topic": new(string), "schedule": new(string)}
	var verbose, async bool
	cmd := &cobra.Command{
		Use:   "invoke FUNCTION",
		Short: "Run a function once and print its response body",
		Long: `Invoke a function synchronously, bypassing routes. The guest sees an HTTP
request with the data as its body (POST / unless --method/--path say otherwise).
--data takes a literal, @file, or - for standard input.

With --async the invoke is stored durably and its event id printed at once
(HTTP 202); the function runs it shortly after, retried on failure.

With --event queue|topic|schedule the data is wrapped as the CloudEvent that
source sends the function (the same headers, or the same JSON batch for a
consumer with batch_size > 1; for a schedule, the fire's data at the current
time). Without --data a sample event is sent. When the function consumes
several queues or topics, name one with --queue or --topic.

Exit code 0 when the function answered with a status below 400, 1 otherwise
(the body is printed either way).`,
		Example: `  strata invoke hello --data '{"name":"x"}'
  strata invoke hello --method GET --path /hello/world
  strata invoke resize --data @photo.png > small.png
  strata invoke process-order --event queue --data '{"id": 42}'
  strata invoke nightly-cleanup --event schedule`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := readData(data, stdio.In)
			if err != nil {
				return usagef("--data: %v", err)
			}
			var named []string
			for src, v := range sources {
				if *v != "" {
					named = append(named, src)
				}
			}
			switch {
			case event != "" && sources[event] == nil:
				return usagef("--event %q: want queue, topic or schedule", event)
			case event != "" && (async || method != "" || path != ""):
				return usagef("--event sends the event its source would: it takes no --async, --method or --path")
			case len(named) > 1 || len(named) == 1 && named[0] != event:
				return usagef("--%s goes with --event %s only", named[0], named[0])
			}
			c, err := t.client()
			if err != nil {
				return err
			}
			if async {
				res, err := c.InvokeAsync(cmd.Context(), args[0], strings.ToUpper(method), path, body)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdio.Out, "accepted %s\n", res.ID)
				return nil
			}
			var res *client.InvokeResult
			if event != "" {
				res, err = c.InvokeEvent(cmd.Context(), args[0], event, *sources[event], body, contentType)
			} else {
				res, err = c.Invoke(cmd.Context(), args[0], strings.ToUpper(method), path, body)
			}
			if err != nil {
				if res != nil && res.InvocationID != "" {
					fmt.Fprintf(stdio.Err, "invocation %s\n", res.InvocationID)
				}
				return err
			}
			if verbose {
				fmt.Fprintf(stdio.Err, "status %d, version %s, invocation %s\n", res.Status, res.Header.Get("X-Strata-Version"), res.InvocationID)
			}
			_, _ = stdio.Out.Write(res.Body)
			if res.Status >= 400 {
				if len(res.Body) > 0 && res.Body[len(res.Body)-1] != '\n' {
					fmt.Fprintln(stdio.Out)
				}
				return exitError{code: ExitFailure, err: fmt.Errorf("function answered %d (invocation %s)", res.Status, res.InvocationID)}
			}
			return nil
		},
	}
	t.bind(cmd)
	cmd.Flags().StringVarP(&data, "data", "d", "", "request body: a literal, @file, or - for stdin")
	cmd.Flags().StringVar(&method, "method", "", "HTTP method the guest sees (default POST)")
	cmd.Flags().StringVar(&path, "path", "", "path (and ?query) the guest sees (default /)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print status, version and invocation id to stderr")
	cmd.Flags().StringVar(&event, "event", "", "wrap the data as the CloudEvent this source sends: queue, topic or schedule")
	cmd.Flags().StringVar(sources["queue"], "queue", "", "with --event queue: which of the function's queues")
	cmd.Flags().StringVar(sources["topic"], "topic", "", "with --event topic: which of the function's topics")
	cmd.Flags().StringVar(sources["schedule"], "schedule", "", "with --event schedule: which schedule")
	cmd.Flags().StringVar(&contentType, "content-type", "", "with --event: content type of the data (default application/json when it is JSON)")
	cmd.Flags().BoolVar(&async, "async", false, "store the invoke and return its id at once; it runs later, retried on failure (see retries and dead_letter in strata.yaml)")
	return cmd
}

func readData(data string, stdin io.Reader) ([]byte, error) {
	switch {
	case data == "-":
		return io.ReadAll(stdin)
	case strings.HasPrefix(data, "@"):
		return os.ReadFile(data[1:])
	default:
		return []byte(data), nil
	}
}

func newUsageCmd(stdio IO) *cobra.Command {
	var t target
	var since time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "usage [FUNCTION]",
		Short: "Invocations, errors, cold starts, latency, billed time and cost per function",
		Long: `Report metered usage per function and in total: invocations, errors,
timeouts, throttles, cold starts, p50/p99 duration, billed milliseconds (each
invocation rounded up to 1 ms), GB-seconds, and a cost estimate at the server's
configured prices (by default AWS Lambda's list prices, to compare).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := t.client()
			if err != nil {
				return err
			}
			fn := ""
			if len(args) == 1 {
				fn = args[0]
			}
			rep, err := c.Usage(cmd.Context(), fn, since)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSONOut(stdio.Out, rep)
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "FUNCTION\tINVOCATIONS\tERRORS\tTIMEOUTS\tTHROTTLES\tCOLD\tP50 MS\tP99 MS\tBILLED MS\tGB-S\tCOST USD\t")
			for _, l := range append(rep.Functions, rep.Total) {
				name := l.Function
				if name == "" {
					name = "TOTAL"
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.2f\t%.2f\t%d\t%.4f\t%.8f\t\n", name, l.Invocations, l.Errors, l.Timeouts, l.Throttles, l.ColdStarts, l.P50MS, l.P99MS, l.BilledMS, l.GBSeconds, l.CostUSD)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "prices: $%g per 1M requests, $%g per GB-second\n", rep.Prices.PerMillionRequests, rep.Prices.PerGBSecond)
			return nil
		},
	}
	t.bind(cmd)
	cmd.Flags().DurationVar(&since, "since", 0, "only the last duration, e.g. 1h (default: everything retained)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func newFunctionsCmd(stdio IO) *cobra.Command {
	var t target
	cmd := &cobra.Command{
		Use:     "functions",
		Aliases: []string{"ls"},
		Short:   "List deployed functions: active version, settings, and this node's warm instances",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := t.client()
			if err != nil {
				return err
			}
			fns, err := c.Functions(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "FUNCTION\tPROJECT\tVERSION\tKIND\tMEMORY\tTIMEOUT\tCONCURRENCY\tWARM (IDLE/BUSY)\tCOLD STARTS\tMODULE")
			for _, f := range fns {
				warm, cold := "-", "-"
				if in := f.Instances; in != nil {
					warm = fmt.Sprintf("%d/%d", in.Idle, in.Busy)
					if in.Provisioned > 0 {
						warm += fmt.Sprintf(" (%d provisioned)", in.Provisioned)
					}
					cold = fmt.Sprint(in.ColdStarts)
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d MB\t%s\t%d\t%s\t%s\t%s\n", f.Name, f.Project, f.ActiveVersion, kindOr(f.Config.Kind), f.Config.MemoryMB,
					time.Duration(f.Config.TimeoutMS)*time.Millisecond, f.Config.MaxConcurrency, warm, cold, f.ModuleSHA256[:12])
			}
			return tw.Flush()
		},
	}
	t.bind(cmd)
	return cmd
}

func kindOr(k string) string {
	if k == "" {
		return "auto"
	}
	return k
}

func newVersionsCmd(stdio IO) *cobra.Command {
	var t target
	cmd := &cobra.Command{
		Use:   "versions FUNCTION",
		Short: "List a function's versions, newest first (* marks the active one)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := t.client()
			if err != nil {
				return err
			}
			vs, err := c.Versions(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "\tVERSION\tCREATED\tMODULE\tMEMORY\tTIMEOUT")
			for _, v := range vs {
				mark := ""
				if v.Active {
					mark = "*"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d MB\t%s\n", mark, v.Number, v.CreatedAt.Local().Format(time.DateTime), v.ModuleSHA256[:12],
					v.Config.MemoryMB, time.Duration(v.Config.TimeoutMS)*time.Millisecond)
			}
			return tw.Flush()
		},
	}
	t.bind(cmd)
	return cmd
}

func newRollbackCmd(stdio IO) *cobra.Command {
	var t target
	cmd := &cobra.Command{
		Use:   "rollback FUNCTION VERSION",
		Short: "Point a function back at an earlier version",
		Long: `Make VERSION the active version of FUNCTION. Routes follow at once; requests
in flight finish on the version they started on. The next deploy with changed
code or configuration makes a new version as usual.`,
		Example: "  strata rollback hello 3",
		Args:    exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 1 {
				return usagef("VERSION must be a version number like 3, got %q", args[1])
			}
			c, err := t.client()
			if err != nil {
				return err
			}
			if err := c.Rollback(cmd.Context(), args[0], n); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "%s now serves version %d\n", args[0], n)
			return nil
		},
	}
	t.bind(cmd)
	return cmd
}

func writeJSONOut(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
