package cli

import (
	"fmt"
	"strconv"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata/internal/client"
	"github.com/stratahq/strata/internal/deploy"
)

func newObjectsCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "objects",
		Aliases: []string{"object", "obj"},
		Short:   "List, inspect and delete durable objects",
		Long: `Durable objects belong to a project: --project names it; by default it is the
project in the current directory, else the project of a token limited to one.

An object is CLASS and ID: ID is its 64 hex digit id, or name:NAME for the
object reached by NAME (a route parameter, objects.Namespace(...).Get(NAME)).
Storage is shown as last committed; an event still running is not in it.`,
	}
	storage := &cobra.Command{
		Use:   "storage",
		Short: "Read an object's storage",
	}
	storage.AddCommand(newObjectsStorageGetCmd(stdio))
	cmd.AddCommand(
		newObjectsListCmd(stdio),
		newObjectsShowCmd(stdio),
		storage,
		newObjectsDeleteCmd(stdio),
	)
	return cmd
}

// objectsTarget is what every objects command needs: the server and the
// project.
type objectsTarget struct {
	target
	project string
}

func (o *objectsTarget) bind(cmd *cobra.Command) {
	o.target.bind(cmd)
	cmd.Flags().StringVar(&o.project, "project", "", "the project (default: the project in the current directory, else the token's)")
}

// resolve returns the client and the project to send: the flag, the
// project containing the working directory, or "" (the server uses the
// token's project, or asks for one).
func (o *objectsTarget) resolve() (*client.Client, string, error) {
	project := o.project
	if project != "" {
		if err := deploy.ValidateName(project); err != nil {
			return nil, "", usagef("--project %q: %v", project, err)
		}
	} else if _, err := findProjectDir(); err == nil {
		m, err := loadManifest("")
		if err != nil {
			return nil, "", err
		}
		project = m.Project
	}
	c, err := o.client()
	if err != nil {
		return nil, "", err
	}
	return c, project, nil
}

func newObjectsListCmd(stdio IO) *cobra.Command {
	var o objectsTarget
	var p client.ObjectsListParams
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List a project's objects by class then id",
		Long: `List a project's objects by class then id. LIVE is yes when the server that
answered holds the object in memory. A full page ends with the --after to
pass for the next one.`,
		Example: `  strata objects list --class Room`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, project, err := o.resolve()
			if err != nil {
				return err
			}
			p.Project = project
			list, err := c.Objects(cmd.Context(), p)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CLASS\tID\tNAME\tKEYS\tBYTES\tALARM\tUPDATED\tLIVE")
			for _, x := range list.Objects {
				alarm := "-"
				if x.AlarmAt != nil {
					alarm = clock(*x.AlarmAt)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", x.Class, x.ID, orDash(printable(x.Name, 40)), x.Keys, x.Bytes,
					alarm, clock(x.UpdatedAt), yesNo(x.Live))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if list.Next != "" {
				fmt.Fprintf(stdio.Err, "more objects may follow: --after %s\n", list.Next)
			}
			return nil
		},
	}
	o.bind(cmd)
	cmd.Flags().StringVar(&p.Class, "class", "", "only objects of this class")
	cmd.Flags().StringVar(&p.After, "after", "", "start after this CLASS/ID (the next page)")
	cmd.Flags().IntVar(&p.Limit, "limit", 0, "show at most this many (default 100, at most 1000)")
	return cmd
}

func newObjectsShowCmd(stdio IO) *cobra.Command {
	var o objectsTarget
	cmd := &cobra.Command{
		Use:     "show CLASS ID|name:NAME",
		Short:   "Show what the server records of one object",
		Example: "  strata objects show Room name:lobby",
		Args:    exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, project, err := o.resolve()
			if err != nil {
				return err
			}
			x, err := c.Object(cmd.Context(), project, args[0], args[1])
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "object:\t%s/%s\n", x.Class, x.ID)
			fmt.Fprintf(tw, "project:\t%s\n", x.Project)
			fmt.Fprintf(tw, "name:\t%s\n", orDash(printable(x.Name, 200)))
			fmt.Fprintf(tw, "storage:\t%d keys, %d bytes\n", x.Keys, x.Bytes)
			alarm := "none"
			if x.AlarmAt != nil {
				alarm = clock(*x.AlarmAt)
			}
			fmt.Fprintf(tw, "alarm:\t%s\n", alarm)
			fmt.Fprintf(tw, "created:\t%s\n", clock(x.CreatedAt))
			fmt.Fprintf(tw, "updated:\t%s\n", clock(x.UpdatedAt))
			fmt.Fprintf(tw, "live:\t%s\n", yesNo(x.Live))
			return tw.Flush()
		},
	}
	o.bind(cmd)
	return cmd
}

