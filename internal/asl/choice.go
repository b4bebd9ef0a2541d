package asl

import (
	"fmt"
	"strings"
	"time"
)

// rule is a compiled Choice rule: a comparison, or And/Or/Not of rules.
type rule struct {
	next    *State
	nextStr string

	op       string // the comparison operator's name, or And/Or/Not
	variable *Path
	value    any   // literal operand
	other    *Path // operand of the ...Path forms
	ts       time.Time
	subs     []*rule
}

var comparisons = map[string]string{} // operator → operand kind

func init() {
	for _, k := range []string{"String", "Numeric", "Timestamp"} {
		for _, c := range []string{"Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals"} {
			comparisons[k+c] = k
			comparisons[k+c+"Path"] = "path"
		}
	}
	comparisons["BooleanEquals"] = "Boolean"
	comparisons["BooleanEqualsPath"] = "path"
	comparisons["StringMatches"] = "String"
	for _, t := range []string{"IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp"} {
		comparisons[t] = "Boolean"
	}
}

func parseChoices(st *State, o *obj, d *diags) {
	v, ok := o.raw("Choices")
	arr, isArr := v.([]any)
	if !ok {
		d.schema(o.at, "These fields are required: [Choices]")
	} else if !isArr || len(arr) == 0 {
		d.schema(o.at+"/Choices", "The value for the field 'Choices' must be a non-empty ARRAY")
	}
	for i, e := range arr {
		at := fmt.Sprintf("%s/Choices[%d]", o.at, i)
		r := parseRule(e, at, true, d)
		if r != nil {
			st.choices = append(st.choices, r)
		}
	}
	st.nextStr = o.str("Default")
}

func parseRule(v any, at string, top bool, d *diags) *rule {
	m, ok := v.(map[string]any)
	if !ok {
		d.schema(at, "A choice rule must be an OBJECT")
		return nil
	}
	o := newObj(m, at, d)
	o.str("Comment")
	r := &rule{}
	if top {
		if !o.has("Next") {
			d.schema(at, "These fields are required: [Next]")
		}
		r.nextStr = o.str("Next")
	}
	var ops []string
	for k := range m {
		if _, ok := comparisons[k]; ok || k == "And" || k == "Or" || k == "Not" {
			ops = append(ops, k)
		}
	}
	if len(ops) != 1 {
		d.schema(at, "A choice rule must have exactly one comparison operator or And, Or, Not")
		for k := range m {
			o.used[k] = true
		}
		return nil
	}
	r.op = ops[0]
	switch r.op {
	case "And", "Or":
		sv, _ := o.raw(r.op)
		arr, ok := sv.([]any)
		if !ok || len(arr) == 0 {
			d.schema(at+"/"+r.op, "The value for the field '%s' must be a non-empty ARRAY", r.op)
		}
		for i, e := range arr {
			if s := parseRule(e, fmt.Sprintf("%s/%s[%d]", at, r.op, i), false, d); s != nil {
				r.subs = append(r.subs, s)
			}
		}
	case "Not":
		sv, _ := o.raw("Not")
		if s := parseRule(sv, at+"/Not", false, d); s != nil {
			r.subs = []*rule{s}
		}
	default:
		if !o.has("Variable") {
			d.schema(at, "These fields are required: [Variable]")
		}
		r.variable, _ = o.path("Variable", false)
		val, _ := o.raw(r.op)
		kind := comparisons[r.op]
		bad := func(t string) { d.schema(at+"/"+r.op, "The value for the field '%s' must be a %s", r.op, t) }
		switch kind {
		case "path":
			s, ok := val.(string)
			if !ok {
				bad("valid JSONPath")
				break
			}
			p, err := parsePath(s)
			if err != nil {
				bad("valid JSONPath")
				break
			}
			r.other = p
		case "String":
			if _, ok := val.(string); !ok {
				bad("STRING")
			}
		case "Numeric":
			if _, ok := val.(float64); !ok {
				bad("NUMBER")
			}
		case "Boolean":
			if _, ok := val.(bool); !ok {
				bad("BOOLEAN")
			}
		case "Timestamp":
			s, _ := val.(string)
			t, err := parseTimestamp(s)
			if err != nil {
				bad("valid timestamp")
			}
			r.ts = t
		}
		r.value = val
	}
	if !top && o.has("Next") {
		o.raw("Next")
		d.schema(at+"/Next", "Nested choice rules must not have a 'Next' field")
	}
	o.done()
	return r
}

// parseTimestamp accepts RFC 3339 timestamps, as the specification says.
func parseTimestamp(s string) (time.Time, error) {
	if !strings.Contains(s, "T") {
		return time.Time{}, fmt.Errorf("not a timestamp")
	}
	return time.Parse(time.RFC3339Nano, s)
}

