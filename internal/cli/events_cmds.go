package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/client"
)

// eventFlags are the flags of commands that send an event.
type eventFlags struct {
	data string
	p    client.EventParams
}

func (f *eventFlags) bind(cmd *cobra.Command, queue bool) {
	cmd.Flags().StringVarP(&f.data, "data", "d", "", "event data: a literal, @file, or - for stdin")
	cmd.Flags().StringVar(&f.p.ContentType, "content-type", "", "content type of the data (default: application/json when it is JSON)")
	cmd.Flags().StringVar(&f.p.Type, "type", "", "CloudEvents type (default strata.message)")
	cmd.Flags().StringVar(&f.p.Subject, "subject", "", "CloudEvents subject")
	cmd.Flags().StringVar(&f.p.DedupID, "dedup-id", "", "deduplication id: a second send with it within 5 minutes is dropped")
	if queue {
		cmd.Flags().StringVar(&f.p.GroupID, "group", "", "message group (FIFO queues keep order within a group)")
		cmd.Flags().DurationVar(&f.p.Delay, "delay", 0, "deliver no sooner than this (up to 15m)")
	}
}

func (f *eventFlags) body(stdio IO) ([]byte, error) {
	b, err := readData(f.data, stdio.In)
	if err != nil {
		return nil, usagef("--data: %v", err)
	}
	if f.p.ContentType == "" && jsonLike(b) {
		f.p.ContentType = "application/json"
	}
	return b, nil
}

func jsonLike(b []byte) bool {
	s := strings.TrimSpace(string(b))
	return len(s) > 0 && (s[0] == '{' || s[0] == '[' || s[0] == '"')
}

func newQueueCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "Send to queues and look at them",
	}
	var t target
	var ef eventFlags
	send := &cobra.Command{
		Use:     "send QUEUE",
		Short:   "Send one message to a queue (stored durably before this returns)",
		Example: `  strata queue send orders --data '{"id":1}'`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := ef.body(stdio)
			if err != nil {
				return err
			}
			c, err := t.client()
			if err != nil {
				return err
			}
			res, err := c.QueueSend(cmd.Context(), args[0], body, ef.p)
			if err != nil {
				return err
			}
			if res.Duplicate {
				fmt.Fprintf(stdio.Out, "%s (duplicate: dropped)\n", res.ID)
			} else {
				fmt.Fprintln(stdio.Out, res.ID)
			}
			return nil
		},
	}
	t.bind(send)
	ef.bind(send, true)

	var st target
	var all bool
	stats := &cobra.Command{
		Use:     "stats [QUEUE]",
		Aliases: []string{"list", "ls"},
		Short:   "Messages visible, in flight and delayed, per queue",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := st.client()
			if err != nil {
				return err
			}
			var qs []queueRow
			if len(args) == 1 {
				q, err := c.Queue(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				qs = append(qs, rowOf(*q))
			} else {
				list, err := c.Queues(cmd.Context(), all)
				if err != nil {
					return err
				}
				for _, q := range list {
					qs = append(qs, rowOf(q))
				}
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "QUEUE\tKIND\tCONSUMER\tDEAD LETTER\tVISIBLE\tIN FLIGHT\tDELAYED\tOLDEST")
			for _, q := range qs {
				age := "-"
				if !q.oldest.IsZero() {
					age = time.Since(q.oldest).Round(time.Second).String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", q.name, q.kind, dash(q.consumer), dash(q.dlq), q.visible, q.inFlight, q.delayed, age)
			}
			return tw.Flush()
		},
	}
	st.bind(stats)
	stats.Flags().BoolVar(&all, "all", false, "include internal queues (async invokes, topic subscriptions)")
	cmd.AddCommand(send, stats, newQueuePeekCmd(stdio))
	return cmd
}

func newQueuePeekCmd(stdio IO) *cobra.Command {
	var t target
	var n int
	cmd := &cobra.Command{
		Use:   "peek QUEUE",
		Short: "Show a queue's next messages without receiving them",
		Long: `Show up to N messages of a queue, oldest first, with their attributes and
data. Peeking is not receiving: the messages stay visible to their consumer,
and their receive counts do not change.`,
		Example: `  strata queue peek orders -n 5`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if n < 1 || n > 1000 {
				return usagef("-n %d: want 1 to 1000", n)
			}
			ms, err := peekMessages(cmd, &t, stdio, args[0], n)
			if err != nil {
				return err
			}
			for _, m := range ms {
				body := messageBody(m)
				fmt.Fprintf(stdio.Out, "%s  type %s  source %s  received %d time(s)  sent %s\n  data: %s\n",
					dash(m.EventID), dash(m.Attributes["type"]), dash(m.Attributes["source"]), m.ReceiveCount,
					m.SentAt.Local().Format(time.DateTime), truncate(body, 200))
				if e := firstNonEmpty(m.Attributes["error"], m.LastError); e != "" {
					fmt.Fprintf(stdio.Out, "  last error: %s\n", e)
				}
			}
			return nil
		},
	}
	t.bind(cmd)
	cmd.Flags().IntVarP(&n, "limit", "n", 10, "show at most this many messages")
	return cmd
}

type queueRow struct {
	name, kind, consumer, dlq  string
	visible, inFlight, delayed int64
	oldest                     time.Time
}

