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
}

var _ StateMachineRunner = (*sfn.Handler)(nil)

// errStandardExecutions answers what needs STANDARD executions, which are
// not built yet.
var errStandardExecutions = gateway.Errorf(http.StatusNotImplemented,
	"STANDARD executions are not available yet: only EXPRESS machines run (strata sm start NAME --sync), and Strata keeps no EXPRESS execution")

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
	a.handleToken("GET /state-machines/{name}/executions/{execution}/history", AnyProject, a.machineStandardOnly)
	a.handleToken("POST /state-machines/{name}/executions/{execution}/stop", AnyProject, a.machineStandardOnly)
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

// runError gives a refused start its status and Step Functions' words;
// a STANDARD machine gets the one message every STANDARD-only command
// answers.
func runError(err error) error {
	var se *sfn.Error
	if !errors.As(err, &se) {
		return err
	}
	if se.Type == "StateMachineTypeNotSupported" {
		return errStandardExecutions
	}
	return gateway.Errorf(se.Status, "%s: %s", se.Type, se.Message)
}

// machineStandardOnly answers history and stop, which only STANDARD
// executions have. The project and machine are still checked, so a
// token learns nothing of another project's machines here either.
func (a *API) machineStandardOnly(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	project, err := a.machinesProject(r, tok)
	if err != nil {
		return err
	}
	name, err := machineName(r)
	if err != nil {
		return err
	}
	if _, err := a.cfg.Store.StateMachineGet(r.Context(), project, name); err != nil {
		return err
	}
	return errStandardExecutions
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
