package sqlstore

import "strings"

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
