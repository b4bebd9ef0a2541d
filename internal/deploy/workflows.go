package deploy

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// Workflows travel inside the configuration of the function whose code
// orchestrates them (record.FunctionConfig.Workflows), so a workflow's
// settings are versioned with that code: changing them makes a new version
// of the function, and the flow engine finds a workflow by looking for the
// active version that lists it.

// Limits of a workflow's settings, shared with the manifest and the schema.
// Zero means the engine's default (flow.DefaultHistoryLimit,
// flow.DefaultRetention).
const (
	MinHistoryLimit = 100
	MaxHistoryLimit = 1_000_000

	MinRetention = time.Minute
	MaxRetention = 8760 * time.Hour // a year
)

// Rule texts of workflows.
const (
	HistoryLimitRule = "must be an integer number of events per run between 100 and 1000000"
	RetentionRule    = `must be a duration like "168h" or "30m" between 1m and 8760h (a year); days are written in hours`
)

// Workflow is one workflow with the function that orchestrates it, as
// plans show it.
type Workflow struct {
	Function string `json:"function"`
	record.WorkflowConfig
}

// WorkflowChange is a workflow whose settings or function change.
type WorkflowChange struct {
	Old    Workflow `json:"old"`
	New    Workflow `json:"new"`
	Fields []string `json:"fields"` // "history_limit default→1000", "function a→b"
}

// ValidateHistoryLimit checks a workflow's history limit (0 is the
// default).
func ValidateHistoryLimit(n int) error {
	if n < MinHistoryLimit || n > MaxHistoryLimit {
		return fmt.Errorf("%s, got %d", HistoryLimitRule, n)
	}
	return nil
}

// ValidateRetention checks how long a workflow's finished executions are
// kept.
func ValidateRetention(d time.Duration) error {
	if d < MinRetention || d > MaxRetention {
		return fmt.Errorf("%s, got %s", RetentionRule, shortDuration(d))
	}
	return nil
}

// validateFunctionWorkflows checks the workflows of one function's config:
// names, settings, and that the function can orchestrate at all. A command
// module cannot (it runs _start once per request and exports nothing the
// engine can call back); an empty kind is detected from the module later.
func validateFunctionWorkflows(c record.FunctionConfig) []error {
	var errs []error
	if len(c.Workflows) > 0 && c.Kind == record.KindCommand {
		errs = append(errs, errors.New("workflows: a command module cannot orchestrate workflows; workflows run in reactor functions built with the Go SDK"))
	}
	seen := map[string]bool{}
	for _, w := range c.Workflows {
		if err := ValidateName(w.Name); err != nil {
			errs = append(errs, fmt.Errorf("workflows: name %w", err))
		} else if seen[w.Name] {
			errs = append(errs, fmt.Errorf("workflows: %q is listed twice", w.Name))
		}
		seen[w.Name] = true
		if w.HistoryLimit != 0 {
			if err := ValidateHistoryLimit(w.HistoryLimit); err != nil {
				errs = append(errs, fmt.Errorf("workflow %q: history_limit: %w", w.Name, err))
			}
		}
		if w.Retention != 0 {
			if err := ValidateRetention(w.Retention); err != nil {
				errs = append(errs, fmt.Errorf("workflow %q: retention: %w", w.Name, err))
			}
		}
	}
	return errs
}

// validateWorkflows checks what spans functions: a workflow name is
// declared by one function of the project, and a route that starts a
// workflow starts one of its own function's and is not async.
func validateWorkflows(s apitype.Spec) []error {
	var errs []error
	owner := map[string]string{}
	for _, f := range s.Functions {
		for _, w := range f.Config.Workflows {
			if prev, dup := owner[w.Name]; dup && prev != f.Name {
				errs = append(errs, fmt.Errorf("workflow %q is declared by functions %q and %q; a workflow has one function", w.Name, prev, f.Name))
				continue
			}
			owner[w.Name] = f.Name
		}
	}
	for _, f := range s.Functions {
		for _, r := range f.Routes {
			if r.Workflow == "" {
				continue
			}
			where := fmt.Sprintf("function %q: route %s %s", f.Name, r.Method, r.Path)
			if r.Async {
				errs = append(errs, fmt.Errorf("%s: a route that starts workflow %q cannot be async (starting an execution is already asynchronous)", where, r.Workflow))
			}
			switch fn, ok := owner[r.Workflow]; {
			case !ok:
				errs = append(errs, fmt.Errorf("%s: unknown workflow %q", where, r.Workflow))
			case fn != f.Name:
				errs = append(errs, fmt.Errorf("%s: workflow %q belongs to function %q; the route must be one of that function's", where, r.Workflow, fn))
			}
		}
	}
	return errs
}

// sortWorkflows returns spec with every function's workflows and object
// classes sorted by name, so that their order in the request changes nothing. It copies what
// it changes.
func sortWorkflows(spec apitype.Spec) apitype.Spec {
	spec.Functions = slices.Clone(spec.Functions)
	for i := range spec.Functions {
		c := &spec.Functions[i].Config
		c.Workflows = sortedWorkflows(c.Workflows)
		c.Objects = sortedObjects(c.Objects)
	}
	return spec
}

