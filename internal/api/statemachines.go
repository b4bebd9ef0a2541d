package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/asl"
	"github.com/stratahq/strata/internal/deploy"
	"github.com/stratahq/strata/internal/gateway"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/sfn"
)

// StateMachineRunner runs executions of state machines the way the Step
// Functions API does (*sfn.Handler), so `strata sm start` and
// StartSyncExecution share one code path.
type StateMachineRunner interface {
	StartSync(ctx context.Context, project, machine, name string, input []byte) (*sfn.SyncResult, error)
	Start(ctx context.Context, project, machine, name string, input []byte) (string, error)
	Forget(project, machine string)
	Call(ctx context.Context, project, op string, in any) (json.RawMessage, error)
}

var _ StateMachineRunner = (*sfn.Handler)(nil)

// routeStateMachines mounts the admin endpoints of state machines. Like
// the object endpoints, each acts on one project (machinesProject), and
// every store call is keyed by it: another project's machine, even named
// exactly, does not exist (404).
func (a *API) routeStateMachines() {
	a.handleToken("GET /state-machines", AnyProject, a.machinesList)
	a.handleToken("GET /state-machines/{name}", AnyProject, a.machineShow)
	// Validating reads no project's data; it is a POST only because a
	// definition may be large, so a read token may do it.
	a.handleAt("POST /state-machines/validate", AnyProject, record.ScopeRead, a.machineValidate)
	a.handleToken("POST /state-machines/{name}/start", AnyProject, a.machineStart)
	// A STANDARD machine's executions, through the Step Functions
	// operations of the same name (sfn.Handler.Call) as the token's one
	// project: another project's execution does not exist (404).
	a.handleToken("GET /state-machines/{name}/executions", AnyProject, a.machineExecutions("ListExecutions"))
	a.handleToken("GET /state-machines/{name}/executions/{execution}", AnyProject, a.machineExecutions("DescribeExecution"))
	a.handleToken("GET /state-machines/{name}/executions/{execution}/history", AnyProject, a.machineExecutions("GetExecutionHistory"))
	a.handleToken("POST /state-machines/{name}/executions/{execution}/stop", AnyProject, a.machineExecutions("StopExecution"))
	a.handleToken("POST /state-machines/{name}/executions/{execution}/redrive", AnyProject, a.machineExecutions("RedriveExecution"))
}

// machinesProject is the project a request acts on (see oneProject).
func (a *API) machinesProject(r *http.Request, tok record.Token) (string, error) {
	return a.oneProject(r, tok, "state machines belong to a project: name it with ?project= (strata sm ... --project P), or use a token of that project")
}

func machineInfo(m *record.StateMachine, withDefinition bool) apitype.StateMachineInfo {
	out := apitype.StateMachineInfo{Project: m.Project, Name: m.Name, Arn: sfn.MachineArn(m.Project, m.Name), Type: m.Type,
		Revision: m.Revision, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
	if withDefinition {
		out.Definition = m.Definition
	}
	return out
}

func (a *API) machinesList(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	project, err := a.machinesProject(r, tok)
	if err != nil {
		return err
	}
	list, err := a.projectMachines(r.Context(), project)
	if err != nil {
		return err
	}
	out := apitype.StateMachineList{StateMachines: make([]apitype.StateMachineInfo, 0, len(list))}
	for i := range list {
		out.StateMachines = append(out.StateMachines, machineInfo(&list[i], false))
	}
	return writeJSON(w, http.StatusOK, out)
}

// machineName reads {name}: 400 for a name no machine can have.
func machineName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if err := deploy.ValidateStateMachineName(name); err != nil {
		return "", gateway.Errorf(http.StatusBadRequest, "state machine name %v", err)
	}
	return name, nil
}

func (a *API) machineShow(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	project, err := a.machinesProject(r, tok)
	if err != nil {
		return err
	}
	name, err := machineName(r)
	if err != nil {
		return err
	}
	m, err := a.cfg.Store.StateMachineGet(r.Context(), project, name)
	if err != nil {
		return err // the store's not-found is a 404 naming the machine
	}
	return writeJSON(w, http.StatusOK, machineInfo(m, true))
}

