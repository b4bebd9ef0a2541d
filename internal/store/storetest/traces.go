package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/store"
)

var tracesTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"SpanInsertIdempotent", testSpanInsertIdempotent},
	{"TraceSummaryRootArrivesLast", testTraceRootLast},
	{"TraceListFilters", testTraceListFilters},
	{"TraceListPaging", testTraceListPaging},
	{"TraceProjectBoundary", testTraceProjectBoundary},
	{"SpanPruneByAge", testSpanPruneAge},
	{"SpanPruneByCap", testSpanPruneCap},
}

// traceID and spanID make well-formed ids that differ per n.
func traceID(n int) string { return fmt.Sprintf("%032x", n+1) }
func spanID(n int) string  { return fmt.Sprintf("%016x", n+1) }

// s0 is a fixed time the span tests build on (whole microseconds).
var s0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func span(trace, id, parent int, project, function, name string, start time.Time, d time.Duration) store.Span {
	sp := store.Span{TraceID: traceID(trace), SpanID: spanID(id), Project: project, Function: function,
		Name: name, Kind: "internal", Start: start, Duration: d}
	if parent >= 0 {
		sp.ParentID = spanID(parent)
	}
	return sp
}

func insertSpans(t testing.TB, s store.Store, spans ...store.Span) {
	t.Helper()
	require.NoError(t, s.SpanInsert(context.Background(), spans))
}

func listTraces(t *testing.T, s store.Store, p store.TraceListParams) []store.TraceSummary {
	t.Helper()
	ts, err := s.TraceList(context.Background(), p)
	require.NoError(t, err)
	return ts
}

func traceIDs(ts []store.TraceSummary) []string {
	var ids []string
	for _, t := range ts {
		ids = append(ids, t.TraceID)
	}
	return ids
}

func testSpanInsertIdempotent(t *testing.T, s store.Store) {
	ctx := context.Background()
	root := span(1, 1, -1, "shop", "api", "GET /cart", s0, 30*time.Millisecond)
	root.Kind, root.Status = "server", "ok"
	root.Attributes = map[string]string{"http.method": "GET", "strata.cold": "true"}
	child := span(1, 2, 1, "shop", "api", "sql.query", s0.Add(time.Millisecond), 5*time.Millisecond)
	child.Status, child.StatusMessage = "error", "no such table: carts"
	child.Events = []store.SpanEvent{{Time: s0.Add(2 * time.Millisecond), Name: "exception", Attributes: map[string]string{"exception.message": "boom"}}}
	insertSpans(t, s, root, child)

	// The same spans again (a retried batch), one changed: nothing moves.
	again := root
	again.Name = "changed"
	insertSpans(t, s, again, child, child)

	got, err := s.TraceGet(ctx, traceID(1), "")
	require.NoError(t, err)
	require.Equal(t, []store.Span{root, child}, got)

	ts := listTraces(t, s, store.TraceListParams{})
	require.Equal(t, []store.TraceSummary{{TraceID: traceID(1), Name: "GET /cart", Project: "shop", Function: "api",
		Start: s0, Duration: 30 * time.Millisecond, Spans: 2, Errors: 1}}, ts)

	// Text a database cannot hold is cleaned, not a lost batch.
	bad := span(2, 1, -1, "shop", "api", "bad\x00name", s0, time.Millisecond)
	bad.Attributes = map[string]string{"k": "v\xff"}
	insertSpans(t, s, bad)
	got, err = s.TraceGet(ctx, traceID(2), "")
	require.NoError(t, err)
	require.Equal(t, "bad\uFFFDname", got[0].Name)
	require.Equal(t, "v\uFFFD", got[0].Attributes["k"])

	require.Error(t, s.SpanInsert(ctx, []store.Span{{Name: "no ids"}}))
	require.NoError(t, s.SpanInsert(ctx, nil))

	_, err = s.TraceGet(ctx, traceID(99), "")
	require.ErrorIs(t, err, store.ErrNotFound)
}

