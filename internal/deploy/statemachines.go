package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/asl"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// StateMachineNameRule is AWS's rule for state machine names.
const StateMachineNameRule = "must be 1 to 80 characters of letters, digits, - and _"

// StateMachineTypeRule says what a state machine's type may be.
const StateMachineTypeRule = `must be "STANDARD" or "EXPRESS"`

// ValidateStateMachineName checks a state machine name as CreateStateMachine
// does for the characters Strata allows (AWS's rule, without the
// unicode that AWS accepts but its ARNs then make awkward).
func ValidateStateMachineName(s string) error {
	if s == "" || len(s) > 80 {
		return fmt.Errorf("%s, got %q", StateMachineNameRule, s)
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%s, got %q", StateMachineNameRule, s)
		}
	}
	return nil
}

// ValidateStateMachineType checks a type; "" is not allowed here (the
// manifest fills in STANDARD, AWS's default).
func ValidateStateMachineType(t string) error {
	if t != record.StateMachineStandard && t != record.StateMachineExpress {
		return fmt.Errorf("%s, got %q", StateMachineTypeRule, t)
	}
	return nil
}

// TaskFunction is a Task state whose Resource names a function of the
// project by its plain name (or name:qualifier), with the JSON pointer of
// that Resource.
type TaskFunction struct {
	Function string
	Pointer  string
}

// TaskFunctions lists the Task states of a JSON definition whose Resource
// is a plain function name, in Parallel branches and Map processors too.
// Resources that are ARNs are not listed: the Step Functions handler
// resolves those when it runs (a Lambda ARN, lambda:invoke's parameters).
// A definition that is not JSON lists nothing; asl.Parse reports it.
func TaskFunctions(definition []byte) []TaskFunction {
	var v any
	if err := json.Unmarshal(definition, &v); err != nil {
		return nil
	}
	var out []TaskFunction
	var walk func(m map[string]any, at string)
	walk = func(m map[string]any, at string) {
		states, _ := m["States"].(map[string]any)
		names := make([]string, 0, len(states))
		for n := range states {
			names = append(names, n)
		}
		slices.Sort(names) // the order of errors should not depend on map order
		for _, n := range names {
			st, _ := states[n].(map[string]any)
			sat := at + "/States/" + pointerEscape(n)
			switch st["Type"] {
			case "Task":
				r, ok := st["Resource"].(string)
				if ok && r != "" && !strings.HasPrefix(r, "arn:") {
					name, _, _ := strings.Cut(r, ":")
					out = append(out, TaskFunction{Function: name, Pointer: sat + "/Resource"})
				}
			case "Parallel":
				branches, _ := st["Branches"].([]any)
				for i, b := range branches {
					if bm, ok := b.(map[string]any); ok {
						walk(bm, sat+"/Branches/"+strconv.Itoa(i))
					}
				}
			case "Map":
				for _, k := range []string{"ItemProcessor", "Iterator"} {
					if pm, ok := st[k].(map[string]any); ok {
						walk(pm, sat+"/"+k)
					}
				}
			}
		}
	}
	if m, ok := v.(map[string]any); ok {
		walk(m, "")
	}
	return out
}

func pointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// validateStateMachines checks the spec's state machines: names, types,
// definitions (asl's AWS-worded errors) and that every Task naming a
// plain function names one of the spec's.
func validateStateMachines(s apitype.Spec) []error {
	var errs []error
	fns := map[string]bool{}
	for _, f := range s.Functions {
		fns[f.Name] = true
	}
	seen := map[string]bool{}
	for i, m := range s.StateMachines {
		where := fmt.Sprintf("state_machines[%d]", i)
		if err := ValidateStateMachineName(m.Name); err != nil {
			errs = append(errs, fmt.Errorf("%s.name: %w", where, err))
			continue
		}
		where = fmt.Sprintf("state machine %q", m.Name)
		if seen[m.Name] {
			errs = append(errs, fmt.Errorf("%s: appears twice", where))
		}
		seen[m.Name] = true
		if err := ValidateStateMachineType(m.Type); err != nil {
			errs = append(errs, fmt.Errorf("%s: type: %w", where, err))
		}
		if _, err := asl.Parse([]byte(m.Definition)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		for _, t := range TaskFunctions([]byte(m.Definition)) {
			if !fns[t.Function] {
				errs = append(errs, fmt.Errorf("%s: %s: %s", where, t.Pointer, UnknownTaskFunction(t.Function)))
			}
		}
	}
	return errs
}

// UnknownTaskFunction is the message for a Task naming no function of the
// project.
func UnknownTaskFunction(name string) string {
	return fmt.Sprintf("Task resource %q names no function of the project", name)
}

// StateMachineChange is a state machine whose definition or type changes.
// A new type replaces the machine (Step Functions cannot change a
// machine's type either); a new definition is a new revision.
type StateMachineChange struct {
	Old    record.StateMachine `json:"old"`
	New    record.StateMachine `json:"new"`
	Fields []string            `json:"fields"` // "definition", "type STANDARD→EXPRESS"
}

// diffStateMachines fills the plan's state machine lists: cur holds the
// project's deployed machines (State.StateMachines).
func (p *Plan) diffStateMachines(spec apitype.Spec, cur []record.StateMachine) {
	have := map[string]record.StateMachine{}
	for _, m := range cur {
		if m.Project == spec.Project {
			have[m.Name] = m
		}
	}
	want := map[string]bool{}
	for _, s := range spec.StateMachines {
		want[s.Name] = true
		n := record.StateMachine{Project: spec.Project, Name: s.Name, Type: s.Type, Definition: s.Definition}
		old, ok := have[s.Name]
		if !ok {
			p.StateMachinesAdd = append(p.StateMachinesAdd, n)
			continue
		}
		var fields []string
		if old.Type != n.Type {
			fields = append(fields, "type "+old.Type+"→"+n.Type)
		}
		if old.Definition != n.Definition {
			fields = append(fields, "definition")
		}
		if len(fields) > 0 {
			n.Revision = old.Revision
			p.StateMachinesChange = append(p.StateMachinesChange, StateMachineChange{Old: old, New: n, Fields: fields})
		}
	}
	// A manifest that declares no machine leaves the project's alone:
	// they may have been made through the Step Functions API, and a
	// project that never used state_machines: must not lose them on its
	// next deploy. Once it declares some, it owns the set.
	for _, m := range cur {
		if len(spec.StateMachines) > 0 && m.Project == spec.Project && !want[m.Name] {
			p.StateMachinesRemove = append(p.StateMachinesRemove, m)
		}
	}
	byName := func(a, b record.StateMachine) int { return strings.Compare(a.Name, b.Name) }
	slices.SortFunc(p.StateMachinesAdd, byName)
	slices.SortFunc(p.StateMachinesRemove, byName)
	slices.SortFunc(p.StateMachinesChange, func(a, b StateMachineChange) int { return strings.Compare(a.New.Name, b.New.Name) })
}

func (p *Plan) writeStateMachines(b *strings.Builder) []eventCount {
	c := eventCount{what: "state machines"}
	for _, m := range p.StateMachinesAdd {
		c.add++
		fmt.Fprintf(b, "+ state machine %s (%s)\n", m.Name, m.Type)
	}
	for _, m := range p.StateMachinesChange {
		c.change++
		fmt.Fprintf(b, "~ state machine %s: %s\n", m.New.Name, strings.Join(m.Fields, ", "))
	}
	for _, m := range p.StateMachinesRemove {
		c.remove++
		fmt.Fprintf(b, "- state machine %s\n", m.Name)
	}
	return []eventCount{c}
}

// ApplyStateMachines carries out the plan's state machine changes with
// the store's StateMachine* methods. It runs after DeploymentApply, not in
// its transaction (see docs/RATIONALE.md): a failure here leaves the
// functions deployed and the machines as far as they got, and deploying
// again finishes the job since the plan compares with what is stored.
func (p *Plan) ApplyStateMachines(ctx context.Context, s store.StateMachines) error {
	var errs []error
	for _, m := range p.StateMachinesRemove {
		if _, err := s.StateMachineDelete(ctx, m.Project, m.Name); err != nil {
			errs = append(errs, fmt.Errorf("remove state machine %s: %w", m.Name, err))
		}
	}
	for _, c := range p.StateMachinesChange {
		if c.Old.Type != c.New.Type {
			// The store keeps a machine's type for good, as AWS does:
			// replace it.
			if _, err := s.StateMachineDelete(ctx, c.New.Project, c.New.Name); err != nil {
				errs = append(errs, fmt.Errorf("replace state machine %s: %w", c.New.Name, err))
				continue
			}
			if _, err := s.StateMachineCreate(ctx, c.New); err != nil {
				errs = append(errs, fmt.Errorf("replace state machine %s: %w", c.New.Name, err))
			}
			continue
		}
		if _, err := s.StateMachineUpdate(ctx, c.New.Project, c.New.Name, c.New.Definition, c.Old.RoleArn); err != nil {
			errs = append(errs, fmt.Errorf("update state machine %s: %w", c.New.Name, err))
		}
	}
	for _, m := range p.StateMachinesAdd {
		if _, err := s.StateMachineCreate(ctx, m); err != nil {
			errs = append(errs, fmt.Errorf("create state machine %s: %w", m.Name, err))
		}
	}
	return errors.Join(errs...)
}
