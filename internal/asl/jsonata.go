package asl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"

	jsonata "github.com/xiatechs/jsonata-go"
	"github.com/xiatechs/jsonata-go/jlib"
	"github.com/xiatechs/jsonata-go/jtypes"
)

// jstate holds what a state written in JSONata (QueryLanguage: JSONata)
// evaluates: its Arguments, Output and Assign templates and the fields
// that may be expressions.
type jstate struct {
	arguments, output, assign *jtemplate
	items, itemSelector       *jtemplate
	seconds, timestamp        *jtemplate
	timeout, heartbeat        *jtemplate
	errT, causeT              *jtemplate
	maxConc                   *jtemplate
	tolCount, tolPct          *jtemplate
	rules                     []*jrule
}

type jrule struct {
	condition *jtemplate
	output    *jtemplate
	assign    *jtemplate
	next      *State
	nextStr   string
}

type jcatch struct {
	output, assign *jtemplate
}

// jtemplate is a JSON value in which every string "{% expr %}" is a
// JSONata expression.
type jtemplate struct {
	static bool
	lit    any
	expr   string // non-empty: the whole value is one expression
	field  string // the field it belongs to, for causes
	keys   []string
	vals   []*jtemplate
	items  []*jtemplate
	array  bool
}

func isExpr(s string) bool {
	return strings.HasPrefix(s, "{%") && strings.HasSuffix(s, "%}") && len(s) >= 4
}

func compileJ(v any, field, at string, d *diags) *jtemplate {
	switch x := v.(type) {
	case string:
		if !isExpr(x) {
			return &jtemplate{static: true, lit: x}
		}
		src := strings.TrimSpace(x[2 : len(x)-2])
		if _, err := jsonata.Compile(src); err != nil {
			d.schema(at, "The JSONata expression '%s' specified for the field '%s' is invalid: %v", src, field, err)
		}
		return &jtemplate{expr: src, field: field}
	case map[string]any:
		t := &jtemplate{field: field}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		static := true
		for _, k := range keys {
			sub := compileJ(x[k], field, at+"/"+escapePointer(k), d)
			static = static && sub.static
			t.keys = append(t.keys, k)
			t.vals = append(t.vals, sub)
		}
		if static {
			return &jtemplate{static: true, lit: x}
		}
		return t
	case []any:
		t := &jtemplate{array: true, field: field}
		static := true
		for i, e := range x {
			sub := compileJ(e, field, fmt.Sprintf("%s/%d", at, i), d)
			static = static && sub.static
			t.items = append(t.items, sub)
		}
		if static {
			return &jtemplate{static: true, lit: x}
		}
		return t
	default:
		return &jtemplate{static: true, lit: v}
	}
}

// jenv is what an expression sees: $states and the execution's variables.
type jenv struct {
	states map[string]any
	vars   map[string]any
	// th is the thread evaluating (nil outside an execution): its
	// random draws and recorded times make $random(), $now() and
	// $millis() replayable in a durable execution.
	th *thread
}