// Children end, and so are exported, before their parent: the summary
// follows the root once it arrives.
func testTraceRootLast(t *testing.T, s store.Store) {
	insertSpans(t, s, span(1, 2, 1, "shop", "worker", "invoke worker", s0.Add(time.Millisecond), time.Millisecond))
	ts := listTraces(t, s, store.TraceListParams{})
	require.Len(t, ts, 1)
	require.Equal(t, "invoke worker", ts[0].Name, "without its root a trace is summarised by its earliest span")

	// The root continues a caller's traceparent: its parent is not stored.
	insertSpans(t, s, span(1, 1, 77, "shop", "api", "GET /x", s0, 10*time.Millisecond))
	ts = listTraces(t, s, store.TraceListParams{})
	require.Len(t, ts, 1)
	require.Equal(t, store.TraceSummary{TraceID: traceID(1), Name: "GET /x", Project: "shop", Function: "api",
		Start: s0, Duration: 10 * time.Millisecond, Spans: 2}, ts[0])
}

func testTraceListFilters(t *testing.T, s store.Store) {
	// 1: shop/api, 5 ms, ok        2: shop/api -> worker, 50 ms, an error
	// 3: blog/render, 20 ms, ok    4: platform span only (unmatched route)
	insertSpans(t, s,
		span(1, 1, -1, "shop", "api", "GET /a", s0, 5*time.Millisecond),
		span(2, 1, -1, "shop", "api", "GET /b", s0.Add(time.Second), 50*time.Millisecond),
		span(2, 2, 1, "shop", "worker", "invoke worker", s0.Add(time.Second+time.Millisecond), 40*time.Millisecond),
		span(3, 1, -1, "blog", "render", "GET /post", s0.Add(2*time.Second), 20*time.Millisecond),
		span(4, 1, -1, "", "", "GET /nowhere", s0.Add(3*time.Second), time.Millisecond),
	)
	errSpan := span(2, 3, 2, "shop", "worker", "kv.get", s0.Add(time.Second+2*time.Millisecond), time.Millisecond)
	errSpan.Status = "error"
	insertSpans(t, s, errSpan)

	for _, tc := range []struct {
		name string
		p    store.TraceListParams
		want []string
	}{
		{"all, newest first", store.TraceListParams{}, []string{traceID(4), traceID(3), traceID(2), traceID(1)}},
		{"project", store.TraceListParams{Project: "shop"}, []string{traceID(2), traceID(1)}},
		{"function of a child span", store.TraceListParams{Function: "worker"}, []string{traceID(2)}},
		{"function is exact, not a prefix", store.TraceListParams{Function: "work"}, nil},
		{"function with a separator", store.TraceListParams{Function: "api|worker"}, nil},
		{"project and function", store.TraceListParams{Project: "blog", Function: "api"}, nil},
		{"errors only", store.TraceListParams{ErrorsOnly: true}, []string{traceID(2)}},
		{"min duration", store.TraceListParams{MinDuration: 20 * time.Millisecond}, []string{traceID(3), traceID(2)}},
		{"since", store.TraceListParams{Since: s0.Add(time.Second)}, []string{traceID(4), traceID(3), traceID(2)}},
		{"before", store.TraceListParams{Before: s0.Add(2 * time.Second)}, []string{traceID(2), traceID(1)}},
		{"limit", store.TraceListParams{Limit: 1}, []string{traceID(4)}},
		{"unknown project", store.TraceListParams{Project: "nope"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, traceIDs(listTraces(t, s, tc.p)))
		})
	}

	ts := listTraces(t, s, store.TraceListParams{ErrorsOnly: true})
	require.Equal(t, store.TraceSummary{TraceID: traceID(2), Name: "GET /b", Project: "shop", Function: "api",
		Start: s0.Add(time.Second), Duration: 50 * time.Millisecond, Spans: 3, Errors: 1}, ts[0])
}

