package console

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/apitype"
)

// The state machine pages read through the admin API in-process, as the
// objects pages do: the API resolves the project (a project token sees
// its own machines only; another project's machine or execution is a
// 404) and runs the Step Functions operations, so the console shows what
// DescribeExecution and GetExecutionHistory answer, nothing it computed
// apart from them.

func (c *Console) machineRoutes() {
	c.page("/machines", c.machinesPage)
	c.page("/machines/{name}", c.machinePage)
	c.page("/machines/{name}/executions/{exec}", c.machineExecutionPage)
}

type machinesData struct {
	Project  string
	Projects []string
	Machines []apitype.StateMachineInfo
}

func (c *Console) machinesPage(w http.ResponseWriter, r *http.Request, s *session) (string, *view, error) {
	project, projects, err := c.objectsProject(r, s)
	if err != nil {
		return "", nil, err
	}
	d := machinesData{Project: project, Projects: projects}
	v := message(r, &view{Title: "State machines", Nav: "machines", Data: &d})
	if project == "" {
		return "machines", v, nil
	}
	var list apitype.StateMachineList
	if err := c.getAPI(r.Context(), s, "/state-machines?project="+url.QueryEscape(project), &list); err != nil {
		return "", nil, err
	}
	d.Machines = list.StateMachines
	return "machines", v, nil
}

// smExecution is a row of ListExecutions, or DescribeExecution.
type smExecution struct {
	Name      string  `json:"name"`
	Status    string  `json:"status"`
	StartDate float64 `json:"startDate"`
	StopDate  float64 `json:"stopDate"`
	Input     string  `json:"input"`
	Output    string  `json:"output"`
	Error     string  `json:"error"`
	Cause     string  `json:"cause"`
}

func (x smExecution) Started() time.Time { return epochTime(x.StartDate) }
func (x smExecution) Stopped() time.Time { return epochTime(x.StopDate) }

func epochTime(s float64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(s * 1000))
}

type machineData struct {
	Project    string
	Machine    apitype.StateMachineInfo
	Graph      template.HTML
	Definition string
	Executions []smExecution
}

func (c *Console) machinePage(w http.ResponseWriter, r *http.Request, s *session) (string, *view, error) {
	project, _, err := c.objectsProject(r, s)
	if err != nil {
		return "", nil, err
	}
	name := r.PathValue("name")
	base := "/state-machines/" + url.PathEscape(name)
	q := "?project=" + url.QueryEscape(project)
	var m apitype.StateMachineInfo
	if err := c.getAPI(r.Context(), s, base+q, &m); err != nil {
		return "", nil, err
	}
	d := machineData{Project: project, Machine: m, Graph: stateGraph(m.Definition, nil), Definition: indent(m.Definition)}
	if m.Type == "STANDARD" {
		var l struct {
			Executions []smExecution `json:"executions"`
		}
		if err := c.getAPI(r.Context(), s, base+"/executions"+q, &l); err != nil {
			return "", nil, err
		}
		d.Executions = l.Executions
	}
	return "machine", message(r, &view{Title: "State machine " + name, Nav: "machines", Data: &d}), nil
}

// smEvent is a GetExecutionHistory event, with what the page shows of it.
type smEvent struct {
	ID     int64
	Type   string
	State  string
	Detail string
	When   time.Time
}

type machineExecutionData struct {
	Project   string
	Machine   string
	Execution smExecution
	Graph     template.HTML
	Events    []smEvent
}

func (c *Console) machineExecutionPage(w http.ResponseWriter, r *http.Request, s *session) (string, *view, error) {
	project, _, err := c.objectsProject(r, s)
	if err != nil {
		return "", nil, err
	}
	name, exec := r.PathValue("name"), r.PathValue("exec")
	base := "/state-machines/" + url.PathEscape(name)
	q := "?project=" + url.QueryEscape(project)
	var m apitype.StateMachineInfo
	if err := c.getAPI(r.Context(), s, base+q, &m); err != nil {
		return "", nil, err
	}
	d := machineExecutionData{Project: project, Machine: name}
	if err := c.getAPI(r.Context(), s, base+"/executions/"+url.PathEscape(exec)+q, &d.Execution); err != nil {
		return "", nil, err
	}
	var h struct {
		Events []map[string]any `json:"events"`
	}
	if err := c.getAPI(r.Context(), s, base+"/executions/"+url.PathEscape(exec)+"/history"+q, &h); err != nil {
		return "", nil, err
	}
	marks := &stateMarks{visited: map[string]bool{}}
	var def graphDef
	_ = json.Unmarshal([]byte(m.Definition), &def)
	open := "" // the last top-level state entered and not left
	for _, e := range h.Events {
		ev := smEvent{Type: str(e["type"])}
		if id, ok := e["id"].(float64); ok {
			ev.ID = int64(id)
		}
		if ts, ok := e["timestamp"].(float64); ok {
			ev.When = epochTime(ts)
		}
		ev.State, ev.Detail = historyDetail(e)
		if _, top := def.States[ev.State]; top {
			switch {
			case strings.HasSuffix(ev.Type, "StateEntered"):
				marks.visited[ev.State] = true
				open = ev.State
			case strings.HasSuffix(ev.Type, "StateExited") && open == ev.State:
				open = ""
			}
		}
		d.Events = append(d.Events, ev)
	}
	switch d.Execution.Status {
	case "RUNNING":
		marks.current = open
	case "FAILED", "TIMED_OUT", "ABORTED":
		marks.failed = open
	}
	d.Graph = stateGraph(m.Definition, marks)
	return "machine_execution", message(r, &view{Title: "Execution " + exec, Nav: "machines", Data: &d}), nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// historyDetail is the state an event is about and its most telling
// detail: error and cause, else output, input or parameters.
func historyDetail(e map[string]any) (state, detail string) {
	for k, v := range e {
		d, ok := v.(map[string]any)
		if !ok || !strings.HasSuffix(k, "EventDetails") {
			continue
		}
		state = str(d["name"])
		for _, f := range []string{"error", "output", "input", "parameters"} {
			if s := str(d[f]); s != "" {
				detail = f + ": " + s
				if f == "error" && str(d["cause"]) != "" {
					detail += " — " + str(d["cause"])
				}
				break
			}
		}
	}
	return state, clip(detail, 300)
}

func indent(s string) string {
	var b bytes.Buffer
	if json.Indent(&b, []byte(s), "", "  ") != nil {
		return s
	}
	return b.String()
}