// eval tests the rule against the state's input; a Variable (or ...Path
// operand) that selects nothing is a runtime error, except for IsPresent.
func (r *rule) eval(s *scope) (bool, *Error) {
	switch r.op {
	case "And":
		for _, x := range r.subs {
			ok, err := x.eval(s)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case "Or":
		for _, x := range r.subs {
			ok, err := x.eval(s)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case "Not":
		ok, err := r.subs[0].eval(s)
		return !ok, err
	}
	v, found := s.resolve(r.variable)
	if r.op == "IsPresent" {
		return found == r.value.(bool), nil
	}
	if !found {
		return false, newErr(ErrRuntime, "Invalid path '%s': The choice state's condition path references an invalid value.", r.variable.src)
	}
	want := r.value
	ts := r.ts
	op := r.op
	if r.other != nil {
		o, ok := s.resolve(r.other)
		if !ok {
			return false, newErr(ErrRuntime, "Invalid path '%s': The choice state's condition path references an invalid value.", r.other.src)
		}
		want = o
		op = strings.TrimSuffix(op, "Path")
		if strings.HasPrefix(op, "Timestamp") {
			str, ok := o.(string)
			if !ok {
				return false, nil
			}
			t, err := parseTimestamp(str)
			if err != nil {
				return false, nil
			}
			ts = t
		}
	}
	switch op {
	case "IsNull":
		return (v == nil) == want.(bool), nil
	case "IsNumeric":
		_, ok := v.(float64)
		return ok == want.(bool), nil
	case "IsString":
		_, ok := v.(string)
		return ok == want.(bool), nil
	case "IsBoolean":
		_, ok := v.(bool)
		return ok == want.(bool), nil
	case "IsTimestamp":
		str, ok := v.(string)
		if ok {
			_, err := parseTimestamp(str)
			ok = err == nil
		}
		return ok == want.(bool), nil
	case "BooleanEquals":
		a, ok1 := v.(bool)
		b, ok2 := want.(bool)
		return ok1 && ok2 && a == b, nil
	case "StringMatches":
		a, ok1 := v.(string)
		p, ok2 := want.(string)
		return ok1 && ok2 && matchWildcard(p, a), nil
	}
	switch {
	case strings.HasPrefix(op, "String"):
		a, ok1 := v.(string)
		b, ok2 := want.(string)
		if !ok1 || !ok2 {
			return false, nil
		}
		return cmpResult(op[len("String"):], strings.Compare(a, b)), nil
	case strings.HasPrefix(op, "Numeric"):
		a, ok1 := v.(float64)
		b, ok2 := want.(float64)
		if !ok1 || !ok2 {
			return false, nil
		}
		c := 0
		if a < b {
			c = -1
		} else if a > b {
			c = 1
		}
		return cmpResult(op[len("Numeric"):], c), nil
	case strings.HasPrefix(op, "Timestamp"):
		str, ok := v.(string)
		if !ok {
			return false, nil
		}
		t, err := parseTimestamp(str)
		if err != nil {
			return false, nil
		}
		return cmpResult(op[len("Timestamp"):], t.Compare(ts)), nil
	}
	return false, nil
}

func cmpResult(kind string, c int) bool {
	switch kind {
	case "Equals":
		return c == 0
	case "LessThan":
		return c < 0
	case "GreaterThan":
		return c > 0
	case "LessThanEquals":
		return c <= 0
	case "GreaterThanEquals":
		return c >= 0
	}
	return false
}

// matchWildcard implements StringMatches: * matches any run of characters,
// \* a literal star and \\ a literal backslash.
func matchWildcard(pattern, s string) bool {
	type tok struct {
		star bool
		ch   byte
	}
	var toks []tok
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c == '\\' && i+1 < len(pattern) {
			toks = append(toks, tok{ch: pattern[i+1]})
			i++
			continue
		}
		toks = append(toks, tok{star: c == '*', ch: c})
	}
	// Iterative glob match with backtracking to the last star.
	ti, si, starT, starS := 0, 0, -1, 0
	for si < len(s) {
		if ti < len(toks) && !toks[ti].star && toks[ti].ch == s[si] {
			ti++
			si++
		} else if ti < len(toks) && toks[ti].star {
			starT, starS = ti, si
			ti++
		} else if starT >= 0 {
			ti = starT + 1
			starS++
			si = starS
		} else {
			return false
		}
	}
	for ti < len(toks) && toks[ti].star {
		ti++
	}
	return ti == len(toks)
}
