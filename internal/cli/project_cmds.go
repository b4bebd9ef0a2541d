package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata/internal/scaffold"
)

func newNewCmd(stdio IO) *cobra.Command {
	return &cobra.Command{
		Use:   "new NAME",
		Short: "Scaffold a project: strata.yaml and a Go function answering GET /hello/{name}",
		Long: `Create the folder NAME with a strata.yaml, a Go function written as an ordinary
net/http handler with the Strata SDK, a go.mod wired to the SDK that ships
inside this binary, and a .gitignore. Then:

  cd NAME && strata dev`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			name := filepath.Base(dir)
			if err := scaffold.New(dir, name); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "created project %s in %s\n\nnext:\n  cd %s\n  strata dev\n  curl localhost:8080/hello/world\n", name, dir, dir)
			return nil
		},
	}
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
