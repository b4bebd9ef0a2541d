// Package wasmtest builds the test guests under internal/wasm/testdata
// for tests in any package (runtime, pool, invoke, gateway, end-to-end).
//
// Building a Go guest takes seconds and compiling it in wazero takes more, so
// each guest is built once per test process and the compilation cache lives
// in one directory shared by all test binaries (SharedCacheDir).
package wasmtest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// Names of the Go test guests under internal/wasm/testdata.
const (
	Hello = "hello" // echoes method, path, query, params, headers, body, env GREETING; logs a line
	Panic = "panic" // panics unless ?ok=1
	Loop  = "loop"  // loops forever unless ?ok=1
	Alloc = "alloc" // allocates without bound unless ?ok=1
	// BadInit fails in package init as its environment variable BADINIT
	// says: "panic", "loop" (never returns) or "alloc" (runs out of
	// memory); otherwise its handler answers "ready".
	BadInit = "badinit"
	Huge    = "huge"  // answers ?n= bytes, default 7 MiB
	Sleep   = "sleep" // sleeps ?ms= milliseconds, default 20
	// Sender sends to a queue or publishes to a topic as its query says
	// (see testdata/sender); it answers "id=..." or 502 "error=...".
	Sender = "sender"
	// Binder uses the SQL, KV, fetch and secret bindings as its query says
	// (see testdata/binder).
	Binder = "binder"
	// Objects defines the durable object class Counter and serves stub
	// calls and WebSocket route events (see testdata/objects).
	Objects = "objects"
)

// CGI is the C command guest (testdata/cgi/cgi.c), for BuildC.
const CGI = "cgi/cgi.c"

// TestdataDir returns the absolute path of internal/wasm/testdata.
func TestdataDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("wasmtest: cannot locate source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

// Guest builds the named Go guest (one of the constants above).
func Guest(t testing.TB, name string) []byte {
	t.Helper()
	return BuildGuest(t, filepath.Join(TestdataDir(), name))
}

type result struct {
	once sync.Once
	wasm []byte
	err  error
}

var (
	mu     sync.Mutex
	builds = map[string]*result{}
	tmp    string
)

func entry(key string) *result {
	mu.Lock()
	defer mu.Unlock()
	r, ok := builds[key]
	if !ok {
		r = &result{}
		builds[key] = r
	}
	return r
}

func outputDir() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if tmp != "" {
		return tmp, nil
	}
	d, err := os.MkdirTemp("", "strata-guests-")
	if err != nil {
		return "", err
	}
	tmp = d
	return d, nil
}

// outputName gives each source a distinct file name in the output dir.
func outputName(src string) string {
	sum := sha256.Sum256([]byte(src))
	return fmt.Sprintf("%s-%x.wasm", filepath.Base(src), sum[:6])
}

// BuildGuest builds the Go package in dir as a wasip1 reactor
// (-buildmode=c-shared) and returns the module bytes. The build runs once
// per directory per process; later calls return the same bytes.
func BuildGuest(t testing.TB, dir string) []byte {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatalf("build guest %s: %v", dir, err)
	}
	r := entry("go:" + abs)
	r.once.Do(func() {
		out, err := outputDir()
		if err != nil {
			r.err = err
			return
		}
		dst := filepath.Join(out, outputName(abs))
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", dst, ".")
		cmd.Dir = abs
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			r.err = fmt.Errorf("go build %s: %v\n%s", abs, err, stderr.Bytes())
			return
		}
		r.wasm, r.err = os.ReadFile(dst)
	})
	if r.err != nil {
		t.Fatalf("build guest: %v", r.err)
	}
	return r.wasm
}

// BuildC compiles a C file (relative to internal/wasm/testdata, or
// absolute) with clang-14 for wasm32-wasi into a WASI command module. The
// test fails with clang's message when the toolchain is missing (CI installs
// clang-14, lld-14, wasi-libc and libclang-rt-14-dev-wasm32).
func BuildC(t testing.TB, file string) []byte {
	t.Helper()
	if !filepath.IsAbs(file) {
		file = filepath.Join(TestdataDir(), file)
	}
	r := entry("c:" + file)
	r.once.Do(func() {
		out, err := outputDir()
		if err != nil {
			r.err = err
			return
		}
		clang, err := exec.LookPath("clang-14")
		if err != nil {
			r.err = fmt.Errorf("clang-14 not found (apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32): %w", err)
			return
		}
		dst := filepath.Join(out, outputName(file))
		cmd := exec.Command(clang, "--target=wasm32-wasi", "-O2", "-o", dst, file)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			r.err = fmt.Errorf("clang-14 %s: %v\n%s", file, err, stderr.Bytes())
			return
		}
		r.wasm, r.err = os.ReadFile(dst)
	})
	if r.err != nil {
		t.Fatalf("build C guest: %v", r.err)
	}
	return r.wasm
}

// SharedCacheDir returns a compilation cache directory under os.TempDir()
// shared by every test binary on the machine, so a guest compiled by one
// package's tests is not compiled again by the next. Entries are keyed by
// module hash and wazero version, so sharing is safe.
func SharedCacheDir() string {
	d := filepath.Join(os.TempDir(), "strata-test-wazero-cache")
	_ = os.MkdirAll(d, 0o755)
	return d
}
