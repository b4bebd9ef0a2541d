package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/store"
)

// TraceQueries are the statements on the built-in trace store: spans and
// the two summary tables kept from them (traces, a row per trace, and
// trace_projects, a row per project with spans in a trace).
type TraceQueries interface {
	// SpanLock serialises span writers until the transaction ends, so two
	// writers re-summarising one trace cannot each miss the other's spans
	// (PostgreSQL: an advisory lock; SQLite's single writer already is).
	SpanLock(ctx context.Context) error
	// SpanInsert stores spans (strings cleaned, times in UTC to the
	// microsecond), leaving any already stored as they are.
	SpanInsert(ctx context.Context, spans []store.Span) error
	// SpanHeads returns the spans of traceIDs without attributes, events
	// and status message: what a summary is computed from.
	SpanHeads(ctx context.Context, traceIDs []string) ([]store.Span, error)
	// TraceSummaryDelete deletes the summaries (both tables) of traceIDs.
	TraceSummaryDelete(ctx context.Context, traceIDs []string) error
	// TraceSummaryInsert inserts whole-trace summaries and per-project ones.
	TraceSummaryInsert(ctx context.Context, whole, projects []TraceRow) error
	// TraceList runs TraceListQuery's search (p.Limit already defaulted).
	TraceList(ctx context.Context, p store.TraceListParams) ([]store.TraceSummary, error)
	// TraceGet returns a trace's spans (only project's when it is not
	// empty) by start time then span id; none is no error.
	TraceGet(ctx context.Context, traceID, project string) ([]store.Span, error)
	// SpanDeleteOldest deletes up to limit spans that started before
	// before, oldest first, and returns the trace id of each.
	SpanDeleteOldest(ctx context.Context, before time.Time, limit int) ([]string, error)
	SpanCount(ctx context.Context) (int64, error)
}

// TraceRow is one summary row: a whole trace's (traces) or one project's
// part of it (trace_projects, Project naming the project).
type TraceRow struct {
	store.TraceSummary
	// Functions is every function with a span in the summarised spans,
	// sorted, each led and followed by '|' ("|api|worker|"); "" for none.
	// A function filter tests for "|name|" in it.
	Functions string
}

// Limits of the trace store's statements.
const (
	traceListDefault = 50
	traceListMax     = 1000
	// summaryChunk bounds the trace ids one statement names.
	summaryChunk = 500
	// pruneChunk bounds the spans one pruning transaction deletes, so a
	// large retention sweep never holds SQLite's writer for long.
	pruneChunk = 5000
)

// farFuture is "no age bound" for SpanDeleteOldest.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// SpanInsert stores spans and re-summarises their traces in one
// transaction. A span already stored is left as it is, so a batch retried
// after an unclear failure stores nothing twice.
func (s *Store) SpanInsert(ctx context.Context, spans []store.Span) error {
	if len(spans) == 0 {
		return nil
	}
	clean := make([]store.Span, 0, len(spans))
	seen := make(map[[2]string]bool, len(spans))
	for _, sp := range spans {
		if sp.TraceID == "" || sp.SpanID == "" {
			return fmt.Errorf("insert %d spans: span %q has no trace or span id", len(spans), sp.Name)
		}
		k := [2]string{sp.TraceID, sp.SpanID}
		if seen[k] {
			continue // PostgreSQL's ON CONFLICT cannot skip a row its own statement inserted twice
		}
		seen[k] = true
		clean = append(clean, cleanSpan(sp))
	}
	ids := traceIDs(clean)
	err := s.d.InTx(ctx, func(q Queries) error {
		if err := q.SpanLock(ctx); err != nil {
			return err
		}
		if err := q.SpanInsert(ctx, clean); err != nil {
			return err
		}
		return resummarize(ctx, q, ids)
	})
	if err != nil {
		return fmt.Errorf("insert %d spans: %w", len(spans), err)
	}
	return nil
}

// cleanSpan makes a span storable the same way on both backends: text
// without NUL or invalid UTF-8, times in UTC to the microsecond.
func cleanSpan(sp store.Span) store.Span {
	sp.Name, sp.Project, sp.Function = CleanText(sp.Name), CleanText(sp.Project), CleanText(sp.Function)
	sp.Kind, sp.Status, sp.StatusMessage = CleanText(sp.Kind), CleanText(sp.Status), CleanText(sp.StatusMessage)
	sp.Start = sp.Start.UTC().Truncate(time.Microsecond)
	sp.Attributes = cleanAttrs(sp.Attributes)
	if len(sp.Events) > 0 {
		evs := make([]store.SpanEvent, len(sp.Events))
		for i, e := range sp.Events {
			evs[i] = store.SpanEvent{Time: e.Time.UTC().Truncate(time.Microsecond), Name: CleanText(e.Name), Attributes: cleanAttrs(e.Attributes)}
		}
		sp.Events = evs
	}
	return sp
}

