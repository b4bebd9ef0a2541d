package flow

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/sdk/go/wire"
)

// fakeHost is a tiny in-memory replay host: it records the commands of one
// execution, answers replayed schedules from that history (failing one
// that no longer matches with NonDeterminism), and answers Suspend to an
// await whose steps have no result yet. Between invocations, runToEnd
// resolves pending steps the way the platform would: it runs activities
// (in process), fires timers, delivers signals.
type fakeHost struct {
	t       *testing.T
	history []command
	results map[int]wire.FlowResult

	// per invocation
	pos, awaits int
	log         []wire.FlowRequest

	runs       int            // orchestrator invocations
	executed   map[string]int // activity runs by function
	activities map[string]func(in json.RawMessage) (json.RawMessage, *wire.FlowError)
	signals    map[string][]json.RawMessage // buffered, by name
	cancelAt   int                          // report Canceled at this await of every run (1-based)
	refuse     func(req *wire.FlowRequest) *wire.FlowError
	versions   map[string]int // the version an old execution recorded; else Max
	heartbeat  wire.FlowResponse
	other      []wire.FlowRequest // start, signal, heartbeat
}

type command struct {
	req   wire.FlowRequest
	step  int
	value json.RawMessage
}

func newFakeHost(t *testing.T) *fakeHost {
	h := &fakeHost{t: t, results: map[int]wire.FlowResult{}, executed: map[string]int{},
		activities: map[string]func(json.RawMessage) (json.RawMessage, *wire.FlowError){}, signals: map[string][]json.RawMessage{}}
	prev := hostFlow
	t.Cleanup(func() { hostFlow = prev })
	hostFlow = func(encode func([]byte) ([]byte, error), decode func([]byte) error) error {
		b, err := encode(nil)
		require.NoError(t, err)
		var req wire.FlowRequest
		d := json.NewDecoder(bytes.NewReader(b))
		d.DisallowUnknownFields()
		require.NoError(t, d.Decode(&req), "request %s", b)
		resp := h.handle(&req)
		out, err := json.Marshal(resp)
		require.NoError(t, err)
		return decode(out)
	}
	return h
}

func (h *fakeHost) handle(req *wire.FlowRequest) *wire.FlowResponse {
	switch req.Op {
	case wire.FlowOpSchedule:
		h.log = append(h.log, *req)
		return h.schedule(req)
	case wire.FlowOpAwait:
		h.log = append(h.log, *req)
		return h.await(req)
	case wire.FlowOpHeartbeat:
		h.other = append(h.other, *req)
		return &h.heartbeat
	case wire.FlowOpStart:
		h.other = append(h.other, *req)
		return &wire.FlowResponse{ID: "exec-" + req.Workflow, Existed: req.ID != ""}
	case wire.FlowOpSignal:
		h.other = append(h.other, *req)
		if req.ID == "gone" {
			return &wire.FlowResponse{Error: &wire.FlowError{Type: "ExecutionClosed", Message: "execution gone is closed"}}
		}
		return &wire.FlowResponse{}
	}
	h.t.Fatalf("unknown op %q", req.Op)
	return nil
}

func (h *fakeHost) schedule(req *wire.FlowRequest) *wire.FlowResponse {
	if h.refuse != nil {
		if fe := h.refuse(req); fe != nil {
			return &wire.FlowResponse{Error: fe}
		}
	}
	if h.pos < len(h.history) { // replay
		c := h.history[h.pos]
		h.pos++
		if !reflect.DeepEqual(c.req, *req) {
			return &wire.FlowResponse{Error: &wire.FlowError{Type: wire.FlowErrNonDeterminism, Step: c.step,
				Message: "step " + strconv.Itoa(c.step) + " was " + c.req.Kind + " " + c.req.Name + ", now " + req.Kind + " " + req.Name}}
		}
		return &wire.FlowResponse{Step: c.step, Value: c.value}
	}
	c := command{req: *req, step: len(h.history) + 1}
	switch req.Kind {
	case wire.FlowNow:
		c.value = json.RawMessage(`"2030-01-02T03:04:05.000000006Z"`)
	case wire.FlowRandom:
		c.value = json.RawMessage(strconv.Itoa(1<<62 + c.step))
	case wire.FlowUUID:
		c.value = json.RawMessage(`"uuid-` + strconv.Itoa(c.step) + `"`)
	case wire.FlowVersion:
		v, ok := h.versions[req.Name]
		if !ok {
			v = req.Max
		}
		c.value = json.RawMessage(strconv.Itoa(v))
	}
	h.history = append(h.history, c)
	h.pos++
	return &wire.FlowResponse{Step: c.step, Value: c.value}
}