func sortedWorkflows(ws []record.WorkflowConfig) []record.WorkflowConfig {
	if len(ws) == 0 {
		return nil
	}
	out := slices.Clone(ws)
	slices.SortFunc(out, func(a, b record.WorkflowConfig) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// workflowsOf lists the workflows of a set of functions by name.
func workflowsOf(fns map[string]record.FunctionConfig) map[string]Workflow {
	out := map[string]Workflow{}
	for fn, c := range fns {
		for _, w := range c.Workflows {
			out[w.Name] = Workflow{Function: fn, WorkflowConfig: w}
		}
	}
	return out
}

// diffWorkflows fills the plan's workflow lines from the wanted functions
// and the deployed state, and returns conflicts with workflow names that an
// active function of another project declares: the engine finds a workflow
// by name, so a name must stay unambiguous across projects.
func (p *Plan) diffWorkflows(spec apitype.Spec, cur State) []error {
	var conflicts []error
	wantFns := map[string]record.FunctionConfig{}
	for _, f := range spec.Functions {
		wantFns[f.Name] = f.Config
	}
	want := workflowsOf(wantFns)

	project := map[string]string{}
	for _, f := range cur.Functions {
		project[f.Name] = f.Project
	}
	curFns := map[string]record.FunctionConfig{}
	for _, name := range slices.Sorted(maps.Keys(cur.Active)) {
		v := cur.Active[name]
		if project[name] == spec.Project {
			curFns[name] = v.Config
			continue
		}
		for _, w := range v.Config.Workflows {
			if _, ok := want[w.Name]; ok {
				conflicts = append(conflicts, fmt.Errorf("workflow %q belongs to project %q (function %q); rename it or remove it there first: %w",
					w.Name, project[name], name, store.ErrConflict))
			}
		}
	}
	have := workflowsOf(curFns)

	for _, name := range slices.Sorted(maps.Keys(want)) {
		n := want[name]
		o, ok := have[name]
		switch {
		case !ok:
			p.WorkflowsAdd = append(p.WorkflowsAdd, n)
		default:
			if fields := workflowFields(o, n); len(fields) > 0 {
				p.WorkflowsChange = append(p.WorkflowsChange, WorkflowChange{Old: o, New: n, Fields: fields})
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(have)) {
		if _, ok := want[name]; !ok {
			p.WorkflowsRemove = append(p.WorkflowsRemove, have[name])
		}
	}
	return conflicts
}

// workflowFields lists what differs between two versions of a workflow.
func workflowFields(o, n Workflow) []string {
	var out []string
	if o.Function != n.Function {
		out = append(out, "function "+o.Function+"→"+n.Function)
	}
	if o.HistoryLimit != n.HistoryLimit {
		out = append(out, "history_limit "+historyString(o.HistoryLimit)+"→"+historyString(n.HistoryLimit))
	}
	if o.Retention != n.Retention {
		out = append(out, "retention "+retentionString(o.Retention)+"→"+retentionString(n.Retention))
	}
	return out
}

// functionWorkflowFields is what a function's change line says about its
// workflows: "workflow +fulfil", "workflow ~fulfil", "workflow -old".
// Workflows compare as a set by name.
func functionWorkflowFields(o, n record.FunctionConfig) []string {
	old := map[string]record.WorkflowConfig{}
	for _, w := range o.Workflows {
		old[w.Name] = w
	}
	var out []string
	seen := map[string]bool{}
	for _, w := range sortedWorkflows(n.Workflows) {
		seen[w.Name] = true
		ow, ok := old[w.Name]
		switch {
		case !ok:
			out = append(out, "workflow +"+w.Name)
		case ow != w:
			out = append(out, "workflow ~"+w.Name)
		}
	}
	for _, w := range sortedWorkflows(o.Workflows) {
		if !seen[w.Name] {
			out = append(out, "workflow -"+w.Name)
		}
	}
	return out
}

func historyString(n int) string {
	if n == 0 {
		return "default"
	}
	return fmt.Sprint(n)
}

func retentionString(d time.Duration) string {
	if d == 0 {
		return "default"
	}
	return shortDuration(d)
}

// shortDuration prints durations as people write them: "168h", "1h30m",
// "90s" rather than "168h0m0s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// describeWorkflow is a workflow's function and the settings it sets.
func describeWorkflow(w Workflow) string {
	out := []string{w.Function}
	if w.HistoryLimit != 0 {
		out = append(out, fmt.Sprintf("history_limit %d", w.HistoryLimit))
	}
	if w.Retention != 0 {
		out = append(out, "retention "+shortDuration(w.Retention))
	}
	return strings.Join(out, ", ")
}

// writeWorkflows prints the workflow lines of Write and returns what the
// summary counts.
func (p *Plan) writeWorkflows(b *strings.Builder) []eventCount {
	c := eventCount{what: "workflows"}
	for _, w := range p.WorkflowsAdd {
		c.add++
		fmt.Fprintf(b, "+ workflow %s (%s)\n", w.Name, describeWorkflow(w))
	}
	for _, ch := range p.WorkflowsChange {
		c.change++
		fmt.Fprintf(b, "~ workflow %s (%s): %s\n", ch.New.Name, ch.New.Function, strings.Join(ch.Fields, ", "))
	}
	for _, w := range p.WorkflowsRemove {
		c.remove++
		fmt.Fprintf(b, "- workflow %s (%s)\n", w.Name, w.Function)
	}
	return []eventCount{c}
}
