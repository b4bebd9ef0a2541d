package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newConnectionsCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "connections",
		Short: "List and close the WebSocket connections a server holds",
		Long: `WebSocket connections (of WebSocket routes and durable objects) live on
the node that accepted them: these commands show and close the ones of the
server they talk to. A token of one project sees its project's only.`,
	}
	var lt target
	var project string
	list := &cobra.Command{
		Use:   "list",
		Short: "List live connections, oldest first",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := lt.client()
			if err != nil {
				return err
			}
			cs, err := c.Connections(cmd.Context(), project)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPROJECT\tFUNCTION\tROUTE\tOBJECT\tTAGS\tOPENED\tREMOTE")
			for _, ci := range cs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ci.ID, ci.Project, ci.Function, ci.Route,
					orDash(ci.Object), orDash(strings.Join(ci.Tags, ",")), ci.Opened.Local().Format(time.DateTime), ci.Remote)
			}
			return tw.Flush()
		},
	}
	lt.bind(list)
	list.Flags().StringVar(&project, "project", "", "only this project's connections (default: the token's project, or all)")
	var ct target
	closeCmd := &cobra.Command{
		Use:   "close ID",
		Short: "Close a connection (code 1000; its handlers hear the close)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := ct.client()
			if err != nil {
				return err
			}
			if err := c.ConnectionClose(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "connection %s closed\n", args[0])
			return nil
		},
	}
	ct.bind(closeCmd)
	cmd.AddCommand(list, closeCmd)
	return cmd
}
