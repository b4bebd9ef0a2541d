package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newNodesCmd(stdio IO) *cobra.Command {
	var tg target
	cmd := &cobra.Command{
		Use:   "nodes",
		Short: "List the nodes sharing the server's store, with state, version, load and last heartbeat",
		Long: `List the Strata nodes that share the server's store (a cluster on one
PostgreSQL), as their heartbeats recorded them: id (--node-id), advertised
address, state (joining, serving, draining, gone), version, load (invocations
in flight) and last heartbeat. A node silent for longer than --node-lease is
shown gone; gone nodes are forgotten after a day. Nodes belong to no project:
this needs a token of every project (read scope is enough).`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := tg.client()
			if err != nil {
				return err
			}
			res, err := c.Nodes(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tADDRESS\tSTATE\tVERSION\tLOAD\tLAST HEARTBEAT")
			for _, n := range res.Nodes {
				id := n.ID
				if id == res.Self {
					id += " (answering)"
				}
				ago := max(time.Since(n.LastHeartbeat), 0).Round(100 * time.Millisecond)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s (%s ago)\n", id, n.Addr, n.State, orDash(n.Version), n.Load,
					n.LastHeartbeat.UTC().Format(time.RFC3339), ago)
			}
			return tw.Flush()
		},
	}
	tg.bind(cmd)
	return cmd
}
