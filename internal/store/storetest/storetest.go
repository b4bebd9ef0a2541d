package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// Run runs the conformance suite. open must return a fresh, empty store for
// the calling (sub)test and arrange for it to be closed with t.Cleanup;
// subtests call it in parallel.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Blobs", testBlobs},
		{"DeployCreatesFunctionsVersionsRoutes", testDeployCreates},
		{"DeployNumbersVersionsPerFunction", testDeployNumbers},
		{"DeployFunctionOfOtherProjectConflicts", testDeployFunctionConflict},
		{"DeployRouteOfOtherProjectConflicts", testDeployRouteConflict},
		{"DeployRejectsBadRoutes", testDeployBadRoutes},
		{"DeployReplacesRouteSet", testDeployReplacesRoutes},
		{"DeployRemovesFunctions", testDeployRemoves},
		{"DeployConcurrentVersionsAreDistinct", testDeployConcurrent},
		{"FunctionSetActiveVersion", testSetActive},
		{"FunctionListAndRouteListOrder", testListOrder},
		{"Usage", testUsage},
		{"UsageSeries", testUsageSeries},
		{"Logs", testLogs},
		{"LogsDefaultLimitAndFollow", testLogsFollow},
		{"LogsFilters", testLogsFilters},
		{"LogsConcurrentInsertIDs", testLogsConcurrent},
		{"Tokens", testTokens},
		{"Settings", testSettings},
	}
	tests = append(tests, eventsTests...)
	tests = append(tests, bindingsTests...)
	tests = append(tests, flowTests...)
	tests = append(tests, routesTests...)
	tests = append(tests, tracesTests...)
	tests = append(tests, objectsTests...)
	tests = append(tests, stateMachinesTests...)
	tests = append(tests, nodesTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// Digest returns the hex SHA-256 of b.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// module returns a fake module digest that differs per name.
func module(name string) string { return Digest([]byte("module " + name)) }

func cfg(kind string) record.FunctionConfig {
	return record.FunctionConfig{Kind: kind, MemoryMB: 64, TimeoutMS: 3000, MaxConcurrency: 10,
		Env: map[string]string{"GREETING": "hi", "EMPTY": ""}}
}

// requireRecent checks that a stored time is in UTC, set, and close to when the
// test ran (the store stamps created/updated times itself).
func requireRecent(t *testing.T, got time.Time, before time.Time) {
	t.Helper()
	require.Equal(t, time.UTC, got.Location(), "times come back in UTC")
	require.False(t, got.Before(before.Truncate(time.Millisecond)), "time %v is before the test started at %v", got, before)
}

func deploy(t *testing.T, s store.Store, p store.DeploymentApplyParams) *store.DeploymentApplyResult {
	t.Helper()
	res, err := s.DeploymentApply(context.Background(), p)
	require.NoError(t, err)
	require.Len(t, res.Versions, len(p.NewVersions))
	return res
}

func testBlobs(t *testing.T, s store.Store) {
	ctx := context.Background()
	data := []byte("\x00asm\x01\x00\x00\x00 some module bytes")
	d := Digest(data)

	ok, err := s.BlobExists(ctx, d)
	require.NoError(t, err)
	require.False(t, ok)
	_, err = s.BlobGet(ctx, d)
	require.ErrorIs(t, err, store.ErrNotFound)

	require.NoError(t, s.BlobPut(ctx, d, data))
	require.NoError(t, s.BlobPut(ctx, d, data), "putting existing content is a no-op")
	got, err := s.BlobGet(ctx, d)
	require.NoError(t, err)
	require.Equal(t, data, got)
	ok, err = s.BlobExists(ctx, d)
	require.NoError(t, err)
	require.True(t, ok)

	// A digest that does not match the content is refused and stores nothing.
	other := []byte("other bytes")
	err = s.BlobPut(ctx, Digest([]byte("not these")), other)
	require.Error(t, err)
	ok, err = s.BlobExists(ctx, Digest([]byte("not these")))
	require.NoError(t, err)
	require.False(t, ok)
	require.Error(t, s.BlobPut(ctx, "not-hex", other))

	// The empty blob is a blob like any other.
	require.NoError(t, s.BlobPut(ctx, Digest(nil), nil))
	got, err = s.BlobGet(ctx, Digest(nil))
	require.NoError(t, err)
	require.Empty(t, got)

	// Large blobs round-trip byte for byte.
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	require.NoError(t, s.BlobPut(ctx, Digest(big), big))
	got, err = s.BlobGet(ctx, Digest(big))
	require.NoError(t, err)
	require.Equal(t, Digest(big), Digest(got))
}

func testDeployCreates(t *testing.T, s store.Store) {
	ctx := context.Background()
	before := time.Now()
	res := deploy(t, s, store.DeploymentApplyParams{
		Project: "shop",
		NewVersions: []store.NewVersionParams{
			{Function: "cart", ModuleSHA256: module("cart"), Config: cfg(record.KindReactor)},
			{Function: "pay", ModuleSHA256: module("pay"), Config: record.FunctionConfig{Kind: record.KindCommand, MemoryMB: 128, TimeoutMS: 900000}},
		},
		Routes: []record.Route{
			{Method: "GET", Path: "/cart/{id}", Function: "cart"},
			{Method: "*", Path: "/pay/{rest...}", Function: "pay"},
		},
	})
	require.Equal(t, "cart", res.Versions[0].Function)
	require.Equal(t, 1, res.Versions[0].Number)
	require.Equal(t, module("cart"), res.Versions[0].ModuleSHA256)
	require.Equal(t, cfg(record.KindReactor), res.Versions[0].Config)
	requireRecent(t, res.Versions[0].CreatedAt, before)
	require.Equal(t, "pay", res.Versions[1].Function)
	require.Equal(t, 1, res.Versions[1].Number)

	f, err := s.FunctionGet(ctx, "cart")
	require.NoError(t, err)
	require.Equal(t, "cart", f.Name)
	require.Equal(t, "shop", f.Project)
	require.Equal(t, 1, f.ActiveVersion)
	requireRecent(t, f.CreatedAt, before)
	requireRecent(t, f.UpdatedAt, before)

	v, err := s.VersionGet(ctx, "cart", 1)
	require.NoError(t, err)
	require.Equal(t, res.Versions[0], *v, "the stored version equals the one returned, config included")
	v, err = s.VersionGet(ctx, "pay", 1)
	require.NoError(t, err)
	require.Equal(t, record.FunctionConfig{Kind: record.KindCommand, MemoryMB: 128, TimeoutMS: 900000}, v.Config)

	routes, err := s.RouteList(ctx)
	require.NoError(t, err)
	require.Equal(t, []record.Route{
		{Project: "shop", Method: "GET", Path: "/cart/{id}", Function: "cart"},
		{Project: "shop", Method: "*", Path: "/pay/{rest...}", Function: "pay"},
	}, routes, "Route.Project is set from the deploy")

	_, err = s.FunctionGet(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.VersionGet(ctx, "cart", 2)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.VersionGet(ctx, "nope", 1)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.VersionList(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)

	// A deploy with nothing in it is valid and changes nothing of other projects.
	deploy(t, s, store.DeploymentApplyParams{Project: "empty"})
	routes, err = s.RouteList(ctx)
	require.NoError(t, err)
	require.Len(t, routes, 2)
}

func testDeployNumbers(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		res := deploy(t, s, store.DeploymentApplyParams{
			Project: "p",
			NewVersions: []store.NewVersionParams{
				{Function: "a", ModuleSHA256: module(fmt.Sprint("a", i)), Config: cfg(record.KindReactor)},
			},
		})
		require.Equal(t, i, res.Versions[0].Number)
	}
	// Numbering is per function: b starts at 1. Two versions of one
	// function in one deploy get consecutive numbers; the last is active.
	res := deploy(t, s, store.DeploymentApplyParams{
		Project: "p",
		NewVersions: []store.NewVersionParams{
			{Function: "b", ModuleSHA256: module("b1"), Config: cfg(record.KindCommand)},
			{Function: "a", ModuleSHA256: module("a4"), Config: cfg(record.KindReactor)},
			{Function: "b", ModuleSHA256: module("b2"), Config: cfg(record.KindCommand)},
		},
	})
	require.Equal(t, []int{1, 4, 2}, []int{res.Versions[0].Number, res.Versions[1].Number, res.Versions[2].Number})
	b, err := s.FunctionGet(ctx, "b")
	require.NoError(t, err)
	require.Equal(t, 2, b.ActiveVersion)

	vs, err := s.VersionList(ctx, "a")
	require.NoError(t, err)
	var nums []int
	for _, v := range vs {
		nums = append(nums, v.Number)
		require.Equal(t, module(fmt.Sprint("a", v.Number)), v.ModuleSHA256)
	}
	require.Equal(t, []int{4, 3, 2, 1}, nums, "newest first")
	a, err := s.FunctionGet(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, 4, a.ActiveVersion)
	require.False(t, a.UpdatedAt.Before(a.CreatedAt))
}

// requireOnlyProjectA checks that a failed deploy of project "b" left the store as
// project "a"'s first deploy made it.
func requireOnlyProjectA(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	fs, err := s.FunctionList(ctx)
	require.NoError(t, err)
	require.Len(t, fs, 1)
	require.Equal(t, "hello", fs[0].Name)
	require.Equal(t, 1, fs[0].ActiveVersion)
	vs, err := s.VersionList(ctx, "hello")
	require.NoError(t, err)
	require.Len(t, vs, 1)
	routes, err := s.RouteList(ctx)
	require.NoError(t, err)
	require.Equal(t, []record.Route{{Project: "a", Method: "GET", Path: "/hello", Function: "hello"}}, routes)
	_, err = s.FunctionGet(ctx, "other")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func deployProjectA(t *testing.T, s store.Store) {
	deploy(t, s, store.DeploymentApplyParams{
		Project:     "a",
		NewVersions: []store.NewVersionParams{{Function: "hello", ModuleSHA256: module("hello"), Config: cfg(record.KindReactor)}},
		Routes:      []record.Route{{Method: "GET", Path: "/hello", Function: "hello"}},
	})
}

func testDeployFunctionConflict(t *testing.T, s store.Store) {
	ctx := context.Background()
	deployProjectA(t, s)
	// "other" comes first so that a backend writing as it goes would have
	// created it before meeting the conflict.
	_, err := s.DeploymentApply(ctx, store.DeploymentApplyParams{
		Project: "b",
		NewVersions: []store.NewVersionParams{
			{Function: "other", ModuleSHA256: module("other"), Config: cfg(record.KindReactor)},
			{Function: "hello", ModuleSHA256: module("hijack"), Config: cfg(record.KindReactor)},
		},
		Routes: []record.Route{{Method: "GET", Path: "/other", Function: "other"}},
	})
	require.ErrorIs(t, err, store.ErrConflict)
	requireOnlyProjectA(t, s)

	// Removing another project's function is not this project's business:
	// it is left alone.
	deploy(t, s, store.DeploymentApplyParams{Project: "b", RemoveFunctions: []string{"hello"}})
	requireOnlyProjectA(t, s)
}

func testDeployRouteConflict(t *testing.T, s store.Store) {
	ctx := context.Background()
	deployProjectA(t, s)
	_, err := s.DeploymentApply(ctx, store.DeploymentApplyParams{
		Project:     "b",
		NewVersions: []store.NewVersionParams{{Function: "other", ModuleSHA256: module("other"), Config: cfg(record.KindReactor)}},
		Routes: []record.Route{
			{Method: "GET", Path: "/other", Function: "other"},
			{Method: "GET", Path: "/hello", Function: "other"},
		},
	})
	require.ErrorIs(t, err, store.ErrConflict)
	requireOnlyProjectA(t, s)

	// The same path with another method is a different route.
	deploy(t, s, store.DeploymentApplyParams{
		Project:     "b",
		NewVersions: []store.NewVersionParams{{Function: "other", ModuleSHA256: module("other"), Config: cfg(record.KindReactor)}},
		Routes:      []record.Route{{Method: "POST", Path: "/hello", Function: "other"}},
	})
	routes, err := s.RouteList(ctx)
	require.NoError(t, err)
	require.Equal(t, []record.Route{
		{Project: "a", Method: "GET", Path: "/hello", Function: "hello"},
		{Project: "b", Method: "POST", Path: "/hello", Function: "other"},
	}, routes)
}

func testDeployBadRoutes(t *testing.T, s store.Store) {
	ctx := context.Background()
	deployProjectA(t, s)
	newOther := []store.NewVersionParams{{Function: "other", ModuleSHA256: module("other"), Config: cfg(record.KindReactor)}}
	tests := []struct {
		name   string
		p      store.DeploymentApplyParams
		wantIs error
	}{
		{"route listed twice", store.DeploymentApplyParams{Project: "b", NewVersions: newOther, Routes: []record.Route{
			{Method: "GET", Path: "/x", Function: "other"}, {Method: "GET", Path: "/x", Function: "other"},
		}}, store.ErrConflict},
		{"route to a missing function", store.DeploymentApplyParams{Project: "b", NewVersions: newOther, Routes: []record.Route{
			{Method: "GET", Path: "/x", Function: "ghost"},
		}}, store.ErrNotFound},
		{"route to another project's function", store.DeploymentApplyParams{Project: "b", NewVersions: newOther, Routes: []record.Route{
			{Method: "GET", Path: "/x", Function: "hello"},
		}}, store.ErrConflict},
		{"empty project", store.DeploymentApplyParams{NewVersions: newOther}, nil},
		{"bad digest", store.DeploymentApplyParams{Project: "b", NewVersions: []store.NewVersionParams{
			{Function: "other", ModuleSHA256: "abc"},
		}}, nil},
		{"updated and removed", store.DeploymentApplyParams{Project: "b", NewVersions: newOther, RemoveFunctions: []string{"other"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.DeploymentApply(ctx, tt.p)
			require.Error(t, err)
			if tt.wantIs != nil {
				require.ErrorIs(t, err, tt.wantIs)
			}
			requireOnlyProjectA(t, s)
		})
	}
}

func testDeployReplacesRoutes(t *testing.T, s store.Store) {
	ctx := context.Background()
	deployProjectA(t, s)
	nv := []store.NewVersionParams{{Function: "b1", ModuleSHA256: module("b1"), Config: cfg(record.KindReactor)}}
	deploy(t, s, store.DeploymentApplyParams{Project: "b", NewVersions: nv, Routes: []record.Route{
		{Method: "GET", Path: "/b/one", Function: "b1"},
		{Method: "GET", Path: "/b/two", Function: "b1"},
	}})
	// The second deploy has no new versions: routes alone change, and a
	// route may move to a path the project just freed.
	deploy(t, s, store.DeploymentApplyParams{Project: "b", Routes: []record.Route{
		{Method: "GET", Path: "/b/two", Function: "b1"},
		{Method: "PUT", Path: "/b/three", Function: "b1"},
	}})
	routes, err := s.RouteList(ctx)
	require.NoError(t, err)
	require.Equal(t, []record.Route{
		{Project: "b", Method: "PUT", Path: "/b/three", Function: "b1"},
		{Project: "b", Method: "GET", Path: "/b/two", Function: "b1"},
		{Project: "a", Method: "GET", Path: "/hello", Function: "hello"},
	}, routes)
	b1, err := s.FunctionGet(ctx, "b1")
	require.NoError(t, err)
	require.Equal(t, 1, b1.ActiveVersion, "a routes-only deploy creates no version")

	// An empty route set clears the project's routes.
	deploy(t, s, store.DeploymentApplyParams{Project: "b"})
	routes, err = s.RouteList(ctx)
	require.NoError(t, err)
	require.Equal(t, []record.Route{{Project: "a", Method: "GET", Path: "/hello", Function: "hello"}}, routes)
}

func testDeployRemoves(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		deploy(t, s, store.DeploymentApplyParams{
			Project: "p",
			NewVersions: []store.NewVersionParams{
				{Function: "keep", ModuleSHA256: module("keep"), Config: cfg(record.KindReactor)},
				{Function: "gone", ModuleSHA256: module("gone"), Config: cfg(record.KindReactor)},
			},
			Routes: []record.Route{{Method: "GET", Path: "/gone", Function: "gone"}, {Method: "GET", Path: "/keep", Function: "keep"}},
		})
	}
	deploy(t, s, store.DeploymentApplyParams{
		Project:         "p",
		RemoveFunctions: []string{"gone", "never-existed"},
		Routes:          []record.Route{{Method: "GET", Path: "/keep", Function: "keep"}},
	})
	_, err := s.FunctionGet(ctx, "gone")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.VersionGet(ctx, "gone", 1)
	require.ErrorIs(t, err, store.ErrNotFound, "versions go with their function")
	_, err = s.VersionList(ctx, "gone")
	require.ErrorIs(t, err, store.ErrNotFound)
	fs, err := s.FunctionList(ctx)
	require.NoError(t, err)
	require.Len(t, fs, 1)
	require.Equal(t, "keep", fs[0].Name)

	// A route may not keep pointing at a removed function.
	_, err = s.DeploymentApply(ctx, store.DeploymentApplyParams{
		Project: "p", Routes: []record.Route{{Method: "GET", Path: "/gone", Function: "gone"}},
	})
	require.ErrorIs(t, err, store.ErrNotFound)

	// Added again, the name continues its numbering: numbers are never
	// reused, so gone@1 in old usage and logs keeps meaning one module.
	res := deploy(t, s, store.DeploymentApplyParams{
		Project:     "q",
		NewVersions: []store.NewVersionParams{{Function: "gone", ModuleSHA256: module("gone again"), Config: cfg(record.KindCommand)}},
	})
	require.Equal(t, 3, res.Versions[0].Number)
	f, err := s.FunctionGet(ctx, "gone")
	require.NoError(t, err)
	require.Equal(t, "q", f.Project, "a removed name is free for any project")
	vs, err := s.VersionList(ctx, "gone")
	require.NoError(t, err)
	require.Len(t, vs, 1)
}

func testDeployConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 8
	numbers := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := s.DeploymentApply(ctx, store.DeploymentApplyParams{
				Project:     "p",
				NewVersions: []store.NewVersionParams{{Function: "hot", ModuleSHA256: module(fmt.Sprint("hot", i)), Config: cfg(record.KindReactor)}},
				Routes:      []record.Route{{Method: "GET", Path: "/hot", Function: "hot"}},
			})
			errs[i] = err
			if err == nil {
				numbers[i] = res.Versions[0].Number
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	sort.Ints(numbers)
	require.Equal(t, []int{1, 2, 3, 4, 5, 6, 7, 8}, numbers)
	vs, err := s.VersionList(ctx, "hot")
	require.NoError(t, err)
	require.Len(t, vs, n)
	f, err := s.FunctionGet(ctx, "hot")
	require.NoError(t, err)
	require.Equal(t, n, f.ActiveVersion, "the last deploy to commit wins, and it holds the highest number")
	routes, err := s.RouteList(ctx)
	require.NoError(t, err)
	require.Len(t, routes, 1)
}

func testSetActive(t *testing.T, s store.Store) {
	ctx := context.Background()
	for range 3 {
		deploy(t, s, store.DeploymentApplyParams{
			Project:     "p",
			NewVersions: []store.NewVersionParams{{Function: "f", ModuleSHA256: module("f"), Config: cfg(record.KindReactor)}},
		})
	}
	require.NoError(t, s.FunctionSetActiveVersion(ctx, "f", 1))
	f, err := s.FunctionGet(ctx, "f")
	require.NoError(t, err)
	require.Equal(t, 1, f.ActiveVersion)
	require.ErrorIs(t, s.FunctionSetActiveVersion(ctx, "f", 4), store.ErrNotFound)
	require.ErrorIs(t, s.FunctionSetActiveVersion(ctx, "f", 0), store.ErrNotFound)
	require.ErrorIs(t, s.FunctionSetActiveVersion(ctx, "ghost", 1), store.ErrNotFound)
	f, err = s.FunctionGet(ctx, "f")
	require.NoError(t, err)
	require.Equal(t, 1, f.ActiveVersion, "a failed rollback changes nothing")
	// A new deploy activates the new version, whatever was active.
	res := deploy(t, s, store.DeploymentApplyParams{
		Project:     "p",
		NewVersions: []store.NewVersionParams{{Function: "f", ModuleSHA256: module("f"), Config: cfg(record.KindReactor)}},
	})
	require.Equal(t, 4, res.Versions[0].Number)
	f, err = s.FunctionGet(ctx, "f")
	require.NoError(t, err)
	require.Equal(t, 4, f.ActiveVersion)
}

func testListOrder(t *testing.T, s store.Store) {
	ctx := context.Background()
	fs, err := s.FunctionList(ctx)
	require.NoError(t, err)
	require.Empty(t, fs)
	routes, err := s.RouteList(ctx)
	require.NoError(t, err)
	require.Empty(t, routes)

	// Names and paths chosen so that byte order differs from a
	// natural-language collation: upper case sorts before lower case.
	names := []string{"zeta", "Beta", "alpha", "a-b", "a_b", "ab"}
	var nv []store.NewVersionParams
	for _, n := range names {
		nv = append(nv, store.NewVersionParams{Function: n, ModuleSHA256: module(n), Config: cfg(record.KindReactor)})
	}
	deploy(t, s, store.DeploymentApplyParams{Project: "p1", NewVersions: nv[:3], Routes: []record.Route{
		{Method: "POST", Path: "/b", Function: "zeta"},
		{Method: "GET", Path: "/b", Function: "zeta"},
		{Method: "*", Path: "/Z", Function: "Beta"},
	}})
	deploy(t, s, store.DeploymentApplyParams{Project: "p2", NewVersions: nv[3:], Routes: []record.Route{
		{Method: "GET", Path: "/a/{x...}", Function: "ab"},
		{Method: "DELETE", Path: "/b", Function: "a_b"},
		{Method: "GET", Path: "/a", Function: "a-b"},
	}})
	fs, err = s.FunctionList(ctx)
	require.NoError(t, err)
	var got []string
	for _, f := range fs {
		got = append(got, f.Name)
	}
	require.Equal(t, []string{"Beta", "a-b", "a_b", "ab", "alpha", "zeta"}, got)

	routes, err = s.RouteList(ctx)
	require.NoError(t, err)
	var gotRoutes []string
	for _, r := range routes {
		gotRoutes = append(gotRoutes, r.Project+" "+r.Method+" "+r.Path+" "+r.Function)
	}
	require.Equal(t, []string{
		"p1 * /Z Beta",
		"p2 GET /a a-b",
		"p2 GET /a/{x...} ab",
		"p2 DELETE /b a_b",
		"p1 GET /b zeta",
		"p1 POST /b zeta",
	}, gotRoutes)
}

func testUsage(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	// Durations with nanoseconds must come back exactly; start times carry
	// sub-millisecond digits the store may round below the millisecond.
	recs := []record.Usage{
		{InvocationID: "inv-3", Function: "b", Version: 1, Trigger: "invoke", TraceID: "0af7651916cd43dd8448eb211c80319c",
			Start: base.Add(3*time.Second + 123456789), Duration: 1500*time.Millisecond + 7, BilledMS: 1501, MemoryMB: 128,
			Outcome: record.OutcomeTimeout, Error: "deadline exceeded after 1.5s"},
		{InvocationID: "inv-1", Function: "a", Version: 2, Trigger: "http", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736",
			Start: base.Add(1 * time.Second), Duration: 987654321, BilledMS: 988, MemoryMB: 64, Cold: true,
			Outcome: record.OutcomeOK, Status: 201},
		{InvocationID: "inv-2", Function: "a", Version: 2, Trigger: "http", TraceID: "4bf92f3577b34da6a3ce929d0e0e4737",
			Start: base.Add(2 * time.Second), Duration: 1, BilledMS: 1, MemoryMB: 64,
			Outcome: record.OutcomeLimited, Status: 429},
	}
	require.NoError(t, s.UsageInsert(ctx, recs))
	require.NoError(t, s.UsageInsert(ctx, nil), "an empty batch is a no-op")

	all, err := s.UsageList(ctx, store.UsageListParams{})
	require.NoError(t, err)
	require.Len(t, all, 3)
	want := []record.Usage{recs[1], recs[2], recs[0]} // ordered by start
	for i := range want {
		got, w := all[i], want[i]
		require.Equal(t, time.UTC, got.Start.Location())
		require.True(t, got.Start.Truncate(time.Millisecond).Equal(w.Start.Truncate(time.Millisecond)),
			"start %v round-trips to at least the millisecond, got %v", w.Start, got.Start)
		require.Less(t, w.Start.Sub(got.Start).Abs(), time.Millisecond)
		got.Start, w.Start = time.Time{}, time.Time{}
		require.Equal(t, w, got)
	}

	byFn, err := s.UsageList(ctx, store.UsageListParams{Function: "a"})
	require.NoError(t, err)
	require.Len(t, byFn, 2)
	require.Equal(t, "inv-1", byFn[0].InvocationID)
	since, err := s.UsageList(ctx, store.UsageListParams{Since: base.Add(2 * time.Second)})
	require.NoError(t, err)
	require.Equal(t, []string{"inv-2", "inv-3"}, []string{since[0].InvocationID, since[1].InvocationID}, "Since is inclusive")
	limited, err := s.UsageList(ctx, store.UsageListParams{Function: "a", Since: base, Limit: 1})
	require.NoError(t, err)
	require.Len(t, limited, 1)
	require.Equal(t, "inv-1", limited[0].InvocationID)

	// A batch larger than any one statement's parameter limit lands whole.
	big := make([]record.Usage, 3000)
	for i := range big {
		big[i] = record.Usage{InvocationID: fmt.Sprint("big-", i), Function: "c", Version: 1, Trigger: "http",
			Start: base.Add(time.Hour + time.Duration(i)*time.Millisecond), Duration: time.Duration(i), BilledMS: 1, Outcome: record.OutcomeOK}
	}
	require.NoError(t, s.UsageInsert(ctx, big))
	cs, err := s.UsageList(ctx, store.UsageListParams{Function: "c"})
	require.NoError(t, err)
	require.Len(t, cs, 3000)
	require.Equal(t, "big-2999", cs[2999].InvocationID)
	require.Equal(t, time.Duration(2999), cs[2999].Duration)

	n, err := s.UsageDeleteBefore(ctx, base.Add(2*time.Second))
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	n, err = s.UsageDeleteBefore(ctx, base.Add(time.Hour))
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	left, err := s.UsageList(ctx, store.UsageListParams{})
	require.NoError(t, err)
	require.Len(t, left, 3000)
}

func logLine(inv, fn string, i int, at time.Time) record.LogLine {
	return record.LogLine{InvocationID: inv, Function: fn, Version: 1, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736",
		Time: at, Stream: "stdout", Line: fmt.Sprintf("line %d of %s", i, inv)}
}

func testLogs(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	lines := []record.LogLine{
		logLine("i1", "a", 0, base),
		{InvocationID: "i1", Function: "a", Version: 3, TraceID: "t", SpanID: "00f067aa0ba902b7", Time: base.Add(time.Millisecond), Stream: "stderr", Line: "ünïcode ✓ tabs\tand \"quotes\" 'single'"},
		logLine("i2", "b", 0, base.Add(2*time.Millisecond)),
		{InvocationID: "i2", Function: "b", Version: 1, TraceID: "t", SpanID: "b7ad6b7169203331", Time: base.Add(time.Second), Stream: "platform", Line: ""},
	}
	require.NoError(t, s.LogInsert(ctx, lines))
	for i := range lines {
		require.NotZero(t, lines[i].ID)
		if i > 0 {
			require.Greater(t, lines[i].ID, lines[i-1].ID, "IDs increase in slice order")
		}
	}
	require.NoError(t, s.LogInsert(ctx, nil))

	all, err := s.LogList(ctx, store.LogListParams{})
	require.NoError(t, err)
	require.Len(t, all, len(lines))
	for i := range lines {
		require.Equal(t, time.UTC, all[i].Time.Location())
		require.True(t, all[i].Time.Equal(lines[i].Time))
		all[i].Time = lines[i].Time
		require.Equal(t, lines[i], all[i])
	}

	got, err := s.LogList(ctx, store.LogListParams{Function: "b"})
	require.NoError(t, err)
	require.Equal(t, []int64{lines[2].ID, lines[3].ID}, ids(got))
	got, err = s.LogList(ctx, store.LogListParams{InvocationID: "i1", AfterID: lines[0].ID})
	require.NoError(t, err)
	require.Equal(t, []int64{lines[1].ID}, ids(got))
	got, err = s.LogList(ctx, store.LogListParams{Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []int64{lines[0].ID, lines[1].ID}, ids(got))
	got, err = s.LogList(ctx, store.LogListParams{AfterID: lines[3].ID})
	require.NoError(t, err)
	require.Empty(t, got)

	// Trace and time range filters, alone and with the others.
	for _, tc := range []struct {
		name string
		p    store.LogListParams
		want []int64
	}{
		{"trace", store.LogListParams{TraceID: "t"}, []int64{lines[1].ID, lines[3].ID}},
		{"trace and function", store.LogListParams{TraceID: "t", Function: "b"}, []int64{lines[3].ID}},
		{"unknown trace", store.LogListParams{TraceID: "u"}, []int64{}},
		{"until, exclusive", store.LogListParams{Until: base.Add(2 * time.Millisecond)}, []int64{lines[0].ID, lines[1].ID}},
		{"since and until", store.LogListParams{Since: base.Add(time.Millisecond), Until: base.Add(time.Second)}, []int64{lines[1].ID, lines[2].ID}},
		{"until and tail", store.LogListParams{Until: base.Add(time.Second), Tail: 1}, []int64{lines[2].ID}},
	} {
		got, err := s.LogList(ctx, tc.p)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, ids(got), tc.name)
	}

	n, err := s.LogDeleteBefore(ctx, base.Add(2*time.Millisecond))
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	got, err = s.LogList(ctx, store.LogListParams{})
	require.NoError(t, err)
	require.Equal(t, []int64{lines[2].ID, lines[3].ID}, ids(got))

	// Deleting everything does not make IDs restart: a follower waiting
	// after the last ID it saw must see lines written later.
	_, err = s.LogDeleteBefore(ctx, base.Add(time.Hour))
	require.NoError(t, err)
	more := []record.LogLine{logLine("i3", "a", 0, base.Add(time.Hour))}
	require.NoError(t, s.LogInsert(ctx, more))
	require.Greater(t, more[0].ID, lines[3].ID)

	// Guests print anything. NUL and invalid UTF-8 (which PostgreSQL text
	// refuses) become U+FFFD rather than costing the batch.
	odd := []record.LogLine{{InvocationID: "i9", Function: "z", Stream: "stdout", Time: base, Line: "a\x00b\xffc"}}
	require.NoError(t, s.LogInsert(ctx, odd))
	got, err = s.LogList(ctx, store.LogListParams{Function: "z"})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "a\uFFFDb\uFFFDc", got[0].Line)
}

// testLogsFilters: since, minimum level and tail, alone and combined with
// the function filter (which is how the API scopes a project token).
func testLogsFilters(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var lines []record.LogLine
	levels := []record.LogLevel{record.LevelDebug, record.LevelInfo, record.LevelWarn, record.LevelError, 0}
	for i := range 10 {
		fn := "a"
		if i%2 == 1 {
			fn = "b"
		}
		l := logLine(fmt.Sprintf("i%d", i), fn, i, base.Add(time.Duration(i)*time.Minute))
		l.Level = levels[i%len(levels)]
		lines = append(lines, l)
	}
	require.NoError(t, s.LogInsert(ctx, lines))
	require.Equal(t, record.LevelInfo, lines[4].Level, "an unclassified line is stored as info")

	pick := func(idx ...int) []int64 {
		out := []int64{}
		for _, i := range idx {
			out = append(out, lines[i].ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		p    store.LogListParams
		want []int64
	}{
		{"since is inclusive", store.LogListParams{Since: base.Add(7 * time.Minute)}, pick(7, 8, 9)},
		{"since and function", store.LogListParams{Since: base.Add(5 * time.Minute), Function: "a"}, pick(6, 8)},
		{"min level warn", store.LogListParams{MinLevel: record.LevelWarn}, pick(2, 3, 7, 8)},
		{"min level error of b", store.LogListParams{MinLevel: record.LevelError, Function: "b"}, pick(3)},
		{"min level debug is everything", store.LogListParams{MinLevel: record.LevelDebug}, pick(0, 1, 2, 3, 4, 5, 6, 7, 8, 9)},
		{"tail is the newest, oldest first", store.LogListParams{Tail: 3}, pick(7, 8, 9)},
		{"tail of a", store.LogListParams{Tail: 2, Function: "a"}, pick(6, 8)},
		{"tail after an id", store.LogListParams{Tail: 5, AfterID: lines[7].ID}, pick(8, 9)},
		{"tail with level", store.LogListParams{Tail: 1, MinLevel: record.LevelWarn}, pick(8)},
		{"tail larger than the matches", store.LogListParams{Tail: 100, Function: "b", MinLevel: record.LevelError}, pick(3)},
		{"invocation of another function", store.LogListParams{Function: "a", InvocationID: "i1"}, pick()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.LogList(ctx, tc.p)
			require.NoError(t, err)
			require.Equal(t, tc.want, ids(got))
		})
	}
	got, err := s.LogList(ctx, store.LogListParams{InvocationID: "i3"})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, record.LevelError, got[0].Level)
}

func ids(lines []record.LogLine) []int64 {
	out := make([]int64, 0, len(lines))
	for _, l := range lines {
		out = append(out, l.ID)
	}
	return out
}

func testLogsFollow(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	lines := make([]record.LogLine, 2500)
	for i := range lines {
		lines[i] = logLine(fmt.Sprint("inv-", i%5), "f", i, base.Add(time.Duration(i)*time.Microsecond))
	}
	require.NoError(t, s.LogInsert(ctx, lines))
	for i := 1; i < len(lines); i++ {
		require.Greater(t, lines[i].ID, lines[i-1].ID)
	}

	page, err := s.LogList(ctx, store.LogListParams{Function: "f"})
	require.NoError(t, err)
	require.Len(t, page, 1000, "the default limit is 1000")
	// Following page by page sees every line once, in order.
	var seen []record.LogLine
	after := int64(0)
	for {
		page, err := s.LogList(ctx, store.LogListParams{Function: "f", AfterID: after, Limit: 700})
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		seen = append(seen, page...)
		after = page[len(page)-1].ID
	}
	require.Len(t, seen, len(lines))
	for i := range seen {
		require.Equal(t, lines[i].ID, seen[i].ID)
		require.Equal(t, lines[i].Line, seen[i].Line)
		require.True(t, seen[i].Time.Equal(lines[i].Time), "microsecond times kept apart")
	}
}

func testLogsConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	const writers, batches, size = 4, 10, 25
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var all []int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				lines := make([]record.LogLine, size)
				for i := range lines {
					lines[i] = logLine(fmt.Sprintf("w%d-b%d", w, b), "f", i, base)
				}
				if err := s.LogInsert(ctx, lines); err != nil {
					errs <- err
					return
				}
				for i := 1; i < len(lines); i++ {
					if lines[i].ID <= lines[i-1].ID {
						errs <- fmt.Errorf("batch w%d-b%d: ID %d after %d", w, b, lines[i].ID, lines[i-1].ID)
						return
					}
				}
				mu.Lock()
				all = append(all, ids(lines)...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, all, writers*batches*size)
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	for i := 1; i < len(all); i++ {
		require.NotEqual(t, all[i-1], all[i], "IDs are unique")
	}
	// What the store lists matches what it handed out, and each batch's
	// lines are contiguous in ID order with their IDs.
	var listed []record.LogLine
	for after := int64(0); ; {
		page, err := s.LogList(ctx, store.LogListParams{AfterID: after})
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		listed = append(listed, page...)
		after = page[len(page)-1].ID
	}
	require.Equal(t, all, ids(listed))
}

func testTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	clk := fakeClock(t, s)
	n, err := s.TokenCount(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	h := Digest([]byte("secret-token"))
	_, err = s.TokenGet(ctx, h)
	require.ErrorIs(t, err, store.ErrNotFound)

	require.NoError(t, s.TokenPut(ctx, record.Token{Hash: h, Name: "admin"}))
	require.NoError(t, s.TokenPut(ctx, record.Token{Hash: h, Name: "admin renamed"}), "putting a hash again is not an error")
	clk.Advance(time.Minute)
	ci := Digest([]byte("ci-token"))
	require.NoError(t, s.TokenPut(ctx, record.Token{Hash: ci, Name: "ci", Project: "shop", Scope: record.ScopeDeploy}))
	got, err := s.TokenGet(ctx, h)
	require.NoError(t, err)
	require.Equal(t, record.Token{Hash: h, Name: "admin renamed", Scope: record.ScopeAdmin, CreatedAt: t0}, *got,
		"an admin token has no project; a token put without a scope is an admin token (as before scopes)")
	got, err = s.TokenGet(ctx, ci)
	require.NoError(t, err)
	require.Equal(t, "shop", got.Project, "a project-scoped token keeps its project")
	require.Equal(t, record.ScopeDeploy, got.Scope, "and its scope")
	require.True(t, got.LastUsedAt.IsZero(), "a token never presented has no last use")
	_, err = s.TokenGet(ctx, Digest([]byte("wrong")))
	require.ErrorIs(t, err, store.ErrNotFound)
	n, err = s.TokenCount(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	list, err := s.TokenList(ctx)
	require.NoError(t, err)
	require.Equal(t, []record.Token{
		{Hash: h, Name: "admin renamed", Scope: record.ScopeAdmin, CreatedAt: t0},
		{Hash: ci, Name: "ci", Project: "shop", Scope: record.ScopeDeploy, CreatedAt: t0.Add(time.Minute)},
	}, list, "oldest first")

	// Last use: recorded, never moved back, and kept by a re-put.
	used := t0.Add(5 * time.Minute)
	require.NoError(t, s.TokenTouch(ctx, ci, used))
	require.NoError(t, s.TokenTouch(ctx, ci, used.Add(-time.Minute)), "an older use (a slower node) is no error")
	require.NoError(t, s.TokenTouch(ctx, Digest([]byte("gone")), used), "an unknown token is no error")
	got, err = s.TokenGet(ctx, ci)
	require.NoError(t, err)
	require.True(t, used.Equal(got.LastUsedAt), "last used %s, want %s", got.LastUsedAt, used)
	require.NoError(t, s.TokenPut(ctx, record.Token{Hash: ci, Name: "ci", Project: "shop", Scope: record.ScopeRead}))
	got, err = s.TokenGet(ctx, ci)
	require.NoError(t, err)
	require.Equal(t, record.ScopeRead, got.Scope, "putting a hash again re-scopes it")
	require.True(t, used.Equal(got.LastUsedAt), "and keeps its last use")

	// Revocation: the token is gone at once.
	ok, err := s.TokenDelete(ctx, ci)
	require.NoError(t, err)
	require.True(t, ok)
	_, err = s.TokenGet(ctx, ci)
	require.ErrorIs(t, err, store.ErrNotFound, "a revoked token is not found")
	ok, err = s.TokenDelete(ctx, ci)
	require.NoError(t, err)
	require.False(t, ok, "revoking twice reports nothing was there")
	n, err = s.TokenCount(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func testSettings(t *testing.T, s store.Store) {
	ctx := context.Background()
	got, err := s.SettingClaim(ctx, "secret_key_fingerprint", "aaaa")
	require.NoError(t, err)
	require.Equal(t, "aaaa", got, "the first claim stores its value")
	got, err = s.SettingClaim(ctx, "secret_key_fingerprint", "bbbb")
	require.NoError(t, err)
	require.Equal(t, "aaaa", got, "a later claim gets the first value, not its own")
	got, err = s.SettingClaim(ctx, "other", "cccc")
	require.NoError(t, err)
	require.Equal(t, "cccc", got, "names are separate")
}
