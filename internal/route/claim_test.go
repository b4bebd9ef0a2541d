package route

import (
	"testing"

	"github.com/stratahq/strata/internal/record"
)

func TestClaims(t *testing.T) {
	for _, tc := range []struct {
		a, b    string
		overlap bool
	}{
		{"GET /victim/{op}", "GET /victim/login", true},  // the hijack of issue 9
		{"GET /victim/{op}", "POST /victim/login", true}, // methods play no part
		{"GET /victim/{op}", "GET /victim/a/b", true},    // under the prefix, though {op} would not match it
		{"GET /victim/{op}", "GET /victim", true},
		{"GET /victim/{op}", "GET /victim/", true},
		{"GET /victim/{op}", "GET /victimised/x", false}, // segment by segment
		{"GET /victim/{op}", "GET /other/{op}", false},
		{"GET /victim/{op}", "/{rest...}", true},
		{"/{rest...}", "GET /", true},
		{"GET /a/{x}/b", "GET /a/{y}/c", true}, // both claim /a/
		{"GET /x", "POST /x", true},
		{"GET /x", "GET /x/", false},
		{"GET /x", "GET /y", false},
		{"GET /", "GET /x", false},
		{"GET /a/b/{c}", "GET /a/{d}", true},
		{"GET /a/b/{c}", "GET /a/c/{d}", false},
	} {
		a, err := Parse(tc.a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Parse(tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Claim().Overlaps(b.Claim()); got != tc.overlap {
			t.Errorf("%s and %s: overlap %v, want %v", tc.a, tc.b, got, tc.overlap)
		}
		if got := b.Claim().Overlaps(a.Claim()); got != tc.overlap {
			t.Errorf("%s and %s: overlap %v, want %v (not symmetric)", tc.b, tc.a, got, tc.overlap)
		}
	}
	for in, want := range map[string]string{"/victim/{op}": "/victim/", "/victim/login": "/victim/login", "/{r...}": "/", "/": "/", "/a/": "/a/"} {
		p, err := New("GET", in)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Claim().String(); got != want {
			t.Errorf("claim of %s = %q, want %q", in, got, want)
		}
	}
}

// FuzzClaimsCoverMatches checks the promise that makes claims a boundary:
// two routes that both match some request have overlapping claims. A
// route-pair and a path come from the fuzzer; whenever both routes (in
// one router each) match the path, their claims must overlap.
func FuzzClaimsCoverMatches(f *testing.F) {
	f.Add("/victim/{op}", "/victim/login", "/victim/login")
	f.Add("/{r...}", "/a/b", "/a/b")
	f.Add("/a/{x}/c", "/a/b/{y}", "/a/b/c")
	f.Fuzz(func(t *testing.T, pa, pb, path string) {
		a, err := New("GET", pa)
		if err != nil {
			return
		}
		b, err := New("GET", pb)
		if err != nil {
			return
		}
		ra, _ := NewRouter([]record.Route{{Method: "GET", Path: pa, Function: "a"}})
		rb, _ := NewRouter([]record.Route{{Method: "GET", Path: pb, Function: "b"}})
		_, _, _, okA := ra.Match("GET", path)
		_, _, _, okB := rb.Match("GET", path)
		if okA && okB && !a.Claim().Overlaps(b.Claim()) {
			t.Fatalf("%s and %s both match %s but their claims %s and %s do not overlap", pa, pb, path, a.Claim(), b.Claim())
		}
	})
}
