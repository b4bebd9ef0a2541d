package wasm_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
	"github.com/stratahq/strata/sdk/go/wire"
)

// fakeSink records the events guests send. A name starting with "refuse"
// is refused with an error naming it.
type fakeSink struct {
	mu     sync.Mutex
	events []wasm.OutboundEvent
}

func (f *fakeSink) SendEvent(ctx context.Context, ev wasm.OutboundEvent) (string, error) {
	if _, ok := ctx.Deadline(); !ok {
		return "", errors.New("fake sink: the invocation's context has no deadline")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(ev.Name) >= 6 && ev.Name[:6] == "refuse" {
		return "", fmt.Errorf("queue %s belongs to another project", ev.Name)
	}
	f.events = append(f.events, ev)
	return fmt.Sprintf("ev-%d", len(f.events)), nil
}

// byName returns the events sent to name (tests run in parallel and use
// distinct names).
func (f *fakeSink) byName(name string) []wasm.OutboundEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []wasm.OutboundEvent
	for _, ev := range f.events {
		if ev.Name == name {
			out = append(out, ev)
		}
	}
	return out
}

var (
	sinkOnce sync.Once
	sinkRT   *wasm.Runtime
	sinkErr  error
	sink     = &fakeSink{}
)

// eventsRuntime is a second Runtime for the test binary, with the fake
// sink; it shares the on-disk compilation cache with testRuntime.
func eventsRuntime(t *testing.T) *wasm.Runtime {
	t.Helper()
	sinkOnce.Do(func() {
		sinkRT, sinkErr = wasm.New(context.Background(), wasm.Config{
			CacheDir: wasmtest.SharedCacheDir(), Events: sink,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
	})
	require.NoError(t, sinkErr)
	return sinkRT
}

func send(t *testing.T, inst *wasm.Instance, q url.Values) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req := &wire.Request{Method: "POST", Path: "/", RawQuery: q.Encode(), InvocationID: "inv-" + q.Get("name"),
		TraceParent: "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"}
	resp, err := inst.Handle(ctx, req, wasm.Output{})
	require.NoError(t, err)
	return resp.Status, string(resp.Body)
}

func TestGuestSendsEvents(t *testing.T) {
	t.Parallel()
	m := compile(t, eventsRuntime(t), wasmtest.Sender, wasm.ModuleSpec{Name: "sender@4", Function: "mailer"})
	require.Equal(t, "mailer", m.Function())
	inst := instantiate(t, m)

	tests := []struct {
		name  string
		query url.Values
		want  wasm.OutboundEvent
	}{
		{"queue with every option", url.Values{"kind": {"queue"}, "name": {"jobs"}, "body": {"b\x00dy"},
			"type": {"job.created"}, "subject": {"jobs/7"}, "group": {"g1"}, "dedup": {"d1"}, "delay_ms": {"1500"}, "ct": {"text/plain"}},
			wasm.OutboundEvent{Name: "jobs", Body: []byte("b\x00dy"), Options: wire.EventOptions{
				ContentType: "text/plain", Type: "job.created", Subject: "jobs/7", GroupID: "g1", DedupID: "d1", DelayMS: 1500}}},
		{"topic, no options", url.Values{"kind": {"topic"}, "name": {"signups"}, "body": {"x"}},
			wasm.OutboundEvent{Topic: true, Name: "signups", Body: []byte("x")}},
		{"topic JSON", url.Values{"kind": {"topic"}, "name": {"signups-json"}, "body": {"hi"}, "json": {"1"}},
			wasm.OutboundEvent{Topic: true, Name: "signups-json", Body: []byte(`{"body":"hi"}`),
				Options: wire.EventOptions{ContentType: "application/json"}}},
		{"queue JSON, content type overridden", url.Values{"name": {"jobs-json"}, "body": {"hi"}, "json": {"1"}, "ct": {"application/vnd.x+json"}},
			wasm.OutboundEvent{Name: "jobs-json", Body: []byte(`{"body":"hi"}`),
				Options: wire.EventOptions{ContentType: "application/vnd.x+json"}}},
		{"empty body", url.Values{"name": {"empty"}},
			wasm.OutboundEvent{Name: "empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := send(t, inst, tt.query)
			require.Equal(t, 200, status, body)
			got := sink.byName(tt.want.Name)
			require.Len(t, got, 1)
			require.Regexp(t, `^id=ev-\d+$`, body, "the host's id reaches the guest")
			tt.want.Caller = "mailer"
			tt.want.InvocationID = "inv-" + tt.want.Name
			tt.want.TraceParent = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"
			require.Equal(t, tt.want, got[0])
		})
	}
}

func TestGuestSendErrors(t *testing.T) {
	t.Parallel()
	m := compile(t, eventsRuntime(t), wasmtest.Sender, wasm.ModuleSpec{Name: "sender@9"})
	require.Equal(t, "sender", m.Function(), "derived from the module name")
	inst := instantiate(t, m)

	status, body := send(t, inst, url.Values{"kind": {"topic"}, "name": {"refused-topic"}, "body": {"x"}})
	require.Equal(t, 502, status)
	require.Equal(t, "error=strata: publish to topic refused-topic: queue refused-topic belongs to another project", body)
	require.Empty(t, sink.byName("refused-topic"))

	status, body = send(t, inst, url.Values{"name": {""}})
	require.Equal(t, 502, status)
	require.Equal(t, "error=strata: send to queue : empty name", body)

	// A send during package init runs outside any invocation.
	status, body = send(t, inst, url.Values{"init": {"1"}})
	require.Equal(t, 200, status)
	require.Contains(t, body, "init=strata: send to queue early: host call failed with code -1")
	require.Empty(t, sink.byName("early"))

	// Refusals do not break the instance.
	require.False(t, inst.Broken())
	status, body = send(t, inst, url.Values{"name": {"after-errors"}, "body": {"ok"}})
	require.Equal(t, 200, status, body)
	require.Len(t, sink.byName("after-errors"), 1)
	require.Equal(t, "sender", sink.byName("after-errors")[0].Caller)
}

func TestGuestSendWithoutSink(t *testing.T) {
	t.Parallel()
	m := compile(t, testRuntime(t), wasmtest.Sender, wasm.ModuleSpec{})
	inst := instantiate(t, m)
	status, body := send(t, inst, url.Values{"name": {"jobs"}, "body": {"x"}})
	require.Equal(t, 502, status)
	require.Equal(t, "error=strata: send to queue jobs: "+wasm.ErrNoEvents.Error(), body)
}
