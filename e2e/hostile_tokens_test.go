package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Hostile tenants, tokens and secrets (issue 9): two projects on one real
// server, "victim" and "thief", each deployed with a token limited to its
// own project. The thief tries to deploy the victim's project with its own
// token (refused: 403) and to read the victim's secret by binding the same
// name (refused: its own namespace has none); a revoked token stops working
// at once; the data dir is private. Run on the embedded store and, with
// STRATA_TEST_POSTGRES, on PostgreSQL.

func TestHostileTokensSQLite(t *testing.T) {
	t.Parallel()
	testHostileTokens(t)
}

func TestHostileTokensPostgres(t *testing.T) {
	t.Parallel()
	testHostileTokens(t, pgStoreArgs(t, "strata_e2e_tok")...) // with the shared --secret-key-file
}

// fetchProject copies the fetch-allowlist example as project name, with
// its function renamed so two copies can share a server and its allowed
// API pointed at host. The second copy's routes move under /name/ (the
// guest answers only /upstream, so that copy is invoked directly).
func fetchProject(t *testing.T, name, host string, moveRoutes bool) string {
	t.Helper()
	dir := copyProject(t, "fetch-allowlist")
	yml := filepath.Join(dir, "strata.yaml")
	editFile(t, yml, "project: fetch-allowlist", "project: "+name)
	editFile(t, yml, "127.0.0.1:9911", host)
	editFile(t, yml, "  caller:", "  "+name+"-caller:")
	if moveRoutes {
		editFile(t, yml, "GET /upstream", "GET /"+name+"/upstream")
		editFile(t, yml, "GET /blocked", "GET /"+name+"/blocked")
	}
	return dir
}

// invokeUpstream runs function fn's GET /upstream through the admin API's
// direct invoke, with token.
func invokeUpstream(t *testing.T, url, token, fn string) response {
	t.Helper()
	return do(t, "POST", url+"/_strata/api/v1/functions/"+fn+"/invoke", nil, map[string]string{
		"Authorization": "Bearer " + token, "X-Strata-Method": "GET", "X-Strata-Path": "/upstream"})
}

// createToken runs `strata token create` with the admin token.
func createToken(t *testing.T, url, admin, name, project string) string {
	t.Helper()
	out := mustRun(t, t.TempDir(), "token", "create", name, "--project", project, "--server", url, "--token", admin)
	tok := strings.TrimSpace(out)
	if !strings.HasPrefix(tok, "st_") {
		t.Fatalf("token create printed %q", out)
	}
	return tok
}

