package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata/internal/scaffold"
)

func newNewCmd(stdio IO) *cobra.Command {
	var tmpl string
	cmd := &cobra.Command{
		Use:   "new NAME",
		Short: "Scaffold a project from a template (default: a Go function answering GET /hello/{name})",
		Long: `Create the folder NAME with a strata.yaml, the functions' source, a .gitignore
and a README. Go templates also get a go.mod wired to the SDK that ships inside
this binary, with the SDK written into .strata/sdk, so editors, go build and
go vet work at once. Templates:

  http       a Go function answering GET /hello/{name} (the default)
  queue      a Go function consuming a queue in batches, with a dead-letter queue
  cron       a Go function run on a schedule
  workflow   a durable workflow started by POST /start, calling a step function
  crud       a REST API over a SQLite database binding
  command-c  a C program compiled to a WASI command module (needs clang-14)

NAME's last element is the project's name: a lowercase letter followed by up
to 62 lowercase letters, digits or '-', as in strata.yaml.`,
		Example: `  strata new hello
  strata new jobs --template queue`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			name := filepath.Base(dir)
			if err := scaffold.New(dir, name, tmpl); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "created project %s in %s from the %s template\n\nnext:\n  cd %s\n%s", name, dir, firstNonEmpty(tmpl, "http"), dir, nextSteps(tmpl, name))
			return nil
		},
	}
	cmd.Flags().StringVarP(&tmpl, "template", "t", "http", "what to scaffold: "+strings.Join(scaffold.Templates, ", "))
	return cmd
}

// nextSteps is what to type after new, per template (the README has more).
func nextSteps(tmpl, name string) string {
	switch tmpl {
	case "queue":
		return "  strata dev\n  strata queue send " + name + " --data '{\"id\": 1}'\n"
	case "cron":
		return "  strata dev\n  strata schedules fire " + name + "\n"
	case "workflow":
		return "  strata dev\n  curl -X POST localhost:8080/start -d '{\"name\": \"world\"}'\n"
	case "crud":
		return "  strata dev\n  strata db migrate " + name + " ./migrations\n  curl -X POST localhost:8080/items -d '{\"name\": \"first\"}'\n"
	case "command-c":
		return "  ./build.sh\n  strata dev\n  curl localhost:8080/hello/world\n"
	}
	return "  strata dev\n  curl localhost:8080/hello/world\n"
}

func newBuildCmd(stdio IO) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build the project's functions to WebAssembly without deploying",
		Long: `Compile every Go function of the project (GOOS=wasip1, reactor modules with the
Strata SDK bundled in this binary) into .strata/build/, and check prebuilt .wasm
modules are readable. Needs only the Go toolchain and the Go module proxy.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := loadManifest(file)
			if err != nil {
				return err
			}
			bp, err := buildProject(cmd.Context(), m, stdio.Err)
			if err != nil {
				return err
			}
			for _, f := range bp.spec.Functions {
				fmt.Fprintf(stdio.Out, "%s\t%s\t%s\n", f.Name, f.ModuleSHA256[:12], sizeString(len(bp.modules[f.ModuleSHA256])))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "path of strata.yaml (default: the project containing the working directory)")
	return cmd
}

func newDeployCmd(stdio IO) *cobra.Command {
	var t target
	var file string
	var plan bool
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Deploy the project to a Strata server (desired state; idempotent)",
		Long: `Build the project, upload modules the server does not have, and make the
server's deployment of this project match strata.yaml: functions added, changed
or removed, routes added or removed, all in one transaction. Deploying the same
project twice changes nothing. Each change of code or configuration makes a new
numbered version; see 'strata versions' and 'strata rollback'.

With --plan, print what would change and change nothing.`,
		Example: `  strata deploy --plan
  strata deploy --server http://10.0.0.5:8080 --token $TOKEN`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := loadManifest(file)
			if err != nil {
				return err
			}
			c, err := t.client()
			if err != nil {
				return err
			}
			if err := c.Ping(cmd.Context()); err != nil {
				return err
			}
			bp, err := buildProject(cmd.Context(), m, stdio.Err)
			if err != nil {
				return err
			}
			res, err := deployProject(cmd.Context(), c, bp, plan, stdio.Err)
			if err != nil {
				return err
			}
			fmt.Fprint(stdio.Out, res.planText)
			if !strings.HasSuffix(res.planText, "\n") {
				fmt.Fprintln(stdio.Out)
			}
			switch {
			case plan:
				fmt.Fprintln(stdio.Out, "(plan only: nothing was changed)")
			case res.applied:
				fmt.Fprintf(stdio.Out, "deployed %s: %d new version(s)\n", m.Project, res.versions)
			default:
				fmt.Fprintf(stdio.Out, "%s is up to date\n", m.Project)
			}
			return nil
		},
	}
	t.bind(cmd)
	cmd.Flags().StringVarP(&file, "file", "f", "", "path of strata.yaml (default: the project containing the working directory)")
	cmd.Flags().BoolVar(&plan, "plan", false, "print the changes a deploy would make, without applying them")
	return cmd
}