func testTraceListPaging(t *testing.T, s store.Store) {
	var spans []store.Span
	for i := range 120 {
		spans = append(spans, span(i, 1, -1, "shop", "api", "GET /", s0.Add(time.Duration(i)*time.Second), time.Millisecond))
	}
	insertSpans(t, s, spans...)

	page := listTraces(t, s, store.TraceListParams{})
	require.Len(t, page, 50, "the default limit")
	var seen []string
	for len(page) > 0 {
		seen = append(seen, traceIDs(page)...)
		page = listTraces(t, s, store.TraceListParams{Before: page[len(page)-1].Start, Limit: 50})
	}
	require.Len(t, seen, 120)
	for i, id := range seen {
		require.Equal(t, traceID(119-i), id, "newest first, each once")
	}
}

// A trace can cross projects (a function fetches another project's
// route). A reader scoped to one project sees only its spans, its own
// part summarised, and nothing of a trace it has no span in.
func testTraceProjectBoundary(t *testing.T, s store.Store) {
	ctx := context.Background()
	a1 := span(1, 1, -1, "alpha", "front", "GET /front", s0, 30*time.Millisecond)
	a2 := span(1, 2, 1, "alpha", "front", "fetch beta.example", s0.Add(time.Millisecond), 20*time.Millisecond)
	b1 := span(1, 3, 2, "beta", "back", "GET /back", s0.Add(2*time.Millisecond), 10*time.Millisecond)
	b1.Attributes = map[string]string{"secret.name": "BETA_KEY"}
	b2 := span(1, 4, 3, "beta", "back", "kv.get", s0.Add(3*time.Millisecond), time.Millisecond)
	b2.Status = "error"
	insertSpans(t, s, a1, a2, b1, b2, span(2, 1, -1, "beta", "back", "GET /back", s0.Add(time.Second), time.Millisecond))

	got, err := s.TraceGet(ctx, traceID(1), "alpha")
	require.NoError(t, err)
	require.Equal(t, []store.Span{a1, a2}, got)
	got, err = s.TraceGet(ctx, traceID(1), "beta")
	require.NoError(t, err)
	require.Equal(t, []store.Span{b1, b2}, got)
	got, err = s.TraceGet(ctx, traceID(1), "")
	require.NoError(t, err)
	require.Len(t, got, 4)

	_, err = s.TraceGet(ctx, traceID(2), "alpha")
	require.ErrorIs(t, err, store.ErrNotFound, "alpha has no span in trace 2: it is not found, not empty")
	_, err = s.TraceGet(ctx, traceID(1), "gamma")
	require.ErrorIs(t, err, store.ErrNotFound)

	// alpha's search names alpha's root and counts alpha's spans only; it
	// cannot find trace 1 through beta's function or error.
	ts := listTraces(t, s, store.TraceListParams{Project: "alpha"})
	require.Equal(t, []store.TraceSummary{{TraceID: traceID(1), Name: "GET /front", Project: "alpha", Function: "front",
		Start: s0, Duration: 30 * time.Millisecond, Spans: 2}}, ts)
	require.Empty(t, listTraces(t, s, store.TraceListParams{Project: "alpha", Function: "back"}))
	require.Empty(t, listTraces(t, s, store.TraceListParams{Project: "alpha", ErrorsOnly: true}))

	ts = listTraces(t, s, store.TraceListParams{Project: "beta"})
	require.Equal(t, []store.TraceSummary{
		{TraceID: traceID(2), Name: "GET /back", Project: "beta", Function: "back", Start: s0.Add(time.Second), Duration: time.Millisecond, Spans: 1},
		{TraceID: traceID(1), Name: "GET /back", Project: "beta", Function: "back", Start: s0.Add(2 * time.Millisecond), Duration: 10 * time.Millisecond, Spans: 2, Errors: 1},
	}, ts)

	// Unscoped, the trace is one, rooted in alpha.
	ts = listTraces(t, s, store.TraceListParams{Function: "back", ErrorsOnly: true})
	require.Equal(t, []store.TraceSummary{{TraceID: traceID(1), Name: "GET /front", Project: "alpha", Function: "front",
		Start: s0, Duration: 30 * time.Millisecond, Spans: 4, Errors: 1}}, ts)
}

