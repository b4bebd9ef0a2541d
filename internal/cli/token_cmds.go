package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/deploy"
	"github.com/stratahq/strata/internal/record"
)

func newTokenCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens (a scope, and every project or one)",
		Long: `API tokens authorise the CLI and the admin API. A token has a scope:

  admin   everything (with no --project: tokens and the profiler too)
  deploy  deploy, roll back, invoke, set secrets, send messages, start and
          signal workflows, query databases, and everything read may do
  read    list and show: functions, versions, logs, usage, secrets' names,
          queues, workflows; nothing that changes anything

and reaches every project, or with --project that project only (its
functions, secrets and databases). Only an admin token of every project
manages tokens. A revoked token stops working at once on the server that
revoked it and within 2 seconds on every other node sharing the store.
"strata token list" shows when each token was last used (to within a minute).`,
	}
	var ct target
	var project, scope string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a token and print it once",
		Example: `  strata token create ci-shop --project shop --scope deploy
  strata token create dashboard --scope read
  strata token create second-admin`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if project != "" {
				if err := deploy.ValidateName(project); err != nil {
					return usagef("--project %q: %v", project, err)
				}
			}
			switch scope {
			case record.ScopeAdmin, record.ScopeDeploy, record.ScopeRead:
			default:
				return usagef("--scope %q: want admin, deploy or read", scope)
			}
			c, err := ct.client()
			if err != nil {
				return err
			}
			t, err := c.TokenCreate(cmd.Context(), apitype.TokenCreateRequest{Name: args[0], Project: project, Scope: scope})
			if err != nil {
				return err
			}
			reach := "every project"
			if t.Project != "" {
				reach = "project " + t.Project
			}
			fmt.Fprintf(stdio.Err, "token %s (id %s), scope %s, for %s; shown once, store it now:\n", t.Name, t.ID, t.Scope, reach)
			fmt.Fprintln(stdio.Out, t.Token)
			return nil
		},
	}
	ct.bind(create)
	create.Flags().StringVar(&project, "project", "", "limit the token to this project (default: every project)")
	create.Flags().StringVar(&scope, "scope", record.ScopeAdmin, "what the token may do: admin, deploy or read")
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
			fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tPROJECT\tCREATED\tLAST USED")
			for _, t := range ts {
				p := t.Project
				if p == "" {
					p = "*"
				}
				used := "never"
				if t.LastUsedAt != nil {
					used = t.LastUsedAt.Local().Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Scope, p, t.CreatedAt.Local().Format(time.DateTime), used)
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
