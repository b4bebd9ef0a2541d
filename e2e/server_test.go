package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startServer runs `strata server` on a fresh data directory with extra
// args and returns its URL and the admin token it printed on first start.
func startServer(t *testing.T, args ...string) (*proc, string, string) {
	t.Helper()
	return startServerIn(t, t.TempDir(), args...)
}

// startServerIn runs `strata server` on dataDir and returns its URL and
// the admin token printed on first start.
func startServerIn(t *testing.T, dataDir string, args ...string) (*proc, string, string) {
	t.Helper()
	p := startProc(t, dataDir, append([]string{"server", "--addr", "127.0.0.1:0", "--data-dir", dataDir}, args...)...)
	got := p.awaitOutput(t, "strata server to start",
		regexp.MustCompile(`serving on (http://\S+)`),
		regexp.MustCompile(`admin token \(shown once, store it now\): (\S+)`))
	url, tok := got[0], got[1]
	return p, url, tok
}

func testServerDeploy(t *testing.T, args ...string) {
	_, url, tok := startServer(t, args...)
	dir := copyProject(t, "hello")

	// Without a token, or with a wrong one: 401, exit code 3, nothing deployed.
	if _, errOut, code := run(t, dir, nil, "deploy", "--server", url); code != 3 || !strings.Contains(errOut, "401") {
		t.Fatalf("deploy without token: exit %d: %s", code, errOut)
	}
	if _, errOut, code := run(t, dir, nil, "deploy", "--server", url, "--token", "st_wrong"); code != 3 || !strings.Contains(errOut, "invalid admin token") {
		t.Fatalf("deploy with wrong token: exit %d: %s", code, errOut)
	}
	if r := do(t, "GET", url+"/hello/world", nil, nil); r.status != 404 {
		t.Fatalf("something was deployed without a token: %d %s", r.status, r.body)
	}

	out := mustRun(t, dir, "deploy", "--server", url, "--token", tok)
	if !strings.Contains(out, "+ function hello") || !strings.Contains(out, "1 new version") {
		t.Fatalf("deploy output:\n%s", out)
	}
	if r := do(t, "GET", url+"/hello/world", nil, nil); r.status != 200 || string(r.body) != "hello, world!\n" {
		t.Fatalf("after deploy: %d %q", r.status, r.body)
	}
	// Environment variables reach the CLI too.
	t.Setenv("STRATA_SERVER", url)
	t.Setenv("STRATA_TOKEN", tok)
	cmdOut := mustRunEnv(t, dir, "functions")
	if !strings.Contains(cmdOut, "hello") {
		t.Fatalf("functions:\n%s", cmdOut)
	}
}

func mustRunEnv(t *testing.T, dir string, args ...string) string {
	t.Helper()
	// run clears STRATA_SERVER/STRATA_TOKEN; pass them as flags instead.
	return mustRun(t, dir, append(args, "--server", os.Getenv("STRATA_SERVER"), "--token", os.Getenv("STRATA_TOKEN"))...)
}

func TestServerSQLite(t *testing.T) {
	testServerDeploy(t)
}

func TestServerPostgres(t *testing.T) {
	// A schema of its own, so the test never meets other tests' data.
	testServerDeploy(t, pgStoreArgs(t, "strata_e2e")...)
}

func TestBadManifestIsClearError(t *testing.T) {
	t.Parallel()
	dir := copyProject(t, "hello")
	man := filepath.Join(dir, "strata.yaml")
	b, _ := os.ReadFile(man)
	if err := os.WriteFile(man, []byte(strings.Replace(string(b), "timeout:", "timeuot:", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, dir, nil, "build")
	if code != 1 || !regexp.MustCompile(`strata\.yaml:\d+:\d+: .*timeuot`).MatchString(errOut) {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
}

func TestScaffoldNewProject(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	mustRun(t, parent, "new", "greeter")
	dir := filepath.Join(parent, "greeter")
	out := mustRun(t, dir, "build")
	if !strings.Contains(out, "greeter") {
		t.Fatalf("build of a new project: %s", out)
	}
	// A second `new` into the same folder refuses to overwrite it.
	if _, errOut, code := run(t, parent, nil, "new", "greeter"); code == 0 {
		t.Fatalf("new over an existing project succeeded: %s", errOut)
	}
}

// TestDeploySurvivesKill deploys, kills the server with SIGKILL (no clean
// shutdown), restarts it on the same data directory and checks that the
// acknowledged deploy, its versions and the token are all still there and
// the function serves at once, compiled before the listener opened.
func TestDeploySurvivesKill(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	start := func() (*proc, string) {
		p := startProc(t, dataDir, "server", "--addr", "127.0.0.1:0", "--data-dir", dataDir)
		urlRe := regexp.MustCompile(`serving on (http://\S+)`)
		var url string
		eventually(t, time.Minute, "strata server to start", func() bool {
			if m := urlRe.FindStringSubmatch(p.out.String()); m != nil {
				url = m[1]
			}
			return url != ""
		})
		return p, url
	}
	p, url := start()
	tok := regexp.MustCompile(`admin token \(shown once, store it now\): (\S+)`).FindStringSubmatch(p.out.String())
	if tok == nil {
		t.Fatalf("no token printed:\n%s", p.out)
	}
	dir := copyProject(t, "hello")
	mustRun(t, dir, "deploy", "--server", url, "--token", tok[1])
	man := filepath.Join(dir, "strata.yaml")
	b, _ := os.ReadFile(man)
	if err := os.WriteFile(man, []byte(strings.Replace(string(b), "GREETING: hello", "GREETING: hey", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, dir, "deploy", "--server", url, "--token", tok[1])
	if r := do(t, "GET", url+"/hello/k", nil, nil); string(r.body) != "hey, k!\n" {
		t.Fatalf("before kill: %q", r.body)
	}

	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done

	p2, url2 := start()
	if strings.Contains(p2.out.String(), "admin token") {
		t.Fatalf("a restart printed a new admin token:\n%s", p2.out)
	}
	if r := do(t, "GET", url2+"/hello/k", nil, nil); r.status != 200 || string(r.body) != "hey, k!\n" || r.header.Get("X-Strata-Version") != "2" {
		t.Fatalf("after restart: %d %q version %s", r.status, r.body, r.header.Get("X-Strata-Version"))
	}
	out := mustRun(t, dir, "versions", "hello", "--server", url2, "--token", tok[1])
	if !hasActive(out, "2") || !hasVersion(out, "1") {
		t.Fatalf("versions after restart:\n%s", out)
	}
	// The same project again is still a no-op after the restart.
	if out := mustRun(t, dir, "deploy", "--server", url2, "--token", tok[1]); !strings.Contains(out, "up to date") {
		t.Fatalf("redeploy after restart:\n%s", out)
	}
}
