package sdk

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFilesContents(t *testing.T) {
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(files["go.mod"]); got != "module github.com/stratahq/strata/sdk/go\n\ngo 1.24\n" {
		t.Fatalf("go.mod = %q", got)
	}
	if _, ok := files["wire/wire.go"]; !ok {
		t.Fatalf("wire/wire.go missing; have %v", keys(files))
	}
	for name := range files {
		if strings.HasSuffix(name, "_test.go") || strings.Contains(name, "testdata/") {
			t.Errorf("test file %s must not be written", name)
		}
	}
}

func TestWriteModule(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sdk")
	if err := WriteModule(dir); err != nil {
		t.Fatal(err)
	}
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s differs from the embedded copy", name)
		}
	}

	// Unchanged files keep their mtime (so go's build cache stays valid),
	// changed ones are rewritten and stale .go files are removed.
	wire := filepath.Join(dir, "wire", "wire.go")
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(wire, old, old); err != nil {
		t.Fatal(err)
	}
	gomod := filepath.Join(dir, "go.mod")
	if err := os.WriteFile(gomod, []byte("module tampered\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "wire", "old.go")
	if err := os.WriteFile(stale, []byte("package wire\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	if err := WriteModule(dir); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(wire)
	if err != nil {
		t.Fatal(err)
	}
	if !st.ModTime().Equal(old) {
		t.Errorf("unchanged wire.go was rewritten (mtime %v)", st.ModTime())
	}
	if got, _ := os.ReadFile(gomod); string(got) != string(files["go.mod"]) {
		t.Errorf("go.mod not restored: %q", got)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale file still present: %v", err)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