func newObjectsStorageGetCmd(stdio IO) *cobra.Command {
	var o objectsTarget
	var p client.ObjectStorageParams
	cmd := &cobra.Command{
		Use:   "get CLASS ID|name:NAME [KEY]",
		Short: "Print one value of an object's storage, or list its keys",
		Long: `With KEY, print that key's value as it is stored (bytes, no newline added).
Without, list keys and values in key order: values that are not printable text
are shown quoted with escapes, long ones cut short.`,
		Example: `  strata objects storage get Room name:lobby topic
  strata objects storage get Room name:lobby --prefix msg/ --reverse --limit 10`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 || len(args) > 3 {
				return usagef("%s takes 2 or 3 arguments, got %d\nUsage: %s", cmd.CommandPath(), len(args), cmd.UseLine())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ranged := p != (client.ObjectStorageParams{})
			if len(args) == 3 && ranged {
				return usagef("KEY reads one value; --prefix, --start, --end, --limit and --reverse list a range: not both")
			}
			c, project, err := o.resolve()
			if err != nil {
				return err
			}
			if len(args) == 3 {
				v, err := c.ObjectValue(cmd.Context(), project, args[0], args[1], args[2])
				if err != nil {
					return err
				}
				_, err = stdio.Out.Write(v)
				return err
			}
			s, err := c.ObjectStorage(cmd.Context(), project, args[0], args[1], p)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tVALUE")
			for _, e := range s.Entries {
				fmt.Fprintf(tw, "%s\t%s\n", printable(e.Key, 80), printable(string(e.Value), 80))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if s.More {
				fmt.Fprintln(stdio.Err, "more keys may follow: raise --limit or narrow with --prefix, --start, --end")
			}
			return nil
		},
	}
	o.bind(cmd)
	cmd.Flags().StringVar(&p.Prefix, "prefix", "", "only keys starting with this")
	cmd.Flags().StringVar(&p.Start, "start", "", "first key, inclusive")
	cmd.Flags().StringVar(&p.End, "end", "", "stop before this key")
	cmd.Flags().IntVar(&p.Limit, "limit", 0, "show at most this many (default 100, at most 1000)")
	cmd.Flags().BoolVar(&p.Reverse, "reverse", false, "descending key order")
	return cmd
}

func newObjectsDeleteCmd(stdio IO) *cobra.Command {
	var o objectsTarget
	cmd := &cobra.Command{
		Use:   "delete CLASS ID|name:NAME",
		Short: "Delete an object's storage and alarm",
		Long: `Delete an object's storage, alarm and record. A live instance of it (on any
node) is fenced: its next commit or lease renewal fails and its next event
starts from the now empty storage. An object that does not exist is an error
(404).`,
		Example: "  strata objects delete Room name:lobby",
		Args:    exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, project, err := o.resolve()
			if err != nil {
				return err
			}
			d, err := c.ObjectDelete(cmd.Context(), project, args[0], args[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "deleted %s/%s\n", d.Class, d.ID)
			return nil
		},
	}
	o.bind(cmd)
	return cmd
}

// printable shows s as it is when it is printable text, else quoted with
// Go escapes (binary values, control characters that would garble a
// terminal); longer than limit runes, it is cut with "…".
func printable(s string, limit int) string {
	ok := utf8.ValidString(s)
	for _, r := range s {
		if !ok || !unicode.IsPrint(r) {
			ok = false
			break
		}
	}
	if !ok {
		s = strconv.Quote(s)
	}
	if utf8.RuneCountInString(s) > limit {
		r := []rune(s)
		s = string(r[:limit]) + "…"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