func cleanAttrs(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[CleanText(k)] = CleanText(v)
	}
	return out
}

// SpanJSON is the stored form of a span's attributes (an object, "{}" for
// none) and events (an array, "[]" for none).
func SpanJSON(sp store.Span) (attrs, events []byte, err error) {
	a := sp.Attributes
	if a == nil {
		a = map[string]string{}
	}
	e := sp.Events
	if e == nil {
		e = []store.SpanEvent{}
	}
	if attrs, err = json.Marshal(a); err != nil {
		return nil, nil, err
	}
	events, err = json.Marshal(e)
	return attrs, events, err
}

// SpanFromJSON sets a span read back from its stored attributes and
// events, leaving none as nil.
func SpanFromJSON(sp *store.Span, attrs, events []byte) error {
	if err := json.Unmarshal(attrs, &sp.Attributes); err != nil {
		return fmt.Errorf("span %s attributes: %w", sp.SpanID, err)
	}
	if err := json.Unmarshal(events, &sp.Events); err != nil {
		return fmt.Errorf("span %s events: %w", sp.SpanID, err)
	}
	if len(sp.Attributes) == 0 {
		sp.Attributes = nil
	}
	if len(sp.Events) == 0 {
		sp.Events = nil
	}
	for i := range sp.Events {
		sp.Events[i].Time = sp.Events[i].Time.UTC()
	}
	return nil
}

// traceIDs returns the distinct trace ids of spans, in first-seen order.
func traceIDs(spans []store.Span) []string {
	seen := make(map[string]bool)
	var ids []string
	for _, sp := range spans {
		if !seen[sp.TraceID] {
			seen[sp.TraceID] = true
			ids = append(ids, sp.TraceID)
		}
	}
	return ids
}

// resummarize recomputes the summaries of traceIDs from the spans stored
// now (none left: the summaries go). Recomputing rather than adding to the
// old row keeps a re-sent span from counting twice and lets a root that
// arrives after its children (the usual order: children end first) take
// its place.
func resummarize(ctx context.Context, q Queries, ids []string) error {
	for start := 0; start < len(ids); start += summaryChunk {
		chunk := ids[start:min(start+summaryChunk, len(ids))]
		heads, err := q.SpanHeads(ctx, chunk)
		if err != nil {
			return err
		}
		byTrace := make(map[string][]store.Span, len(chunk))
		for _, h := range heads {
			byTrace[h.TraceID] = append(byTrace[h.TraceID], h)
		}
		var whole, projects []TraceRow
		for _, id := range chunk {
			spans := byTrace[id]
			if len(spans) == 0 {
				continue
			}
			whole = append(whole, Summarize(spans))
			byProject := make(map[string][]store.Span)
			for _, sp := range spans {
				if sp.Project != "" {
					byProject[sp.Project] = append(byProject[sp.Project], sp)
				}
			}
			names := make([]string, 0, len(byProject))
			for p := range byProject {
				names = append(names, p)
			}
			sort.Strings(names)
			for _, p := range names {
				r := Summarize(byProject[p])
				r.Project = p
				projects = append(projects, r)
			}
		}
		if err := q.TraceSummaryDelete(ctx, chunk); err != nil {
			return err
		}
		if err := q.TraceSummaryInsert(ctx, whole, projects); err != nil {
			return err
		}
	}
	return nil
}

// Summarize summarises spans of one trace (not empty). The root is the
// earliest span whose parent is not among spans: a span with no parent,
// the gateway span continuing a caller's traceparent, or, in a project's
// part of a trace, that project's first span under another project's.
func Summarize(spans []store.Span) TraceRow {
	ids := make(map[string]bool, len(spans))
	for _, sp := range spans {
		ids[sp.SpanID] = true
	}
	var root *store.Span
	r := TraceRow{TraceSummary: store.TraceSummary{TraceID: spans[0].TraceID, Spans: len(spans)}}
	fns := make(map[string]bool)
	for i := range spans {
		sp := &spans[i]
		if sp.Status == "error" {
			r.Errors++
		}
		if sp.Function != "" {
			fns[sp.Function] = true
		}
		if sp.ParentID != "" && ids[sp.ParentID] {
			continue
		}
		if root == nil || rootBefore(sp, root) {
			root = sp
		}
	}
	if root == nil { // a cycle of parents: only a broken writer makes one
		root = &spans[0]
		for i := range spans {
			if rootBefore(&spans[i], root) {
				root = &spans[i]
			}
		}
	}
	r.Name, r.Project, r.Function, r.Start, r.Duration = root.Name, root.Project, root.Function, root.Start, root.Duration
	if len(fns) > 0 {
		names := make([]string, 0, len(fns))
		for f := range fns {
			names = append(names, f)
		}
		slices.Sort(names)
		r.Functions = "|" + strings.Join(names, "|") + "|"
	}
	return r
}

