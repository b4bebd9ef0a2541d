package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/api"
	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/events"
	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/meter"
	"github.com/stratahq/strata/internal/pool"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/registry"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
	"github.com/stratahq/strata/sdk/go/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/contract")

// prepInvoker compiles nothing and reports every module a reactor, with
// one function's pool loaded so the answer shows its instances.
type prepInvoker struct{}

func (prepInvoker) Prepare(context.Context, string, []byte, string, record.FunctionConfig) (registry.Prepared, error) {
	return registry.Prepared{Kind: record.KindReactor, Compile: 1200 * time.Millisecond, Init: 30 * time.Millisecond, Snapshot: true}, nil
}
func (prepInvoker) Sync(context.Context) error { return nil }
func (prepInvoker) PoolStats() map[string]pool.Stats {
	return map[string]pool.Stats{"api": {Idle: 1, Busy: 2, Provisioned: 1, ColdStarts: 3, Invocations: 40,
		PrewarmedAhead: 5, WaitedWarm: 6, Discarded: 7, Reaped: 8}}
}

// fixedEvents answers sends and publishes with fixed ids.
type fixedEvents struct{}

func (fixedEvents) Send(context.Context, string, events.SendParams) (*apitype.SendResult, error) {
	return &apitype.SendResult{ID: "ev-9", Duplicate: true}, nil
}
func (fixedEvents) Publish(context.Context, string, events.SendParams) (*apitype.SendResult, int, error) {
	return &apitype.SendResult{ID: "ev-10"}, 2, nil
}
func (fixedEvents) InvokeAsync(context.Context, string, *wire.Request, string) (*apitype.SendResult, error) {
	return &apitype.SendResult{ID: "ev-11"}, nil
}
func (fixedEvents) TryRequest(context.Context, events.TryParams) (*events.Try, error) {
	return nil, events.ErrNoSource
}
func (fixedEvents) FireNow(context.Context, record.Schedule) (*apitype.SendResult, error) {
	return &apitype.SendResult{ID: "ev-12"}, nil
}
func (fixedEvents) Reconcile(context.Context) error { return nil }
func (fixedEvents) Notify(string)                   {}

// fixedNodes lists two nodes, one serving and one gone.
type fixedNodes struct{}

func (fixedNodes) ID() string { return "web-1-8080" }
func (fixedNodes) Nodes(context.Context) ([]record.Node, error) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return []record.Node{
		{ID: "web-1-8080", Addr: "10.0.0.1:8080", State: record.NodeServing, Version: "0.9.0", Load: 4, StartedAt: at, Heartbeat: at},
		{ID: "web-2-8080", Addr: "10.0.0.2:8080", State: record.NodeGone, Version: "0.8.0", StartedAt: at, Heartbeat: at},
	}, nil
}

// contractSpec is a deploy request as the CLI sends it: every part of a
// spec, so the plan in the answer has every kind of change. Function
// worker names no kind: the applied plan shows the one detected.
const contractSpec = `{"project":"shop","functions":[
 {"name":"api","module_sha256":"{{sha}}","config":{"kind":"reactor","memory_mb":128,"timeout_ms":10000,"max_concurrency":8,
   "env":{"MODE":"live"},"bindings":[{"name":"db","kind":"sql","resource":"main"},{"name":"cache","kind":"kv","resource":"sessions"}],
   "secrets":["stripe_key"],"fetch":["api.example.org"]},
  "routes":[{"method":"GET","path":"/orders/{id}"},{"method":"POST","path":"/hooks","async":true,"rate_limit":10,"rate_burst":20}],
  "topics":["signups"],"retries":2,"dead_letter":"dlq"},
 {"name":"worker","module_sha256":"{{sha}}","config":{"memory_mb":64,"timeout_ms":5000,"max_concurrency":1},
  "queue":{"name":"orders","batch_size":10},"schedule":{"spec":"0 3 * * *","timezone":"Europe/Berlin"},"retries":0}],
 "queues":[{"name":"orders","visibility_timeout_ms":30000,"max_receives":5,"dead_letter":"dlq"},
  {"name":"dlq","visibility_timeout_ms":30000,"max_receives":5,"fifo":true}],
 "topics":[{"name":"signups","queues":["orders"]}],
 "databases":[{"name":"main","engine":"sqlite","max_connections":4}],
 "kv":[{"name":"sessions"}],
 "secrets":["stripe_key"]}`

