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
	return readSection(p, e, "workflows", "workflow", p.workflow, func(w Workflow) string { return w.Name })
}

func (p *parser) workflow(e entry) Workflow {
	field := "workflows." + e.key
	w := Workflow{Name: e.key, Pos: e.pos}
	if err := deploy.ValidateName(e.key); err != nil {
		p.addf(e.pos, field, "workflow name %v", err)
	}
	w.Function, w.fnPos = p.functionSettings(e, field, workflowKeys, "registers workflow", "orders", func(s entry, sf string) {
		switch s.key {
		case "history_limit":
			w.HistoryLimit = p.integer(s, sf, deploy.HistoryLimitRule, deploy.ValidateHistoryLimit)
		case "retention":
			w.Retention = p.duration(s, sf, deploy.RetentionRule, deploy.ValidateRetention)
		}
	})
	return w
}

// readSection reads a top-level section that maps names to settings
// (workflows:, objects:), sorted by name. noun names one entry.
func readSection[T any](p *parser, e entry, section, noun string, read func(entry) T, name func(T) string) []T {
	entries, ok := p.mapping(e.value, section, noun)
	if !ok {
		p.addf(valuePos(e), section, "must be a mapping of %s names to their settings, got %s", noun, describe(e.value))
		return nil
	}
	out := make([]T, 0, len(entries))
	for _, se := range entries {
		out = append(out, read(se))
	}
	slices.SortFunc(out, func(a, b T) int { return strings.Compare(name(a), name(b)) })
	return out
}

// functionSettings reads the settings of one entry of such a section:
// function (required: the function whose code <verb> it) and the other
// keys, which set receives (unknown keys are reported here, with
// suggestions; an empty optional setting keeps the engine's default).
// example is a function name for the messages.
func (p *parser) functionSettings(e entry, field string, keys []string, verb, example string, set func(s entry, sf string)) (fn string, fnPos Position) {
	settings, ok := p.mapping(e.value, field, "key")
	if !ok {
		if f, isStr := str(e.value); isStr && f != "" {
			p.addf(valuePos(e), field, "must be a mapping of settings (%s), got %s; write {function: %s}", strings.Join(keys, ", "), describe(e.value), f)
		} else {
			p.addf(valuePos(e), field, "must be a mapping of settings (%s), got %s", strings.Join(keys, ", "), describe(e.value))
		}
		return "", Position{}
	}
	sawFunction := false
	for _, s := range settings {
		sf := join(field, s.key)
		if s.value == nil && s.key != "function" && slices.Contains(keys, s.key) {
			continue
		}
		switch {
		case s.key == "function":
			sawFunction = true
			f, ok := str(s.value)
			if !ok || f == "" {
				p.addf(valuePos(s), sf, "must be the name of the function whose code %s %q, got %s", verb, e.key, describe(s.value))
				continue
			}
			fn, fnPos = f, valuePos(s)
		case slices.Contains(keys, s.key):
			set(s, sf)
		default:
			p.unknownKey(s, field, keys)
		}
	}
	if !sawFunction {
		p.addf(e.pos, field, "needs function: the function whose code %s %q, e.g. \"function: %s\"", verb, e.key, example)
	}
	return fn, fnPos
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
