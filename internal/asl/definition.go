package asl

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Definition is a parsed, validated state machine, ready to Run. It is
// immutable and safe to run concurrently.
type Definition struct {
	Comment        string
	TimeoutSeconds int
	root           *machine
}

// machine is a StartAt/States pair: the top level, a Parallel branch or a
// Map's item processor.
type machine struct {
	startAt string
	start   *State
	states  map[string]*State
}

// State is one compiled state.
type State struct {
	Name    string
	Type    string
	Comment string
	// j is set for states written in JSONata.
	j *jstate
	// enteredEvent and exitedEvent are the history event types, built once.
	enteredEvent, exitedEvent string
	// builds: the state can produce data larger than its input (templates,
	// Result, Parallel, Map), so its output is measured against MaxPayload.
	builds  bool
	next    *State
	nextStr string
	end     bool

	inputPath, outputPath *Path
	inputNull, outputNull bool
	resultPath            *Path
	resultNull            bool
	params, selector      *template
	result                any
	hasResult             bool

	// Task
	resource         string
	timeoutSeconds   float64
	timeoutPath      *Path
	heartbeatSeconds float64
	heartbeatPath    *Path
	retry            []retrier
	catch            []catcher
	// Choice
	choices []*rule
	deflt   *State
	// Wait
	seconds       float64
	hasSeconds    bool
	secondsPath   *Path
	timestamp     time.Time
	hasTimestamp  bool
	timestampPath *Path
	// Fail
	errName, cause       string
	errorExpr, causeExpr *expr
	// Parallel
	branches []*machine
	// Map
	processor        *machine
	itemsPath        *Path
	itemSelector     *template
	maxConcurrency   int
	maxConcPath      *Path
	toleratedCount   int
	toleratedPct     float64
	hasTolerance     bool
	toleratedCntPath *Path
	toleratedPctPath *Path
}

type retrier struct {
	errorEquals []string
	interval    float64
	maxAttempts int
	backoff     float64
	maxDelay    float64
	fullJitter  bool
}

type catcher struct {
	errorEquals []string
	next        *State
	nextStr     string
	resultPath  *Path
	resultNull  bool
	j           *jcatch // JSONata: Output and Assign
}

// expr is a path or an intrinsic call (ErrorPath, CausePath).
type expr struct {
	path *Path
	fn   *call
}

func (e *expr) eval(s *scope) (any, bool, *Error) {
	if e.fn != nil {
		v, err := e.fn.eval(s)
		return v, err == nil, err
	}
	v, ok := s.resolve(e.path)
	return v, ok, nil
}

// diags collects diagnostics.
type diags struct {
	list  []Diagnostic
	topQL string // the machine's QueryLanguage, inherited by every state
}

func (d *diags) add(code, at, format string, args ...any) {
	d.list = append(d.list, Diagnostic{Code: code, Message: fmt.Sprintf(format, args...), Location: at})
}

func (d *diags) schema(at, format string, args ...any) { d.add(CodeSchema, at, format, args...) }

// Parse parses and validates a JSON definition. A *DefinitionError lists
// every problem found, each with its JSON pointer.
func Parse(data []byte) (*Definition, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, &DefinitionError{Diagnostics: []Diagnostic{{Code: CodeInvalidJSON, Message: err.Error()}}}
	}
	top, ok := v.(map[string]any)
	if !ok {
		return nil, &DefinitionError{Diagnostics: []Diagnostic{{Code: CodeSchema, Message: "The state machine definition must be an object", Location: "/"}}}
	}
	d := &diags{}
	def := &Definition{}
	o := newObj(top, "", d)
	def.Comment = o.str("Comment")
	o.str("Version")
	d.topQL = "JSONPath"
	switch ql := o.str("QueryLanguage"); ql {
	case "", "JSONPath":
	case "JSONata":
		d.topQL = ql
	default:
		d.schema("/QueryLanguage", "The field 'QueryLanguage' should have one of these values: [JSONata, JSONPath]")
	}
	if t, ok := o.num("TimeoutSeconds"); ok {
		if t < 0 || t != math.Trunc(t) {
			d.schema("/TimeoutSeconds", "The value for the field 'TimeoutSeconds' must be a non-negative INTEGER")
		}
		def.TimeoutSeconds = int(t)
	}
	def.root = parseMachine(o, "", d)
	o.done()
	if len(d.list) > 0 {
		return nil, &DefinitionError{Diagnostics: d.list}
	}
	return def, nil
}

