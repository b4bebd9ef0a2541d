package asl

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/theory/jsonpath"
)

// Path is a compiled JSONPath. Definite paths made of names and indexes
// (the "reference paths" of the specification) are walked directly, which
// is what nearly every definition uses and what keeps a state transition
// cheap; anything else (wildcards, slices, filters, unions, descendant
// segments) is handed to the RFC 9535 library and yields a list.
type Path struct {
	src     string
	context bool // starts with $$: evaluated against the context object
	segs    []seg
	query   *jsonpath.Path // non-nil for non-definite paths
}

type seg struct {
	name  string
	index int
	isIdx bool
}

func (p *Path) String() string { return p.src }

// definite reports whether p selects at most one node by names and indexes.
func (p *Path) definite() bool { return p.query == nil }

// parsePath compiles a path beginning with $ or $$.
func parsePath(s string) (*Path, error) {
	p := &Path{src: s}
	rest := s
	switch {
	case strings.HasPrefix(s, "$$"):
		p.context = true
		rest = s[2:]
	case strings.HasPrefix(s, "$"):
		rest = s[1:]
	default:
		return nil, fmt.Errorf("path %q must start with '$'", s)
	}
	if segs, ok := simpleSegs(rest); ok {
		p.segs = segs
		return p, nil
	}
	q, err := jsonpath.Parse("$" + rest)
	if err != nil {
		return nil, err
	}
	p.query = q
	return p, nil
}

// simpleSegs parses .name, ['name'], ["name"] and [n] segments.
func simpleSegs(s string) ([]seg, bool) {
	var segs []seg
	for len(s) > 0 {
		switch s[0] {
		case '.':
			if len(s) > 1 && s[1] == '.' {
				return nil, false
			}
			i := 1
			for i < len(s) && s[i] != '.' && s[i] != '[' {
				i++
			}
			name := s[1:i]
			if name == "" || strings.ContainsAny(name, "*]()?@,: '\"") {
				return nil, false
			}
			segs = append(segs, seg{name: name})
			s = s[i:]
		case '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return nil, false
			}
			inner := s[1:end]
			if len(inner) >= 2 && (inner[0] == '\'' || inner[0] == '"') && inner[len(inner)-1] == inner[0] {
				name := inner[1 : len(inner)-1]
				if strings.ContainsAny(name, "'\"\\") {
					return nil, false
				}
				segs = append(segs, seg{name: name})
			} else {
				n, err := strconv.Atoi(inner)
				if err != nil || n < 0 {
					return nil, false
				}
				segs = append(segs, seg{index: n, isIdx: true})
			}
			s = s[end+1:]
		default:
			return nil, false
		}
	}
	return segs, true
}

// get evaluates p against v. ok is false when a definite path finds
// nothing; non-definite paths always succeed with a (possibly empty) list.
func (p *Path) get(v any) (any, bool) {
	if p.query != nil {
		nodes := p.query.Select(v)
		out := make([]any, len(nodes))
		copy(out, nodes)
		return out, true
	}
	for _, sg := range p.segs {
		if sg.isIdx {
			a, ok := v.([]any)
			if !ok || sg.index >= len(a) {
				return nil, false
			}
			v = a[sg.index]
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		v, ok = m[sg.name]
		if !ok {
			return nil, false
		}
	}
	return v, true
}

// getLenient is get for payload templates: an array index past the end
// selects null instead of failing, a leniency AWS has there.
func (p *Path) getLenient(v any) (any, bool) {
	if p.query != nil {
		return p.get(v)
	}
	for _, sg := range p.segs {
		if sg.isIdx {
			a, ok := v.([]any)
			if !ok {
				return nil, false
			}
			if sg.index >= len(a) {
				return nil, true
			}
			v = a[sg.index]
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[sg.name]; !ok {
			return nil, false
		}
	}
	return v, true
}

// normalized renders a definite path as AWS prints it in causes: $['a'][0].
func (p *Path) normalized() string {
	var b strings.Builder
	b.WriteString("$")
	for _, sg := range p.segs {
		if sg.isIdx {
			fmt.Fprintf(&b, "[%d]", sg.index)
		} else {
			b.WriteString("['" + sg.name + "']")
		}
	}
	return b.String()
}

// set returns a copy of doc with the value at p replaced by val, creating
// objects along the way as the specification's ResultPath requires. Input
// values are never mutated: maps on the path are copied, so documents can
// share structure across states and branches.
func (p *Path) set(doc, val any) (any, bool) {
	return setSegs(doc, p.segs, val)
}

func setSegs(doc any, segs []seg, val any) (any, bool) {
	if len(segs) == 0 {
		return val, true
	}
	sg := segs[0]
	if sg.isIdx {
		a, ok := doc.([]any)
		if !ok || sg.index >= len(a) {
			return nil, false
		}
		child, ok := setSegs(a[sg.index], segs[1:], val)
		if !ok {
			return nil, false
		}
		na := make([]any, len(a))
		copy(na, a)
		na[sg.index] = child
		return na, true
	}
	var m map[string]any
	switch d := doc.(type) {
	case map[string]any:
		m = d
	case nil:
		m = nil
	default:
		return nil, false
	}
	var child any
	if cur, ok := m[sg.name]; ok {
		child = cur
	}
	if len(segs) > 1 && child == nil {
		if segs[1].isIdx {
			return nil, false
		}
	}
	nv, ok := setSegs(child, segs[1:], val)
	if !ok {
		return nil, false
	}
	nm := make(map[string]any, len(m)+1)
	for k, x := range m {
		nm[k] = x
	}
	nm[sg.name] = nv
	return nm, true
}
