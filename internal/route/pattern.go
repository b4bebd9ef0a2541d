package route

import (
	"errors"
	"fmt"
	"strings"
)

// Any is the method of a route that matches every method.
const Any = "*"

// Methods lists the specific methods a route may name, in the order used in
// messages. Any ("*") is accepted as well.
var Methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// ReservedPrefix is the path the platform keeps for itself (health, metrics,
// internal endpoints). Routes may not be at or under it.
const ReservedPrefix = "/_strata"

// SegmentKind tells how a path segment matches.
type SegmentKind uint8

// Segment kinds, in the order they are tried when matching.
const (
	Literal  SegmentKind = iota // matches itself exactly
	Param                       // {name}: one non-empty segment
	CatchAll                    // {name...} or *: the rest of the path, possibly empty
)

// Segment is one part of a route path between slashes.
type Segment struct {
	Kind SegmentKind
	// Value is the literal text, or the parameter name. An unnamed catch-all
	// ("*") has an empty Value and captures no parameter.
	Value string
}

// Pattern is a parsed route.
type Pattern struct {
	Method   string // a member of Methods, or Any
	Path     string // as written
	Segments []Segment
}

// IsMethod reports whether m may be used as a route method ("*" included).
func IsMethod(m string) bool {
	return m == Any || methodIndex(m) >= 0
}

func methodIndex(m string) int {
	// A switch compiles to a few comparisons and keeps Match allocation-free.
	switch m {
	case "GET":
		return 0
	case "HEAD":
		return 1
	case "POST":
		return 2
	case "PUT":
		return 3
	case "PATCH":
		return 4
	case "DELETE":
		return 5
	case "OPTIONS":
		return 6
	}
	return -1
}

// Parse parses a route written as "[METHOD ]PATH", as in strata.yaml. A
// route without a method matches any method.
func Parse(s string) (Pattern, error) {
	if s == "" {
		return Pattern{}, errors.New("route is empty; write \"[METHOD ]/path\", e.g. \"GET /hello/{name}\"")
	}
	if s[0] == '/' {
		return New(Any, s)
	}
	method, path, found := strings.Cut(s, " ")
	if !found {
		if IsMethod(strings.ToUpper(s)) {
			return Pattern{}, fmt.Errorf("route %q has no path; write e.g. \"%s /hello\"", s, strings.ToUpper(s))
		}
		return Pattern{}, fmt.Errorf("path %q must start with \"/\"", s)
	}
	path = strings.TrimLeft(path, " ")
	if path == "" {
		return Pattern{}, fmt.Errorf("route %q has no path; write e.g. \"%s /hello\"", s, method)
	}
	return New(method, path)
}

// New validates a method and a path and returns their pattern.
func New(method, path string) (Pattern, error) {
	if err := checkMethod(method); err != nil {
		return Pattern{}, err
	}
	segs, err := parsePath(path)
	if err != nil {
		return Pattern{}, err
	}
	return Pattern{Method: method, Path: path, Segments: segs}, nil
}

func checkMethod(m string) error {
	if IsMethod(m) {
		return nil
	}
	if up := strings.ToUpper(m); IsMethod(up) {
		return fmt.Errorf("method %q must be upper case: %q", m, up)
	}
	return fmt.Errorf("method %q is not one of %s or *", m, strings.Join(Methods, ", "))
}

func parsePath(path string) ([]Segment, error) {
	if path == "" || path[0] != '/' {
		return nil, fmt.Errorf("path %q must start with \"/\"", path)
	}
	if path == ReservedPrefix || strings.HasPrefix(path, ReservedPrefix+"/") {
		return nil, fmt.Errorf("path %q is reserved for the platform (%s/...)", path, ReservedPrefix)
	}
	parts := strings.Split(path[1:], "/")
	if err := checkForeign(path, parts); err != nil {
		return nil, err
	}
	segs := make([]Segment, 0, len(parts))
	var names []string
	for i, p := range parts {
		last := i == len(parts)-1
		if p == "" {
			// "/" alone, or a trailing slash, is an empty final literal:
			// "/a/" matches only "/a/".
			if last {
				segs = append(segs, Segment{Kind: Literal})
				continue
			}
			return nil, fmt.Errorf("path %q has an empty segment (\"//\")", path)
		}
		seg, err := parseSegment(p)
		if err != nil {
			return nil, fmt.Errorf("path %q: %w", path, err)
		}
		if seg.Kind == CatchAll && !last {
			return nil, fmt.Errorf("path %q: catch-all %q must be the last segment", path, p)
		}
		if seg.Kind != Literal && seg.Value != "" {
			for _, n := range names {
				if n == seg.Value {
					return nil, fmt.Errorf("path %q: parameter %q appears twice", path, n)
				}
			}
			names = append(names, seg.Value)
		}
		segs = append(segs, seg)
	}
	return segs, nil
}

func parseSegment(p string) (Segment, error) {
	if p == "*" {
		return Segment{Kind: CatchAll}, nil
	}
	if p == "." || p == ".." {
		return Segment{}, fmt.Errorf("segment %q is not allowed (request paths are cleaned before matching)", p)
	}
	if p[0] == '{' {
		inner, ok := strings.CutSuffix(p[1:], "}")
		if !ok {
			return Segment{}, fmt.Errorf("segment %q is not a valid parameter; write {name} or {name...}", p)
		}
		kind := Param
		if name, ok := strings.CutSuffix(inner, "..."); ok {
			inner, kind = name, CatchAll
		}
		if !IsParamName(inner) {
			return Segment{}, fmt.Errorf("parameter name %q must be a letter or _ followed by letters, digits or _", inner)
		}
		return Segment{Kind: kind, Value: inner}, nil
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '{' || c == '}':
			return Segment{}, fmt.Errorf("segment %q mixes text and a parameter; a parameter must be a whole segment", p)
		case c == '*':
			return Segment{}, fmt.Errorf("segment %q: '*' is only allowed as a whole last segment", p)
		case c == '?' || c == '#':
			return Segment{}, fmt.Errorf("segment %q: %q is not allowed in a route path", p, string(c))
		case c <= ' ' || c == 0x7f:
			return Segment{}, fmt.Errorf("segment %q: spaces and control characters are not allowed", p)
		}
	}
	return Segment{Kind: Literal, Value: p}, nil
}

// IsParamName reports whether s is a valid parameter name.
func IsParamName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Shape is the path with parameter names erased: "/u/{}/f/{...}". Routes
// with the same shape match exactly the same request paths.
func (p Pattern) Shape() string {
	var b strings.Builder
	for _, s := range p.Segments {
		b.WriteByte('/')
		switch s.Kind {
		case Literal:
			b.WriteString(s.Value)
		case Param:
			b.WriteString("{}")
		case CatchAll:
			b.WriteString("{...}")
		}
	}
	return b.String()
}

// Key identifies a route for clash detection: method and shape.
func (p Pattern) Key() string { return p.Method + " " + p.Shape() }

// String is the route as written in strata.yaml, with an explicit method.
func (p Pattern) String() string { return p.Method + " " + p.Path }

// Params lists the names of the parameters the route captures, in order.
func (p Pattern) Params() []string {
	var names []string
	for _, s := range p.Segments {
		if s.Kind != Literal && s.Value != "" {
			names = append(names, s.Value)
		}
	}
	return names
}
