package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/api"
	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/bindings"
	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/events"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
	"github.com/stratahq/strata/internal/store/storetest"
	"github.com/stratahq/strata/sdk/go/wire"
)

// echoGateway stands for the gateway's direct invoke: it answers with the
// request the function would have seen, so a test can read the CloudEvent
// an invoke with ?event= built.
type echoGateway struct{}

type echoed struct {
	Function string              `json:"function"`
	Method   string              `json:"method"`
	Path     string              `json:"path"`
	Trigger  string              `json:"trigger"`
	Header   map[string][]string `json:"header"`
	Body     string              `json:"body"`
}

func (echoGateway) Invoke(w http.ResponseWriter, r *http.Request, fn string) {
	b, _ := io.ReadAll(r.Body)
	_ = json.NewEncoder(w).Encode(echoed{fn, r.Method, r.URL.Path, "http", r.Header, string(b)})
}

func (echoGateway) InvokeEvent(w http.ResponseWriter, r *http.Request, fn string, req *wire.Request, trigger string, _ invoke.Shaper) {
	h := map[string][]string{}
	for _, hv := range req.Headers {
		h[hv.Name] = hv.Values
	}
	_ = json.NewEncoder(w).Encode(echoed{fn, req.Method, req.Path, trigger, h, string(req.Body)})
}

// newEventsAPI serves the admin API over a real SQLite store and a real
// (not started: nothing is delivered) events engine, with projects a and
// b each holding function f<p> that consumes queue q<p> (in batches of 5
// for b), topic t<p> and schedule f<p>.
func newEventsAPI(t *testing.T) (*httptest.Server, store.Store) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.TokenPut(ctx, record.Token{Hash: api.HashToken(testToken), Name: "admin"}))
	for i, p := range []string{"a", "b"} {
		fn := "f" + p
		_, err := st.DeploymentApply(ctx, store.DeploymentApplyParams{Project: p,
			NewVersions: []store.NewVersionParams{{Function: fn, ModuleSHA256: storetest.Digest([]byte(p)),
				Config: record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 64, TimeoutMS: 1000, MaxConcurrency: 1}}},
			Events: &store.EventsApplyParams{
				Queues: []record.QueueConfig{
					{Name: "q" + p, Kind: record.QueueUser, Consumer: fn, BatchSize: 1 + 4*i, VisibilityTimeout: time.Second},
					{Name: events.AsyncQueue(fn), Kind: record.QueueAsync, Consumer: fn, BatchSize: 1, VisibilityTimeout: time.Second},
					{Name: "_topic.t" + p + "." + fn, Kind: record.QueueTopic, Consumer: fn, BatchSize: 1, VisibilityTimeout: time.Second},
				},
				Topics:    []record.TopicConfig{{Name: "t" + p, Queues: []string{"_topic.t" + p + "." + fn}}},
				Schedules: []record.Schedule{{Name: fn, Function: fn, Spec: "@every 1h", NextFire: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}},
			}})
		require.NoError(t, err)
	}
	b, err := bindings.New(ctx, bindings.Config{Store: st, DataDir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	eng := events.New(events.Config{Store: st, Clock: clk})
	srv := httptest.NewServer(api.New(api.Config{Store: st, Bindings: b, Clock: clk, Invoker: noInvoker{}, Events: eng, Gateway: echoGateway{}}))
	t.Cleanup(srv.Close)
	return srv, st
}

func adminToken(t *testing.T, srv *httptest.Server, name, project string) string {
	t.Helper()
	body, _ := json.Marshal(apitype.TokenCreateRequest{Name: name, Project: project})
	r := call(t, srv, testToken, "POST", "/tokens", string(body))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	var out apitype.TokenCreated
	require.NoError(t, json.Unmarshal(r.body, &out))
	return out.Token
}

// TestScheduleFireAndPeekScoped: a project token fires its own project's
// schedules and peeks its own queues; project b's schedule and queues
// (user and internal) answer 403, and nothing is enqueued for b.
func TestScheduleFireAndPeekScoped(t *testing.T) {
	srv, st := newEventsAPI(t)
	tokA := adminToken(t, srv, "ci-a", "a")

	// The attack: project a's token on project b's schedule and queues.
	for _, p := range []string{"POST /schedules/fb/fire", "GET /queues/qb/messages", "GET /queues/_async.fb/messages"} {
		method, path, _ := cutSpace(p)
		r := call(t, srv, tokA, method, path, "")
		require.Equal(t, http.StatusForbidden, r.status, "%s: %s", p, r.body)
		require.Equal(t, `{"error":"token ci-a is limited to project a; it may not act on project b (use a token of that project, or an admin token)","status":403}`+"\n", string(r.body), p)
	}
	stats, err := st.QueueStats(context.Background(), "_async.fb")
	require.NoError(t, err)
	require.Zero(t, stats.Visible, "a refused fire enqueues nothing")

	// Its own schedule fires: one schedule event in fa's async queue.
	r := call(t, srv, tokA, "POST", "/schedules/fa/fire", "")
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	var fired apitype.ScheduleFireResult
	require.NoError(t, json.Unmarshal(r.body, &fired))
	require.Equal(t, "fa", fired.Schedule)
	require.Equal(t, "fa", fired.Function)

	// Peek shows it, twice: looking neither receives nor hides it.
	for range 2 {
		r = call(t, srv, tokA, "GET", "/queues/_async.fa/messages?limit=5", "")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var ms []apitype.MessageInfo
		require.NoError(t, json.Unmarshal(r.body, &ms))
		require.Len(t, ms, 1)
		m := ms[0]
		require.Equal(t, fired.ID, m.EventID)
		require.Equal(t, "strata.schedule", m.Attributes["type"])
		require.Equal(t, "/schedules/fa", m.Attributes["source"])
		require.Equal(t, "@every 1h", m.Attributes["subject"])
		require.Equal(t, `{"schedule":"fa","spec":"@every 1h","timezone":"","scheduled_time":"2026-01-02T03:04:05Z","skipped":0}`, m.Body)
		require.Zero(t, m.ReceiveCount)
	}
	stats, err = st.QueueStats(context.Background(), "_async.fa")
	require.NoError(t, err)
	require.EqualValues(t, 1, stats.Visible)
	require.Zero(t, stats.InFlight)
	// The schedule's own next fire is untouched.
	ss, err := st.ScheduleList(context.Background())
	require.NoError(t, err)
	for _, s := range ss {
		require.Equal(t, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), s.NextFire.UTC(), s.Name)
	}

	r = call(t, srv, tokA, "POST", "/schedules/nope/fire", "")
	require.Equal(t, http.StatusNotFound, r.status)
	require.Equal(t, `{"error":"schedule \"nope\" not found (strata schedules lists them)","status":404}`+"\n", string(r.body))
	// The admin token reaches b's.
	require.Equal(t, http.StatusAccepted, call(t, srv, testToken, "POST", "/schedules/fb/fire", "").status)
}

