package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/deploy"
	"github.com/stratahq/strata/sdk/go/wire"
)

func newSecretsCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Set, list and delete secrets (values are encrypted at rest and never printed)",
	}
	var st target
	var setProject string
	set := &cobra.Command{
		Use:   "set NAME",
		Short: "Set a secret from standard input (never from the command line)",
		Long: `Read the secret's value from standard input and store it encrypted. The value
is never taken from an argument, where shell history and process listings would
see it. Functions read secrets at call time: setting one again rotates it with
no redeploy. A trailing newline is removed. Secrets belong to one project
(--project, default: the project in the current directory): a function reads
only its own project's secrets.`,
		Example: `  strata secrets set STRIPE_KEY < key.txt
  printf %s "$VALUE" | strata secrets set STRIPE_KEY`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := deploy.ValidateSecretName(args[0]); err != nil {
				return usagef("secret name %q: %v", args[0], err)
			}
			project, err := secretsProject(setProject)
			if err != nil {
				return err
			}
			if f, ok := stdio.In.(*os.File); ok {
				if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
					fmt.Fprintf(stdio.Err, "enter the value of %s, then press ctrl-D:\n", args[0])
				}
			}
			value, err := io.ReadAll(io.LimitReader(stdio.In, 64<<10+1))
			if err != nil {
				return err
			}
			value = bytes.TrimSuffix(bytes.TrimSuffix(value, []byte("\n")), []byte("\r"))
			if len(value) == 0 {
				return usagef("no value on standard input")
			}
			c, err := st.client()
			if err != nil {
				return err
			}
			if err := c.SecretSet(cmd.Context(), project, args[0], value); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "secret %s set\n", args[0])
			return nil
		},
	}
	st.bind(set)
	set.Flags().StringVar(&setProject, "project", "", "the project the secret belongs to (default: the project in the current directory)")
	var lt target
	var listAll bool
	var listProject string
	list := &cobra.Command{
		Use:   "list",
		Short: "List a project's secret names and when they were set (--all: every project)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			project := ""
			if !listAll {
				var err error
				if project, err = secretsProject(listProject); err != nil {
					return err
				}
			}
			c, err := lt.client()
			if err != nil {
				return err
			}
			ss, err := c.Secrets(cmd.Context(), project)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PROJECT\tSECRET\tSET")
			for _, s := range ss {
				p := s.Project
				if p == "" {
					p = "(legacy)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", p, s.Name, s.UpdatedAt.Local().Format(time.DateTime))
			}
			return tw.Flush()
		},
	}
	lt.bind(list)
	list.Flags().StringVar(&listProject, "project", "", "the project (default: the project in the current directory)")
	list.Flags().BoolVar(&listAll, "all", false, "every project the token reaches")
	var dt target
	var delProject string
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a project's secret",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			project, err := secretsProject(delProject)
			if err != nil {
				return err
			}
			c, err := dt.client()
			if err != nil {
				return err
			}
			if err := c.SecretDelete(cmd.Context(), project, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "secret %s deleted\n", args[0])
			return nil
		},
	}
	dt.bind(del)
	del.Flags().StringVar(&delProject, "project", "", "the project the secret belongs to (default: the project in the current directory)")
	cmd.AddCommand(set, list, del)
	return cmd
}

// secretsProject is the project secrets commands act on: the flag, or
// the project containing the working directory.
func secretsProject(flag string) (string, error) {
	if flag != "" {
		if err := deploy.ValidateName(flag); err != nil {
			return "", usagef("--project %q: %v", flag, err)
		}
		return flag, nil
	}
	if _, err := findProjectDir(); err != nil {
		return "", usagef("secrets belong to a project: pass --project or run this inside the project (%v)", err)
	}
	m, err := loadManifest("")
	if err != nil {
		return "", err
	}
	return m.Project, nil
}

func newDBCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{Use: "db", Short: "SQL databases: an interactive shell and migrations"}
	var st target
	var command string
	shell := &cobra.Command{
		Use:   "shell DATABASE",
		Short: "An interactive SQL prompt on a database (or -c for one statement)",
		Long: `Run SQL statements on a database declared under databases: in strata.yaml,
through the same pooled connections functions use. Statements end with ';'.
Empty input or ctrl-D ends the shell.`,
		Example: `  strata db shell main
  strata db shell main -c 'select count(*) from todos'`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := st.client()
			if err != nil {
				return err
			}
			run := func(sql string) error {
				res, err := c.Query(cmd.Context(), args[0], sql, nil)
				if err != nil {
					return err
				}
				printResult(stdio, res)
				if res.Error != nil {
					return exitError{code: ExitFailure, err: fmt.Errorf("%s", res.Error.Error())}
				}
				return nil
			}
			if command != "" {
				return run(command)
			}
			return sqlREPL(stdio, args[0], run)
		},
	}
	st.bind(shell)
	shell.Flags().StringVarP(&command, "command", "c", "", "run this statement and exit")

	var mt target
	migrate := &cobra.Command{
		Use:   "migrate DATABASE DIR",
		Short: "Apply the .sql files of DIR not yet applied, in name order, each once",
		Long: `Apply plain .sql migration files to a database. Each file runs once, in name
order (0001_x.sql, 0002_y.sql, …), in a transaction of its own, recorded in the
database's strata_migrations table. A file that fails stops the run; the ones
before it stay applied.`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := readMigrations(args[1])
			if err != nil {
				return usagef("%v", err)
			}
			c, err := mt.client()
			if err != nil {
				return err
			}
			applied, err := c.Migrate(cmd.Context(), args[0], files)
			for _, name := range applied {
				fmt.Fprintf(stdio.Out, "applied %s\n", name)
			}
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintf(stdio.Out, "%s is up to date (%d migrations)\n", args[0], len(files))
			}
			return nil
		},
	}
	mt.bind(migrate)
	cmd.AddCommand(shell, migrate)
	return cmd
}

func readMigrations(dir string) ([]apitype.Migration, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []apitype.Migration
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".sql" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, apitype.Migration{Name: e.Name(), SQL: string(b)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no .sql files in %s", dir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// sqlREPL reads statements ending in ';' and runs each.
func sqlREPL(stdio IO, db string, run func(string) error) error {
	sc := bufio.NewScanner(stdio.In)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var stmt strings.Builder
	prompt := func() {
		if stmt.Len() == 0 {
			fmt.Fprintf(stdio.Err, "%s> ", db)
		} else {
			fmt.Fprint(stdio.Err, "   ...> ")
		}
	}
	prompt()
	for sc.Scan() {
		line := sc.Text()
		stmt.WriteString(line)
		stmt.WriteString("\n")
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			if err := run(strings.TrimSpace(stmt.String())); err != nil {
				// A database error is printed and the shell goes on.
				fmt.Fprintln(stdio.Err, "error:", err)
			}
			stmt.Reset()
		}
		prompt()
	}
	fmt.Fprintln(stdio.Err)
	return sc.Err()
}

func printResult(stdio IO, res *wire.SQLResponse) {
	if res.Error != nil {
		return
	}
	if len(res.Columns) == 0 {
		fmt.Fprintf(stdio.Out, "%d row(s) affected\n", res.RowsAffected)
		return
	}
	tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
	var head []string
	for _, c := range res.Columns {
		head = append(head, c.Name)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, row := range res.Rows {
		var cells []string
		for _, v := range row {
			cells = append(cells, v.String())
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	_ = tw.Flush()
	fmt.Fprintf(stdio.Out, "(%d row(s))\n", len(res.Rows))
}
