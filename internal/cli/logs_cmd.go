package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/client"
	"github.com/stratahq/strata/internal/record"
)

// Reconnect back-off of `strata logs -f` when the server goes away: it
// starts short so a restarting dev server is picked up at once, and stays
// bounded so a server that comes back is found within seconds.
const (
	reconnectFirst = 200 * time.Millisecond
	reconnectMax   = 2 * time.Second
)

func newLogsCmd(stdio IO) *cobra.Command {
	var t target
	var follow, asJSON bool
	var p client.LogsParams
	cmd := &cobra.Command{
		Use:   "logs [FUNCTION]",
		Short: "Print function logs (-f to follow)",
		Long: `Print what functions wrote to stdout and stderr, one line per log line, with
time, function@version, invocation id, stream and (when not info) level.
Platform lines (timeouts, traps) have the stream "platform". Without
FUNCTION, logs of all functions (that needs a token of every project).

A line's level is what the line itself says (a JSON "level" field, logfmt
level=…, or a leading INFO/WARN/ERROR word, "panic:", "fatal error:");
other lines are info. Every line an invocation wrote is readable here by
the time its response has been sent.

With -f, new lines are printed as they arrive; when the server goes away
the command says so on stderr, reconnects, and resumes after the last line
it printed.`,
		Example: `  strata logs hello --since 10m
  strata logs hello --tail 20 -f
  strata logs hello --level warn --json
  strata logs hello --invocation 0192f0c4-5a2b-7c3d-8e4f-a1b2c3d4e5f6
  strata logs hello --trace 4bf92f3577b34da6a3ce929d0e0e4736
  strata logs hello --since 2026-01-02T15:00:00Z --until 2026-01-02T15:10:00Z`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if p.Tail < 0 {
				return usagef("--tail %d: want a number of lines, 1..10000", p.Tail)
			}
			if p.Tail > 10000 {
				return usagef("--tail %d: at most 10000 lines", p.Tail)
			}
			if p.Level != "" {
				if _, ok := record.ParseLogLevel(p.Level); !ok {
					return usagef("--level %q: want debug, info, warn or error", p.Level)
				}
			}
			for _, f := range [][2]string{{"since", p.Since}, {"until", p.Until}} {
				if f[1] != "" {
					if err := checkSince(f[0], f[1]); err != nil {
						return err
					}
				}
			}
			if p.Until != "" && follow {
				return usagef("--until with -f: following prints lines as they are written, so none is ever before --until; drop one of them")
			}
			if p.Trace != "" && !traceIDPattern.MatchString(p.Trace) {
				return usagef("--trace %q: want a trace id of 32 lowercase hex digits (the trace_id of strata logs --json, or of a traceparent header)", p.Trace)
			}
			c, err := t.client()
			if err != nil {
				return err
			}
			if len(args) == 1 {
				p.Function = args[0]
			}
			p.Follow = follow
			print := func(e apitype.LogEntry) error {
				if asJSON {
					return json.NewEncoder(stdio.Out).Encode(e)
				}
				level := ""
				if e.Level != "" && e.Level != "info" {
					level = " " + e.Level
				}
				_, err := fmt.Fprintf(stdio.Out, "%s %s@%d %s %s%s %s\n", e.Time.Local().Format("15:04:05.000"), e.Function, e.Version, shortID(e.InvocationID), e.Stream, level, e.Line)
				return err
			}
			return followLogs(cmd.Context(), c, p, stdio, print)
		},
	}
	t.bind(cmd)
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new lines as they arrive (reconnects if the server goes away)")
	f.StringVar(&p.Since, "since", "", "only lines from this long ago (10m, 2h) or since an RFC 3339 time")
	f.StringVar(&p.Until, "until", "", "only lines from before this long ago (5m) or before an RFC 3339 time")
	f.StringVar(&p.Trace, "trace", "", "only lines of invocations in this trace (its 32-hex trace id, as in --json's trace_id)")
	f.IntVar(&p.Tail, "tail", 0, "only the last N lines (with -f: then follow)")
	f.StringVar(&p.Invocation, "invocation", "", "only lines of this invocation id")
	f.StringVar(&p.Level, "level", "", "only lines of this level or above: debug, info, warn, error")
	f.BoolVar(&asJSON, "json", false, "print one JSON record per line (NDJSON)")
	return cmd
}

// checkSince reads --since as the server will, to refuse a typo before
// connecting.
// traceIDPattern is a W3C trace id.
var traceIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

func checkSince(flag, s string) error {
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return nil
	}
	if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return nil
	}
	return usagef("--%s %q: want a duration like 10m or an RFC 3339 time like 2026-01-02T15:04:05Z", flag, s)
}

// followLogs prints the lines p selects. Without p.Follow it is one
// request. With it, a stream that breaks (server stopped or restarted,
// network gone) is re-requested after the last line printed, so nothing is
// printed twice or skipped; a refusal (4xx) ends it.
func followLogs(ctx context.Context, c *client.Client, p client.LogsParams, stdio IO, print func(apitype.LogEntry) error) error {
	lost := false
	wait := reconnectFirst
	for {
		p.OnConnect = func() {
			if lost {
				fmt.Fprintln(stdio.Err, "reconnected")
				lost = false
			}
			wait = reconnectFirst
		}
		var printErr error
		err := c.Logs(ctx, p, func(e apitype.LogEntry) error {
			if err := print(e); err != nil {
				printErr = err
				return err
			}
			p.After = e.ID
			// What was printed is the tail; the next request resumes after it.
			p.Tail, p.Since = 0, ""
			return nil
		})
		switch {
		case ctx.Err() != nil:
			return nil
		case printErr != nil:
			return printErr
		case !p.Follow:
			return err
		}
		var ae *client.APIError
		if errors.As(err, &ae) && ae.Status < http.StatusInternalServerError {
			return err
		}
		if !lost {
			fmt.Fprintln(stdio.Err, "connection lost; reconnecting…")
			lost = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, reconnectMax)
	}
}

func shortID(id string) string {
	if len(id) > 13 {
		return id[len(id)-12:]
	}
	return id
}
