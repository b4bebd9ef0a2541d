//go:build !wasip1

package flow_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
	"github.com/stratahq/strata/sdk/go/wire"
)

// The guest in testdata/guest runs in the real runtime (wazero), built with
// GOOS=wasip1 -buildmode=c-shared, against a replay host in memory: the
// unwinding on Suspend, the host call and the JSON of both sides are the
// real ones.

// wasmHost is a minimal replay host for one execution of the guest's
// workflows. Activities run in a second instance of the same module.
type wasmHost struct {
	t        *testing.T
	history  []wire.FlowRequest
	results  map[int]wire.FlowResult
	pos      int
	act      *wasm.Instance
	block    bool  // awaits wait in memory while the activity runs
	pending  []int // steps an await suspended on
	executed int
}

var _ wasm.Flow = (*wasmHost)(nil)

func (h *wasmHost) Flow(_ context.Context, req wire.FlowRequest) (*wire.FlowResponse, error) {
	switch req.Op {
	case wire.FlowOpSchedule:
		if h.pos < len(h.history) {
			require.Equal(h.t, h.history[h.pos], req, "replay of step %d", h.pos+1)
		} else {
			h.history = append(h.history, req)
		}
		h.pos++
		resp := &wire.FlowResponse{Step: h.pos}
		if req.Kind == wire.FlowUUID {
			resp.Value = json.RawMessage(`"u-` + strconv.Itoa(h.pos) + `"`)
		}
		return resp, nil
	case wire.FlowOpAwait:
		resp := &wire.FlowResponse{}
		for _, s := range req.Steps {
			r, ok := h.results[s]
			if !ok && h.block {
				r, ok = h.run(s), true
			}
			if !ok {
				h.pending = append(h.pending, s)
				resp.Suspend = true
			}
			resp.Results = append(resp.Results, r)
		}
		if resp.Suspend {
			return &wire.FlowResponse{Suspend: true}, nil
		}
		return resp, nil
	}
	h.t.Errorf("unexpected op %q", req.Op)
	return &wire.FlowResponse{}, nil
}

// run runs a step's activity as the platform does.
func (h *wasmHost) run(step int) wire.FlowResult {
	h.executed++
	c := h.history[step-1]
	resp := handle(h.t, h.act, &wire.Request{Method: "POST", Path: "/", Body: c.Input, Headers: []wire.Header{
		{Name: wire.FlowExecutionHeader, Values: []string{"e-1"}}, {Name: wire.FlowStepHeader, Values: []string{strconv.Itoa(step)}},
		{Name: wire.FlowAttemptHeader, Values: []string{"1"}}, {Name: wire.FlowWorkflowHeader, Values: []string{"greet"}}}})
	r := wire.FlowResult{Step: step}
	if resp.Status == 200 {
		r.Output = resp.Body
	} else {
		var e struct{ Error *wire.FlowError }
		require.NoError(h.t, json.Unmarshal(resp.Body, &e), "%d %s", resp.Status, resp.Body)
		r.Error = e.Error
		r.Error.Step, r.Error.Name, r.Error.Attempts = step, c.Name, 1
	}
	h.results[step] = r
	return r
}

func handle(t testing.TB, inst *wasm.Instance, req *wire.Request) *wire.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := inst.Handle(ctx, req, wasm.Output{})
	require.NoError(t, err)
	return resp
}

// newWasm compiles the guest into a runtime whose flow host is h and
// returns an instance for the orchestrator.
func newWasm(t testing.TB, h wasm.Flow) (orch, act *wasm.Instance) {
	t.Helper()
	bin := wasmtest.BuildGuest(t, "testdata/guest")
	rt, err := wasm.New(context.Background(), wasm.Config{CacheDir: wasmtest.SharedCacheDir(), Flow: h,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close(context.Background()) })
	m, err := rt.Compile(context.Background(), bin, wasm.ModuleSpec{Name: "guest@1"})
	require.NoError(t, err)
	orch, err = m.Instantiate(context.Background())
	require.NoError(t, err)
	act, err = m.Instantiate(context.Background())
	require.NoError(t, err)
	return orch, act
}

func orchestrate(t testing.TB, inst *wasm.Instance, workflow, input string) wire.FlowOutcome {
	t.Helper()
	task, err := json.Marshal(wire.FlowTask{Workflow: workflow, Execution: "e-1", Run: 1, Input: json.RawMessage(input)})
	require.NoError(t, err)
	resp := handle(t, inst, &wire.Request{Method: "POST", Path: "/", Body: task,
		Headers: []wire.Header{{Name: wire.FlowHeader, Values: []string{"orchestrate"}}}})
	require.Equal(t, 200, resp.Status, string(resp.Body))
	var out wire.FlowOutcome
	require.NoError(t, json.Unmarshal(resp.Body, &out), string(resp.Body))
	return out
}

func TestWasmGuest(t *testing.T) {
	const greeting = `"hello ann (e-1/1); hello bob (e-1/2); hello cy (e-1/3); u-4"`
	tests := []struct {
		name   string
		block  bool
		input  string
		passes int
		want   wire.FlowOutcome
	}{
		{"awaits wait in memory: one pass", true, `["ann","bob","cy"]`, 1, wire.FlowOutcome{Output: json.RawMessage(greeting)}},
		{"suspend and replay", false, `["ann","bob","cy"]`, 3, wire.FlowOutcome{Output: json.RawMessage(greeting)}},
		{"activity failure fails the execution", false, `["ann",""]`, 3, wire.FlowOutcome{Error: &wire.FlowError{
			Type: "NoName", Message: "empty name", NonRetryable: true, Step: 2, Name: "greeter", Attempts: 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &wasmHost{t: t, results: map[int]wire.FlowResult{}, block: tc.block}
			orch, act := newWasm(t, h)
			h.act = act
			var out wire.FlowOutcome
			passes := 0
			for passes < 10 {
				passes++
				h.pos = 0
				if out = orchestrate(t, orch, "greet", tc.input); !out.Suspended {
					break
				}
				for _, s := range h.pending {
					h.run(s)
				}
				h.pending = nil
			}
			require.Equal(t, tc.passes, passes)
			require.Equal(t, tc.want, out)
			calls := 0
			for _, c := range h.history {
				if c.Kind == wire.FlowCall {
					calls++
				}
			}
			require.Equal(t, calls, h.executed, "each step ran once")
		})
	}
}

// BenchmarkWasmReplay is the cost of one replayed step in WebAssembly
// (schedule and await answered from memory, the guest's work and the host
// call): one pass of the "count" workflow over b.N steps.
func BenchmarkWasmReplay(b *testing.B) {
	h := &countHost{}
	orch, _ := newWasm(b, h)
	orchestrate(b, orch, "count", "1") // warm: the first invocation pays for the instance's first allocations
	h.pos = 0
	b.ResetTimer()
	out := orchestrate(b, orch, "count", strconv.Itoa(b.N))
	require.Equal(b, strconv.Itoa(b.N), string(out.Output))
}

// countHost answers every await of "count" at once.
type countHost struct{ pos int }

func (h *countHost) Flow(_ context.Context, req wire.FlowRequest) (*wire.FlowResponse, error) {
	if req.Op == wire.FlowOpSchedule {
		h.pos++
		return &wire.FlowResponse{Step: h.pos}, nil
	}
	return &wire.FlowResponse{Results: []wire.FlowResult{{Step: req.Steps[0], Output: json.RawMessage(`"hello"`)}}}, nil
}
