package scaffold

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"

	"github.com/stratahq/strata/internal/build"
	"github.com/stratahq/strata/internal/naming"
)

//go:embed template
var templates embed.FS

// ErrNotEmpty is returned when the target directory already has files in it.
var ErrNotEmpty = errors.New("directory is not empty")

// Templates are the kinds of project New writes, the first the default.
var Templates = []string{"http", "queue", "cron", "workflow", "crud", "command-c"}

// derived lists, per template, the suffixes of the other names it makes
// from the project's (a dead-letter queue, a step function): they must
// pass the name rule too.
var derived = map[string][]string{"queue": {"-failed"}, "workflow": {"-step"}}

// goTemplates have Go functions: they get a go.mod and the SDK.
func goTemplate(t string) bool { return t != "command-c" }

// New creates a project named name in dir from a template (see Templates;
// "" means "http"): strata.yaml, the functions' source, a .gitignore and a
// README and, for Go templates, a go.mod wired to the SDK with the SDK
// itself written into .strata/sdk, so that editors, go build and go vet
// work before the first strata build. dir is created if it does not exist;
// if it exists it must be empty, and nothing in it is ever overwritten.
func New(dir, name, tmpl string) error {
	if tmpl == "" {
		tmpl = Templates[0]
	}
	if !slices.Contains(Templates, tmpl) {
		return fmt.Errorf("template %q: want one of %s", tmpl, strings.Join(Templates, ", "))
	}
	// The manifest and the server check names with the same rule, so a
	// project that new writes always builds and deploys.
	if err := naming.Check(name); err != nil {
		return fmt.Errorf("project name %w", err)
	}
	for _, suffix := range derived[tmpl] {
		if len(name+suffix) > naming.MaxLen {
			return fmt.Errorf("project name %q is too long for the %s template: it names %q, over %d characters", name, tmpl, name+suffix, naming.MaxLen)
		}
	}
	out, err := renderTemplate(tmpl, struct{ Name string }{name})
	if err != nil {
		return fmt.Errorf("new project %s: %w", name, err)
	}
	if goTemplate(tmpl) {
		out["go.mod"] = file{body: []byte(build.GoMod(name))}
	}
	if err := ensureEmptyDir(dir); err != nil {
		return fmt.Errorf("new project %s in %s: %w", name, dir, err)
	}
	for path, f := range out {
		if err := writeNew(filepath.Join(dir, filepath.FromSlash(path)), f.body, f.mode); err != nil {
			return fmt.Errorf("new project %s: %w", name, err)
		}
	}
	if goTemplate(tmpl) {
		if err := build.Prepare(dir); err != nil {
			return fmt.Errorf("new project %s: write the SDK: %w", name, err)
		}
		if err := makePrivate(filepath.Join(dir, ".strata")); err != nil {
			return fmt.Errorf("new project %s: %w", name, err)
		}
	}
	return nil
}

// makePrivate takes group and other permissions off everything under dir.
// .strata is the dev server's data directory, which it keeps private and
// warns about, entry by entry, when it finds it readable by others: the
// SDK written here with the usual umask would make the first strata dev
// print a warning for each of its files.
func makePrivate(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if mode := fi.Mode().Perm(); mode&0o077 != 0 {
			return os.Chmod(path, mode&^0o077)
		}
		return nil
	})
}

type file struct {
	body []byte
	mode os.FileMode // 0 means 0o644
}

// renderTemplate renders every file of template tmpl and the shared
// .gitignore, keyed by their path in the project: "fn/" becomes the
// function's directory (the project name), "fn-step/" a second one, and
// ".tmpl" is dropped.
func renderTemplate(tmpl string, data any) (map[string]file, error) {
	out := map[string]file{}
	gi, err := render("template/gitignore.tmpl", data)
	if err != nil {
		return nil, err
	}
	out[".gitignore"] = file{body: gi}
	root := "template/" + tmpl
	err = fs.WalkDir(templates, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := render(p, data)
		if err != nil {
			return err
		}
		rel := strings.TrimSuffix(strings.TrimPrefix(p, root+"/"), ".tmpl")
		switch {
		case strings.HasPrefix(rel, "fn/"):
			rel = "{{.Name}}/" + strings.TrimPrefix(rel, "fn/")
		case strings.HasPrefix(rel, "fn-step/"):
			rel = "{{.Name}}-step/" + strings.TrimPrefix(rel, "fn-step/")
		}
		if rel, err = renderString(rel, data); err != nil {
			return err
		}
		f := file{body: body}
		if strings.HasSuffix(rel, ".sh") {
			f.mode = 0o755
		}
		out[rel] = f
		return nil
	})
	return out, err
}

// ensureEmptyDir creates dir or checks that the existing one is empty.
func ensureEmptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return os.MkdirAll(dir, 0o755)
	case err != nil:
		return err
	case len(entries) > 0:
		return fmt.Errorf("%w (it holds %s%s); choose a new directory or empty this one", ErrNotEmpty, entries[0].Name(), more(len(entries)-1))
	}
	return nil
}

func more(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" and %d more", n)
}

// writeNew creates path and its parents, failing rather than overwriting an
// existing file (another process may have written into dir meanwhile).
func writeNew(path string, body []byte, mode os.FileMode) error {
	if mode == 0 {
		mode = 0o644
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func render(name string, data any) ([]byte, error) {
	src, err := templates.ReadFile(name)
	if err != nil {
		return nil, err
	}
	s, err := renderString(string(src), data)
	return []byte(s), err
}

func renderString(src string, data any) (string, error) {
	t, err := template.New("").Option("missingkey=error").Parse(src)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}