// machineValidate validates a definition with package asl, as
// ValidateStateMachineDefinition does: a definition with problems is a
// successful call whose result is FAIL.
func (a *API) machineValidate(w http.ResponseWriter, r *http.Request, _ record.Token) error {
	var in apitype.StateMachineValidate
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 2<<20)).Decode(&in); err != nil {
		return gateway.Errorf(http.StatusBadRequest, "decode body: %v", err)
	}
	out := apitype.StateMachineValidation{Result: "OK"}
	if _, err := asl.Parse([]byte(in.Definition)); err != nil {
		out.Result, out.Message = "FAIL", err.Error()
		var de *asl.DefinitionError
		if errors.As(err, &de) {
			for _, d := range de.Diagnostics {
				out.Diagnostics = append(out.Diagnostics, apitype.StateMachineDiagnostic{Code: d.Code, Message: d.Message, Location: d.Location})
			}
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) machineStart(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	project, err := a.machinesProject(r, tok)
	if err != nil {
		return err
	}
	name, err := machineName(r)
	if err != nil {
		return err
	}
	if a.cfg.StateMachines == nil {
		return gateway.Errorf(http.StatusServiceUnavailable, "state machine executions are not enabled on this node")
	}
	var in apitype.StateMachineStart
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
		return gateway.Errorf(http.StatusBadRequest, "decode body: %v", err)
	}
	var input []byte
	if len(in.Input) > 0 {
		input = in.Input
	}
	if !in.Sync {
		start := time.Now()
		arn, err := a.cfg.StateMachines.Start(r.Context(), project, name, in.Name, input)
		if err != nil {
			return runError(err)
		}
		return writeJSON(w, http.StatusAccepted, apitype.StateMachineExecution{ExecutionArn: arn, Name: in.Name, Status: "RUNNING", StartDate: start})
	}
	res, err := a.cfg.StateMachines.StartSync(r.Context(), project, name, in.Name, input)
	if err != nil {
		return runError(err)
	}
	stop := res.Stop
	return writeJSON(w, http.StatusOK, apitype.StateMachineExecution{ExecutionArn: res.ExecutionArn, Name: res.Name, Status: res.Status,
		Output: res.Output, Error: res.Error, Cause: res.Cause, StartDate: res.Start, StopDate: &stop})
}

// runError gives a refused start its status and Step Functions' words.
func runError(err error) error {
	var se *sfn.Error
	if !errors.As(err, &se) {
		return err
	}
	return gateway.Errorf(se.Status, "%s: %s", se.Type, se.Message)
}

// machineExecutions serves one execution operation of a project's
// machine: the answer is the Step Functions operation's, as the AWS CLI
// would print it.
func (a *API) machineExecutions(op string) func(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	return func(w http.ResponseWriter, r *http.Request, tok record.Token) error {
		project, err := a.machinesProject(r, tok)
		if err != nil {
			return err
		}
		name, err := machineName(r)
		if err != nil {
			return err
		}
		if a.cfg.StateMachines == nil {
			return gateway.Errorf(http.StatusServiceUnavailable, "state machine executions are not enabled on this node")
		}
		in := map[string]any{}
		if exec := r.PathValue("execution"); exec != "" {
			in["executionArn"] = sfn.ExecutionArn(project, name, exec)
		} else {
			in["stateMachineArn"] = sfn.MachineArn(project, name)
			if s := r.URL.Query().Get("status"); s != "" {
				in["statusFilter"] = s
			}
		}
		switch op {
		case "GetExecutionHistory":
			in["maxResults"] = 1000
			if r.URL.Query().Get("reverse") == "true" {
				in["reverseOrder"] = true
			}
			if t := r.URL.Query().Get("next"); t != "" {
				in["nextToken"] = t
			}
		case "StopExecution":
			in["error"], in["cause"] = r.URL.Query().Get("error"), r.URL.Query().Get("cause")
		}
		out, err := a.cfg.StateMachines.Call(r.Context(), project, op, in)
		if err != nil {
			return runError(err)
		}
		if op == "GetExecutionHistory" && r.URL.Query().Get("next") == "" {
			// The whole history, page after page (up to maxHistory
			// events; past it the answer keeps its nextToken).
			out, err = a.wholeHistory(r.Context(), project, in, out)
			if err != nil {
				return runError(err)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, err = w.Write(out)
		return err
	}
}

// forgetMachines tells the runner which machines a deploy changed or
// removed, so its cache does not run an old definition.
func (a *API) forgetMachines(p *deploy.Plan) {
	if a.cfg.StateMachines == nil {
		return
	}
	for _, c := range p.StateMachinesChange {
		a.cfg.StateMachines.Forget(c.New.Project, c.New.Name)
	}
	for _, m := range p.StateMachinesRemove {
		a.cfg.StateMachines.Forget(m.Project, m.Name)
	}
}

// maxHistory bounds the events one admin history answer gathers.
const maxHistory = 100_000

// wholeHistory follows GetExecutionHistory's nextToken from first, the
// first page, and answers every event in one page.
func (a *API) wholeHistory(ctx context.Context, project string, in map[string]any, first json.RawMessage) (json.RawMessage, error) {
	var page struct {
		Events    []json.RawMessage `json:"events"`
		NextToken string            `json:"nextToken,omitempty"`
	}
	if err := json.Unmarshal(first, &page); err != nil {
		return nil, err
	}
	all := page
	for all.NextToken != "" && len(all.Events) < maxHistory {
		in["nextToken"] = all.NextToken
		out, err := a.cfg.StateMachines.Call(ctx, project, "GetExecutionHistory", in)
		if err != nil {
			return nil, err
		}
		page.Events, page.NextToken = nil, ""
		if err := json.Unmarshal(out, &page); err != nil {
			return nil, err
		}
		all.Events = append(all.Events, page.Events...)
		all.NextToken = page.NextToken
	}
	return json.Marshal(all)
}
