package server

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/registry"
	"github.com/stratahq/strata/internal/sfn"
	"github.com/stratahq/strata/internal/store"
)

// workflowIndex maps workflow names to the active functions that
// orchestrate them, and functions to their projects. It is rebuilt after
// every deploy or sync and read on every start, so readers take a
// snapshot without locking.
type workflowIndex struct {
	snap atomic.Pointer[workflowSnapshot]
}

type workflowSnapshot struct {
	workflows map[string]flow.WorkflowRef
	projects  map[string]string
}

func (w *workflowIndex) rebuild(ctx context.Context, st store.Store, reg *registry.Registry) error {
	fns, err := st.FunctionList(ctx)
	if err != nil {
		return fmt.Errorf("list functions: %w", err)
	}
	s := &workflowSnapshot{workflows: make(map[string]flow.WorkflowRef), projects: make(map[string]string, len(fns))}
	for _, f := range fns {
		s.projects[f.Name] = f.Project
	}
	for _, v := range reg.Versions() {
		for _, wc := range v.Config.Workflows {
			s.workflows[wc.Name] = flow.WorkflowRef{Function: v.Function, Project: s.projects[v.Function], Config: wc}
		}
	}
	w.snap.Store(s)
	return nil
}

func (w *workflowIndex) lookup(name string) (flow.WorkflowRef, bool) {
	if project, _, ok := sfn.ParseWorkflow(name); ok {
		// A state machine's executions: the machine's project runs them
		// (the orchestrator reads the machine, in that project, when the
		// execution first runs). The name is its own "function".
		return flow.WorkflowRef{Function: name, Project: project}, true
	}
	s := w.snap.Load()
	if s == nil {
		return flow.WorkflowRef{}, false
	}
	ref, ok := s.workflows[name]
	return ref, ok
}

func (w *workflowIndex) projectOf(function string) string {
	if project, _, ok := sfn.ParseWorkflow(function); ok {
		return project
	}
	if s := w.snap.Load(); s != nil {
		return s.projects[function]
	}
	return ""
}

// orchestrators hands each execution to what orchestrates it: state
// machines' to the Step Functions handler, workflows as code to the Wasm
// orchestrator. states is set once the handler exists (it needs the
// flow engine), before the engine runs.
type orchestrators struct {
	code   flow.Orchestrator
	states flow.Orchestrator
}

func (o *orchestrators) Orchestrate(ctx context.Context, r *flow.Run) (flow.Outcome, error) {
	if strings.HasPrefix(r.Execution().Workflow, sfn.WorkflowPrefix) {
		if o.states == nil {
			return flow.Outcome{}, fmt.Errorf("state machine executions are not served by this node")
		}
		return o.states.Orchestrate(ctx, r)
	}
	return o.code.Orchestrate(ctx, r)
}