func cutSpace(s string) (string, string, bool) {
	for i := range s {
		if s[i] == ' ' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// TestInvokeEvent: ?event= wraps the data as the source's CloudEvent (the
// same headers as a delivery, a JSON batch for a batch consumer, a
// schedule's fire data), only for sources the function consumes, and a
// project token cannot reach another project's function this way.
func TestInvokeEvent(t *testing.T) {
	srv, _ := newEventsAPI(t)
	tokA := adminToken(t, srv, "ci-a", "a")
	echo := func(r answer) echoed {
		t.Helper()
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var e echoed
		require.NoError(t, json.Unmarshal(r.body, &e))
		return e
	}

	e := echo(call(t, srv, tokA, "POST", "/functions/fa/invoke?event=queue", `{"id":42}`))
	require.Equal(t, "fa", e.Function)
	require.Equal(t, "POST", e.Method)
	require.Equal(t, "/", e.Path)
	require.Equal(t, "queue", e.Trigger)
	require.Equal(t, `{"id":42}`, e.Body)
	require.Equal(t, []string{"1.0"}, e.Header["Ce-Specversion"])
	require.Equal(t, []string{"strata.message"}, e.Header["Ce-Type"])
	require.Equal(t, []string{"/queues/qa"}, e.Header["Ce-Source"])
	require.Equal(t, []string{"qa"}, e.Header["X-Strata-Queue"])
	require.Equal(t, []string{"1"}, e.Header["X-Strata-Receive-Count"])
	require.Equal(t, []string{"application/json"}, e.Header["Content-Type"])
	require.Len(t, e.Header["Ce-Id"], 1)
	require.Equal(t, []string{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, e.Header["Traceparent"])
	require.NotContains(t, e.Header, "Authorization")

	// No data: a sample.
	e = echo(call(t, srv, tokA, "POST", "/functions/fa/invoke?event=topic", ""))
	require.Equal(t, string(events.SampleData("topic")), e.Body)
	require.Equal(t, []string{"/topics/ta"}, e.Header["Ce-Source"])
	require.Equal(t, []string{"_topic.ta.fa"}, e.Header["X-Strata-Queue"])

	e = echo(call(t, srv, tokA, "POST", "/functions/fa/invoke?event=schedule", ""))
	require.Equal(t, []string{"strata.schedule"}, e.Header["Ce-Type"])
	require.Equal(t, []string{"/schedules/fa"}, e.Header["Ce-Source"])
	require.Equal(t, []string{"2026-01-02T03:04:05Z"}, e.Header["Ce-Time"])
	require.Equal(t, `{"schedule":"fa","spec":"@every 1h","timezone":"","scheduled_time":"2026-01-02T03:04:05Z","skipped":0}`, e.Body)

	// A batch consumer gets a batch of one.
	e = echo(call(t, srv, testToken, "POST", "/functions/fb/invoke?event=queue", `{"id":7}`))
	require.Equal(t, []string{events.BatchContentType}, e.Header["Content-Type"])
	var batch []map[string]any
	require.NoError(t, json.Unmarshal([]byte(e.Body), &batch))
	require.Len(t, batch, 1)
	require.Equal(t, "/queues/qb", batch[0]["source"])
	require.Equal(t, map[string]any{"id": float64(7)}, batch[0]["data"])

	for _, tc := range []struct{ path, want string }{
		{"/functions/fa/invoke?event=queue&source=qb", `function fa is not triggered by queue \"qb\"; its queue: qa`},
		{"/functions/fa/invoke?event=mail", `event source \"mail\": want queue, topic or schedule`},
	} {
		r := call(t, srv, tokA, "POST", tc.path, "")
		require.Equal(t, http.StatusBadRequest, r.status, tc.path)
		require.Equal(t, `{"error":"`+tc.want+`","status":400}`+"\n", string(r.body), tc.path)
	}
	// The attack: another project's function, by its own source name.
	r := call(t, srv, tokA, "POST", "/functions/fb/invoke?event=queue&source=qb", "")
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
}
