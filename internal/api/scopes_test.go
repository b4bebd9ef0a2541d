package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/api"
	"github.com/stratahq/strata/internal/apitype"
)

// createScoped creates a token with a scope through the API.
func (c *nodes) createScoped(t *testing.T, name, project, scope string) apitype.TokenCreated {
	t.Helper()
	body, _ := json.Marshal(apitype.TokenCreateRequest{Name: name, Project: project, Scope: scope})
	r := call(t, c.nodes[0], testToken, "POST", "/tokens", string(body))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	var out apitype.TokenCreated
	require.NoError(t, json.Unmarshal(r.body, &out))
	require.Equal(t, scope, out.Scope)
	return out
}

// TestReadTokenCannotChangeAnything: a read token lists and shows, and
// every route that changes something answers 403 naming its scope and
// the scope the route needs, before the request is looked at.
func TestReadTokenCannotChangeAnything(t *testing.T) {
	c := newNodes(t, 1)
	c.deployFunctions(t)
	n := c.nodes[0]
	ro := c.createScoped(t, "dashboard", "", "read").Token

	for _, p := range []string{"GET /whoami", "GET /functions", "GET /functions/fa/versions", "GET /routes", "GET /logs", "GET /usage", "GET /secrets", "GET /queues"} {
		method, path, _ := strings.Cut(p, " ")
		r := call(t, n, ro, method, path, "")
		require.Equal(t, http.StatusOK, r.status, "%s: %s", p, r.body)
	}
	for _, p := range []struct{ route, body string }{
		{"POST /deploy", `{"project":"a","functions":[]}`},
		{"POST /functions/fa/rollback", `{"version":1}`},
		{"POST /functions/fa/invoke", ``},
		{"PUT /projects/a/secrets/API_KEY", "v"},
		{"PUT /blobs/" + sha64, "x"},
		{"POST /queues/q/messages", `{}`},
		{"POST /executions", `{"workflow":"w"}`},
	} {
		method, path, _ := strings.Cut(p.route, " ")
		r := call(t, n, ro, method, path, p.body)
		require.Equal(t, http.StatusForbidden, r.status, "%s: %s", p.route, r.body)
		require.Equal(t, `{"error":"token dashboard has scope read; `+p.route+` needs scope deploy or admin","status":403}`+"\n", string(r.body), p.route)
	}
	r := call(t, n, ro, "GET", "/tokens", "")
	require.Equal(t, http.StatusForbidden, r.status)
	require.Equal(t, `{"error":"token dashboard has scope read; GET /tokens needs scope admin","status":403}`+"\n", string(r.body))
	r = call(t, n, ro, "GET", "/whoami", "")
	require.JSONEq(t, `{"status":"authorized","token":"dashboard","project":"*","scope":"read"}`, string(r.body))
}

// TestDeployTokenCannotManageTokens: a deploy token changes what runs,
// of its project or of every project, but never creates, lists or
// revokes tokens (it could mint itself an admin token) nor profiles.
func TestDeployTokenCannotManageTokens(t *testing.T) {
	c := newNodes(t, 1)
	c.deployFunctions(t)
	n := c.nodes[0]
	all := c.createScoped(t, "ci", "", "deploy")
	shop := c.createScoped(t, "ci-a", "a", "deploy")

	for _, tok := range []string{all.Token, shop.Token} {
		r := call(t, n, tok, "PUT", "/projects/a/secrets/API_KEY", "v")
		require.Equal(t, http.StatusNoContent, r.status, "a deploy token sets secrets: %s", r.body)
		r = call(t, n, tok, "POST", "/tokens", `{"name":"mine","scope":"admin"}`)
		require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
		require.Contains(t, string(r.body), "has scope deploy; POST /tokens needs scope admin")
		for _, p := range []string{"GET /tokens", "DELETE /tokens/" + all.ID, "GET /debug/pprof/"} {
			method, path, _ := strings.Cut(p, " ")
			r = call(t, n, tok, method, path, "")
			require.Equal(t, http.StatusForbidden, r.status, "%s: %s", p, r.body)
			require.Contains(t, string(r.body), "needs scope admin", p)
		}
	}
	// The project still bounds a deploy token of one project.
	r := call(t, n, shop.Token, "PUT", "/projects/b/secrets/API_KEY", "stolen")
	require.Equal(t, http.StatusForbidden, r.status)
	require.Contains(t, string(r.body), "token ci-a is limited to project a; it may not act on project b")
	// A deploy token of every project reaches every project's secrets.
	r = call(t, n, all.Token, "PUT", "/projects/b/secrets/API_KEY", "v")
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)

	// An admin token of one project is not an admin of tokens either.
	projAdmin := c.createScoped(t, "owner-a", "a", "admin")
	r = call(t, n, projAdmin.Token, "GET", "/tokens", "")
	require.Equal(t, http.StatusForbidden, r.status)
	require.Contains(t, string(r.body), "token owner-a is limited to project a; GET /tokens needs a token of every project")

	// Deploy and read tokens of every project are not admin tokens: the
	// one admin token is still the last.
	r = call(t, n, testToken, "DELETE", "/tokens/admin", "")
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	require.Contains(t, string(r.body), "last admin token")
}

func TestTokenScopeRefusedWhenUnknown(t *testing.T) {
	c := newNodes(t, 1)
	r := call(t, c.nodes[0], testToken, "POST", "/tokens", `{"name":"x","scope":"write"}`)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, `{"error":"token scope \"write\": want admin, deploy or read","status":400}`+"\n", string(r.body))
}

// TestTokenLastUsed: a token's last use is recorded when it is presented,
// at most once per TokenTouchInterval per node (not a write per
// request), and listed.
func TestTokenLastUsed(t *testing.T) {
	c := newNodes(t, 2)
	tok := c.createScoped(t, "ci", "", "read")
	lastUsed := func() *time.Time {
		t.Helper()
		r := call(t, c.nodes[0], testToken, "GET", "/tokens", "")
		require.Equal(t, http.StatusOK, r.status)
		var ts []apitype.TokenInfo
		require.NoError(t, json.Unmarshal(r.body, &ts))
		for _, ti := range ts {
			if ti.ID == tok.ID {
				return ti.LastUsedAt
			}
		}
		t.Fatalf("token %s not listed", tok.ID)
		return nil
	}
	require.Nil(t, lastUsed(), "never used yet")

	first := c.clk.Now()
	require.Equal(t, http.StatusOK, call(t, c.nodes[0], tok.Token, "GET", "/functions", "").status)
	got := lastUsed()
	require.NotNil(t, got, "used once: listed")
	require.True(t, first.Equal(*got), "last used %s, want %s", got, first)

	// Within the interval further uses, on this node or another that
	// reads the recorded time, write nothing.
	c.clk.Advance(api.TokenTouchInterval / 2)
	require.Equal(t, http.StatusOK, call(t, c.nodes[0], tok.Token, "GET", "/functions", "").status)
	require.Equal(t, http.StatusOK, call(t, c.nodes[1], tok.Token, "GET", "/functions", "").status)
	require.True(t, first.Equal(*lastUsed()), "not rewritten within %s", api.TokenTouchInterval)

	// After it, the next use is recorded.
	c.clk.Advance(api.TokenTouchInterval)
	later := c.clk.Now()
	require.Equal(t, http.StatusOK, call(t, c.nodes[1], tok.Token, "GET", "/functions", "").status)
	require.True(t, later.Equal(*lastUsed()), "rewritten after %s", api.TokenTouchInterval)
}

// sha64 is a well-formed blob id.
const sha64 = "0000000000000000000000000000000000000000000000000000000000000000"
