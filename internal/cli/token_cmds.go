package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata/internal/deploy"
)

func newTokenCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens (admin, or limited to one project)",
		Long: `API tokens authorise the CLI and the admin API. An admin token reaches every
project; a token created with --project deploys, reads and manages that project
only (its functions, secrets and databases). Only an admin token manages tokens.
A revoked token stops working at once on the server that revoked it and within
2 seconds on every other node sharing the store.`,
	}
	var ct target
	var project string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a token and print it once",
		Example: `  strata token create ci-shop --project shop
  strata token create second-admin`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if project != "" {
				if err := deploy.ValidateName(project); err != nil {
					return usagef("--project %q: %v", project, err)
				}
			}
			c, err := ct.client()
			if err != nil {
				return err
			}
			t, err := c.TokenCreate(cmd.Context(), args[0], project)
			if err != nil {
				return err
			}
			scope := "every project (admin)"
			if t.Project != "" {
				scope = "project " + t.Project
			}
			fmt.Fprintf(stdio.Err, "token %s (id %s) for %s; shown once, store it now:\n", t.Name, t.ID, scope)
			fmt.Fprintln(stdio.Out, t.Token)
			return nil
		},
	}
	ct.bind(create)
	create.Flags().StringVar(&project, "project", "", "limit the token to this project (default: an admin token)")
	var lt target
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their values)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := lt.client()
			if err != nil {
				return err
			}
			ts, err := c.Tokens(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tPROJECT\tCREATED")
			for _, t := range ts {
				p := t.Project
				if p == "" {
					p = "* (admin)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Name, p, t.CreatedAt.Local().Format(time.DateTime))
			}
			return tw.Flush()
		},
	}
	lt.bind(list)
	var rt target
	revoke := &cobra.Command{
		Use:   "revoke ID|NAME",
		Short: "Revoke a token (by the id strata token list shows, or a unique name)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rt.client()
			if err != nil {
				return err
			}
			t, err := c.TokenRevoke(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "token %s (id %s) revoked\n", t.Name, t.ID)
			return nil
		},
	}
	rt.bind(revoke)
	cmd.AddCommand(create, list, revoke)
	return cmd
}
