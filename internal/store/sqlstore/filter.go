package sqlstore

import (
	"fmt"
	"strings"

	"github.com/stratahq/strata/internal/store"
)

// Filter builds the conditions of a listing statement whose filters are
// optional, for the adapters that write such statements by hand: each filter
// that is set adds its condition, so the statement names only the columns an
// index must serve. The backend says how its nth parameter is written.
type Filter struct {
	Args  []any
	param func(n int) string
	where strings.Builder
}

// NewFilter returns an empty Filter writing the nth parameter as param(n).
func NewFilter(param func(n int) string) *Filter { return &Filter{param: param} }

// Arg binds v and returns its placeholder. With positional "?" parameters
// the placeholders must reach the statement in the order they were bound.
func (f *Filter) Arg(v any) string {
	f.Args = append(f.Args, v)
	return f.param(len(f.Args))
}

// And adds the condition cond.
func (f *Filter) And(cond string) { f.where.WriteString(" AND " + cond) }

// Eq adds "col = v" when v is not empty.
func (f *Filter) Eq(col, v string) {
	if v != "" {
		f.And(col + " = " + f.Arg(v))
	}
}

// Where is the conditions added so far, each led by " AND ".
func (f *Filter) Where() string { return f.where.String() }

// LogListQuery is the statement both backends run for LogList: written by
// hand, as UsageList, because the indexes on (function, id) and
// (invocation_id, id) serve a filter only when it is in the statement.
// since and until are p.Since and p.Until as the backend stores times. The rows come newest first
// when p.Tail is set (the caller reverses them to oldest first).
func LogListQuery(param func(n int) string, p store.LogListParams, since, until any) (string, []any) {
	f := NewFilter(param)
	f.And("id > " + f.Arg(p.AfterID))
	f.Eq("function", p.Function)
	f.Eq("invocation_id", p.InvocationID)
	f.Eq("trace_id", p.TraceID)
	if !p.Since.IsZero() {
		f.And("logged_at >= " + f.Arg(since))
	}
	if !p.Until.IsZero() {
		f.And("logged_at < " + f.Arg(until))
	}
	if p.MinLevel > 0 {
		f.And("level >= " + f.Arg(int(p.MinLevel)))
	}
	order, n := "id", p.Limit
	if p.Tail > 0 {
		order, n = "id DESC", p.Tail
	}
	limit := f.Arg(n) // bound before f.Args is read below
	return `SELECT id, invocation_id, function, version, trace_id, span_id, logged_at, stream, level, line
		FROM logs WHERE 1 = 1` + f.Where() + ` ORDER BY ` + order + ` LIMIT ` + limit, f.Args
}

// UsageSeriesQuery is the statement both backends run for UsageSeries.
// startUS is the backend's expression for a record's start in Unix
// microseconds; since and until are the bounds as the backend stores
// times. The statement returns function, bucket start (Unix µs),
// outcome, duration class, count, cold starts, billed ms and billed ms ×
// MB. The index on start_at serves the time range; grouping happens in
// the database, so a chart over a million records sends Go a few hundred
// rows.
func UsageSeriesQuery(param func(n int) string, p store.UsageSeriesParams, startUS string, since, until any) (string, []any) {
	f := NewFilter(param)
	// Bound twice: "?" placeholders take one argument each.
	b1, b2 := f.Arg(p.Bucket.Microseconds()), f.Arg(p.Bucket.Microseconds())
	var class strings.Builder
	class.WriteString("CASE")
	for i, b := range store.UsageDurationBounds {
		fmt.Fprintf(&class, " WHEN duration_ns < %d THEN %d", b.Nanoseconds(), i)
	}
	fmt.Fprintf(&class, " ELSE %d END", len(store.UsageDurationBounds))
	f.And("start_at >= " + f.Arg(since))
	if !p.Until.IsZero() {
		f.And("start_at < " + f.Arg(until))
	}
	if p.Functions != nil {
		ph := make([]string, len(p.Functions))
		for i, fn := range p.Functions {
			ph[i] = f.Arg(fn)
		}
		f.And("function IN (" + strings.Join(ph, ", ") + ")")
	}
	return `SELECT function, (` + startUS + ` / ` + b1 + `) * ` + b2 + ` AS bucket, outcome, ` + class.String() + ` AS class,
		CAST(COUNT(*) AS BIGINT), CAST(SUM(CASE WHEN cold THEN 1 ELSE 0 END) AS BIGINT),
		CAST(SUM(billed_ms) AS BIGINT), CAST(SUM(billed_ms * memory_mb) AS BIGINT)
		FROM usage WHERE 1 = 1` + f.Where() + ` GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`, f.Args
}
