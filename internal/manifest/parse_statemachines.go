package manifest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/stratahq/strata/internal/asl"
	"github.com/stratahq/strata/internal/deploy"
	"github.com/stratahq/strata/internal/record"
)

// stateMachineKeys are the known keys of a state machine.
var stateMachineKeys = []string{"definition", "type"}

// MaxDefinitionSize bounds a definition file, as AWS bounds a definition
// (1 MiB).
const MaxDefinitionSize = 1 << 20

// stateMachines reads the top-level state_machines: section. Task
// resources are checked against the functions in checkStateMachines,
// since functions may come later in the file.
func (p *parser) stateMachines(e entry) []StateMachine {
	return readSection(p, e, "state_machines", "state machine", p.stateMachine, func(m StateMachine) string { return m.Name })
}

func (p *parser) stateMachine(e entry) StateMachine {
	field := "state_machines." + e.key
	m := StateMachine{Name: e.key, Type: record.StateMachineStandard, Pos: e.pos}
	if err := deploy.ValidateStateMachineName(e.key); err != nil {
		p.addf(e.pos, field, "state machine name %v", err)
	}
	settings, ok := p.mapping(e.value, field, "key")
	if !ok || e.value == nil {
		p.addf(valuePos(e), field, "must be a mapping of settings (%s), got %s; write {definition: ./%s.asl.json}",
			strings.Join(stateMachineKeys, ", "), describe(e.value), e.key)
		return m
	}
	sawDefinition := false
	for _, s := range settings {
		sf := join(field, s.key)
		switch s.key {
		case "definition":
			sawDefinition = true
			m.defPos = s.pos
			m.File, m.Definition = p.definition(s, sf)
		case "type":
			t, isStr := str(s.value)
			if s.value == nil {
				continue // STANDARD, AWS's default
			}
			if err := deploy.ValidateStateMachineType(t); !isStr || err != nil {
				p.addf(valuePos(s), sf, "%s, got %s", deploy.StateMachineTypeRule, describe(s.value))
				continue
			}
			m.Type = t
		default:
			p.unknownKey(s, field, stateMachineKeys)
		}
	}
	if !sawDefinition {
		p.addf(e.pos, field, "required: definition, the path of the machine's Amazon States Language file (JSON or YAML), e.g. \"definition: ./%s.asl.json\"", e.key)
	}
	return m
}

// definition reads and validates a definition file: JSON, or YAML
// (a .yaml or .yml file) converted to JSON. Its problems are reported at
// the definition: key, each with the file and asl's AWS-worded message,
// which carries the JSON pointer of the problem. It returns the absolute
// path and the JSON ("" when unusable).
func (p *parser) definition(s entry, field string) (string, string) {
	v, ok := str(s.value)
	if !ok || v == "" {
		p.addf(valuePos(s), field, "must be the path of an Amazon States Language file (.json, .yaml or .yml), got %s", describe(s.value))
		return "", ""
	}
	abs := v
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(p.dir, v)
	}
	abs = filepath.Clean(abs)
	if _, err := os.Stat(abs); errors.Is(err, fs.ErrNotExist) {
		p.addf(s.pos, field, "%s does not exist", v)
		return abs, ""
	}
	// The definition is sent to the server: like a module, it must not
	// come from elsewhere on the machine.
	if err := p.inProject(abs); err != nil {
		p.addf(s.pos, field, "%s %v; definition must be inside it", v, err)
		return abs, ""
	}
	data, err := readLimited(abs)
	if err != nil {
		p.addf(s.pos, field, "cannot read %s: %v", v, unwrapPath(err))
		return abs, ""
	}
	switch strings.ToLower(filepath.Ext(abs)) {
	case ".yaml", ".yml":
		j, err := yaml.YAMLToJSON(data)
		if err != nil {
			p.addf(s.pos, field, "%s is not valid YAML: %s", v, firstLine(err.Error()))
			return abs, ""
		}
		data = j
	}
	if _, err := asl.Parse(data); err != nil {
		var de *asl.DefinitionError
		if errors.As(err, &de) {
			for _, d := range de.Diagnostics {
				p.addf(s.pos, field, "%s: %s", v, d.String())
			}
		} else {
			p.addf(s.pos, field, "%s: %v", v, err)
		}
		return abs, ""
	}
	return abs, strings.TrimSpace(string(data))
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxDefinitionSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxDefinitionSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxDefinitionSize)
	}
	return data, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// checkStateMachines reports Task states whose Resource names a function
// the manifest does not declare: deploying would give a machine that fails
// when it reaches them.
func (p *parser) checkStateMachines(m *Manifest) {
	for _, sm := range m.StateMachines {
		if sm.Definition == "" {
			continue
		}
		rel := sm.File
		if r, err := filepath.Rel(p.dir, sm.File); err == nil {
			rel = "./" + filepath.ToSlash(r)
		}
		for _, t := range deploy.TaskFunctions([]byte(sm.Definition)) {
			if _, ok := m.Function(t.Function); ok {
				continue
			}
			var names []string
			for _, f := range m.Functions {
				names = append(names, f.Name)
			}
			msg := deploy.UnknownTaskFunction(t.Function) + " at " + t.Pointer
			if s := suggest(t.Function, names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else if len(names) > 0 {
				msg += "; functions are " + strings.Join(slices.Sorted(slices.Values(names)), ", ")
			}
			p.addf(sm.defPos, "state_machines."+sm.Name+".definition", "%s: %s", rel, msg)
		}
	}
}
