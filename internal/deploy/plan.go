package deploy

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// State is what is deployed now, across all projects, as read from the
// store before planning.
type State struct {
	Functions []record.Function
	Active    map[string]record.Version // function name → its active version
	Routes    []record.Route
	Queues    []record.QueueConfig // all projects' queues, internal ones included
	Topics    []record.TopicConfig
	Schedules []record.Schedule
	Databases []record.DatabaseConfig // all projects' databases
	KV        []record.KVNamespace    // all projects' KV namespaces
	// StateMachines are the deploying project's state machines (the
	// store lists them per project).
	StateMachines []record.StateMachine
}

// Plan is the difference between a Spec and the deployed State of its
// project. Every list is sorted.
type Plan struct {
	Project      string           `json:"project"`
	Add          []FunctionChange `json:"add,omitempty"`
	Change       []FunctionChange `json:"change,omitempty"`
	Remove       []string         `json:"remove,omitempty"`
	Unchanged    []string         `json:"unchanged,omitempty"`
	RoutesAdd    []record.Route   `json:"routes_add,omitempty"`
	RoutesRemove []record.Route   `json:"routes_remove,omitempty"`
	// RoutesChange are routes kept with other attributes (async, rate
	// limit, the workflow they start).
	RoutesChange []RouteChange `json:"routes_change,omitempty"`

	// Events: every queue (user and internal), topic and schedule that the
	// deploy adds, changes or removes.
	QueuesAdd       []record.QueueConfig `json:"queues_add,omitempty"`
	QueuesChange    []QueueChange        `json:"queues_change,omitempty"`
	QueuesRemove    []record.QueueConfig `json:"queues_remove,omitempty"`
	TopicsAdd       []record.TopicConfig `json:"topics_add,omitempty"`
	TopicsChange    []TopicChange        `json:"topics_change,omitempty"`
	TopicsRemove    []record.TopicConfig `json:"topics_remove,omitempty"`
	SchedulesAdd    []record.Schedule    `json:"schedules_add,omitempty"`
	SchedulesChange []ScheduleChange     `json:"schedules_change,omitempty"`
	SchedulesRemove []record.Schedule    `json:"schedules_remove,omitempty"`

	// Bindings: databases and KV namespaces the deploy adds, changes or
	// removes. A KV namespace has no settings, so it is only added or
	// removed (which deletes its entries).
	DatabasesAdd    []record.DatabaseConfig `json:"databases_add,omitempty"`
	DatabasesChange []DatabaseChange        `json:"databases_change,omitempty"`
	DatabasesRemove []record.DatabaseConfig `json:"databases_remove,omitempty"`
	KVAdd           []record.KVNamespace    `json:"kv_add,omitempty"`
	KVRemove        []record.KVNamespace    `json:"kv_remove,omitempty"`

	// Workflows the deploy adds, changes or removes. They are part of
	// their function's config, so each also shows as a change of that
	// function (a new version).
	WorkflowsAdd    []Workflow       `json:"workflows_add,omitempty"`
	WorkflowsChange []WorkflowChange `json:"workflows_change,omitempty"`
	WorkflowsRemove []Workflow       `json:"workflows_remove,omitempty"`

	// State machines (state_machines:) the deploy adds, changes or
	// removes; ApplyStateMachines carries them out.
	StateMachinesAdd    []record.StateMachine `json:"state_machines_add,omitempty"`
	StateMachinesChange []StateMachineChange  `json:"state_machines_change,omitempty"`
	StateMachinesRemove []record.StateMachine `json:"state_machines_remove,omitempty"`
}

// RouteChange is a route whose method, path and function stay while its
// attributes change.
type RouteChange struct {
	Old    record.Route `json:"old"`
	New    record.Route `json:"new"`
	Fields []string     `json:"fields"` // "async off→on", "rate_limit 10→100/s"
}

// QueueChange is a queue whose settings change; its messages stay.
type QueueChange struct {
	Old    record.QueueConfig `json:"old"`
	New    record.QueueConfig `json:"new"`
	Fields []string           `json:"fields"`
}

// TopicChange is a topic whose subscribed queues change.
type TopicChange struct {
	Old    record.TopicConfig `json:"old"`
	New    record.TopicConfig `json:"new"`
	Fields []string           `json:"fields"` // "+audit", "-_topic.t.fn"
}

