package flow

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/sdk/go/wire"
)

func TestAppendRequestIsJSON(t *testing.T) {
	tests := map[string]wire.FlowRequest{
		"minimal": {Op: wire.FlowOpAwait},
		"call": {Op: wire.FlowOpSchedule, Kind: wire.FlowCall, Name: "charge-card", Input: json.RawMessage(`{"a":[1,2]}`),
			Retry:    &wire.FlowRetry{MaxAttempts: 5, InitialMS: 1000, Coefficient: 1.5, MaxIntervalMS: 60000, NonRetryable: []string{"A", `B"\`}},
			Timeouts: &wire.FlowTimeouts{StartToCloseMS: 1, ScheduleToCloseMS: 2, HeartbeatMS: 3}},
		"empty nested objects": {Op: wire.FlowOpSchedule, Retry: &wire.FlowRetry{}, Timeouts: &wire.FlowTimeouts{}},
		"only last field":      {Op: wire.FlowOpSchedule, Retry: &wire.FlowRetry{NonRetryable: []string{"x"}}, Timeouts: &wire.FlowTimeouts{HeartbeatMS: 9}},
		"large coefficient":    {Op: wire.FlowOpSchedule, Retry: &wire.FlowRetry{Coefficient: 1e21}},
		"strings": {Op: wire.FlowOpSignal, Name: "quote\" backslash\\ nl\n tab\t ctl\x01\x1f del\x7f é 日本 <&>",
			ID: "bad utf8 \xff\xfe end", Workflow: "w\u2028"},
		"everything else": {Op: wire.FlowOpSchedule, Kind: wire.FlowVersion, DurationMS: -5, Min: 1, Max: 3,
			Steps: []int{1, 20, 300}, Details: json.RawMessage(`"d"`)},
	}
	for name, req := range tests {
		t.Run(name, func(t *testing.T) {
			b := appendRequest([]byte("prefix"), &req)
			require.Equal(t, "prefix", string(b[:6]))
			b = b[6:]
			require.True(t, json.Valid(b), "%s", b)
			want, err := json.Marshal(&req)
			require.NoError(t, err)
			var got, exp wire.FlowRequest
			require.NoError(t, json.Unmarshal(b, &got))
			require.NoError(t, json.Unmarshal(want, &exp))
			require.Equal(t, exp, got, "%s", b)
			// Same fields present as encoding/json writes.
			var gotMap, wantMap map[string]any
			require.NoError(t, json.Unmarshal(b, &gotMap))
			require.NoError(t, json.Unmarshal(want, &wantMap))
			require.Equal(t, wantMap, gotMap)
		})
	}
}

// BenchmarkCallStep measures the guest's cost of one replayed step (a
// schedule and an await answered from memory), the path every step of
// every replay takes.
func BenchmarkCallStep(b *testing.B) {
	sched := []byte(`{"step":7}`)
	await := []byte(`{"results":[{"step":7,"output":{"amount":30}}]}`)
	var buf []byte
	prev := hostFlow
	b.Cleanup(func() { hostFlow = prev })
	hostFlow = func(encode func([]byte) ([]byte, error), decode func([]byte) error) error {
		var err error
		if buf, err = encode(buf[:0]); err != nil {
			return err
		}
		if buf[7] == 'a' { // {"op":"await"
			return decode(await)
		}
		return decode(sched)
	}
	ctx := &orchestration{task: &wire.FlowTask{Workflow: "w", Execution: "e", Run: 1}}
	in := order{ID: "o-1", Items: 3}
	var p payment
	b.ReportAllocs()
	for b.Loop() {
		if err := Call(ctx, "charge", in, &p); err != nil {
			b.Fatal(err)
		}
	}
	if p.Amount != 30 {
		b.Fatal(p)
	}
}

func TestDecodeResponse(t *testing.T) {
	tests := []struct {
		answer string
		fast   bool // the fast path takes it
	}{
		{`{}`, true},
		{`{"step":7}`, true},
		{` { "step" : 12 , "value" : "2030-01-02T03:04:05Z" } `, true},
		{`{"step":3,"value":18446744073709551615}`, true},
		{`{"step":3,"value":{"a":["}",{"b":"\"]"}]}}`, true},
		{`{"suspend":true}`, true},
		{`{"canceled":true,"suspend":false}`, true},
		{`{"results":[{"step":1,"output":{"amount":30}},{"step":2},{"step":3,"output":null},{"output":"x\\\"y","step":4}]}`, true},
		{`{"results":[]}`, true},
		{`{"results":[{"step":2,"error":{"type":"Timeout","message":"late"}}]}`, false},
		{`{"error":{"type":"PayloadTooLarge","message":"big"}}`, false},
		{`{"id":"order-42","existed":true}`, false},
		{`{"st\u0065p":5}`, false},
		{`{"step":-1}`, false},
		{`{"step":1.5}`, false},
		{`{"step":1}{`, false},
		{`{"value":tru`, false},
		{`{"results":[{"step":1,"output":[1,2}]}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.answer, func(t *testing.T) {
			var fast wire.FlowResponse
			require.Equal(t, tc.fast, fastResponse([]byte(tc.answer), &fast, nil))
			var want, got wire.FlowResponse
			wantErr := json.Unmarshal([]byte(tc.answer), &want)
			err := decodeResponse([]byte(tc.answer), &got)
			if wantErr != nil {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}
}

// FuzzDecodeResponse: where the fast path answers, it answers what
// encoding/json does.
func FuzzDecodeResponse(f *testing.F) {
	for _, s := range []string{`{"step":7}`, `{"step":3,"value":"x"}`, `{"results":[{"step":1,"output":{"a":[1,"]"]}}]}`, `{"suspend":true,"canceled":false}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast wire.FlowResponse
		if !fastResponse(b, &fast, nil) || !json.Valid(b) {
			return
		}
		var want wire.FlowResponse
		require.NoError(t, json.Unmarshal(b, &want))
		// encoding/json compacts nothing in RawMessage: compare as values.
		require.Equal(t, len(want.Results), len(fast.Results))
		require.Equal(t, want.Step, fast.Step)
		require.Equal(t, want.Suspend, fast.Suspend)
		require.Equal(t, want.Canceled, fast.Canceled)
		require.Equal(t, string(want.Value), string(fast.Value))
		for i := range want.Results {
			require.Equal(t, want.Results[i].Step, fast.Results[i].Step)
			require.Equal(t, string(want.Results[i].Output), string(fast.Results[i].Output))
		}
	})
}
