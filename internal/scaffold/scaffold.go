package scaffold

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"text/template"

	"github.com/stratahq/strata/internal/build"
	"github.com/stratahq/strata/internal/naming"
)

//go:embed template
var templates embed.FS

// ErrNotEmpty is returned when the target directory already has files in it.
var ErrNotEmpty = errors.New("directory is not empty")

// file maps one template to the path it is written to, relative to the
// project directory; "{{.Name}}" in the path is the project name.
type file struct {
	tmpl string
	path string
}

var files = []file{
	{"template/strata.yaml.tmpl", "strata.yaml"},
	{"template/fn/main.go.tmpl", "{{.Name}}/main.go"},
	{"template/gitignore.tmpl", ".gitignore"},
	{"template/README.md.tmpl", "README.md"},
}

// New creates a project named name in dir: strata.yaml with one function of
// the same name routed at GET /hello/{name}, its Go source in dir/<name>, a
// go.mod wired to the SDK, a .gitignore and a README. dir is created if it
// does not exist; if it exists it must be empty, and nothing in it is ever
// overwritten.
func New(dir, name string) error {
	// The manifest and the server check names with the same rule, so a
	// project that new writes always builds and deploys.
	if err := naming.Check(name); err != nil {
		return fmt.Errorf("project name %w", err)
	}
	if err := ensureEmptyDir(dir); err != nil {
		return fmt.Errorf("new project %s in %s: %w", name, dir, err)
	}
	data := struct{ Name string }{name}
	out := map[string][]byte{"go.mod": []byte(build.GoMod(name))}
	for _, f := range files {
		body, err := render(f.tmpl, data)
		if err != nil {
			return fmt.Errorf("new project %s: %w", name, err)
		}
		path, err := renderString(f.path, data)
		if err != nil {
			return fmt.Errorf("new project %s: %w", name, err)
		}
		out[path] = body
	}
	for path, body := range out {
		if err := writeNew(filepath.Join(dir, filepath.FromSlash(path)), body); err != nil {
			return fmt.Errorf("new project %s: %w", name, err)
		}
	}
	return nil
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
func writeNew(path string, body []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
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
