package route

import (
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/record"
)

// FuzzRouter checks that parsing and matching never panic, and that a
// route always matches the request path obtained by filling in its
// parameters.
func FuzzRouter(f *testing.F) {
	for _, s := range []string{"GET /hello/{name}", "/files/{p...}", "* /{rest...}", "/", "POST /a/", "/a/*", "/x/{a}/y/{b}"} {
		f.Add(s, "/hello/bob")
	}
	f.Fuzz(func(t *testing.T, spec, path string) {
		p, err := Parse(spec)
		if err != nil {
			return
		}
		r, err := NewRouter([]record.Route{{Project: "p", Method: p.Method, Path: p.Path, Function: "f"}})
		if err != nil {
			t.Fatalf("route %q parses but the router rejects it: %v", spec, err)
		}
		r.Match("GET", path) // must not panic

		// Build a request path for the route: params become "v", a
		// catch-all becomes "a/b".
		var b strings.Builder
		for _, s := range p.Segments {
			b.WriteByte('/')
			switch s.Kind {
			case Literal:
				b.WriteString(s.Value)
			case Param:
				b.WriteString("v")
			case CatchAll:
				b.WriteString("a/b")
			}
		}
		method := p.Method
		if method == Any {
			method = "PATCH"
		}
		fn, params, _, ok := r.Match(method, b.String())
		if !ok || fn != "f" {
			t.Fatalf("route %q does not match its own path %q", spec, b.String())
		}
		if len(params) != len(p.Params()) {
			t.Fatalf("route %q: got params %v, want names %v", spec, params, p.Params())
		}
		for i, name := range p.Params() {
			if params[i].Name != name {
				t.Fatalf("route %q: param %d is %q, want %q", spec, i, params[i].Name, name)
			}
		}
	})
}