// ScheduleChange is a schedule with a new spec or zone.
type ScheduleChange struct {
	Old record.Schedule `json:"old"`
	New record.Schedule `json:"new"`
}

// FunctionChange is a function that gets a new version.
type FunctionChange struct {
	Name string               `json:"name"`
	Old  *record.Version      `json:"old,omitempty"` // nil when the function is new
	New  apitype.FunctionSpec `json:"new"`
	// Fields describes the change for people: "memory 128→256 MB",
	// "env ~KEY". Env values never appear: they may be secrets.
	Fields []string `json:"fields,omitempty"`
}

// Empty reports whether applying the plan would change nothing.
func (p *Plan) Empty() bool {
	return len(p.Add)+len(p.Change)+len(p.Remove)+len(p.RoutesAdd)+len(p.RoutesRemove)+len(p.RoutesChange)+
		len(p.QueuesAdd)+len(p.QueuesChange)+len(p.QueuesRemove)+
		len(p.TopicsAdd)+len(p.TopicsChange)+len(p.TopicsRemove)+
		len(p.SchedulesAdd)+len(p.SchedulesChange)+len(p.SchedulesRemove)+
		len(p.DatabasesAdd)+len(p.DatabasesChange)+len(p.DatabasesRemove)+len(p.KVAdd)+len(p.KVRemove)+
		len(p.WorkflowsAdd)+len(p.WorkflowsChange)+len(p.WorkflowsRemove)+
		len(p.StateMachinesAdd)+len(p.StateMachinesChange)+len(p.StateMachinesRemove) == 0
}

// Compute plans spec against cur. It validates spec first. It refuses
// (with an error wrapping store.ErrConflict) to take over a function name or
// a route that belongs to another project.
//
// A function whose module digest and config equal its active version's is
// unchanged and gets no new version, so deploying the same thing twice is a
// no-op. An empty Kind in the spec (a prebuilt module whose kind the server
// detects) equals any deployed kind: the kind follows from the module, and a
// different module is a change anyway. Workflows compare as a set: their
// order in the spec changes nothing, and new versions list them sorted.
func Compute(spec apitype.Spec, cur State) (*Plan, error) {
	if err := Validate(spec); err != nil {
		return nil, err
	}
	spec = sortWorkflows(spec)
	var conflicts []error
	deployed := make(map[string]record.Function, len(cur.Functions))
	for _, f := range cur.Functions {
		deployed[f.Name] = f
	}

	p := &Plan{Project: spec.Project}
	wanted := make(map[string]bool, len(spec.Functions))
	for _, fs := range spec.Functions {
		wanted[fs.Name] = true
		f, exists := deployed[fs.Name]
		switch {
		case !exists:
			p.Add = append(p.Add, FunctionChange{Name: fs.Name, New: fs, Fields: describe(fs)})
		case f.Project != spec.Project:
			conflicts = append(conflicts, fmt.Errorf("function %q belongs to project %q; rename it or remove it there first: %w",
				fs.Name, f.Project, store.ErrConflict))
		default:
			old, ok := cur.Active[fs.Name]
			if !ok {
				p.Change = append(p.Change, FunctionChange{Name: fs.Name, New: fs, Fields: []string{"no active version"}})
				continue
			}
			fields := diff(old, fs)
			if len(fields) == 0 {
				p.Unchanged = append(p.Unchanged, fs.Name)
				continue
			}
			o := old
			p.Change = append(p.Change, FunctionChange{Name: fs.Name, Old: &o, New: fs, Fields: fields})
		}
	}
	for _, f := range cur.Functions {
		if f.Project == spec.Project && !wanted[f.Name] {
			p.Remove = append(p.Remove, f.Name)
		}
	}

	// Routes: refuse any that would take paths another project owns.
	var current []record.Route
	for _, r := range cur.Routes {
		if r.Project == spec.Project {
			current = append(current, r)
		}
	}
	desired := storeRoutes(spec)
	conflicts = append(conflicts, RouteOwnershipConflicts(spec.Project, desired, cur.Routes)...)
	ev := Events(spec, time.Time{})
	conflicts = append(conflicts, p.diffEvents(ev, cur)...)
	conflicts = append(conflicts, p.diffBindings(Bindings(spec), cur)...)
	conflicts = append(conflicts, p.diffWorkflows(spec, cur)...)
	if len(conflicts) > 0 {
		return nil, fmt.Errorf("deploy project %q: %w", spec.Project, errors.Join(conflicts...))
	}
	p.RoutesAdd, p.RoutesChange, p.RoutesRemove = diffRoutes(current, desired)
	p.diffStateMachines(spec, cur.StateMachines)

	sortChanges(p.Add)
	sortChanges(p.Change)
	slices.Sort(p.Remove)
	slices.Sort(p.Unchanged)
	return p, nil
}

