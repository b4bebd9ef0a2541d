package route

import "strings"

// Claim is the part of the path space a route takes for its project, so
// that routes of different projects can be kept apart (issue 9: project
// "thief" deployed GET /victim/login beside project "victim"'s
// GET /victim/{op} and took those requests, since a literal beats a
// parameter).
//
// A route whose path is all literals claims that one path. A route with a
// parameter or catch-all claims its literal prefix, the segments before the
// first of them: that path and every path under it. GET /victim/{op}
// claims /victim and everything under /victim/; /{rest...} claims every
// path. Methods play no part: a project owns a path for every method, so
// another project cannot answer the POSTs to a path whose GETs are not its
// own.
type Claim struct {
	Prefix []string // literal segments; a trailing slash is a last empty one
	Open   bool     // the route has a parameter or catch-all: Prefix and below
}

// Claim returns the route's claim.
func (p Pattern) Claim() Claim {
	c := Claim{}
	for _, s := range p.Segments {
		if s.Kind != Literal {
			c.Open = true
			break
		}
		c.Prefix = append(c.Prefix, s.Value)
	}
	return c
}

// Overlaps reports whether two claims share a path. Any two routes that can
// match one request have overlapping claims, so routes of different
// projects whose claims do not overlap can never take each other's
// requests, whatever the matching precedence.
func (c Claim) Overlaps(o Claim) bool {
	switch {
	case c.Open && o.Open:
		return hasSegPrefix(c.Prefix, o.Prefix) || hasSegPrefix(o.Prefix, c.Prefix)
	case c.Open:
		return hasSegPrefix(o.Prefix, c.Prefix)
	case o.Open:
		return hasSegPrefix(c.Prefix, o.Prefix)
	default:
		return equalSegs(c.Prefix, o.Prefix)
	}
}

// Covers reports whether every path o claims is under c: c is open and
// its prefix leads o's.
func (c Claim) Covers(o Claim) bool {
	return c.Open && hasSegPrefix(o.Prefix, c.Prefix)
}

// String is the claim as a path: "/victim/" for an open claim (the path and
// everything under it), "/victim/login" for one path.
func (c Claim) String() string {
	s := "/" + strings.Join(c.Prefix, "/")
	if c.Open && len(c.Prefix) > 0 && c.Prefix[len(c.Prefix)-1] != "" {
		s += "/"
	}
	return s
}

// hasSegPrefix reports whether prefix is a leading run of segs, segment by
// segment ("/vic" is no prefix of "/victim").
func hasSegPrefix(segs, prefix []string) bool {
	return len(prefix) <= len(segs) && equalSegs(segs[:len(prefix)], prefix)
}

func equalSegs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
