package scaffold_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/stratahq/strata/internal/build"
	"github.com/stratahq/strata/internal/scaffold"
)

func TestNewBuilds(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hello")
	if err := scaffold.New(dir, "hello", ""); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"strata.yaml", "hello/main.go", "go.mod", ".gitignore", "README.md"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("missing %s: %v", name, err)
		}
	}

	var m struct {
		Project   string `yaml:"project"`
		Functions map[string]struct {
			Source string            `yaml:"source"`
			Env    map[string]string `yaml:"env"`
			Routes []string          `yaml:"routes"`
		} `yaml:"functions"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "strata.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatalf("strata.yaml is not valid YAML: %v\n%s", err, raw)
	}
	fn, ok := m.Functions["hello"]
	if m.Project != "hello" || !ok || fn.Source != "./hello" || len(fn.Routes) != 1 || fn.Routes[0] != "GET /hello/{name}" {
		t.Errorf("unexpected manifest %+v from:\n%s", m, raw)
	}

	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if string(gomod) != build.GoMod("hello") || !strings.HasPrefix(string(gomod), "module hello\n\ngo 1.24\n") {
		t.Errorf("go.mod:\n%s", gomod)
	}
	if ign, _ := os.ReadFile(filepath.Join(dir, ".gitignore")); !strings.Contains(string(ign), "\n.strata/\n") {
		t.Errorf(".gitignore does not ignore .strata/:\n%s", ign)
	}

	res, err := build.Go(context.Background(), build.Params{ProjectDir: dir, Package: fn.Source, Out: ".strata/build/hello.wasm", Name: "hello"})
	if err != nil {
		t.Fatalf("scaffolded project does not build: %v", err)
	}
	if res.Size < 1000 {
		t.Errorf("module is only %d bytes", res.Size)
	}
	// Building must not have had to change the scaffolded go.mod.
	if after, _ := os.ReadFile(filepath.Join(dir, "go.mod")); string(after) != string(gomod) {
		t.Errorf("build rewrote go.mod:\n%s", after)
	}
}

func TestNewRefusesNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := scaffold.New(dir, "hello", "")
	if !errors.Is(err, scaffold.ErrNotEmpty) || !strings.Contains(err.Error(), "notes.txt") {
		t.Fatalf("err = %v, want ErrNotEmpty naming notes.txt", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("New wrote into a non-empty dir: %d entries", len(entries))
	}
}

func TestNewIntoEmptyExistingDir(t *testing.T) {
	dir := t.TempDir()
	if err := scaffold.New(dir, "api", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "api", "main.go")); err != nil {
		t.Fatal(err)
	}
}

// TestNewRejectsBadNames: new applies the manifest's own name rule (it
// accepted "my_app", which strata build then refused) and suggests a name
// that passes it.
func TestNewRejectsBadNames(t *testing.T) {
	const rule = "project name must be a lowercase letter followed by up to 62 lowercase letters, digits or '-'"
	for _, tc := range []struct{ name, want string }{
		{"my_app", rule + `, got "my_app"; try "my-app"`},
		{"Hello", rule + `, got "Hello"; try "hello"`},
		{"has space", rule + `, got "has space"; try "has-space"`},
		{"-x", rule + `, got "-x"; try "x"`},
		{"1st", rule + `, got "1st"`},
		{"a/b", rule + `, got "a/b"`},
		{"../x", rule + `, got "../x"`},
		{strings.Repeat("a", 64), rule + `, got "` + strings.Repeat("a", 64) + `"`},
		{"", "project name must not be empty; must be a lowercase letter followed by up to 62 lowercase letters, digits or '-'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "p")
			err := scaffold.New(dir, tc.name, "")
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v\nwant %s", err, tc.want)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("directory created despite a bad name")
			}
		})
	}
}

// TestNewTypeChecks: every Go template type-checks and vets right after
// new, before any strata build, with no network (editors showed errors
// until the first build because .strata/sdk did not exist yet).
func TestNewTypeChecks(t *testing.T) {
	for _, tmpl := range scaffold.Templates {
		if tmpl == "command-c" {
			continue
		}
		t.Run(tmpl, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "my-app")
			if err := scaffold.New(dir, "my-app", tmpl); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, ".strata", "sdk", "go.mod")); err != nil {
				t.Fatalf("the SDK was not written: %v", err)
			}
			// .strata is the dev server's data dir: private, or the
			// server warns about every SDK file at its first start.
			_ = filepath.WalkDir(filepath.Join(dir, ".strata"), func(p string, d os.DirEntry, err error) error {
				if fi, _ := d.Info(); err == nil && fi.Mode().Perm()&0o077 != 0 {
					t.Errorf("%s is %s: readable by others", p, fi.Mode().Perm())
				}
				return nil
			})
			bin := t.TempDir() + string(filepath.Separator) // a directory: any number of packages
			for _, args := range [][]string{{"vet", "./..."}, {"build", "-o", bin, "./..."}} {
				cmd := exec.Command("go", args...)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("go %s in a new %s project: %v\n%s", strings.Join(args, " "), tmpl, err, out)
				}
			}
		})
	}
}

// TestNewTemplateFiles: each template writes its own files, a shell
// script executable, and no go.mod for the C template.
func TestNewTemplateFiles(t *testing.T) {
	for tmpl, want := range map[string][]string{
		"queue":     {"strata.yaml", "jobs/main.go", "go.mod", "README.md", ".gitignore"},
		"cron":      {"strata.yaml", "jobs/main.go", "go.mod"},
		"workflow":  {"strata.yaml", "jobs/main.go", "jobs-step/main.go", "go.mod"},
		"crud":      {"strata.yaml", "jobs/main.go", "migrations/0001_items.sql", "go.mod"},
		"command-c": {"strata.yaml", "main.c", "build.sh", "README.md", ".gitignore"},
	} {
		t.Run(tmpl, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "jobs")
			if err := scaffold.New(dir, "jobs", tmpl); err != nil {
				t.Fatal(err)
			}
			for _, f := range want {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("missing %s: %v", f, err)
				}
			}
			if tmpl == "command-c" {
				if _, err := os.Stat(filepath.Join(dir, "go.mod")); !os.IsNotExist(err) {
					t.Errorf("command-c wrote a go.mod")
				}
				if fi, err := os.Stat(filepath.Join(dir, "build.sh")); err != nil || fi.Mode().Perm()&0o100 == 0 {
					t.Errorf("build.sh is not executable: %v %v", fi.Mode(), err)
				}
			}
			raw, _ := os.ReadFile(filepath.Join(dir, "strata.yaml"))
			if strings.Contains(string(raw), "{{") || !strings.Contains(string(raw), "project: jobs\n") {
				t.Errorf("strata.yaml:\n%s", raw)
			}
		})
	}
}

func TestNewRefusals(t *testing.T) {
	long := "a" + strings.Repeat("b", 58) // 59: fits alone, not with "-failed"
	for _, tc := range []struct{ name, tmpl, want string }{
		{"x", "react", `template "react": want one of http, queue, cron, workflow, crud, command-c`},
		{long, "queue", `project name "` + long + `" is too long for the queue template: it names "` + long + `-failed", over 63 characters`},
	} {
		dir := filepath.Join(t.TempDir(), "p")
		err := scaffold.New(dir, tc.name, tc.tmpl)
		if err == nil || err.Error() != tc.want {
			t.Fatalf("err = %v\nwant %s", err, tc.want)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("directory created despite the refusal")
		}
	}
}