func (t *jtemplate) eval(env *jenv) (any, *Error) {
	switch {
	case t.static:
		return t.lit, nil
	case t.expr != "":
		return evalJSONata(t.expr, t.field, env)
	case t.array:
		out := make([]any, len(t.items))
		for i, it := range t.items {
			v, err := it.eval(env)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	default:
		out := make(map[string]any, len(t.keys))
		for i, k := range t.keys {
			v, err := t.vals[i].eval(env)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	}
}

// evalJSONata compiles and evaluates src. The library binds variables on
// the compiled expression, so each evaluation compiles its own copy: a
// shared Expr would race between concurrent branches and executions.
func evalJSONata(src, field string, env *jenv) (any, *Error) {
	e, err := jsonata.Compile(src)
	if err != nil {
		return nil, queryErr(src, field, err)
	}
	vars := make(map[string]any, len(env.vars)+1)
	for k, v := range env.vars {
		vars[k] = v
	}
	vars["states"] = env.states
	if err := e.RegisterVars(vars); err != nil {
		return nil, queryErr(src, field, err)
	}
	if exts := env.replayable(src); exts != nil {
		if err := e.RegisterExts(exts); err != nil {
			return nil, queryErr(src, field, err)
		}
	}
	v, err := e.Eval(env.states["input"])
	if err != nil {
		return nil, queryErr(src, field, err)
	}
	// Normalise the library's values (ints, typed slices) to JSON's.
	n, derr := decodeJSON(marshal(v))
	if derr != nil {
		return nil, queryErr(src, field, derr)
	}
	return n, nil
}

// replayable replaces the library's $random(), $now() and $millis() for
// an evaluation inside a durable execution (Options.Seed, NowStep) with
// ones a replay answers the same: $random() takes the thread's seeded
// draws (as States.MathRandom does), $now() and $millis() one recorded
// time per evaluation (JSONata gives every call in one evaluation the
// same time). The time is taken only when src names them, so an
// expression without them records nothing. Nil: keep the library's.
func (env *jenv) replayable(src string) map[string]jsonata.Extension {
	th := env.th
	if th == nil {
		return nil
	}
	exts := map[string]jsonata.Extension{}
	if th.ex.opts.Seed != "" && strings.Contains(src, "$random") {
		exts["random"] = jsonata.Extension{Func: func() float64 {
			b := th.draw()
			return float64(binary.LittleEndian.Uint64(b[:8])>>11) / (1 << 53)
		}}
	}
	if th.ex.opts.NowStep != nil && (strings.Contains(src, "$now") || strings.Contains(src, "$millis")) {
		ms := th.jsonataNow().UnixMilli()
		exts["millis"] = jsonata.Extension{Func: func() int64 { return ms }}
		exts["now"] = jsonata.Extension{Func: func(picture, tz jtypes.OptionalString) (string, error) {
			return jlib.FromMillis(ms, picture, tz)
		}}
	}
	if len(exts) == 0 {
		return nil
	}
	return exts
}

func queryErr(src, field string, err error) *Error {
	if errors.Is(err, jsonata.ErrUndefined) || errors.Is(err, jtypes.ErrUndefined) {
		return &Error{Name: ErrQueryEvaluationError, Cause: fmt.Sprintf("The JSONata expression '%s' specified for the field '%s' returned nothing (undefined).", src, field)}
	}
	return &Error{Name: ErrQueryEvaluationError, Cause: fmt.Sprintf("An error occurred while evaluating the JSONata expression '%s' specified for the field '%s': %v", src, field, err)}
}

// jFields are the fields each state type accepts in JSONata, beyond Type,
// Comment and QueryLanguage.
var jFields = map[string][]string{
	"Pass":     {"Next", "End", "Output", "Assign"},
	"Task":     {"Next", "End", "Resource", "Arguments", "Output", "Assign", "TimeoutSeconds", "HeartbeatSeconds", "Retry", "Catch", "Credentials"},
	"Choice":   {"Choices", "Default", "Output", "Assign"},
	"Wait":     {"Next", "End", "Seconds", "Timestamp", "Output", "Assign"},
	"Succeed":  {"Output"},
	"Fail":     {"Error", "Cause"},
	"Parallel": {"Next", "End", "Branches", "Arguments", "Output", "Assign", "Retry", "Catch"},
	"Map":      {"Next", "End", "Items", "ItemSelector", "ItemProcessor", "Iterator", "MaxConcurrency", "ToleratedFailureCount", "ToleratedFailurePercentage", "ItemBatcher", "ItemReader", "ResultWriter", "Label", "Output", "Assign", "Retry", "Catch"},
}

// parseJSONataFields reads a JSONata state's fields into st.j.
func parseJSONataFields(st *State, o *obj, d *diags) {
	j := &jstate{}
	st.j = j
	tmpl := func(k string) *jtemplate {
		v, ok := o.raw(k)
		if !ok {
			return nil
		}
		return compileJ(v, k, o.at+"/"+k, d)
	}
	j.arguments = tmpl("Arguments")
	j.output = tmpl("Output")
	j.assign = tmpl("Assign")
	if j.assign != nil {
		if v, _ := o.raw("Assign"); v != nil {
			if _, ok := v.(map[string]any); !ok {
				d.schema(o.at+"/Assign", "The value for the field 'Assign' must be an OBJECT")
			}
		}
	}
	switch st.Type {
	case "Task":
		if !o.has("Resource") {
			d.schema(o.at, "These fields are required: [Resource]")
		}
		st.resource = o.str("Resource")
		o.raw("Credentials")
		j.timeout = tmpl("TimeoutSeconds")
		j.heartbeat = tmpl("HeartbeatSeconds")
	case "Wait":
		j.seconds = tmpl("Seconds")
		j.timestamp = tmpl("Timestamp")
		if (j.seconds == nil) == (j.timestamp == nil) {
			d.schema(o.at, "Exactly one of these fields must be specified: [Seconds, Timestamp]")
		}
	case "Fail":
		j.errT = tmpl("Error")
		j.causeT = tmpl("Cause")
	case "Choice":
		v, ok := o.raw("Choices")
		arr, isArr := v.([]any)
		if !ok {
			d.schema(o.at, "These fields are required: [Choices]")
		} else if !isArr || len(arr) == 0 {
			d.schema(o.at+"/Choices", "The value for the field 'Choices' must be a non-empty ARRAY")
		}
		for i, e := range arr {
			at := fmt.Sprintf("%s/Choices[%d]", o.at, i)
			m, ok := e.(map[string]any)
			if !ok {
				d.schema(at, "A choice rule must be an OBJECT")
				continue
			}
			ro := newObj(m, at, d)
			ro.str("Comment")
			r := &jrule{nextStr: ro.str("Next")}
			if !ro.has("Next") {
				d.schema(at, "These fields are required: [Next]")
			}
			if c, ok := ro.raw("Condition"); ok {
				r.condition = compileJ(c, "Condition", at+"/Condition", d)
			} else {
				d.schema(at, "These fields are required: [Condition]")
			}
			if v, ok := ro.raw("Output"); ok {
				r.output = compileJ(v, "Output", at+"/Output", d)
			}
			if v, ok := ro.raw("Assign"); ok {
				r.assign = compileJ(v, "Assign", at+"/Assign", d)
			}
			ro.done()
			j.rules = append(j.rules, r)
		}
		st.nextStr = o.str("Default")
	case "Map":
		j.items = tmpl("Items")
		j.itemSelector = tmpl("ItemSelector")
		j.maxConc = tmpl("MaxConcurrency")
		j.tolCount = tmpl("ToleratedFailureCount")
		j.tolPct = tmpl("ToleratedFailurePercentage")
		for _, k := range []string{"ItemBatcher", "ItemReader", "ResultWriter"} {
			if o.has(k) {
				o.raw(k)
				d.schema(o.at+"/"+k, "Field '%s' is not supported by the in-process interpreter", k)
			}
		}
		o.str("Label")
	}
}

// parseJCatch reads a JSONata catcher's Output and Assign.
func parseJCatch(co *obj) jcatch {
	var c jcatch
	if v, ok := co.raw("Output"); ok {
		c.output = compileJ(v, "Output", co.at+"/Output", co.d)
	}
	if v, ok := co.raw("Assign"); ok {
		c.assign = compileJ(v, "Assign", co.at+"/Assign", co.d)
	}
	return c
}