func testSpanPruneAge(t *testing.T, s store.Store) {
	ctx := context.Background()
	// Trace 1 is old; trace 2 started old and has a span after the cut.
	insertSpans(t, s,
		span(1, 1, -1, "shop", "api", "old", s0, time.Millisecond),
		span(1, 2, 1, "shop", "api", "old child", s0.Add(time.Millisecond), time.Millisecond),
		span(2, 1, -1, "shop", "api", "cut root", s0.Add(time.Hour), time.Hour),
		span(2, 2, 1, "shop", "worker", "kept child", s0.Add(2*time.Hour), time.Millisecond),
		span(3, 1, -1, "shop", "api", "new", s0.Add(3*time.Hour), time.Millisecond),
	)
	n, err := s.SpanPrune(ctx, s0.Add(90*time.Minute), 0)
	require.NoError(t, err)
	require.EqualValues(t, 3, n)

	_, err = s.TraceGet(ctx, traceID(1), "")
	require.ErrorIs(t, err, store.ErrNotFound)
	ts := listTraces(t, s, store.TraceListParams{})
	require.Equal(t, []string{traceID(3), traceID(2)}, traceIDs(ts))
	require.Equal(t, "kept child", ts[1].Name, "a trace cut into is summarised from what is left")
	require.Equal(t, 1, ts[1].Spans)
	require.Equal(t, []string{traceID(2)}, traceIDs(listTraces(t, s, store.TraceListParams{Project: "shop", Function: "worker"})))
	require.Empty(t, listTraces(t, s, store.TraceListParams{Function: "api", Before: s0.Add(3 * time.Hour)}))

	n, err = s.SpanPrune(ctx, s0.Add(90*time.Minute), 0)
	require.NoError(t, err)
	require.Zero(t, n, "nothing more to prune")
}

func testSpanPruneCap(t *testing.T, s store.Store) {
	ctx := context.Background()
	// 12 traces of 3 spans; inserted out of order so the oldest are not
	// the first written.
	for _, i := range []int{5, 0, 11, 3, 8, 1, 10, 2, 7, 4, 9, 6} {
		start := s0.Add(time.Duration(i) * time.Minute)
		insertSpans(t, s,
			span(i, 3*i, -1, "shop", "api", "root", start, time.Second),
			span(i, 3*i+1, 3*i, "shop", "api", "a", start.Add(time.Millisecond), time.Millisecond),
			span(i, 3*i+2, 3*i, "shop", "api", "b", start.Add(2*time.Millisecond), time.Millisecond),
		)
	}
	n, err := s.SpanPrune(ctx, time.Time{}, 100)
	require.NoError(t, err)
	require.Zero(t, n, "under the cap nothing goes")

	// A cap of 20 keeps the 20 newest spans: traces 6-11 whole (18), and
	// the two latest spans of trace 5.
	n, err = s.SpanPrune(ctx, time.Time{}, 20)
	require.NoError(t, err)
	require.EqualValues(t, 16, n)
	ts := listTraces(t, s, store.TraceListParams{Limit: 100})
	require.Equal(t, []string{traceID(11), traceID(10), traceID(9), traceID(8), traceID(7), traceID(6), traceID(5)}, traceIDs(ts))
	require.Equal(t, 2, ts[6].Spans)
	got, err := s.TraceGet(ctx, traceID(5), "")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, []string{got[0].Name, got[1].Name})
	ps := listTraces(t, s, store.TraceListParams{Project: "shop", Limit: 100})
	require.Len(t, ps, 7, "the per-project summaries follow")

	// More than one pruning chunk: the cap still holds exactly.
	var many []store.Span
	for i := range 6000 {
		many = append(many, span(1000+i, i, -1, "shop", "api", "x", s0.Add(time.Hour+time.Duration(i)*time.Millisecond), time.Microsecond))
	}
	insertSpans(t, s, many...)
	n, err = s.SpanPrune(ctx, time.Time{}, 10)
	require.NoError(t, err)
	require.EqualValues(t, 6010, n)
	ts = listTraces(t, s, store.TraceListParams{Limit: 100})
	require.Len(t, ts, 10)
	require.Equal(t, traceID(1000+5999), ts[0].TraceID)
	require.Equal(t, traceID(1000+5990), ts[9].TraceID)
}
