package asl

import (
	"fmt"
	"sort"
	"strings"
)

// scope is what a template, path or intrinsic reads: the current document
// ($) and the context object ($$), built only when a $$ path asks for it.
type scope struct {
	doc any
	ctx *contextObj
}

func (s *scope) resolve(p *Path) (any, bool) {
	if p.context {
		return p.get(s.ctx.value())
	}
	return p.get(s.doc)
}

// template is a compiled payload template (Parameters, ResultSelector,
// ItemSelector): literals are kept as they are, fields whose name ends in
// ".$" are replaced by a path's value or an intrinsic's result.
type template struct {
	literal any // used when static
	static  bool
	fields  []tfield    // object
	items   []*template // array
	isArray bool
}

type tfield struct {
	key  string
	path *Path
	fn   *call
	sub  *template
	src  string // the original ".$" value, for causes
}

// compileTemplate prepares v; problems go to diag with their pointer.
func compileTemplate(v any, at string, d *diags) *template {
	switch x := v.(type) {
	case map[string]any:
		t := &template{}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		static := true
		for _, k := range keys {
			val := x[k]
			if strings.HasSuffix(k, ".$") {
				static = false
				name := strings.TrimSuffix(k, ".$")
				s, ok := val.(string)
				if !ok {
					d.schema(at+"/"+k, "The value for the field '%s' must be a STRING", k)
					continue
				}
				f := tfield{key: name, src: s}
				if strings.HasPrefix(s, "$") {
					p, err := parsePath(s)
					if err != nil {
						d.schema(at+"/"+k, "The value for the field '%s' must be a valid JSONPath or a valid intrinsic function call", k)
						continue
					}
					f.path = p
				} else {
					c, err := parseCall(s)
					if err != nil {
						d.schema(at+"/"+k, "The value for the field '%s' must be a valid JSONPath or a valid intrinsic function call", k)
						continue
					}
					f.fn = c
				}
				t.fields = append(t.fields, f)
				continue
			}
			sub := compileTemplate(val, at+"/"+k, d)
			if !sub.static {
				static = false
			}
			t.fields = append(t.fields, tfield{key: k, sub: sub})
		}
		if static {
			return &template{literal: x, static: true}
		}
		return t
	case []any:
		t := &template{isArray: true}
		static := true
		for i, e := range x {
			sub := compileTemplate(e, fmt.Sprintf("%s/%d", at, i), d)
			if !sub.static {
				static = false
			}
			t.items = append(t.items, sub)
		}
		if static {
			return &template{literal: x, static: true}
		}
		return t
	default:
		return &template{literal: v, static: true}
	}
}

// eval builds the payload. field names the enclosing field for causes.
func (t *template) eval(s *scope, field string) (any, *Error) {
	if t.static {
		return t.literal, nil
	}
	if t.isArray {
		out := make([]any, len(t.items))
		for i, it := range t.items {
			v, err := it.eval(s, field)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	out := make(map[string]any, len(t.fields))
	for i := range t.fields {
		f := &t.fields[i]
		switch {
		case f.path != nil:
			in := s.doc
			if f.path.context {
				in = s.ctx.value()
			}
			v, ok := f.path.getLenient(in)
			if !ok {
				e := newErr(ErrRuntime, "The JSONPath '%s' specified for the field '%s.$' could not be found in the input '%s'", f.src, f.key, compactJSON(in))
				e.bare = true
				return nil, e
			}
			out[f.key] = v
		case f.fn != nil:
			v, err := f.fn.eval(s)
			if err != nil {
				return nil, err
			}
			out[f.key] = v
		default:
			v, err := f.sub.eval(s, f.key)
			if err != nil {
				return nil, err
			}
			out[f.key] = v
		}
	}
	return out, nil
}

func compactJSON(v any) string { return string(marshal(v)) }