func rowOf(q apitype.QueueInfo) queueRow {
	return queueRow{q.Name, q.Kind, q.Consumer, q.DeadLetter, q.Visible, q.InFlight, q.Delayed, q.OldestSent}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newTopicCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{Use: "topic", Short: "Publish to topics"}
	var t target
	var ef eventFlags
	pub := &cobra.Command{
		Use:     "publish TOPIC",
		Short:   "Publish one event to every subscriber of a topic",
		Example: `  strata topic publish user-signed-up --data @user.json`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := ef.body(stdio)
			if err != nil {
				return err
			}
			c, err := t.client()
			if err != nil {
				return err
			}
			id, n, err := c.TopicPublish(cmd.Context(), args[0], body, ef.p)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "%s → %d subscriber(s)\n", id, n)
			return nil
		},
	}
	t.bind(pub)
	ef.bind(pub, false)
	cmd.AddCommand(pub)
	return cmd
}

func newDLQCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{Use: "dlq", Short: "Inspect and redrive dead-letter queues"}
	var lt target
	var limit int
	list := &cobra.Command{
		Use:   "list QUEUE",
		Short: "List the messages of a dead-letter queue with their errors and attempts",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ms, err := peekMessages(cmd, &lt, stdio, args[0], limit)
			if err != nil {
				return err
			}
			for _, m := range ms {
				body := messageBody(m)
				fmt.Fprintf(stdio.Out, "%s  from %s  attempts %s  sent %s\n  error: %s\n  data: %s\n",
					dash(m.EventID), dash(m.Attributes["source_queue"]), dash(m.Attributes["attempts"]),
					m.SentAt.Local().Format(time.DateTime), dash(firstNonEmpty(m.Attributes["error"], m.LastError)), truncate(body, 200))
			}
			return nil
		},
	}
	lt.bind(list)
	list.Flags().IntVar(&limit, "limit", 100, "show at most this many")

	var rt target
	var to string
	var maxN int
	redrive := &cobra.Command{
		Use:   "redrive QUEUE",
		Short: "Move a dead-letter queue's messages back to where they came from (or --to a queue)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rt.client()
			if err != nil {
				return err
			}
			n, err := c.QueueRedrive(cmd.Context(), args[0], to, maxN)
			if err != nil {
				return err
			}
			if n == 0 {
				fmt.Fprintf(stdio.Out, "nothing to redrive: %s is empty\n", args[0])
				return nil
			}
			fmt.Fprintf(stdio.Out, "redrove %d message(s)\n", n)
			return nil
		},
	}
	rt.bind(redrive)
	redrive.Flags().StringVar(&to, "to", "", "queue to move the messages to (default: each message's source queue)")
	redrive.Flags().IntVar(&maxN, "max", 0, "move at most this many (default all)")
	cmd.AddCommand(list, redrive)
	return cmd
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func newSchedulesCmd(stdio IO) *cobra.Command {
	var t target
	cmd := &cobra.Command{
		Use:   "schedules",
		Short: "List schedules and their next fire times; schedules fire NAME fires one now",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := t.client()
			if err != nil {
				return err
			}
			ss, err := c.Schedules(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SCHEDULE\tFUNCTION\tSPEC\tTIMEZONE\tNEXT FIRES")
			for _, s := range ss {
				// Fire times read in the schedule's own zone: a Berlin job
				// at 03:00 shows as 03:00 wherever the command runs.
				loc := time.UTC
				if l, err := time.LoadLocation(s.Timezone); err == nil && s.Timezone != "" {
					loc = l
				}
				var next []string
				for _, n := range s.Next {
					next = append(next, n.In(loc).Format("2006-01-02 15:04:05 MST"))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, s.Function, s.Spec, dash(s.Timezone), strings.Join(next, ", "))
			}
			return tw.Flush()
		},
	}
	t.bind(cmd)
	cmd.AddCommand(newScheduleFireCmd(stdio))
	return cmd
}

func newScheduleFireCmd(stdio IO) *cobra.Command {
	var t target
	cmd := &cobra.Command{
		Use:   "fire SCHEDULE",
		Short: "Fire a schedule now, as its next tick would",
		Long: `Fire a schedule at once: its function gets the same event as from a scheduled
tick (type strata.schedule, source /schedules/SCHEDULE, scheduled_time now),
through its async queue, so the run is retried, metered and logged like any
fire. The schedule's next fire times do not change. A schedule is named after
its function; strata schedules lists them.`,
		Example: `  strata schedules fire nightly-cleanup`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := t.client()
			if err != nil {
				return err
			}
			res, err := c.ScheduleFire(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "fired %s: event %s queued for %s (strata logs %s shows the run)\n", res.Schedule, res.ID, res.Function, res.Function)
			return nil
		},
	}
	t.bind(cmd)
	return cmd
}

// peekMessages reads up to n of a queue's next messages without receiving
// them; when there are none it says the queue is empty.
func peekMessages(cmd *cobra.Command, t *target, stdio IO, queue string, n int) ([]apitype.MessageInfo, error) {
	c, err := t.client()
	if err != nil {
		return nil, err
	}
	ms, err := c.QueuePeek(cmd.Context(), queue, n)
	if err == nil && len(ms) == 0 {
		fmt.Fprintf(stdio.Out, "%s is empty\n", queue)
	}
	return ms, err
}

// messageBody is a message's body for a listing: its text, or how many
// bytes it has when it is binary.
func messageBody(m apitype.MessageInfo) string {
	if m.Body == "" && len(m.BodyBase64) > 0 {
		return fmt.Sprintf("(%d binary bytes)", len(m.BodyBase64))
	}
	return m.Body
}