// obj reads fields of one JSON object and reports unknown ones.
type obj struct {
	m    map[string]any
	at   string
	d    *diags
	used map[string]bool
}

func newObj(m map[string]any, at string, d *diags) *obj {
	return &obj{m: m, at: at, d: d, used: map[string]bool{}}
}

func (o *obj) has(k string) bool { _, ok := o.m[k]; return ok }

func (o *obj) raw(k string) (any, bool) {
	o.used[k] = true
	v, ok := o.m[k]
	return v, ok
}

func (o *obj) str(k string) string {
	v, ok := o.raw(k)
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		o.d.schema(o.at+"/"+k, "The value for the field '%s' must be a STRING", k)
	}
	return s
}

func (o *obj) num(k string) (float64, bool) {
	v, ok := o.raw(k)
	if !ok {
		return 0, false
	}
	f, ok := v.(float64)
	if !ok {
		o.d.schema(o.at+"/"+k, "The value for the field '%s' must be a NUMBER", k)
	}
	return f, ok
}

func (o *obj) intField(k string, min int) (int, bool) {
	f, ok := o.num(k)
	if !ok {
		return 0, false
	}
	if f != math.Trunc(f) || f < float64(min) {
		o.d.schema(o.at+"/"+k, "The value for the field '%s' must be an INTEGER greater than or equal to %d", k, min)
		return 0, false
	}
	return int(f), true
}

func (o *obj) boolean(k string) bool {
	v, ok := o.raw(k)
	if !ok {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		o.d.schema(o.at+"/"+k, "The value for the field '%s' must be a BOOLEAN", k)
	}
	return b
}

// path reads a path field; isNull reports an explicit null.
func (o *obj) path(k string, reference bool) (p *Path, isNull bool) {
	v, ok := o.raw(k)
	if !ok {
		return nil, false
	}
	if v == nil {
		return nil, true
	}
	s, ok := v.(string)
	if !ok {
		o.d.schema(o.at+"/"+k, "The value for the field '%s' must be a STRING", k)
		return nil, false
	}
	p, err := parsePath(s)
	if err != nil || (reference && (!p.definite() || p.context)) {
		if reference {
			o.d.schema(o.at+"/"+k, "The value for the field '%s' must be a valid ReferencePath", k)
		} else {
			o.d.schema(o.at+"/"+k, "The value for the field '%s' must be a valid JSONPath", k)
		}
		return nil, false
	}
	return p, false
}

