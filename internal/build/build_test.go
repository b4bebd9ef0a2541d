package build_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/build"
)

const helloMain = `package main

import (
	"fmt"
	"net/http"

	strata "github.com/stratahq/strata/sdk/go"
)

func init() {
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello, %s!\n", r.PathValue("name"))
	})
}

func main() {}
`

// writeProject creates a project directory from a map of relative paths to
// contents and returns its path.
func writeProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestGoBuildsReactor(t *testing.T) {
	t.Parallel()
	// A go.mod the user wrote, with lines of their own that must survive.
	userMod := "// my project\nmodule example.com/hello // the module\n\ngo 1.24\n"
	dir := writeProject(t, map[string]string{
		"go.mod":        userMod,
		"hello/main.go": helloMain,
	})
	var progress bytes.Buffer
	res, err := build.Go(context.Background(), build.Params{
		ProjectDir: dir,
		Package:    "./hello",
		Out:        ".strata/build/hello.wasm",
		Name:       "hello",
		Progress:   &progress,
	})
	if err != nil {
		t.Fatal(err)
	}

	if want := filepath.Join(dir, ".strata", "build", "hello.wasm"); res.Path != want {
		t.Errorf("Path = %s, want %s", res.Path, want)
	}
	mod, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(mod, []byte("\x00asm")) {
		t.Fatalf("output does not start with the wasm magic: % x", mod[:8])
	}
	if res.Size != int64(len(mod)) {
		t.Errorf("Size = %d, file has %d bytes", res.Size, len(mod))
	}
	sum := sha256.Sum256(mod)
	if res.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("SHA256 = %s, want %x", res.SHA256, sum)
	}
	exports, err := wasmExports(mod)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"strata_handle", "_initialize"} {
		if kind, ok := exports[name]; !ok || kind != 0 {
			t.Errorf("export %s missing or not a function (exports: %v)", name, exports)
		}
	}
	if _, ok := exports["_start"]; ok {
		t.Error("reactor module must not export _start")
	}

	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if len(lines) != 2 || lines[0] != "building hello (./hello) …" ||
		!regexp.MustCompile(`^built hello: \d+\.\d MB in \S+$`).MatchString(lines[1]) {
		t.Errorf("progress = %q", progress.String())
	}

	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(gomod), userMod) {
		t.Errorf("user's go.mod lines were not kept:\n%s", gomod)
	}
	for _, want := range []string{build.RequireLine, build.ReplaceLine} {
		if !strings.Contains(string(gomod), want+"\n") {
			t.Errorf("go.mod lacks %q:\n%s", want, gomod)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".strata", "sdk", "go.mod")); err != nil {
		t.Errorf("sdk not materialised: %v", err)
	}
	// No temporary files are left next to the output.
	entries, err := os.ReadDir(filepath.Dir(res.Path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("build dir holds %d entries, want only hello.wasm", len(entries))
	}
}

func TestGoCompileError(t *testing.T) {
	t.Parallel()
	dir := writeProject(t, map[string]string{
		"broken/main.go": "package main\n\nfunc init() {\n\tundefinedThing()\n}\n\nfunc main() {}\n",
	})
	out := filepath.Join(dir, "broken.wasm")
	// A previous good build must survive a failed one.
	if err := os.WriteFile(out, []byte("\x00asmprevious"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := build.Go(context.Background(), build.Params{ProjectDir: dir, Package: "broken", Out: out})
	var ce *build.CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T), want *build.CompileError", err, err)
	}
	if !strings.Contains(err.Error(), "broken/main.go:4:2: undefined: undefinedThing") {
		t.Errorf("error lacks file:line of the mistake:\n%v", err)
	}
	if !strings.HasPrefix(err.Error(), "build broken (broken): ") {
		t.Errorf("error does not name the function: %v", err)
	}
	if got, _ := os.ReadFile(out); string(got) != "\x00asmprevious" {
		t.Errorf("failed build replaced the previous module: %q", got)
	}
	// Without a go.mod the build made one, named after the directory.
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(gomod), "module ") || !strings.Contains(string(gomod), build.ReplaceLine) {
		t.Errorf("generated go.mod:\n%s", gomod)
	}
}

func TestGoBadParams(t *testing.T) {
	t.Parallel()
	dir := writeProject(t, map[string]string{"x/main.go": helloMain, "file.go": "package main\n"})
	tests := []struct {
		name string
		p    build.Params
		want string
	}{
		{"no project", build.Params{Package: "./x", Out: "x.wasm"}, "ProjectDir is required"},
		{"no package", build.Params{ProjectDir: dir, Out: "x.wasm"}, "Package is required"},
		{"no out", build.Params{ProjectDir: dir, Package: "./x"}, "Out is required"},
		{"missing dir", build.Params{ProjectDir: dir, Package: "./nope", Out: "x.wasm"}, "package nope: "},
		{"outside", build.Params{ProjectDir: dir, Package: "../elsewhere", Out: "x.wasm"}, "outside the project directory"},
		{"a file", build.Params{ProjectDir: dir, Package: "./file.go", Out: "x.wasm"}, "is not a directory"},
		{"no go", build.Params{ProjectDir: dir, Package: "./x", Out: "x.wasm", GoBin: "go-not-installed-here"}, "needs Go 1.24 or newer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := build.Go(context.Background(), tt.p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestGoCancelled(t *testing.T) {
	t.Parallel()
	dir := writeProject(t, map[string]string{"hello/main.go": helloMain})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := build.Go(ctx, build.Params{ProjectDir: dir, Package: "./hello", Out: "hello.wasm"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
