package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/api"
	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/bindings"
	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/pool"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/registry"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
	"github.com/stratahq/strata/internal/store/storetest"
)

// nodes is a cluster of admin APIs over real HTTP sharing one real SQLite
// store (as nodes share a PostgreSQL database), with real secret
// encryption and a fake clock for the token cache.
type nodes struct {
	st    store.Store
	clk   *clock.Fake
	nodes []*httptest.Server
}

func newNodes(t *testing.T, n int) *nodes {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.TokenPut(ctx, record.Token{Hash: api.HashToken(testToken), Name: "admin"}))
	b, err := bindings.New(ctx, bindings.Config{Store: st, DataDir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	c := &nodes{st: st, clk: clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	for range n {
		srv := httptest.NewServer(api.New(api.Config{Store: st, Bindings: b, Clock: c.clk, Invoker: noInvoker{}}))
		t.Cleanup(srv.Close)
		c.nodes = append(c.nodes, srv)
	}
	return c
}

// noInvoker stands for the invocation pipeline where no test here runs a
// function: pool statistics are empty and nothing compiles.
type noInvoker struct{}

func (noInvoker) Prepare(context.Context, string, []byte, string, record.FunctionConfig) (registry.Prepared, error) {
	return registry.Prepared{}, errors.New("not compiling in this test")
}
func (noInvoker) Sync(context.Context) error       { return nil }
func (noInvoker) PoolStats() map[string]pool.Stats { return nil }

// createToken creates a token through the API with the admin token.
func (c *nodes) createToken(t *testing.T, name, project string) apitype.TokenCreated {
	t.Helper()
	body, _ := json.Marshal(apitype.TokenCreateRequest{Name: name, Project: project})
	r := call(t, c.nodes[0], testToken, "POST", "/tokens", string(body))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	var out apitype.TokenCreated
	require.NoError(t, json.Unmarshal(r.body, &out))
	require.NotEmpty(t, out.Token)
	return out
}

// deployFunctions puts function fa in project a and fb in project b.
func (c *nodes) deployFunctions(t *testing.T) {
	t.Helper()
	for _, p := range []string{"a", "b"} {
		_, err := c.st.DeploymentApply(context.Background(), store.DeploymentApplyParams{Project: p,
			NewVersions: []store.NewVersionParams{{Function: "f" + p, ModuleSHA256: storetest.Digest([]byte(p)),
				Config: record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 64, TimeoutMS: 1000, MaxConcurrency: 1}}}})
		require.NoError(t, err)
	}
}

// TestTokenRevokedStopsAtOnce: revoking a token refuses it at once on the
// node that revoked it and, on every other node, as soon as its cache
// entry expires (TokenCacheTTL); before, a deleted token kept working
// until the server restarted (issue 9).
func TestTokenRevokedStopsAtOnce(t *testing.T) {
	c := newNodes(t, 2)
	tok := c.createToken(t, "ci", "")
	for _, n := range c.nodes {
		require.Equal(t, http.StatusOK, call(t, n, tok.Token, "GET", "/whoami", "").status, "valid on every node, and now cached")
	}
	r := call(t, c.nodes[0], testToken, "DELETE", "/tokens/"+tok.ID, "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	r = call(t, c.nodes[0], tok.Token, "GET", "/whoami", "")
	require.Equal(t, http.StatusUnauthorized, r.status, "refused at once where it was revoked")
	require.Contains(t, string(r.body), "revoked")

	// The other node trusts its cache no longer than TokenCacheTTL.
	c.clk.Advance(api.TokenCacheTTL)
	r = call(t, c.nodes[1], tok.Token, "GET", "/whoami", "")
	require.Equal(t, http.StatusUnauthorized, r.status, "refused on every node once the cache expired")

	// The admin token still works everywhere; revoking again is 404.
	require.Equal(t, http.StatusOK, call(t, c.nodes[1], testToken, "GET", "/whoami", "").status)
	require.Equal(t, http.StatusNotFound, call(t, c.nodes[0], testToken, "DELETE", "/tokens/"+tok.ID, "").status)
}

func TestTokenRevokeRefusals(t *testing.T) {
	c := newNodes(t, 1)
	n := c.nodes[0]
	// The last admin token would lock everyone out.
	r := call(t, n, testToken, "DELETE", "/tokens/admin", "")
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	require.Contains(t, string(r.body), "last admin token")

	// Two tokens of one name: revoke by id.
	t1 := c.createToken(t, "deployer", "a")
	t2 := c.createToken(t, "deployer", "b")
	r = call(t, n, testToken, "DELETE", "/tokens/deployer", "")
	require.Equal(t, http.StatusConflict, r.status)
	require.Contains(t, string(r.body), t1.ID)
	require.Contains(t, string(r.body), t2.ID)

	// Only admin tokens manage tokens.
	r = call(t, n, t1.Token, "POST", "/tokens", `{"name":"mine"}`)
	require.Equal(t, http.StatusForbidden, r.status)
	r = call(t, n, t1.Token, "DELETE", "/tokens/"+t2.ID, "")
	require.Equal(t, http.StatusForbidden, r.status)

	r = call(t, n, testToken, "GET", "/tokens", "")
	require.Equal(t, http.StatusOK, r.status)
	var list []apitype.TokenInfo
	require.NoError(t, json.Unmarshal(r.body, &list))
	require.Len(t, list, 3)
	require.NotContains(t, string(r.body), t1.Token, "a listing never shows a token's value")

	for _, bad := range []string{`{"name":""}`, `{"name":"x","project":"Bad Project"}`, `{"name":"x","extra":1}`} {
		require.Equal(t, http.StatusBadRequest, call(t, n, testToken, "POST", "/tokens", bad).status, bad)
	}
}

// TestProjectScopedToken: a token created for project a deploys, reads and
// manages project a only; every other project's deploys, functions,
// secrets and databases answer 403 naming the token's scope, and routes
// that span projects need an admin token.
func TestProjectScopedToken(t *testing.T) {
	c := newNodes(t, 1)
	n := c.nodes[0]
	c.deployFunctions(t)
	tok := c.createToken(t, "ci-a", "a").Token

	spec := func(project string) string {
		b, _ := json.Marshal(map[string]any{"project": project, "functions": []any{map[string]any{
			"name": "f" + project, "module_sha256": storetest.Digest([]byte(project)),
			"config": record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 64, TimeoutMS: 1000, MaxConcurrency: 1},
		}}})
		return string(b)
	}
	// The attack: deploy over another project.
	r := call(t, n, tok, "POST", "/deploy?plan=true", spec("b"))
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	require.Contains(t, string(r.body), "limited to project a")
	require.Contains(t, string(r.body), "project b")
	// Its own project's deploy goes through (here: the plan, no change).
	r = call(t, n, tok, "POST", "/deploy?plan=true", spec("a"))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	// Functions: listed and reached in its project only.
	r = call(t, n, tok, "GET", "/functions", "")
	require.Equal(t, http.StatusOK, r.status)
	var fns []apitype.FunctionInfo
	require.NoError(t, json.Unmarshal(r.body, &fns))
	require.Len(t, fns, 1)
	require.Equal(t, "fa", fns[0].Name)
	require.Equal(t, http.StatusOK, call(t, n, tok, "GET", "/functions/fa/versions", "").status)
	for _, p := range []string{"/functions/fb/versions"} {
		r = call(t, n, tok, "GET", p, "")
		require.Equal(t, http.StatusForbidden, r.status, p)
	}
	r = call(t, n, tok, "POST", "/functions/fb/rollback", `{"version":1}`)
	require.Equal(t, http.StatusForbidden, r.status)
	r = call(t, n, tok, "POST", "/functions/fb/invoke", "")
	require.Equal(t, http.StatusForbidden, r.status)

	// Secrets: its project's only.
	r = call(t, n, tok, "PUT", "/projects/b/secrets/API_KEY", "stolen")
	require.Equal(t, http.StatusForbidden, r.status)
	r = call(t, n, tok, "PUT", "/projects/a/secrets/API_KEY", "mine")
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	r = call(t, n, testToken, "PUT", "/projects/b/secrets/OTHER", "b's")
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	r = call(t, n, tok, "GET", "/secrets", "")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, string(r.body), "API_KEY")
	require.NotContains(t, string(r.body), "OTHER", "another project's secrets are not listed")
	require.Equal(t, http.StatusForbidden, call(t, n, tok, "GET", "/projects/b/secrets", "").status)
	require.Equal(t, http.StatusForbidden, call(t, n, tok, "DELETE", "/projects/b/secrets/OTHER", "").status)

	// Routes that span projects need an admin token. (Executions are
	// scoped by the engine instead: TestExecutionsProjectScoped.)
	for _, p := range []string{"GET /routes", "GET /logs", "GET /usage", "GET /tokens", "GET /queues", "GET /debug/pprof/"} {
		method, path, _ := strings.Cut(p, " ")
		r = call(t, n, tok, method, path, "")
		require.Equal(t, http.StatusForbidden, r.status, p)
		require.Contains(t, string(r.body), "needs a token of every project", p)
	}
	// Logs and usage of one of its own functions, not another project's.
	require.Equal(t, http.StatusOK, call(t, n, tok, "GET", "/logs?function=fa", "").status)
	require.Equal(t, http.StatusOK, call(t, n, tok, "GET", "/usage?function=fa", "").status)
	require.Equal(t, http.StatusForbidden, call(t, n, tok, "GET", "/logs?function=fb", "").status)
	require.Equal(t, http.StatusForbidden, call(t, n, tok, "GET", "/usage?function=fb", "").status)
	// The admin token reaches everything.
	r = call(t, n, testToken, "GET", "/functions", "")
	require.NoError(t, json.Unmarshal(r.body, &fns))
	require.Len(t, fns, 2)
	r = call(t, n, tok, "GET", "/whoami", "")
	require.JSONEq(t, `{"status":"authorized","token":"ci-a","project":"a","scope":"admin"}`, string(r.body))
}