func (o *obj) done() {
	var unknown []string
	for k := range o.m {
		if !o.used[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		o.d.schema(o.at, "Field '%s' is not supported", k)
	}
}

func (o *obj) sub(k string) *obj {
	v, ok := o.raw(k)
	if !ok {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		o.d.schema(o.at+"/"+k, "The value for the field '%s' must be an OBJECT", k)
		return nil
	}
	return newObj(m, o.at+"/"+k, o.d)
}

var stateTypes = []string{"Task", "Wait", "Pass", "Succeed", "Fail", "Choice", "Parallel", "Map"}

func parseMachine(o *obj, at string, d *diags) *machine {
	m := &machine{states: map[string]*State{}}
	if !o.has("StartAt") {
		d.schema(o.at, "These fields are required: [StartAt]")
	}
	m.startAt = o.str("StartAt")
	so := o.sub("States")
	if so == nil {
		if !o.has("States") {
			d.schema(o.at, "These fields are required: [States]")
		}
		return m
	}
	names := make([]string, 0, len(so.m))
	for k := range so.m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		so.used[name] = true
		sat := so.at + "/" + escapePointer(name)
		if len(name) > 80 {
			d.schema(sat, "State name '%s' is longer than 80 characters", name)
		}
		sm, ok := so.m[name].(map[string]any)
		if !ok {
			d.schema(sat, "The value for the state '%s' must be an OBJECT", name)
			continue
		}
		m.states[name] = parseState(name, newObj(sm, sat, d), d)
	}
	if m.startAt != "" {
		if st, ok := m.states[m.startAt]; ok {
			m.start = st
		} else {
			d.add(CodeMissingTarget, o.at+"/StartAt", "Missing 'Next' target: %s", m.startAt)
		}
	}
	// Resolve transitions.
	for _, name := range names {
		st := m.states[name]
		if st == nil {
			continue
		}
		sat := so.at + "/" + escapePointer(name)
		resolve := func(target, loc string) *State {
			if target == "" {
				return nil
			}
			t, ok := m.states[target]
			if !ok {
				d.add(CodeMissingTarget, loc, "Missing 'Next' target: %s", target)
			}
			return t
		}
		nextLoc := sat + "/Next"
		if st.Type == "Choice" {
			nextLoc = sat + "/Default"
		}
		st.next = resolve(st.nextStr, nextLoc)
		for i := range st.catch {
			st.catch[i].next = resolve(st.catch[i].nextStr, fmt.Sprintf("%s/Catch[%d]/Next", sat, i))
		}
		if st.Type == "Choice" {
			for i, r := range st.choices {
				r.next = resolve(r.nextStr, fmt.Sprintf("%s/Choices[%d]/Next", sat, i))
			}
			if st.j != nil {
				for i, r := range st.j.rules {
					r.next = resolve(r.nextStr, fmt.Sprintf("%s/Choices[%d]/Next", sat, i))
				}
			}
			if st.deflt == nil && st.nextStr != "" {
				st.deflt = st.next
				st.next = nil
			}
		}
	}
	// Reachability and terminal states.
	if m.start != nil {
		seen := map[*State]bool{}
		var walk func(s *State)
		walk = func(s *State) {
			if s == nil || seen[s] {
				return
			}
			seen[s] = true
			walk(s.next)
			walk(s.deflt)
			for _, c := range s.catch {
				walk(c.next)
			}
			for _, r := range s.choices {
				walk(r.next)
			}
			if s.j != nil {
				for _, r := range s.j.rules {
					walk(r.next)
				}
			}
		}
		walk(m.start)
		terminal := false
		for _, st := range m.states {
			if st.end || st.Type == "Succeed" || st.Type == "Fail" {
				terminal = true
			}
		}
		// As AWS: a machine without a terminal state gets that one
		// diagnostic (no location), which suppresses the reachability walk.
		if !terminal && len(names) > 0 {
			d.add(CodeNoTerminalState, "", "Workflow has no terminal state")
		} else {
			for _, name := range names {
				if st := m.states[name]; st != nil && !seen[st] {
					d.add(CodeUnreachable, so.at+"/"+escapePointer(name), "State \"%s\" is not reachable.", name)
				}
			}
		}
	}
	return m
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// fields each state type accepts, beyond Type and Comment.
var stateFields = map[string][]string{
	"Pass":     {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "Result", "QueryLanguage"},
	"Task":     {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Resource", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath", "Retry", "Catch", "Credentials", "QueryLanguage"},
	"Choice":   {"InputPath", "OutputPath", "Choices", "Default", "QueryLanguage"},
	"Wait":     {"Next", "End", "InputPath", "OutputPath", "Seconds", "SecondsPath", "Timestamp", "TimestampPath", "QueryLanguage"},
	"Succeed":  {"InputPath", "OutputPath", "QueryLanguage"},
	"Fail":     {"Error", "Cause", "ErrorPath", "CausePath", "QueryLanguage"},
	"Parallel": {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Branches", "Retry", "Catch", "QueryLanguage"},
	"Map":      {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "ItemsPath", "ItemSelector", "ItemProcessor", "Iterator", "MaxConcurrency", "MaxConcurrencyPath", "ToleratedFailureCount", "ToleratedFailurePercentage", "ToleratedFailureCountPath", "ToleratedFailurePercentagePath", "ItemBatcher", "ItemReader", "ResultWriter", "Label", "Retry", "Catch", "QueryLanguage"},
}

func parseState(name string, o *obj, d *diags) *State {
	st := &State{Name: name}
	st.Comment = o.str("Comment")
	if !o.has("Type") {
		d.schema(o.at, "These fields are required: [Type]")
		o.used = map[string]bool{}
		for k := range o.m {
			o.used[k] = true
		}
		return st
	}
	st.Type = o.str("Type")
	allowed, ok := stateFields[st.Type]
	if !ok {
		d.schema(o.at+"/Type", "The field 'Type' should have one of these values: [%s]", strings.Join(stateTypes, ", "))
		for k := range o.m {
			o.used[k] = true
		}
		return st
	}
	ql := d.topQL
	switch v := o.str("QueryLanguage"); v {
	case "":
	case "JSONata":
		ql = v
	case "JSONPath":
		if d.topQL == "JSONata" {
			d.schema(o.at, "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine")
		}
	default:
		d.schema(o.at+"/QueryLanguage", "The field 'QueryLanguage' should have one of these values: [JSONata, JSONPath]")
	}
	if ql == "JSONata" {
		allowed = jFields[st.Type]
	}
	st.enteredEvent, st.exitedEvent = st.Type+"StateEntered", st.Type+"StateExited"
	for _, f := range []string{"Arguments", "Output", "Items"} {
		if ql == "JSONPath" && o.has(f) {
			o.raw(f)
			d.schema(o.at, "The QueryLanguage is set to 'JSONPath', but field '%s' is only supported for the 'JSONata' QueryLanguage", f)
		}
	}
	allow := map[string]bool{"Type": true, "Comment": true, "QueryLanguage": true}
	for _, f := range allowed {
		allow[f] = true
	}
	// Transition.
	if allow["Next"] {
		st.nextStr = o.str("Next")
		st.end = o.boolean("End")
		hasNext, hasEnd := o.has("Next"), o.has("End")
		switch {
		case hasNext && st.end:
			d.schema(o.at, "Only one of these fields may be specified: [Next, End]")
		case !hasNext && !st.end:
			d.schema(o.at, "These fields are required: [Next]")
		case hasEnd && !st.end && !hasNext:
		}
		if hasEnd && !st.end {
			d.schema(o.at+"/End", "The value for the field 'End' must be true")
		}
	}
	// Data flow fields.
	resultPathSet := false
	if allow["InputPath"] {
		st.inputPath, st.inputNull = o.path("InputPath", false)
		st.outputPath, st.outputNull = o.path("OutputPath", false)
	}
	if allow["ResultPath"] {
		resultPathSet = o.has("ResultPath")
		st.resultPath, st.resultNull = o.path("ResultPath", true)
		if !resultPathSet {
			st.resultPath = &Path{src: "$"}
		}
	}
	if allow["Parameters"] {
		if v, ok := o.raw("Parameters"); ok {
			st.params = compileTemplate(v, o.at+"/Parameters", d)
		}
	}
	if allow["ResultSelector"] {
		if v, ok := o.raw("ResultSelector"); ok {
			if _, isObj := v.(map[string]any); !isObj {
				d.schema(o.at+"/ResultSelector", "The value for the field 'ResultSelector' must be an OBJECT")
			}
			st.selector = compileTemplate(v, o.at+"/ResultSelector", d)
		}
	}
	if allow["Retry"] {
		st.retry = parseRetry(o, d)
		st.catch = parseCatch(o, d, ql == "JSONata")
	}
	if ql == "JSONata" {
		parseJSONataFields(st, o, d)
	}
	switch {
	case st.j != nil && st.Type != "Parallel" && st.Type != "Map":
	case st.Type == "Map" && st.j != nil:
		parseProcessor(st, o, d)
	case st.Type == "Pass":
		if v, ok := o.raw("Result"); ok {
			st.result, st.hasResult = v, true
		}
	case st.Type == "Task":
		if !o.has("Resource") {
			d.schema(o.at, "These fields are required: [Resource]")
		}
		st.resource = o.str("Resource")
		o.raw("Credentials")
		if o.has("Resource") && st.resource == "" {
			d.add(CodeInvalidResource, o.at+"/Resource", "The resource provided is not a valid ARN or function name")
		}
		parseTimeouts(st, o, d)
	case st.Type == "Choice":
		parseChoices(st, o, d)
	case st.Type == "Wait":
		parseWait(st, o, d)
	case st.Type == "Fail":
		st.errName = o.str("Error")
		st.cause = o.str("Cause")
		st.errorExpr = parseExpr(o, "ErrorPath", d)
		st.causeExpr = parseExpr(o, "CausePath", d)
		if o.has("Error") && o.has("ErrorPath") {
			d.schema(o.at, "Only one of these fields may be specified: [Error, ErrorPath]")
		}
		if o.has("Cause") && o.has("CausePath") {
			d.schema(o.at, "Only one of these fields may be specified: [Cause, CausePath]")
		}
	case st.Type == "Parallel":
		v, ok := o.raw("Branches")
		arr, isArr := v.([]any)
		if !ok {
			d.schema(o.at, "These fields are required: [Branches]")
		} else if !isArr || len(arr) == 0 {
			d.schema(o.at+"/Branches", "The value for the field 'Branches' must be a non-empty ARRAY")
		}
		for i, b := range arr {
			bm, ok := b.(map[string]any)
			bat := fmt.Sprintf("%s/Branches[%d]", o.at, i)
			if !ok {
				d.schema(bat, "A branch must be an OBJECT")
				continue
			}
			bo := newObj(bm, bat, d)
			bo.str("Comment")
			bo.str("QueryLanguage")
			st.branches = append(st.branches, parseMachine(bo, bat, d))
			bo.done()
		}
	case st.Type == "Map":
		parseMap(st, o, d)
	}
	st.builds = st.j != nil || (st.params != nil && !st.params.static) || (st.selector != nil && !st.selector.static) ||
		st.hasResult || st.Type == "Parallel" || st.Type == "Map"
	for k := range o.m {
		if !allow[k] {
			o.used[k] = false
		}
	}
	o.done()
	return st
}

func parseExpr(o *obj, k string, d *diags) *expr {
	v, ok := o.raw(k)
	if !ok {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		d.schema(o.at+"/"+k, "The value for the field '%s' must be a STRING", k)
		return nil
	}
	if strings.HasPrefix(s, "$") {
		p, err := parsePath(s)
		if err != nil || !p.definite() {
			d.schema(o.at+"/"+k, "The value for the field '%s' must be a valid ReferencePath or a valid intrinsic function call", k)
			return nil
		}
		return &expr{path: p}
	}
	c, err := parseCall(s)
	if err != nil {
		d.schema(o.at+"/"+k, "The value for the field '%s' must be a valid ReferencePath or a valid intrinsic function call", k)
		return nil
	}
	return &expr{fn: c}
}

func parseTimeouts(st *State, o *obj, d *diags) {
	if t, ok := o.intField("TimeoutSeconds", 1); ok {
		st.timeoutSeconds = float64(t)
	}
	if t, ok := o.intField("HeartbeatSeconds", 1); ok {
		st.heartbeatSeconds = float64(t)
	}
	st.timeoutPath, _ = o.path("TimeoutSecondsPath", true)
	st.heartbeatPath, _ = o.path("HeartbeatSecondsPath", true)
	if o.has("TimeoutSeconds") && o.has("TimeoutSecondsPath") {
		d.schema(o.at, "Only one of these fields may be specified: [TimeoutSeconds, TimeoutSecondsPath]")
	}
	if o.has("HeartbeatSeconds") && o.has("HeartbeatSecondsPath") {
		d.schema(o.at, "Only one of these fields may be specified: [HeartbeatSeconds, HeartbeatSecondsPath]")
	}
	if st.heartbeatSeconds > 0 {
		// Only an explicit TimeoutSeconds bounds the heartbeat: AWS's
		// default task timeout is the execution's.
		if limit := st.timeoutSeconds; limit > 0 && st.heartbeatSeconds >= limit {
			d.schema(o.at+"/HeartbeatSeconds", "The value for the field 'HeartbeatSeconds' must be smaller than the value for the field 'TimeoutSeconds'")
		}
	}
}

func errorList(o *obj, at string, d *diags) []string {
	v, ok := o.raw("ErrorEquals")
	if !ok {
		d.schema(at, "These fields are required: [ErrorEquals]")
		return nil
	}
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		d.schema(at+"/ErrorEquals", "The value for the field 'ErrorEquals' must be a non-empty ARRAY")
		return nil
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		s, ok := e.(string)
		if !ok {
			d.schema(at+"/ErrorEquals", "The value for the field 'ErrorEquals' must be an ARRAY of STRING")
			continue
		}
		out = append(out, s)
	}
	for _, s := range out {
		if s == ErrAll && len(out) > 1 {
			d.schema(at+"/ErrorEquals", "The States.ALL error type must appear alone in ErrorEquals")
		}
	}
	return out
}

func parseRetry(o *obj, d *diags) []retrier {
	v, ok := o.raw("Retry")
	if !ok {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		d.schema(o.at+"/Retry", "The value for the field 'Retry' must be an ARRAY")
		return nil
	}
	var out []retrier
	for i, e := range arr {
		at := fmt.Sprintf("%s/Retry[%d]", o.at, i)
		m, ok := e.(map[string]any)
		if !ok {
			d.schema(at, "A retrier must be an OBJECT")
			continue
		}
		ro := newObj(m, at, d)
		r := retrier{interval: 1, maxAttempts: 3, backoff: 2}
		r.errorEquals = errorList(ro, at, d)
		if n, ok := ro.intField("IntervalSeconds", 1); ok {
			r.interval = float64(n)
		}
		if n, ok := ro.intField("MaxAttempts", 0); ok {
			r.maxAttempts = n
		}
		if f, ok := ro.num("BackoffRate"); ok {
			if f < 1 {
				d.schema(at+"/BackoffRate", "The value for the field 'BackoffRate' must be greater than or equal to 1.0")
			}
			r.backoff = f
		}
		if n, ok := ro.intField("MaxDelaySeconds", 1); ok {
			r.maxDelay = float64(n)
		}
		switch js := ro.str("JitterStrategy"); js {
		case "", "NONE":
		case "FULL":
			r.fullJitter = true
		default:
			d.schema(at+"/JitterStrategy", "The field 'JitterStrategy' should have one of these values: [FULL, NONE]")
		}
		ro.str("Comment")
		ro.done()
		if contains(r.errorEquals, ErrAll) && i != len(arr)-1 {
			d.schema(at+"/ErrorEquals", "A Retrier with the States.ALL error type must be the last one in the array")
		}
		out = append(out, r)
	}
	return out
}

func parseCatch(o *obj, d *diags, jsonataMode bool) []catcher {
	v, ok := o.raw("Catch")
	if !ok {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		d.schema(o.at+"/Catch", "The value for the field 'Catch' must be an ARRAY")
		return nil
	}
	var out []catcher
	for i, e := range arr {
		at := fmt.Sprintf("%s/Catch[%d]", o.at, i)
		m, ok := e.(map[string]any)
		if !ok {
			d.schema(at, "A catcher must be an OBJECT")
			continue
		}
		co := newObj(m, at, d)
		c := catcher{}
		c.errorEquals = errorList(co, at, d)
		if !co.has("Next") {
			d.schema(at, "These fields are required: [Next]")
		}
		c.nextStr = co.str("Next")
		if jsonataMode {
			jc := parseJCatch(co)
			c.j = &jc
		} else {
			hasRP := co.has("ResultPath")
			c.resultPath, c.resultNull = co.path("ResultPath", true)
			if !hasRP {
				c.resultPath = &Path{src: "$"}
			}
		}
		co.str("Comment")
		co.done()
		if contains(c.errorEquals, ErrAll) && i != len(arr)-1 {
			d.schema(at+"/ErrorEquals", "A Catcher with the States.ALL error type must be the last one in the array")
		}
		out = append(out, c)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func parseWait(st *State, o *obj, d *diags) {
	n := 0
	if f, ok := o.num("Seconds"); ok {
		n++
		if f < 0 || f != math.Trunc(f) {
			d.schema(o.at+"/Seconds", "The value for the field 'Seconds' must be a non-negative INTEGER")
		}
		st.seconds, st.hasSeconds = f, true
	}
	if o.has("Timestamp") {
		n++
		s := o.str("Timestamp")
		t, err := parseTimestamp(s)
		if err != nil {
			d.schema(o.at+"/Timestamp", "The value for the field 'Timestamp' must be a valid timestamp")
		}
		st.timestamp, st.hasTimestamp = t, true
	}
	if o.has("SecondsPath") {
		n++
		st.secondsPath, _ = o.path("SecondsPath", true)
	}
	if o.has("TimestampPath") {
		n++
		st.timestampPath, _ = o.path("TimestampPath", true)
	}
	if n != 1 {
		d.schema(o.at, "Exactly one of these fields must be specified: [Seconds, Timestamp, SecondsPath, TimestampPath]")
	}
}

func parseMap(st *State, o *obj, d *diags) {
	st.itemsPath, _ = o.path("ItemsPath", true)
	if v, ok := o.raw("ItemSelector"); ok {
		st.itemSelector = compileTemplate(v, o.at+"/ItemSelector", d)
	}
	// Legacy Map: Parameters play ItemSelector's part.
	if st.params != nil {
		if st.itemSelector != nil {
			d.schema(o.at, "Only one of these fields may be specified: [ItemSelector, Parameters]")
		}
		st.itemSelector, st.params = st.params, nil
	}
	parseProcessor(st, o, d)
	parseMapLimits(st, o, d)
}

// parseProcessor reads a Map's ItemProcessor (or legacy Iterator).
func parseProcessor(st *State, o *obj, d *diags) {
	procKey := "ItemProcessor"
	if o.has("Iterator") {
		procKey = "Iterator"
		if o.has("ItemProcessor") {
			d.schema(o.at, "Only one of these fields may be specified: [ItemProcessor, Iterator]")
		}
	}
	po := o.sub(procKey)
	if po == nil {
		if !o.has(procKey) {
			d.schema(o.at, "These fields are required: [ItemProcessor]")
		}
	} else {
		po.str("Comment")
		if pc := po.sub("ProcessorConfig"); pc != nil {
			switch m := pc.str("Mode"); m {
			case "", "INLINE", "DISTRIBUTED":
			default:
				d.schema(pc.at+"/Mode", "The field 'Mode' should have one of these values: [INLINE, DISTRIBUTED]")
			}
			pc.str("ExecutionType")
			pc.done()
		}
		st.processor = parseMachine(po, po.at, d)
		po.done()
	}
}

func parseMapLimits(st *State, o *obj, d *diags) {
	if n, ok := o.intField("MaxConcurrency", 0); ok {
		st.maxConcurrency = n
	}
	st.maxConcPath, _ = o.path("MaxConcurrencyPath", true)
	if n, ok := o.intField("ToleratedFailureCount", 0); ok {
		st.toleratedCount, st.hasTolerance = n, true
	}
	if f, ok := o.num("ToleratedFailurePercentage"); ok {
		if f < 0 || f > 100 {
			d.schema(o.at+"/ToleratedFailurePercentage", "The value for the field 'ToleratedFailurePercentage' must be between 0 and 100")
		}
		st.toleratedPct, st.hasTolerance = f, true
		if !o.has("ToleratedFailureCount") {
			st.toleratedCount = -1
		}
	} else if st.hasTolerance {
		st.toleratedPct = -1
	}
	st.toleratedCntPath, _ = o.path("ToleratedFailureCountPath", true)
	st.toleratedPctPath, _ = o.path("ToleratedFailurePercentagePath", true)
	for _, k := range []string{"ItemBatcher", "ItemReader", "ResultWriter"} {
		if o.has(k) {
			o.raw(k)
			d.schema(o.at+"/"+k, "Field '%s' is not supported by the in-process interpreter", k)
		}
	}
	o.str("Label")
}