// normalise replaces what differs between runs (times the store stamps,
// random token values and the ids derived from them) so the golden files
// pin names, shapes and every other value.
func normalise(b []byte) []byte {
	b = regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"`).ReplaceAll(b, []byte(`"TIME"`))
	b = regexp.MustCompile(`"st_[A-Za-z0-9_-]+"`).ReplaceAll(b, []byte(`"TOKEN"`))
	return regexp.MustCompile(`"id": "[0-9a-f]{12}"`).ReplaceAll(b, []byte(`"id": "TOKENID"`))
}

// TestResponseBodies pins the admin API's answers byte for byte: the
// CLI, scripts and older clients read them, so a field renamed, moved or
// reordered is a breaking change. Run with -update after a deliberate
// change and review the diff.
func TestResponseBodies(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.TokenPut(ctx, record.Token{Hash: api.HashToken(testToken), Name: "test"}))
	require.NoError(t, st.TokenPut(ctx, record.Token{Hash: api.HashToken("scoped"), Name: "ci", Project: "shop"}))
	fl := newMemFlows()
	_, _, err = fl.Start(ctx, flow.StartParams{Workflow: "fulfil", ID: "order-1", Input: []byte(`{"n":1}`)})
	require.NoError(t, err)
	srv := httptest.NewServer(api.New(api.Config{Store: st, Flows: fl, Invoker: prepInvoker{}, Events: fixedEvents{}, Prices: meter.DefaultPrices,
		Nodes: fixedNodes{}}))
	t.Cleanup(srv.Close)

	mod := []byte("\x00asm contract module")
	sum := sha256.Sum256(mod)
	digest := hex.EncodeToString(sum[:])
	spec := strings.ReplaceAll(contractSpec, "{{sha}}", digest)

	// Answers read before anything is deployed, then the deploy itself.
	steps := []struct {
		name, method, path, body string
		status                   int
	}{
		{"blob-put", "PUT", "/blobs/" + digest, string(mod), http.StatusCreated},
		{"deploy-plan", "POST", "/deploy?plan=true", spec, http.StatusOK},
		{"deploy", "POST", "/deploy", spec, http.StatusOK},
	}
	for _, s := range steps {
		r := do(t, srv, s.method, s.path, s.body)
		require.Equal(t, s.status, r.status, "%s: %s", s.name, r.body)
		golden(t, s.name, r.body)
	}

	// State the deploy does not make: usage, logs, a message, a secret.
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	require.NoError(t, st.UsageInsert(ctx, []record.Usage{
		{InvocationID: "i1", Function: "api", Version: 1, Trigger: "http", Start: at, Duration: 12 * time.Millisecond, BilledMS: 12, MemoryMB: 128, Cold: true, Outcome: record.OutcomeOK, Status: 200},
		{InvocationID: "i2", Function: "api", Version: 1, Trigger: "http", Start: at, Duration: 3 * time.Millisecond, BilledMS: 3, MemoryMB: 128, Outcome: record.OutcomeError, Status: 500},
		{InvocationID: "i3", Function: "worker", Version: 1, Trigger: "queue", Start: at, Outcome: record.OutcomeLimited},
	}))
	require.NoError(t, st.LogInsert(ctx, []record.LogLine{
		{InvocationID: "i1", Function: "api", Version: 1, TraceID: "0af7651916cd43dd8448eb211c80319c", Time: at, Stream: "stdout", Line: "hello"},
	}))
	_, err = st.MessageSend(ctx, []store.MessageSendParams{
		{Queue: "dlq", Body: []byte(`{"order":7}`), Attributes: map[string]string{"id": "ev-1", "type": "order.created"}},
		{Queue: "dlq", Body: []byte{0xff, 0xfe}, Attributes: map[string]string{"id": "ev-2"}},
	})
	require.NoError(t, err)
	require.NoError(t, st.SecretPut(ctx, "shop", "stripe_key", []byte("ciphertext")))
	lobby := mustName(t, "Room", "lobby")
	seedObject(t, st, record.ObjectKey{Project: "shop", Class: "Room", ID: lobby}, "lobby", alarmAt,
		record.ObjectEntry{Key: "topic", Value: []byte("news")}, record.ObjectEntry{Key: "bin", Value: []byte{0xff, 0x00}})

	reads := []struct {
		name, method, path, body string
		status                   int
	}{
		{"functions", "GET", "/functions", "", http.StatusOK},
		{"versions", "GET", "/functions/api/versions", "", http.StatusOK},
		{"routes", "GET", "/routes", "", http.StatusOK},
		{"tokens", "GET", "/tokens", "", http.StatusOK},
		{"token-create", "POST", "/tokens", `{"name":"deployer","project":"shop"}`, http.StatusCreated},
		{"queues", "GET", "/queues?all=true", "", http.StatusOK},
		{"queue", "GET", "/queues/orders", "", http.StatusOK},
		{"queue-peek", "GET", "/queues/dlq/messages", "", http.StatusOK},
		{"topics", "GET", "/topics", "", http.StatusOK},
		{"schedules", "GET", "/schedules", "", http.StatusOK},
		{"secrets", "GET", "/secrets", "", http.StatusOK},
		{"databases", "GET", "/databases", "", http.StatusOK},
		{"kv", "GET", "/kv", "", http.StatusOK},
		{"logs", "GET", "/logs?function=api", "", http.StatusOK},
		{"usage", "GET", "/usage", "", http.StatusOK},
		{"executions", "GET", "/executions", "", http.StatusOK},
		{"execution", "GET", "/executions/order-1", "", http.StatusOK},
		{"history", "GET", "/executions/order-1/history", "", http.StatusOK},
		{"execution-start", "POST", "/executions", `{"workflow":"fulfil","id":"order-2","input":{"n":2}}`, http.StatusCreated},
		{"queue-send", "POST", "/queues/orders/messages", `{"order":8}`, http.StatusCreated},
		{"topic-publish", "POST", "/topics/signups/messages", `{"user":1}`, http.StatusAccepted},
		{"invoke-async", "POST", "/functions/api/invoke?async=true", `{}`, http.StatusAccepted},
		{"redrive", "POST", "/queues/dlq/redrive", `{"to":"orders","max":1}`, http.StatusOK},
		{"rollback", "POST", "/functions/api/rollback", `{"version":1}`, http.StatusOK},
		{"whoami", "GET", "/whoami", "", http.StatusOK},
		{"nodes", "GET", "/nodes", "", http.StatusOK},
		{"signal", "POST", "/executions/order-1/signals/approve", "true", http.StatusAccepted},
		{"cancel", "POST", "/executions/order-1/cancel", `{"reason":"asked"}`, http.StatusAccepted},
		{"terminate", "POST", "/executions/order-2/terminate", `{"reason":"stuck"}`, http.StatusOK},
		{"restart", "POST", "/executions/order-2/restart", `{"from_failure":false}`, http.StatusOK},
		{"objects", "GET", "/objects?project=shop", "", http.StatusOK},
		{"object", "GET", "/objects/Room/" + lobby + "?project=shop", "", http.StatusOK},
		{"object-storage", "GET", "/objects/Room/name:lobby/storage?project=shop", "", http.StatusOK},
		{"object-value", "GET", "/objects/Room/name:lobby/storage?project=shop&key=bin", "", http.StatusOK},
		{"object-delete", "DELETE", "/objects/Room/name:lobby?project=shop", "", http.StatusOK},
		{"error-not-found", "GET", "/executions/nope", "", http.StatusNotFound},
		{"error-bad-request", "POST", "/tokens", `{"name":""}`, http.StatusBadRequest},
	}
	for _, s := range reads {
		r := do(t, srv, s.method, s.path, s.body)
		require.Equal(t, s.status, r.status, "%s: %s", s.name, r.body)
		golden(t, s.name, r.body)
	}
}

// golden compares body, normalised, with testdata/contract/name.json.
func golden(t *testing.T, name string, body []byte) {
	t.Helper()
	path := filepath.Join("testdata", "contract", name+".json")
	got := normalise(body)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "no golden file for %s: run go test -run TestResponseBodies -update", name)
	require.Equal(t, string(want), string(got), "answer of %s changed (go test -update rewrites %s)", name, path)
}
