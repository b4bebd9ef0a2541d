package build_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/stratahq/strata/internal/build"
)

// examplesDir is the repository's examples/ folder, found from this file so
// the test does not depend on the working directory.
func examplesDir(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "examples")
}

// exampleManifest is the part of strata.yaml this test needs.
type exampleManifest struct {
	Project   string `yaml:"project"`
	Functions map[string]struct {
		Source string `yaml:"source"`
		Wasm   string `yaml:"wasm"`
		Kind   string `yaml:"kind"`
	} `yaml:"functions"`
}

// copyProject copies an example into a temporary directory, leaving out the
// .strata state a previous local build may have left, so the test neither
// writes into the source tree nor depends on it.
func copyProject(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".strata" {
				return fs.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestExamples builds every Go function of every example once, checks the
// committed prebuilt modules, and runs each example's own host-side tests.
func TestExamples(t *testing.T) {
	root := examplesDir(t)
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		raw, err := os.ReadFile(filepath.Join(dir, "strata.yaml"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		found++
		t.Run(e.Name(), func(t *testing.T) {
			t.Parallel()
			if err != nil {
				t.Fatal(err)
			}
			var m exampleManifest
			if err := yaml.Unmarshal(raw, &m); err != nil {
				t.Fatalf("strata.yaml: %v", err)
			}
			if m.Project != e.Name() || len(m.Functions) == 0 {
				t.Fatalf("strata.yaml: project %q with %d functions", m.Project, len(m.Functions))
			}
			for _, name := range []string{"README.md"} {
				if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
					t.Errorf("example lacks %s", name)
				}
			}
			hasGo := false
			for _, fn := range m.Functions {
				hasGo = hasGo || fn.Source != "" && fn.Kind != "process"
			}
			project := dir
			if hasGo {
				project = copyProject(t, dir)
				checkGoMod(t, project)
			}
			for name, fn := range m.Functions {
				switch {
				case fn.Kind == "process":
					// Node.js, Python or a custom bootstrap, packed as it
					// is (e2e/process_test.go runs them).
				case fn.Source != "" && fn.Wasm == "":
					buildExample(t, project, name, fn.Source)
				case fn.Wasm != "" && fn.Source == "":
					checkPrebuilt(t, filepath.Join(dir, filepath.FromSlash(fn.Wasm)), fn.Kind)
				default:
					t.Errorf("function %s: exactly one of source and wasm must be set", name)
				}
			}
			if hasGo {
				runHostTests(t, project)
			}
		})
	}
	if found < 4 {
		t.Errorf("found %d examples under %s, want at least 4", found, root)
	}
}

// checkGoMod asserts a committed example is already wired to the SDK, so a
// build does not have to edit it.
func checkGoMod(t *testing.T, project string) {
	t.Helper()
	changed, err := build.EnsureGoMod(project)
	if err != nil {
		t.Fatal(err)
	}
	if changed {
		t.Errorf("go.mod lacks %q or %q", build.RequireLine, build.ReplaceLine)
	}
}

func buildExample(t *testing.T, project, name, source string) {
	t.Helper()
	res, err := build.Go(context.Background(), build.Params{
		ProjectDir: project,
		Package:    source,
		Out:        filepath.Join(".strata", "build", name+".wasm"),
		Name:       name,
	})
	if err != nil {
		t.Fatalf("build %s: %v", name, err)
	}
	mod, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	exports, err := wasmExports(mod)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if _, ok := exports["strata_handle"]; !ok {
		t.Errorf("%s does not export strata_handle", name)
	}
	t.Logf("%s: %d bytes in %s", name, res.Size, res.Duration)
}

// runHostTests runs `go test ./...` in an example (natively, not as Wasm):
// examples test their logic with net/http/httptest.
func runHostTests(t *testing.T, project string) {
	t.Helper()
	var tests []string
	filepath.WalkDir(project, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, "_test.go") && !strings.Contains(p, string(filepath.Separator)+".strata"+string(filepath.Separator)) {
			tests = append(tests, p)
		}
		return nil
	})
	if len(tests) == 0 {
		return
	}
	cmd := exec.Command("go", "test", "./...")
	cmd.Dir = project
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("go test in the example: %v\n%s", err, out)
	}
}