func sortChanges(cs []FunctionChange) {
	slices.SortFunc(cs, func(a, b FunctionChange) int { return strings.Compare(a.Name, b.Name) })
}

func diffRoutes(current, desired []record.Route) (add []record.Route, change []RouteChange, remove []record.Route) {
	find := func(set []record.Route, r record.Route) (record.Route, bool) {
		i := slices.IndexFunc(set, func(x record.Route) bool {
			return x.Method == r.Method && x.Path == r.Path && x.Function == r.Function
		})
		if i < 0 {
			return record.Route{}, false
		}
		return set[i], true
	}
	for _, r := range desired {
		old, ok := find(current, r)
		switch {
		case !ok:
			add = append(add, r)
		case old.Async != r.Async || old.RateLimit != r.RateLimit || old.RateBurst != r.RateBurst || old.Workflow != r.Workflow ||
			old.Object != r.Object || old.ObjectParam != r.ObjectParam || old.WebSocket != r.WebSocket:
			change = append(change, RouteChange{Old: old, New: r, Fields: routeFields(old, r)})
		}
	}
	for _, r := range current {
		if _, ok := find(desired, r); !ok {
			remove = append(remove, r)
		}
	}
	slices.SortFunc(add, compareRoutes)
	slices.SortFunc(remove, compareRoutes)
	slices.SortFunc(change, func(a, b RouteChange) int { return compareRoutes(a.New, b.New) })
	return add, change, remove
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func rateString(r float64) string {
	if r == 0 {
		return "none"
	}
	return strconv.FormatFloat(r, 'f', -1, 64) + "/s"
}

func routeFields(o, n record.Route) []string {
	var out []string
	if o.Workflow != n.Workflow {
		out = append(out, "workflow "+noneIfEmpty(o.Workflow)+"→"+noneIfEmpty(n.Workflow))
	}
	if o.Object != n.Object || o.ObjectParam != n.ObjectParam {
		out = append(out, "object "+objectTarget(o)+"→"+objectTarget(n))
	}
	if o.WebSocket != n.WebSocket {
		out = append(out, "websocket "+onOff(o.WebSocket)+"→"+onOff(n.WebSocket))
	}
	if o.Async != n.Async {
		out = append(out, "async "+onOff(o.Async)+"→"+onOff(n.Async))
	}
	if o.RateLimit != n.RateLimit {
		out = append(out, "rate_limit "+rateString(o.RateLimit)+"→"+rateString(n.RateLimit))
	}
	if o.RateBurst != n.RateBurst {
		out = append(out, fmt.Sprintf("burst %d→%d", o.RateBurst, n.RateBurst))
	}
	return out
}

// objectTarget names the object a route forwards to: "Room by {name}".
func objectTarget(r record.Route) string {
	if r.Object == "" {
		return "none"
	}
	return r.Object + " by {" + r.ObjectParam + "}"
}

// routeAttrs describes a new route's attributes, "" when it has none.
func routeAttrs(r record.Route) string {
	var out []string
	if r.Workflow != "" {
		out = append(out, "starts workflow "+r.Workflow)
	}
	if r.Object != "" {
		out = append(out, "object "+objectTarget(r))
	}
	if r.WebSocket {
		out = append(out, "websocket")
	}
	if r.Async {
		out = append(out, "async")
	}
	if r.RateLimit > 0 {
		out = append(out, "rate_limit "+rateString(r.RateLimit), fmt.Sprintf("burst %d", r.RateBurst))
	}
	if len(out) == 0 {
		return ""
	}
	return " (" + strings.Join(out, ", ") + ")"
}

// shortSHA is enough of a digest for people to tell modules apart.
func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// eventsName is how plans write an event shape ("" is CloudEvents).
func eventsName(e string) string {
	if e == record.EventsCloudEvents {
		return "cloudevents"
	}
	return e
}

func timeoutString(ms int64) string {
	return (time.Duration(ms) * time.Millisecond).String()
}

// describe lists a new function's settings.
func describe(fs apitype.FunctionSpec) []string {
	c := fs.Config
	kind := c.Kind
	if kind == "" {
		kind = "detected"
	}
	out := []string{
		"module " + shortSHA(fs.ModuleSHA256),
		"kind " + kind,
		fmt.Sprintf("memory %d MB", c.MemoryMB),
		"timeout " + timeoutString(c.TimeoutMS),
		fmt.Sprintf("max_concurrency %d", c.MaxConcurrency),
	}
	if c.CPUMS != 0 {
		out = append(out, fmt.Sprintf("cpu_ms %d", c.CPUMS))
	}
	if c.Events != record.EventsCloudEvents {
		out = append(out, "events "+c.Events)
	}
	for _, k := range sortedKeys(c.Env) {
		out = append(out, "env +"+k)
	}
	out = append(out, describeBindings(c)...)
	out = append(out, functionWorkflowFields(record.FunctionConfig{}, c)...)
	return append(out, functionObjectFields(record.FunctionConfig{}, c)...)
}

// diff lists what differs between a deployed version and a wanted function;
// nothing when they are the same version.
func diff(old record.Version, fs apitype.FunctionSpec) []string {
	var out []string
	o, n := old.Config, fs.Config
	if old.ModuleSHA256 != fs.ModuleSHA256 {
		out = append(out, "module "+shortSHA(old.ModuleSHA256)+"→"+shortSHA(fs.ModuleSHA256))
	}
	if n.Kind != "" && n.Kind != o.Kind {
		out = append(out, "kind "+o.Kind+"→"+n.Kind)
	}
	if o.MemoryMB != n.MemoryMB {
		out = append(out, fmt.Sprintf("memory %d→%d MB", o.MemoryMB, n.MemoryMB))
	}
	if o.TimeoutMS != n.TimeoutMS {
		out = append(out, "timeout "+timeoutString(o.TimeoutMS)+"→"+timeoutString(n.TimeoutMS))
	}
	if o.CPUMS != n.CPUMS {
		out = append(out, fmt.Sprintf("cpu_ms %d→%d", o.CPUMS, n.CPUMS))
	}
	if o.Provisioned != n.Provisioned {
		out = append(out, fmt.Sprintf("provisioned %d→%d", o.Provisioned, n.Provisioned))
	}
	if o.Events != n.Events {
		out = append(out, "events "+eventsName(o.Events)+"→"+eventsName(n.Events))
	}
	if o.MaxConcurrency != n.MaxConcurrency {
		out = append(out, fmt.Sprintf("max_concurrency %d→%d", o.MaxConcurrency, n.MaxConcurrency))
	}
	keys := slices.Sorted(maps.Keys(o.Env))
	for k := range n.Env {
		if _, ok := o.Env[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		ov, inOld := o.Env[k]
		nv, inNew := n.Env[k]
		switch {
		case !inOld:
			out = append(out, "env +"+k)
		case !inNew:
			out = append(out, "env -"+k)
		case ov != nv:
			out = append(out, "env ~"+k)
		}
	}
	out = append(out, bindingFields(o, n)...)
	out = append(out, functionWorkflowFields(o, n)...)
	return append(out, functionObjectFields(o, n)...)
}

// Write prints the plan for people: a "project NAME:" line, then one line
// per change ("+ function hello: module 1a2b3c4d5e6f, ...", "~ function api:
// memory 128→256 MB, env ~KEY", "- function old", "+ route GET /x → hello",
// "+ workflow fulfil (orders, retention 24h)", "+ queue orders (visibility
// 30s, max_receives 5)", "~ schedule nightly: 0 3 * * * Europe/Berlin",
// "- topic x"), then a summary line; or one line saying there are no
// changes.
//
// Internal queues are shown only where they say something the other lines
// do not: a function's added or removed async queue goes with the
// function, a topic subscription with the topic, a visibility timeout with
// the function's timeout. What remains is retries and dead letters, shown
// as "~ events of function f: retries 2→3".
//
// Databases and KV namespaces follow ("+ database orders (postgres
// ${secret:ORDERS_DB_URL}, max_connections 10)", "- kv sessions (its
// entries are deleted)"). URLs are printed as written: they hold secret
// references only, never values.
func (p *Plan) Write(w io.Writer) error {
	var b strings.Builder
	if p.Empty() {
		fmt.Fprintf(&b, "project %s: no changes (%d functions unchanged)\n", p.Project, len(p.Unchanged))
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "project %s:\n", p.Project)
	for _, c := range p.Add {
		fmt.Fprintf(&b, "+ function %s: %s\n", c.Name, strings.Join(c.Fields, ", "))
	}
	for _, c := range p.Change {
		fmt.Fprintf(&b, "~ function %s: %s\n", c.Name, strings.Join(c.Fields, ", "))
	}
	for _, name := range p.Remove {
		fmt.Fprintf(&b, "- function %s\n", name)
	}
	for _, r := range p.RoutesAdd {
		fmt.Fprintf(&b, "+ route %s %s → %s%s\n", r.Method, r.Path, r.Function, routeAttrs(r))
	}
	for _, c := range p.RoutesChange {
		fmt.Fprintf(&b, "~ route %s %s → %s: %s\n", c.New.Method, c.New.Path, c.New.Function, strings.Join(c.Fields, ", "))
	}
	for _, r := range p.RoutesRemove {
		fmt.Fprintf(&b, "- route %s %s → %s\n", r.Method, r.Path, r.Function)
	}
	counts := p.writeWorkflows(&b)
	counts = append(counts, p.writeEvents(&b)...)
	counts = append(counts, p.writeBindings(&b)...)
	counts = append(counts, p.writeStateMachines(&b)...)
	fmt.Fprintf(&b, "functions: %d to add, %d to change, %d to remove, %d unchanged; routes: %d to add, ",
		len(p.Add), len(p.Change), len(p.Remove), len(p.Unchanged), len(p.RoutesAdd))
	if len(p.RoutesChange) > 0 {
		fmt.Fprintf(&b, "%d to change, ", len(p.RoutesChange))
	}
	fmt.Fprintf(&b, "%d to remove", len(p.RoutesRemove))
	for _, c := range counts {
		if c.add+c.change+c.remove > 0 {
			fmt.Fprintf(&b, "; %s: %d to add, %d to change, %d to remove", c.what, c.add, c.change, c.remove)
		}
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// ApplyParams builds the store call that carries out the plan: a new version
// for every added or changed function, the removals, the project's full
// route set, its complete event configuration (Events) and its
// complete databases and KV namespaces (Bindings), all from spec (the
// Spec the plan was computed from). now is when the deploy happens: new
// schedules first fire after it.
func (p *Plan) ApplyParams(spec apitype.Spec, now time.Time) store.DeploymentApplyParams {
	ev := Events(spec, now)
	bind := Bindings(spec)
	ap := store.DeploymentApplyParams{
		Project:         p.Project,
		RemoveFunctions: slices.Clone(p.Remove),
		Routes:          storeRoutes(spec),
		Events:          &ev,
		Bindings:        &bind,
	}
	for _, list := range [][]FunctionChange{p.Add, p.Change} {
		for _, c := range list {
			cfg := c.New.Config
			cfg.Env = maps.Clone(cfg.Env)
			cfg.Bindings = slices.Clone(cfg.Bindings)
			cfg.Secrets = slices.Clone(cfg.Secrets)
			cfg.Fetch = slices.Clone(cfg.Fetch)
			cfg.Workflows = slices.Clone(cfg.Workflows)
			ap.NewVersions = append(ap.NewVersions, store.NewVersionParams{
				Function:     c.Name,
				ModuleSHA256: c.New.ModuleSHA256,
				Config:       cfg,
			})
		}
	}
	slices.SortFunc(ap.NewVersions, func(a, b store.NewVersionParams) int { return strings.Compare(a.Function, b.Function) })
	if ap.Routes == nil {
		ap.Routes = []record.Route{}
	}
	ap.CheckRoutes = routeCheck(spec.Project, ap.Routes)
	return ap
}