// rootBefore orders root candidates: earliest, then one without a parent,
// then by span id so the choice does not depend on read order.
func rootBefore(a, b *store.Span) bool {
	if !a.Start.Equal(b.Start) {
		return a.Start.Before(b.Start)
	}
	if (a.ParentID == "") != (b.ParentID == "") {
		return a.ParentID == ""
	}
	return a.SpanID < b.SpanID
}

// TraceList searches the summaries: a project's part of each trace when
// p.Project is set (so a project-scoped reader sees only its own spans
// summarised), whole traces otherwise.
func (s *Store) TraceList(ctx context.Context, p store.TraceListParams) ([]store.TraceSummary, error) {
	if p.Limit <= 0 {
		p.Limit = traceListDefault
	}
	p.Limit = min(p.Limit, traceListMax)
	if strings.Contains(p.Function, "|") {
		return nil, nil // no function has '|' in its name, and it would cut Functions wrongly
	}
	ts, err := s.d.Read().TraceList(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list traces: %w", err)
	}
	return ts, nil
}

// TraceListQuery is the statement both backends run for TraceList, built
// by hand so that only the filters set reach it: the rows come from
// traces_start (or trace_projects_start, which leads with the project)
// walked newest first, each filter a test on the row. contains(col, arg)
// is the backend's "col contains the text arg" (instr, strpos); times are
// p's as the backend stores them.
func TraceListQuery(param func(n int) string, p store.TraceListParams, since, before any,
	contains func(col, arg string) string) (string, []any) {
	f := NewFilter(param)
	table := "traces"
	if p.Project != "" {
		table = "trace_projects"
		f.Eq("project", p.Project)
	}
	if p.Function != "" {
		f.And(contains("functions", f.Arg("|"+p.Function+"|")))
	}
	if p.ErrorsOnly {
		f.And("errors > 0")
	}
	if p.MinDuration > 0 {
		f.And("duration_ns >= " + f.Arg(int64(p.MinDuration)))
	}
	if !p.Since.IsZero() {
		f.And("start_at >= " + f.Arg(since))
	}
	if !p.Before.IsZero() {
		f.And("start_at < " + f.Arg(before))
	}
	limit := f.Arg(p.Limit)
	return `SELECT trace_id, name, project, function, start_at, duration_ns, spans, errors FROM ` + table +
		` WHERE 1 = 1` + f.Where() + ` ORDER BY start_at DESC, trace_id DESC LIMIT ` + limit, f.Args
}

// TraceGet returns a trace's spans by start time; with project set only
// that project's, and a trace with none of them is not found, so a
// project-scoped reader cannot tell another project's trace from none.
func (s *Store) TraceGet(ctx context.Context, traceID, project string) ([]store.Span, error) {
	spans, err := s.d.Read().TraceGet(ctx, traceID, project)
	if err != nil {
		return nil, fmt.Errorf("get trace %s: %w", traceID, err)
	}
	if len(spans) == 0 {
		return nil, store.NotFound("trace", traceID)
	}
	return spans, nil
}

// SpanPrune deletes spans started before before (zero: none by age), then
// the oldest beyond maxSpans (0: no cap), a chunk per transaction, and
// re-summarises the traces it cut into.
func (s *Store) SpanPrune(ctx context.Context, before time.Time, maxSpans int) (int64, error) {
	var total int64
	if !before.IsZero() {
		before = before.UTC().Truncate(time.Microsecond)
		for {
			n, err := s.pruneChunk(ctx, func(q Queries) (int, error) { return pruneChunk, nil }, before)
			total += int64(n)
			if err != nil {
				return total, fmt.Errorf("prune spans before %s: %w", before.Format(time.RFC3339), err)
			}
			if n < pruneChunk {
				break
			}
		}
	}
	if maxSpans > 0 {
		excess := func(q Queries) (int, error) {
			n, err := q.SpanCount(ctx)
			return int(min(max(n-int64(maxSpans), 0), pruneChunk)), err
		}
		for {
			n, err := s.pruneChunk(ctx, excess, farFuture)
			total += int64(n)
			if err != nil {
				return total, fmt.Errorf("prune spans beyond %d: %w", maxSpans, err)
			}
			if n < pruneChunk {
				break
			}
		}
	}
	return total, nil
}

// pruneChunk deletes, in one transaction holding the span lock, the oldest
// limit(q) spans started before before, and re-summarises their traces.
func (s *Store) pruneChunk(ctx context.Context, limit func(q Queries) (int, error), before time.Time) (int, error) {
	var n int
	err := s.d.InTx(ctx, func(q Queries) error {
		n = 0
		if err := q.SpanLock(ctx); err != nil {
			return err
		}
		l, err := limit(q)
		if err != nil || l == 0 {
			return err
		}
		traces, err := q.SpanDeleteOldest(ctx, before, l)
		if err != nil {
			return err
		}
		n = len(traces)
		slices.Sort(traces)
		return resummarize(ctx, q, slices.Compact(traces))
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