func testHostileTokens(t *testing.T, args ...string) {
	// An old data dir readable by everyone, with a file from before: the
	// server makes both private at start and says so.
	dataDir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dataDir, "notes.txt")
	if err := os.WriteFile(old, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	srv, url, admin := startServerIn(t, dataDir, args...)

	secret := randomSecret(t)
	up := newUpstream(t, secret)
	host := strings.TrimPrefix(up.URL, "http://")
	victim := fetchProject(t, "victim", host, false)
	thief := fetchProject(t, "thief", host, true)
	victimTok := createToken(t, url, admin, "ci-victim", "victim")
	thiefTok := createToken(t, url, admin, "ci-thief", "thief")

	// A token of one project cannot deploy another: the thief's token
	// on the victim's project is 403 naming the token's scope.
	_, errOut, code := run(t, victim, nil, "deploy", "--server", url, "--token", thiefTok)
	if code == 0 || !strings.Contains(errOut, "403") || !strings.Contains(errOut, "limited to project thief") || !strings.Contains(errOut, "project victim") {
		t.Fatalf("deploy of victim with thief's token: exit %d\n%s", code, errOut)
	}
	if r := do(t, "GET", url+"/upstream", nil, nil); r.status != 404 {
		t.Fatalf("the refused deploy served something: %d %s", r.status, r.body)
	}
	// Each project's own token deploys it.
	mustRun(t, victim, "deploy", "--server", url, "--token", victimTok)
	mustRun(t, thief, "deploy", "--server", url, "--token", thiefTok)

	// The victim sets its API token; the thief cannot set or list it.
	mustRunStdin(t, victim, []byte(secret), "secrets", "set", "API_TOKEN", "--server", url, "--token", victimTok)
	if _, errOut, code := run(t, thief, []byte("mine"), "secrets", "set", "API_TOKEN", "--project", "victim", "--server", url, "--token", thiefTok); code == 0 || !strings.Contains(errOut, "403") {
		t.Fatalf("thief set the victim's secret: exit %d\n%s", code, errOut)
	}
	if list := mustRun(t, thief, "secrets", "list", "--all", "--server", url, "--token", thiefTok); strings.Contains(list, "API_TOKEN") {
		t.Fatalf("the thief's token lists the victim's secret:\n%s", list)
	}

	// The thief's function binds API_TOKEN by name: it finds none in its
	// own project, and never the victim's.
	r := invokeUpstream(t, url, thiefTok, "thief-caller")
	if r.status == 200 || !strings.Contains(string(r.body), "secret API_TOKEN is not set in project thief") {
		t.Fatalf("thief's function: %d %s", r.status, r.body)
	}
	// Nor can the thief's token run the victim's function.
	if r := invokeUpstream(t, url, thiefTok, "victim-caller"); r.status != 403 {
		t.Fatalf("thief's token invoked the victim's function: %d %s", r.status, r.body)
	}
	// The victim's function reads its own secret.
	r = do(t, "GET", url+"/upstream", nil, nil)
	if r.status != 200 || up.last(t).Get("Authorization") != "Bearer "+secret {
		t.Fatalf("victim's GET /upstream: %d %s", r.status, r.body)
	}
	// The thief's own secret of the same name is what it sends.
	mustRunStdin(t, thief, []byte("thief-own"), "secrets", "set", "API_TOKEN", "--server", url, "--token", thiefTok)
	invokeUpstream(t, url, thiefTok, "thief-caller")
	if got := up.last(t).Get("Authorization"); got != "Bearer thief-own" {
		t.Fatalf("thief's function sent %q", got)
	}

	// Revocation takes effect at once: the next call with the token is 401.
	mustRun(t, victim, "functions", "--server", url, "--token", victimTok)
	out := mustRun(t, victim, "token", "revoke", "ci-victim", "--server", url, "--token", admin)
	if !strings.Contains(out, "revoked") {
		t.Fatalf("token revoke: %s", out)
	}
	if _, errOut, code := run(t, victim, nil, "functions", "--server", url, "--token", victimTok); code != 3 || !strings.Contains(errOut, "invalid admin token") {
		t.Fatalf("revoked token: exit %d\n%s", code, errOut)
	}
	if list := mustRun(t, victim, "token", "list", "--server", url, "--token", admin); strings.Contains(list, "ci-victim") || !strings.Contains(list, "ci-thief") {
		t.Fatalf("token list after revoke:\n%s", list)
	}

	// Files: the data dir and everything in it are the server user's only.
	// (On PostgreSQL the secret key is --secret-key-file, not a file here.)
	var want []string
	if len(args) == 0 {
		want = append(want, "secret.key", "strata.db", "strata.db-wal", "strata.db-shm")
	}
	checkPrivate(t, dataDir, want...)
	if !strings.Contains(srv.err.String(), "notes.txt") {
		t.Fatalf("no warning named the file made private:\n%s", srv.err)
	}
}

// checkPrivate fails if the data dir or anything in it is readable by
// group or others; want are files that must be there.
func checkPrivate(t *testing.T, dataDir string, want ...string) {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dataDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %s: readable by other users", p, fi.Mode().Perm())
		}
		files = append(files, filepath.Base(p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !slices.Contains(files, w) {
			t.Fatalf("the data dir lacks %s: %v", w, files)
		}
	}
}
