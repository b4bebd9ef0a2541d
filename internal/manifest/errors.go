package manifest

import (
	"fmt"
	"strings"
)

// Position is a place in strata.yaml, 1-based. Zero means unknown.
type Position struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

func (p Position) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Column) }

// Error is one problem in a manifest.
type Error struct {
	File   string // the file name as given to Parse or Load
	Line   int    // 1-based; 0 when the problem has no place (e.g. unreadable file)
	Column int
	Field  string // dotted path of the key, e.g. "functions.hello.memory"; may be empty
	Msg    string
	err    error // an underlying error, e.g. from reading the file
}

// Error reads like "strata.yaml:7:5: functions.hello.memory: must be ...".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error, if any (e.g. fs.ErrNotExist).
func (e *Error) Unwrap() error { return e.err }

// Errors is every problem found in a manifest, in file order. Parse and
// Load return it (never empty) whenever they fail.
type Errors []*Error

// Error prints one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find each *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
