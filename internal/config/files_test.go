package config

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func write(t *testing.T, path string, m os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("x"), m); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, m); err != nil { // whatever the test's umask
		t.Fatal(err)
	}
}

// TestSecureDataDir: a data dir left readable by other users (0755 with
// 0644 files, as before issue 9) is restricted at start, each change
// logged; what symlinks point at is left alone.
func TestSecureDataDir(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	outside := filepath.Join(root, "outside.txt")
	write(t, outside, 0o644)
	for _, p := range []string{"strata.db", "strata.db-wal", "strata.db-shm", "databases/app.db"} {
		write(t, filepath.Join(dir, p), 0o644)
	}
	write(t, filepath.Join(dir, "secret.key"), 0o600)
	// A project's SDK copy and built modules are not the store's: left as
	// they are, without a warning on every start.
	write(t, filepath.Join(dir, "sdk", "handler.go"), 0o644)
	write(t, filepath.Join(dir, "build", "hello.wasm"), 0o644)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	if err := SecureDataDir(dir, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Join(dir, "databases")} {
		if m := mode(t, d); m != 0o700 {
			t.Errorf("%s: mode %s, want 0700", d, m)
		}
	}
	for _, p := range []string{"strata.db", "strata.db-wal", "strata.db-shm", "databases/app.db", "secret.key"} {
		if m := mode(t, filepath.Join(dir, p)); m != 0o600 {
			t.Errorf("%s: mode %s, want 0600", p, m)
		}
	}
	if m := mode(t, outside); m != 0o644 {
		t.Errorf("a symlink's target outside the data dir was changed to %s", m)
	}
	out := logs.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "databases/app.db") || !strings.Contains(out, "was=-rw-r--r--") {
		t.Errorf("the warnings do not say what was changed:\n%s", out)
	}
	if strings.Contains(out, "secret.key") {
		t.Errorf("a file that was already private is reported:\n%s", out)
	}
	for _, p := range []string{"sdk/handler.go", "build/hello.wasm"} {
		if m := mode(t, filepath.Join(dir, p)); m != 0o644 {
			t.Errorf("%s: mode changed to %s", p, m)
		}
		if strings.Contains(out, p) {
			t.Errorf("%s reported:\n%s", p, out)
		}
	}

	// A fresh data dir is created private; nothing to report.
	logs.Reset()
	fresh := filepath.Join(root, "fresh")
	if err := SecureDataDir(fresh, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, fresh); m&0o077 != 0 {
		t.Errorf("fresh data dir mode %s", m)
	}
	if logs.Len() != 0 {
		t.Errorf("nothing to report for a fresh dir:\n%s", logs.String())
	}
}

// TestSecureFilesStoreOutsideDataDir: a SQLite store given as a path
// outside the data dir is restricted too, with its -wal and -shm.
func TestSecureFilesStoreOutsideDataDir(t *testing.T) {
	root := t.TempDir()
	db := filepath.Join(root, "elsewhere", "my.db")
	write(t, db, 0o644)
	write(t, db+"-wal", 0o644)
	c := Default()
	c.DataDir = filepath.Join(root, "data")
	c.Store = db
	if err := c.SecureFiles(slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{db, db + "-wal"} {
		if m := mode(t, p); m != 0o600 {
			t.Errorf("%s: mode %s, want 0600", p, m)
		}
	}
}
