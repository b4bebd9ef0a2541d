package manifest

import (
	"slices"
	"strings"

	"github.com/stratahq/strata/internal/deploy"
	"github.com/stratahq/strata/internal/record"
)

// workflowKeys are the known keys of a workflow.
var workflowKeys = []string{"function", "history_limit", "retention"}

// workflows reads the top-level workflows: section. Which functions exist
// is checked in checkWorkflows, since they may come later in the file.
func (p *parser) workflows(e entry) []Workflow {
	entries, ok := p.mapping(e.value, "workflows", "workflow")
	if !ok {
		p.addf(valuePos(e), "workflows", "must be a mapping of workflow names to their settings, got %s", describe(e.value))
		return nil
	}
	out := make([]Workflow, 0, len(entries))
	for _, we := range entries {
		out = append(out, p.workflow(we))
	}
	slices.SortFunc(out, func(a, b Workflow) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (p *parser) workflow(e entry) Workflow {
	field := "workflows." + e.key
	w := Workflow{Name: e.key, Pos: e.pos}
	if err := deploy.ValidateName(e.key); err != nil {
		p.addf(e.pos, field, "workflow name %v", err)
	}
	settings, ok := p.mapping(e.value, field, "key")
	if !ok {
		if fn, isStr := str(e.value); isStr && fn != "" {
			p.addf(valuePos(e), field, "must be a mapping of settings (%s), got %s; write {function: %s}", strings.Join(workflowKeys, ", "), describe(e.value), fn)
		} else {
			p.addf(valuePos(e), field, "must be a mapping of settings (%s), got %s", strings.Join(workflowKeys, ", "), describe(e.value))
		}
		return w
	}
	sawFunction := false
	for _, s := range settings {
		sf := join(field, s.key)
		if s.value == nil && s.key != "function" && slices.Contains(workflowKeys, s.key) {
			continue // an empty optional setting keeps the engine's default
		}
		switch s.key {
		case "function":
			sawFunction = true
			fn, ok := str(s.value)
			if !ok || fn == "" {
				p.addf(valuePos(s), sf, "must be the name of the function whose code registers workflow %q, got %s", e.key, describe(s.value))
				continue
			}
			w.Function, w.fnPos = fn, valuePos(s)
		case "history_limit":
			w.HistoryLimit = p.integer(s, sf, deploy.HistoryLimitRule, deploy.ValidateHistoryLimit)
		case "retention":
			w.Retention = p.duration(s, sf, deploy.RetentionRule, deploy.ValidateRetention)
		default:
			p.unknownKey(s, field, workflowKeys)
		}
	}
	if !sawFunction {
		p.addf(e.pos, field, "needs function: the function whose code registers workflow %q, e.g. \"function: orders\"", e.key)
	}
	return w
}

// routeWorkflow reads a route's workflow: and records it for
// checkWorkflows.
func (p *parser) routeWorkflow(e entry, field, fn string) string {
	name, ok := str(e.value)
	if !ok || name == "" {
		p.addf(valuePos(e), field, "must be the name of a workflow of this project, got %s", describe(e.value))
		return ""
	}
	p.wfRefs = append(p.wfRefs, ref{kind: "workflow", name: name, pos: valuePos(e), field: field, consumer: fn})
	return name
}

// checkWorkflows checks each workflow's function and hands the workflow to
// it, then checks the workflows that routes start: a route starts one of
// its own function's workflows, because the function a route belongs to
// is the one whose code serves it.
func (p *parser) checkWorkflows(m *Manifest) {
	fns := map[string]*Function{}
	var names []string
	for i := range m.Functions {
		fns[m.Functions[i].Name] = &m.Functions[i]
		names = append(names, m.Functions[i].Name)
	}
	byName := map[string]Workflow{}
	var wfNames []string
	for _, w := range m.Workflows {
		byName[w.Name] = w
		wfNames = append(wfNames, w.Name)
		if w.Function == "" || len(m.Functions) == 0 {
			continue // reported already: no function, or no functions at all
		}
		f, ok := fns[w.Function]
		if !ok {
			p.unknownName(ref{kind: "function", name: w.Function, pos: w.fnPos, field: "workflows." + w.Name + ".function"}, names)
			continue
		}
		if f.Kind == record.KindCommand {
			p.addf(w.fnPos, "workflows."+w.Name+".function", "function %q is a command module (kind: command); workflows run in reactor functions built with the Go SDK", f.Name)
			continue
		}
		f.Workflows = append(f.Workflows, record.WorkflowConfig{Name: w.Name, HistoryLimit: w.HistoryLimit, Retention: w.Retention})
	}
	for _, r := range p.wfRefs {
		w, ok := byName[r.name]
		switch {
		case !ok:
			p.unknownName(r, wfNames)
		case w.Function != "" && w.Function != r.consumer:
			p.addf(r.pos, r.field, "workflow %q belongs to function %q (%s:%s); a route that starts it must be one of that function's routes",
				r.name, w.Function, p.file, w.Pos)
		}
	}
}
