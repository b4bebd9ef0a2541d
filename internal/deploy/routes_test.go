package deploy

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
)

// TestRouteOwnershipHoldsAgainstAConcurrentDeploy: two nodes plan at once,
// neither seeing the other's routes. Victim's deploy commits first; thief's
// plan (made before it) is then refused by the store, inside the deploy's
// transaction, naming victim.
func TestRouteOwnershipHoldsAgainstAConcurrentDeploy(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })

	victim := spec("victim", fn("ops", sha('1'), "GET /victim/{op}"))
	thief := spec("thief", fn("steal", sha('2'), "GET /victim/login"))
	victimPlan, err := Compute(victim, State{})
	require.NoError(t, err)
	thiefPlan, err := Compute(thief, State{}) // victim is not deployed yet, as far as this node knows
	require.NoError(t, err)

	_, err = st.DeploymentApply(ctx, victimPlan.ApplyParams(victim, testNow))
	require.NoError(t, err)
	_, err = st.DeploymentApply(ctx, thiefPlan.ApplyParams(thief, testNow))
	require.ErrorIs(t, err, store.ErrConflict)
	assert.Contains(t, err.Error(), `route GET /victim/login of function "steal" overlaps GET /victim/{op} of project "victim" (function "ops")`)

	routes, err := st.RouteList(ctx)
	require.NoError(t, err)
	require.Equal(t, []record.Route{{Project: "victim", Method: "GET", Path: "/victim/{op}", Function: "ops"}}, routes)
	_, err = st.FunctionGet(ctx, "steal")
	require.ErrorIs(t, err, store.ErrNotFound, "nothing of the refused deploy is applied")
}
