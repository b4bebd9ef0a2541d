package sqlstore

import (
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