// TestSecretNames: a name no secret can have is 400 (it was 500 when the
// API and the store disagreed on the rule), and names are per project.
func TestSecretNames(t *testing.T) {
	c := newNodes(t, 1)
	n := c.nodes[0]
	// Lowercase passed the API's check and failed the store's: 500.
	r := call(t, n, testToken, "PUT", "/projects/a/secrets/stripe_key", "v")
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	for _, bad := range []string{"bad-name", "1ABC", "A.B", strings.Repeat("X", 129)} {
		r = call(t, n, testToken, "PUT", "/projects/a/secrets/"+bad, "v")
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", bad, r.body)
		require.Contains(t, string(r.body), "secret name")
		r = call(t, n, testToken, "DELETE", "/projects/a/secrets/"+bad, "")
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", bad, r.body)
	}
	r = call(t, n, testToken, "PUT", "/projects/Bad_Project/secrets/A", "v")
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	// A client from before secrets were per project is told what to do.
	r = call(t, n, testToken, "PUT", "/secrets/A", "v")
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, string(r.body), "--project")
}

// TestTokenRevokeHammer: requests with a token run while it is revoked;
// once the revocation has answered, no request on that node succeeds with
// it (a lookup that began before the revocation may not re-cache it).
func TestTokenRevokeHammer(t *testing.T) {
	c := newNodes(t, 1)
	n := c.nodes[0]
	tok := c.createToken(t, "victim", "a")
	var revoked atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				after := revoked.Load()
				req, _ := http.NewRequest("GET", n.URL+apitype.Prefix+"/whoami", nil)
				req.Header.Set("Authorization", "Bearer "+tok.Token)
				resp, err := n.Client().Do(req)
				if err != nil {
					errs <- err.Error()
					return
				}
				resp.Body.Close()
				if after && resp.StatusCode != http.StatusUnauthorized {
					errs <- fmt.Sprintf("status %d after the revocation answered", resp.StatusCode)
					return
				}
			}
		}()
	}
	r := call(t, n, testToken, "DELETE", "/tokens/"+tok.ID, "")
	require.Equal(t, http.StatusOK, r.status)
	revoked.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
