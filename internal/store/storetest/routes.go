package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// routesTests are the conformance tests of DeploymentApplyParams.CheckRoutes.
var routesTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"DeployCheckRoutesSeesOtherProjectsAndAborts", testDeployCheckRoutes},
}

// testDeployCheckRoutes: CheckRoutes is called inside the deploy with the
// other projects' routes (never the deploying project's own), and its error
// aborts the whole deploy.
func testDeployCheckRoutes(t *testing.T, s store.Store) {
	ctx := context.Background()
	deployProjectA(t, s)
	b := store.DeploymentApplyParams{
		Project:     "b",
		NewVersions: []store.NewVersionParams{{Function: "other", ModuleSHA256: module("other"), Config: cfg(record.KindReactor)}},
		Routes:      []record.Route{{Method: "GET", Path: "/other/{x}", Function: "other"}},
	}
	var seen []record.Route
	b.CheckRoutes = func(others []record.Route) error {
		seen = others
		return fmt.Errorf("path /hello is project a's: %w", store.ErrConflict)
	}
	_, err := s.DeploymentApply(ctx, b)
	require.ErrorIs(t, err, store.ErrConflict)
	require.Contains(t, err.Error(), "path /hello is project a's")
	require.Equal(t, []record.Route{{Project: "a", Method: "GET", Path: "/hello", Function: "hello"}}, seen)
	requireOnlyProjectA(t, s)

	// Allowed: the deploy lands; a redeploy of b does not see b's own routes.
	b.CheckRoutes = func(others []record.Route) error { seen = others; return nil }
	deploy(t, s, b)
	deploy(t, s, b)
	require.Equal(t, []record.Route{{Project: "a", Method: "GET", Path: "/hello", Function: "hello"}}, seen)
	routes, err := s.RouteList(ctx)
	require.NoError(t, err)
	require.Len(t, routes, 2)
}
