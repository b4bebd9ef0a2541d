package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

var strataBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "strata-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	strataBin = filepath.Join(dir, "strata")
	build := exec.Command("go", "build", "-o", strataBin, "./cmd/strata")
	build.Dir = repoRoot()
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build strata:", err)
		os.Exit(1)
	}
	// Share one compilation cache with the other test binaries.
	os.Setenv("STRATA_CACHE_DIR", wasmtest.SharedCacheDir())
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// copyProject copies an example into a temp dir (without its .strata state)
// so tests never write into the repository.
func copyProject(t *testing.T, example string) string {
	t.Helper()
	return copyTree(t, filepath.Join(repoRoot(), "examples", example))
}

// copyTree copies a project folder (without its .strata state) into a temp
// dir and returns the copy's path.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() && d.Name() == ".strata" {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// syncBuffer is a bytes.Buffer safe for a process writing while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a running strata process.
type proc struct {
	cmd      *exec.Cmd
	out, err *syncBuffer
	done     chan struct{}
}

func startProc(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(strataBin, args...)
	cmd.Dir = dir
	p := &proc{cmd: cmd, out: &syncBuffer{}, err: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.err
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("strata %v stdout:\n%s\nstderr:\n%s", args, p.out, p.err)
		}
	})
	return p
}

// stop interrupts the process (a clean shutdown) and waits for it.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// awaitOutput waits until each pattern matches the process's stdout and
// returns each one's first group, failing the test if the process exits
// first or a minute passes.
func (p *proc) awaitOutput(t *testing.T, what string, patterns ...*regexp.Regexp) []string {
	t.Helper()
	got := make([]string, len(patterns))
	eventually(t, time.Minute, what, func() bool {
		if p.exited() {
			t.Fatalf("%s: the process exited:\n%s\n%s", what, p.out, p.err)
		}
		out, all := p.out.String(), true
		for i, re := range patterns {
			if m := re.FindStringSubmatch(out); m != nil {
				got[i] = m[1]
			} else {
				all = false
			}
		}
		return all
	})
	return got
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// dev is `strata dev` running in a copy of an example.
type dev struct {
	*proc
	dir   string
	url   string
	token string
}

// startDev copies the example, runs `strata dev` on a free port and waits
// until it has deployed (the first build of a Go guest takes a while).
func startDev(t *testing.T, example string) *dev {
	t.Helper()
	return startDevIn(t, copyProject(t, example))
}

// startDevIn runs `strata dev` in a project directory, with extra flags
// (the last --addr given wins).
func startDevIn(t *testing.T, dir string, extra ...string) *dev {
	t.Helper()
	p := startProc(t, dir, append([]string{"dev", "--addr", "127.0.0.1:0"}, extra...)...)
	d := &dev{proc: p, dir: dir}
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if p.exited() {
			t.Fatalf("strata dev exited early:\n%s\n%s", p.out, p.err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, ".strata", "dev.json")); err == nil {
			var st struct{ Server, Token string }
			if json.Unmarshal(b, &st) == nil && st.Server != "" {
				d.url, d.token = st.Server, st.Token
			}
		}
		out := p.out.String()
		if strings.Contains(out, "deploy failed") {
			t.Fatalf("strata dev could not deploy the project:\n%s\n%s", out, p.err)
		}
		// Ready means deployed, not just listening: dev serves (and
		// says so) even when a broken project failed to deploy.
		if d.url != "" && strings.Contains(out, "serving ") && (strings.Contains(out, "deployed ") || strings.Contains(out, "no changes")) {
			return d
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("strata dev did not come up in time:\n%s\n%s", p.out, p.err)
	return nil
}

// run runs the strata CLI in dir and returns stdout, stderr and exit code.
func run(t *testing.T, dir string, stdin []byte, args ...string) (string, string, int) {
	t.Helper()
	return runCLI(t, dir, stdin, nil, args...)
}

// runWithEnv runs the CLI like run, with extra environment variables.
func runWithEnv(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	return runCLI(t, dir, nil, env, args...)
}

// runCLI runs the strata CLI in dir with stdin (nil: none) and env added to
// the test's environment, with STRATA_SERVER and STRATA_TOKEN cleared so the
// CLI finds the server the way the test says.
func runCLI(t *testing.T, dir string, stdin []byte, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, strataBin, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "STRATA_SERVER=", "STRATA_TOKEN="), env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run strata %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// mustRun is run that fails the test on a non-zero exit.
func mustRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, errOut, code := run(t, dir, nil, args...)
	if code != 0 {
		t.Fatalf("strata %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
	}
	return out
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url string, body []byte, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// pgStoreArgs returns the --store flag of a fresh schema (named prefix_N) of
// STRATA_TEST_POSTGRES, dropped at the end of the test, and the
// --secret-key-file every node on it must share; or skips the test when
// STRATA_TEST_POSTGRES is not set.
func pgStoreArgs(t *testing.T, prefix string) []string {
	t.Helper()
	pg := os.Getenv("STRATA_TEST_POSTGRES")
	if pg == "" {
		t.Skip("STRATA_TEST_POSTGRES not set")
	}
	_, schema := pgSchema(t, pg, prefix)
	return pgStoreArgsIn(t, pg, schema)
}

// pgStoreArgsIn is pgStoreArgs on an existing schema of pg.
func pgStoreArgsIn(t *testing.T, pg, schema string) []string {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keyFile := filepath.Join(t.TempDir(), "secret.key")
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--store", withParam(pg, "search_path="+schema), "--secret-key-file", keyFile}
}