// checkPrebuilt runs a committed command module with wazero the way the
// platform does (CGI over WASI) and checks the answers its README promises.
func checkPrebuilt(t *testing.T, path, kind string) {
	t.Helper()
	mod, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	exports, err := wasmExports(mod)
	if err != nil {
		t.Fatal(err)
	}
	if kind != "command" {
		t.Fatalf("%s: kind %q; the only prebuilt example is a command", path, kind)
	}
	if _, ok := exports["_start"]; !ok {
		t.Fatalf("%s has no _start export", path)
	}

	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	compiled, err := rt.CompileModule(ctx, mod)
	if err != nil {
		t.Fatal(err)
	}
	run := func(body string, env ...string) (stdout, stderr string) {
		var out, errOut bytes.Buffer
		cfg := wazero.NewModuleConfig().WithName("").
			WithStdin(strings.NewReader(body)).WithStdout(&out).WithStderr(&errOut)
		for i := 0; i+1 < len(env); i += 2 {
			cfg = cfg.WithEnv(env[i], env[i+1])
		}
		_, err := rt.InstantiateModule(ctx, compiled, cfg)
		var exit *sys.ExitError
		if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 0) {
			t.Fatalf("run %v: %v\nstderr: %s", env, err, errOut.String())
		}
		return out.String(), errOut.String()
	}

	tests := []struct {
		name     string
		body     string
		env      []string
		stdout   string
		wantLogs string
	}{
		{"greet", "", []string{"REQUEST_METHOD", "GET", "PATH_INFO", "/greet/world", "X_STRATA_PARAM_NAME", "world"},
			"Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello, world!\n", "greet name=world\n"},
		{"greet with header", "", []string{"REQUEST_METHOD", "GET", "PATH_INFO", "/greet/ada", "X_STRATA_PARAM_NAME", "ada", "HTTP_X_GREETING", "hi"},
			"Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhi, ada!\n", ""},
		{"echo", `{"a":1}`, []string{"REQUEST_METHOD", "POST", "PATH_INFO", "/echo", "CONTENT_TYPE", "application/json", "CONTENT_LENGTH", "7"},
			"Status: 200 OK\r\nContent-Type: application/json\r\nX-Echo-Length: 7\r\n\r\n{\"a\":1}", "echo bytes=7 type=application/json\n"},
		{"echo empty", "", []string{"REQUEST_METHOD", "POST", "PATH_INFO", "/echo"},
			"Status: 200 OK\r\nContent-Type: application/octet-stream\r\nX-Echo-Length: 0\r\n\r\n", ""},
		{"unknown", "", []string{"REQUEST_METHOD", "GET", "PATH_INFO", "/nope"},
			"Status: 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nnot found\n", ""},
	}
	for _, tt := range tests {
		stdout, stderr := run(tt.body, tt.env...)
		if stdout != tt.stdout {
			t.Errorf("%s: stdout = %q, want %q", tt.name, stdout, tt.stdout)
		}
		if tt.wantLogs != "" && stderr != tt.wantLogs {
			t.Errorf("%s: stderr = %q, want %q", tt.name, stderr, tt.wantLogs)
		}
	}

	// Binary-safe echo: the module itself goes through unchanged.
	stdout, _ := run(string(mod), "REQUEST_METHOD", "POST", "PATH_INFO", "/echo", "CONTENT_TYPE", "application/wasm")
	if _, body, ok := strings.Cut(stdout, "\r\n\r\n"); !ok || body != string(mod) {
		t.Errorf("binary echo changed the body (%d bytes in, %d bytes out)", len(mod), len(body))
	}

	// The committed module must match its source when a compiler is around.
	script := filepath.Join(filepath.Dir(path), "build.sh")
	if _, err := exec.LookPath("clang-14"); err != nil {
		t.Logf("clang-14 not installed; not checking that %s is up to date with build.sh", path)
		return
	}
	fresh := filepath.Join(t.TempDir(), "guest.wasm")
	cmd := exec.Command("sh", script)
	cmd.Env = append(os.Environ(), "OUT="+fresh)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	rebuilt, err := os.ReadFile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rebuilt, mod) {
		t.Errorf("%s is stale: run %s and commit the result", path, script)
	}
}
