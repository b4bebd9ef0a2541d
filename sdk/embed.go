// Package sdk carries the sources of the Go guest SDK (sdk/go) inside the
// strata binary, so that `strata build` can compile user functions offline
// without fetching the SDK from a git host.
//
// The SDK lives in the main module's tree (it has no go.mod of its own)
// because //go:embed cannot reach across module boundaries. WriteModule
// materialises it as a standalone module that a user project points at with
// a replace directive. This package owns only that embedding; the SDK's API
// is owned by sdk/go.
package sdk

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ModulePath is the import path user code uses for the guest SDK.
const ModulePath = "github.com/stratahq/strata/sdk/go"

// GoVersion is the go directive written into the SDK's generated go.mod. It
// is the oldest Go that has go:wasmexport for wasip1 reactors.
const GoVersion = "1.24"

//go:embed go
var sources embed.FS

// goMod is the generated go.mod of the materialised SDK module.
var goMod = []byte("module " + ModulePath + "\n\ngo " + GoVersion + "\n")

// Files returns the SDK module's files as slash-separated paths relative to
// the module root (e.g. "strata.go", "wire/wire.go", "go.mod") mapped to
// their contents. Tests and testdata are left out: users never compile them.
func Files() (map[string][]byte, error) {
	files := map[string][]byte{"go.mod": goMod}
	err := fs.WalkDir(sources, "go", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" {
				return fs.SkipDir
			}
			return nil
		}
		if !keep(d.Name()) {
			return nil
		}
		data, err := sources.ReadFile(p)
		if err != nil {
			return err
		}
		files[strings.TrimPrefix(p, "go/")] = data
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read embedded sdk: %w", err)
	}
	return files, nil
}

// keep reports whether an embedded file belongs in the written module.
func keep(name string) bool {
	if strings.HasSuffix(name, "_test.go") {
		return false
	}
	// go.mod/go.sum would turn a subdirectory into a separate module; the
	// only go.mod is the one generated here.
	if name == "go.mod" || name == "go.sum" {
		return false
	}
	return strings.HasSuffix(name, ".go") || name == "README.md" || name == "LICENSE"
}

// WriteModule writes the SDK as a standalone module into dir, creating it if
// needed. Files whose content is already up to date are left untouched so that
// their modification times, and with them the go build cache, stay valid.
// Stale .go files from an older SDK version are removed, because a leftover
// file would still be compiled into the package.
func WriteModule(dir string) error {
	files, err := Files()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write sdk module to %s: %w", dir, err)
	}
	for rel, data := range files {
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, data) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("write sdk module to %s: %w", dir, err)
		}
		if err := writeAtomic(dst, data); err != nil {
			return fmt.Errorf("write sdk module to %s: %w", dir, err)
		}
	}
	return removeStale(dir, files)
}

// removeStale deletes .go files under dir that are no longer part of the SDK.
func removeStale(dir string, files map[string][]byte) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".go") {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if _, ok := files[filepath.ToSlash(rel)]; ok {
			return nil
		}
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("remove stale sdk file %s: %w", p, err)
		}
		return nil
	})
}

// writeAtomic replaces dst via a temporary file and rename, so that a build
// running concurrently in another process never reads a half-written file.
func writeAtomic(dst string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+path.Base(filepath.ToSlash(dst))+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
