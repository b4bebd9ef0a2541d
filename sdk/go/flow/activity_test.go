package flow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/sdk/go/wire"
)

// withActivity registers fn as the activity for one test.
func withActivity[I, O any](t *testing.T, fn func(context.Context, I) (O, error)) {
	prev := activity
	activity = nil
	t.Cleanup(func() { activity = prev })
	Activity(fn)
}

// callActivity invokes the registered activity as the platform does for a
// step, and returns the status and body.
func callActivity(t *testing.T, next http.Handler, body string, headers map[string]string) (int, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	Handler(next).ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

var stepHeaders = map[string]string{wire.FlowExecutionHeader: "order-42", wire.FlowWorkflowHeader: "fulfil",
	wire.FlowStepHeader: "3", wire.FlowAttemptHeader: "2"}

func TestActivityHandler(t *testing.T) {
	var infos []Info
	var keys []string
	withActivity(t, func(ctx context.Context, o order) (payment, error) {
		info, _ := ActivityInfo(ctx)
		infos = append(infos, info)
		keys = append(keys, IdempotencyKey(ctx))
		switch {
		case o.Items < 0:
			return payment{}, NonRetryable(fmt.Errorf("order %s: negative items", o.ID))
		case o.Items > 100:
			return payment{}, NonRetryable(NewError("TooLarge", "at most 100 items"))
		case o.Items > 5:
			return payment{}, fmt.Errorf("charge %s: %w", o.ID, &Error{Type: "CardDeclined", Message: "limit", Details: json.RawMessage(`{"limit":50}`)})
		case o.Items == 5:
			return payment{}, errors.New("gateway unavailable")
		case o.Items == 4:
			panic("boom") // an activity that panics
		}
		return payment{Amount: 10 * o.Items}, nil
	})
	var logs bytes.Buffer
	prev := stderr
	stderr = &logs
	t.Cleanup(func() { stderr = prev })

	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"success", `{"id":"a","items":2}`, 200, `{"amount":20}`},
		{"empty input is the zero value", ``, 200, `{"amount":0}`},
		{"plain error", `{"items":5}`, 500, `{"error":{"type":"ActivityError","message":"gateway unavailable"}}`},
		{"typed error, wrapped", `{"id":"b","items":6}`, 500,
			`{"error":{"type":"CardDeclined","message":"charge b: CardDeclined: limit","details":{"limit":50}}}`},
		{"non-retryable plain error", `{"id":"c","items":-1}`, 500,
			`{"error":{"type":"ActivityError","message":"order c: negative items","non_retryable":true}}`},
		{"non-retryable typed error", `{"items":101}`, 500,
			`{"error":{"type":"TooLarge","message":"at most 100 items","non_retryable":true}}`},
		{"panic", `{"items":4}`, 500, `{"error":{"type":"Panic","message":"boom"}}`},
		{"bad input", `{"items":"two"}`, 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := callActivity(t, nil, tc.body, stepHeaders)
			require.Equal(t, tc.status, status, body)
			if tc.want != "" {
				require.JSONEq(t, tc.want, body)
				return
			}
			var resp struct{ Error wire.FlowError }
			require.NoError(t, json.Unmarshal([]byte(body), &resp))
			require.Equal(t, wire.FlowErrBadInput, resp.Error.Type)
			require.True(t, resp.Error.NonRetryable)
			require.Contains(t, resp.Error.Message, "decode input")
		})
	}
	require.Contains(t, logs.String(), "activity panicked: boom")
	require.Equal(t, Info{Execution: "order-42", Workflow: "fulfil", Step: 3, Attempt: 2}, infos[0])
	require.Equal(t, "order-42/3", keys[0])

	// A direct invocation (no step headers) has no Info and no key.
	infos, keys = nil, nil
	status, _ := callActivity(t, nil, `{"items":1}`, nil)
	require.Equal(t, 200, status)
	require.Equal(t, []Info{{}}, infos)
	require.Equal(t, []string{""}, keys)
}

func TestHandlerRouting(t *testing.T) {
	prev := activity
	activity = nil
	t.Cleanup(func() { activity = prev })
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("mine")) })

	status, body := callActivity(t, nil, `{}`, nil)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body, "answers orchestrator invocations only")
	status, body = callActivity(t, next, `{}`, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "mine", body)

	withActivity(t, func(ctx context.Context, in int) (int, error) { return in + 1, nil })
	_, body = callActivity(t, next, `1`, nil)
	require.Equal(t, "mine", body, "plain requests go to next")
	_, body = callActivity(t, next, `1`, stepHeaders)
	require.Equal(t, "2", body, "steps go to the activity")
	_, body = callActivity(t, nil, `1`, nil)
	require.Equal(t, "2", body, "without next, everything not orchestrated is the activity's")
	require.Panics(t, func() { Activity(func(context.Context, int) (int, error) { return 0, nil }) })
}

func TestHeartbeat(t *testing.T) {
	h := newFakeHost(t)
	ctx := context.WithValue(context.Background(), infoKey{}, Info{Execution: "e", Step: 1, Attempt: 1})
	require.NoError(t, Heartbeat(ctx, map[string]int{"page": 3}))
	require.Equal(t, wire.FlowRequest{Op: wire.FlowOpHeartbeat, Details: json.RawMessage(`{"page":3}`)}, h.other[0])

	h.heartbeat = wire.FlowResponse{Canceled: true}
	require.ErrorIs(t, Heartbeat(ctx, nil), ErrCanceled)
	require.Empty(t, h.other[1].Details)

	require.ErrorContains(t, Heartbeat(context.Background(), nil), "not in an activity")
	require.Len(t, h.other, 2)
}

func TestStartAndSignal(t *testing.T) {
	h := newFakeHost(t)
	ctx := context.Background()
	id, err := Start(ctx, "fulfil", "order-42", order{ID: "o"})
	require.NoError(t, err)
	require.Equal(t, "exec-fulfil", id)
	require.NoError(t, Signal(ctx, "order-42", "approval", true))
	require.Equal(t, []wire.FlowRequest{
		{Op: wire.FlowOpStart, Workflow: "fulfil", ID: "order-42", Input: json.RawMessage(`{"id":"o","items":0}`)},
		{Op: wire.FlowOpSignal, ID: "order-42", Name: "approval", Input: json.RawMessage(`true`)},
	}, h.other)

	var fe *Error
	require.ErrorAs(t, Signal(ctx, "gone", "approval", nil), &fe)
	require.Equal(t, "ExecutionClosed", fe.Type)

	// From workflow code they would repeat on every replay: refused.
	var startErr, signalErr error
	register(t, "starter", func(ctx Context, _ any) (int, error) {
		_, startErr = Start(ctx, "other", "", nil)
		signalErr = Signal(ctx, "x", "y", nil)
		return 0, nil
	})
	h.invoke("starter", ``)
	require.ErrorContains(t, startErr, "use flow.Child")
	require.ErrorContains(t, signalErr, "use flow.Child")
	require.Len(t, h.other, 3)
}