func (h *fakeHost) await(req *wire.FlowRequest) *wire.FlowResponse {
	h.awaits++
	if h.awaits == h.cancelAt {
		return &wire.FlowResponse{Canceled: true}
	}
	resp := &wire.FlowResponse{}
	for _, s := range req.Steps {
		r, ok := h.results[s]
		if !ok {
			return &wire.FlowResponse{Suspend: true}
		}
		resp.Results = append(resp.Results, r)
	}
	return resp
}

// resolve finishes every pending step, as the platform does while the
// orchestrator is suspended.
func (h *fakeHost) resolve() {
	for _, c := range h.history {
		if _, done := h.results[c.step]; done || c.value != nil {
			continue
		}
		r := wire.FlowResult{Step: c.step}
		switch c.req.Kind {
		case wire.FlowCall:
			fn := h.activities[c.req.Name]
			require.NotNil(h.t, fn, "no activity %s", c.req.Name)
			h.executed[c.req.Name]++
			r.Output, r.Error = fn(c.req.Input)
		case wire.FlowSignal:
			if q := h.signals[c.req.Name]; len(q) > 0 {
				r.Output, h.signals[c.req.Name] = q[0], q[1:]
			} else if c.req.DurationMS > 0 {
				r.Error = &wire.FlowError{Type: wire.FlowErrTimeout, Message: "no signal " + c.req.Name + " in time"}
			} else {
				continue // waits on
			}
		case wire.FlowChild:
			r.Output = json.RawMessage(`{"child":` + string(c.req.Input) + `,"id":"` + c.req.ID + `"}`)
		}
		h.results[c.step] = r
	}
}

// invoke runs one orchestrator invocation.
func (h *fakeHost) invoke(workflow string, input string) wire.FlowOutcome {
	h.t.Helper()
	h.pos, h.awaits, h.log = 0, 0, nil
	h.runs++
	task, err := json.Marshal(wire.FlowTask{Workflow: workflow, Execution: "exec-1", Run: 1, Input: json.RawMessage(input)})
	require.NoError(h.t, err)
	return orchestrateRaw(h.t, task)
}

func orchestrateRaw(t *testing.T, task []byte) wire.FlowOutcome {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(task))
	r.Header.Set(wire.FlowHeader, "orchestrate")
	w := httptest.NewRecorder()
	Handler(nil).ServeHTTP(w, r)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	var out wire.FlowOutcome
	d := json.NewDecoder(w.Body)
	d.DisallowUnknownFields()
	require.NoError(t, d.Decode(&out))
	return out
}

// runToEnd invokes the orchestrator until it stops suspending, resolving
// pending steps in between.
func (h *fakeHost) runToEnd(workflow, input string) wire.FlowOutcome {
	h.t.Helper()
	for range 50 {
		out := h.invoke(workflow, input)
		if !out.Suspended {
			return out
		}
		require.Empty(h.t, out.Output)
		require.Nil(h.t, out.Error)
		h.resolve()
	}
	h.t.Fatal("the workflow never finished")
	return wire.FlowOutcome{}
}

// register registers a workflow for one test.
func register[I, O any](t *testing.T, name string, fn func(Context, I) (O, error)) {
	Workflow(name, fn)
	t.Cleanup(func() { delete(workflows, name) })
}
