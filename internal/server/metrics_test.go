package server

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/api"
	"github.com/stratahq/strata/internal/client"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// TestMetricsEndpoint: /_strata/api/v1/metrics answers a token of every
// project with read scope, and refuses project-scoped tokens whatever
// their scope (the metrics name every project's functions); the
// --metrics-addr listener serves /metrics with no token; the public
// listener does not serve them.
func TestMetricsEndpoint(t *testing.T) {
	n := startNodeWith(t, "", func(c *config.Config) { c.MetricsAddr = "127.0.0.1:0" })
	ctx := context.Background()
	admin, err := n.srv.EnsureAdminToken(ctx)
	require.NoError(t, err)
	n.c = client.New(n.url, admin)
	require.NoError(t, n.deploy(t, "a", fn{"hello", wasmtest.Guest(t, wasmtest.Hello), cfgOf(record.KindReactor), routes("GET /hello/{name}")}))
	for range 3 {
		code, _, body := get(t, n.url+"/hello/x", nil)
		require.Equal(t, http.StatusOK, code, body)
	}

	tokens := map[string]record.Token{
		"read-all":  {Name: "prom", Scope: record.ScopeRead},
		"read-a":    {Name: "dash-a", Project: "a", Scope: record.ScopeRead},
		"admin-a":   {Name: "ops-a", Project: "a", Scope: record.ScopeAdmin},
		"deploy-b":  {Name: "ci-b", Project: "b", Scope: record.ScopeDeploy},
		"admin-all": {Name: "root", Scope: record.ScopeAdmin},
	}
	secret := map[string]string{}
	for k, tok := range tokens {
		secret[k] = NewToken()
		tok.Hash = api.HashToken(secret[k])
		require.NoError(t, n.srv.Store().TokenPut(ctx, tok))
	}
	scrape := func(url, token string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("GET", url, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	api := n.url + "/_strata/api/v1/metrics"
	code, body := scrape(api, "")
	require.Equal(t, http.StatusUnauthorized, code, body)
	for _, k := range []string{"read-a", "admin-a", "deploy-b"} {
		code, body := scrape(api, secret[k])
		require.Equal(t, http.StatusForbidden, code, "%s: %s", k, body)
		require.Contains(t, body, "is limited to project", k)
		require.NotContains(t, body, "strata_", k)
	}

	invocations := `strata_invocations_total{function="hello",outcome="ok",project="a",trigger="http"} 3`
	for _, k := range []string{"read-all", "admin-all"} {
		code, body := scrape(api, secret[k])
		require.Equal(t, http.StatusOK, code, "%s: %s", k, body)
		require.Contains(t, body, invocations)
		require.Contains(t, body, `strata_cold_starts_total{function="hello",project="a"} 1`)
		require.Contains(t, body, `strata_invocation_duration_seconds_count{function="hello",outcome="ok",project="a",trigger="http"} 3`)
		require.Contains(t, body, `strata_instances{function="hello",project="a",state="idle"} 1`)
		require.Contains(t, body, `strata_store_operation_duration_seconds_count{operation="DeploymentApply"} 1`)
		require.Contains(t, body, "go_goroutines ")
		require.Contains(t, body, "process_resident_memory_bytes ")
	}

	u := n.srv.MetricsURL()
	require.True(t, strings.HasSuffix(u, "/metrics"), u)
	code, body = scrape(u, "")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, invocations)
	code, body = scrape(strings.TrimSuffix(u, "/metrics")+"/_strata/api/v1/functions", admin)
	require.Equal(t, http.StatusNotFound, code, "the metrics listener serves /metrics alone: %s", body)

	code, body = scrape(n.url+"/metrics", "")
	require.Equal(t, http.StatusNotFound, code, "the public listener serves functions, not metrics: %s", body)
}
