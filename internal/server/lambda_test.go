package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/client"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// TestLambdaEventShapes deploys a Go guest with events: lambda next to a
// CloudEvents one and drives it through its three triggers on a real
// node: a route (an API Gateway 2.0 event in, a structured response with
// cookies and status 201 out; a malformed response is a 502 with the
// reason in the function's logs, and the node keeps serving), a queue (a
// batch of three SQS records, one reported in batchItemFailures: that one
// alone comes back) and a schedule (an EventBridge scheduled event).
func TestLambdaEventShapes(t *testing.T) {
	n := startNode(t, "")
	ctx := context.Background()
	upload := func(wasm []byte) string {
		sum := sha256.Sum256(wasm)
		sha := hex.EncodeToString(sum[:])
		_, err := n.c.UploadBlob(ctx, sha, wasm)
		require.NoError(t, err)
		return sha
	}
	lam, hello := upload(wasmtest.BuildGuest(t, "testdata/lambda")), upload(wasmtest.Guest(t, wasmtest.Hello))
	cfg := cfgOf(record.KindReactor)
	cfg.Events = record.EventsLambda
	spec := apitype.Spec{
		Project: "lam",
		Queues:  []apitype.QueueSpec{{Name: "jobs", VisibilityTimeoutMS: 1000, MaxReceives: 3}},
		Functions: []apitype.FunctionSpec{
			{Name: "api", ModuleSHA256: lam, Config: cfg, Routes: routes("* /users/{id}"),
				Schedule: &apitype.ScheduleSpec{Spec: "0 3 * * *"}},
			{Name: "hello", ModuleSHA256: hello, Config: cfgOf(record.KindReactor), Routes: routes("GET /hello")},
		},
	}
	_, err := n.c.Deploy(ctx, spec, false)
	require.NoError(t, err)

	t.Run("route", func(t *testing.T) {
		req, _ := http.NewRequest("POST", n.url+"/users/42?tag=a&tag=b", strings.NewReader(`{"name":"ada"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Cookie", "a=1; b=2")
		req.Header.Set("User-Agent", "lambda-test/1")
		req.Header.Add("X-Test", "one")
		req.Header.Add("X-Test", "two")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		assert.Equal(t, []string{"session=s1; Path=/; HttpOnly", "theme=dark"}, resp.Header.Values("Set-Cookie"))
		assert.Equal(t, "ANY /users/{id}", resp.Header.Get("X-Route-Key"))
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		var echo map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&echo))
		assert.Equal(t, map[string]any{
			"version": "2.0", "routeKey": "ANY /users/{id}", "rawPath": "/users/42", "rawQueryString": "tag=a&tag=b",
			"id": "42", "query": map[string]any{"tag": "a,b"}, "cookies": []any{"a=1", "b=2"},
			"method": "POST", "sourceIp": "127.0.0.1", "userAgent": "lambda-test/1", "protocol": "HTTP/1.1",
			"requestId": resp.Header.Get(apitype.HeaderInvocationID), "stage": "$default", "account": "lam",
			"timeEpoch": echo["timeEpoch"], "body": `{"name":"ada"}`, "isBase64Encoded": false, "header": "one,two",
		}, echo)
		assert.NotEmpty(t, echo["requestId"])
		assert.Greater(t, echo["timeEpoch"], float64(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()))

		// A client cannot pose as another source: a body shaped as an SQS
		// batch is still the body of an API Gateway event.
		spoof := `{"Records":[{"messageId":"x","body":"fail-once","eventSource":"aws:sqs"}]}`
		code, _, body := get(t, n.url+"/users/9", []byte(spoof))
		require.Equal(t, http.StatusCreated, code, body)
		require.NoError(t, json.Unmarshal([]byte(body), &echo))
		assert.Equal(t, spoof, echo["body"])
		assert.Equal(t, "ANY /users/{id}", echo["routeKey"])

		code, h, body := get(t, n.url+"/users/7?mode=plain", nil)
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, "application/json", h.Get("Content-Type"))
		assert.JSONEq(t, `{"hello":"world"}`, body)
	})

	t.Run("malformed response", func(t *testing.T) {
		code, h, body := get(t, n.url+"/users/7?mode=bad", nil)
		require.Equal(t, http.StatusBadGateway, code, body)
		assert.Contains(t, body, "invalid Lambda response")
		id := h.Get(apitype.HeaderInvocationID)
		require.NotEmpty(t, id)
		line := waitLog(t, n, "api", func(e apitype.LogEntry) bool {
			return e.InvocationID == id && e.Stream == "platform"
		})
		assert.Contains(t, line.Line, `statusCode must be an integer HTTP status from 200 to 599, got "two hundred"`)
		assert.Equal(t, "error", line.Level)
		// The node keeps serving: the same function and its neighbour.
		code, _, _ = get(t, n.url+"/users/8", []byte("x"))
		assert.Equal(t, http.StatusCreated, code)
		code, _, body = get(t, n.url+"/hello", nil)
		assert.Equal(t, http.StatusOK, code, body)
	})

	t.Run("queue", func(t *testing.T) {
		// The three messages wait in the queue before the consumer
		// exists, so its first claim takes them as one batch.
		for _, b := range []string{"ok-1", "fail-once", "ok-2"} {
			_, err := n.c.QueueSend(ctx, "jobs", []byte(b), client.EventParams{})
			require.NoError(t, err)
		}
		consumer := spec
		consumer.Functions = append([]apitype.FunctionSpec(nil), spec.Functions...)
		consumer.Functions[0].Queue = &apitype.QueueTrigger{Name: "jobs", BatchSize: 3}
		_, err := n.c.Deploy(ctx, consumer, false)
		require.NoError(t, err)

		type rec struct {
			MessageID, Body, ReceiveCount, EventSource, EventSourceARN, AWSRegion string
			Batch                                                                 int
			invocation                                                            string
		}
		var recs []rec
		deadline := time.Now().Add(20 * time.Second)
		for {
			recs = recs[:0]
			require.NoError(t, n.c.Logs(ctx, client.LogsParams{Function: "api"}, func(e apitype.LogEntry) error {
				if s, ok := strings.CutPrefix(e.Line, "sqs "); ok {
					var r rec
					require.NoError(t, json.Unmarshal([]byte(s), &r))
					r.invocation = e.InvocationID
					recs = append(recs, r)
				}
				return nil
			}))
			info, err := n.c.Queue(ctx, "jobs")
			require.NoError(t, err)
			if len(recs) >= 4 && info.Visible+info.InFlight+info.Delayed == 0 {
				break
			}
			require.False(t, time.Now().After(deadline), "queue not drained with 4 deliveries: %+v %+v", info, recs)
			time.Sleep(20 * time.Millisecond)
		}
		require.Len(t, recs, 4, "three records, then the failed one again: %+v", recs)
		first := recs[:3]
		for _, r := range first {
			assert.Equal(t, 3, r.Batch)
			assert.Equal(t, first[0].invocation, r.invocation, "one invocation for the batch")
			assert.Equal(t, "1", r.ReceiveCount)
			assert.Equal(t, "aws:sqs", r.EventSource)
			assert.Equal(t, "arn:aws:sqs:strata:lam:jobs", r.EventSourceARN)
			assert.Equal(t, "strata", r.AWSRegion)
		}
		assert.ElementsMatch(t, []string{"ok-1", "fail-once", "ok-2"}, []string{first[0].Body, first[1].Body, first[2].Body})
		again := recs[3]
		assert.Equal(t, "fail-once", again.Body)
		assert.Equal(t, "2", again.ReceiveCount)
		assert.Equal(t, 1, again.Batch)
		for _, r := range first {
			if r.Body == "fail-once" {
				assert.Equal(t, r.MessageID, again.MessageID)
			}
		}
	})

	t.Run("schedule", func(t *testing.T) {
		fired, err := n.c.ScheduleFire(ctx, "api")
		require.NoError(t, err)
		line := waitLog(t, n, "api", func(e apitype.LogEntry) bool { return strings.HasPrefix(e.Line, "scheduled ") })
		var ev map[string]any
		require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(line.Line, "scheduled ")), &ev))
		at, err := time.Parse(time.RFC3339, ev["time"].(string))
		require.NoError(t, err, "time %v", ev["time"])
		assert.Equal(t, map[string]any{
			"version": "0", "id": fired.ID, "detail-type": "Scheduled Event", "source": "aws.events",
			"account": "lam", "time": at.UTC().Format(time.RFC3339), "region": "strata",
			"resources": []any{"arn:aws:events:strata:lam:rule/api"}, "detail": map[string]any{},
		}, ev)

		// strata invoke --event queue gives the function the same shape
		// as a delivery: an SQS batch of one record.
		res, err := n.c.InvokeEvent(ctx, "api", "queue", "jobs", []byte("tried"), "text/plain")
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, res.Status)
		assert.JSONEq(t, `{"batchItemFailures":[]}`, string(res.Body))
		line = waitLog(t, n, "api", func(e apitype.LogEntry) bool { return e.InvocationID == res.InvocationID })
		assert.Contains(t, line.Line, `"body":"tried"`)
		assert.Contains(t, line.Line, `"eventSource":"aws:sqs"`)
	})
}

// waitLog returns the first log line of fn that match accepts, waiting
// for it at most 20 seconds.
func waitLog(t *testing.T, n *node, fn string, match func(apitype.LogEntry) bool) apitype.LogEntry {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var found *apitype.LogEntry
		require.NoError(t, n.c.Logs(context.Background(), client.LogsParams{Function: fn}, func(e apitype.LogEntry) error {
			if found == nil && match(e) {
				found = &e
			}
			return nil
		}))
		if found != nil {
			return *found
		}
		require.False(t, time.Now().After(deadline), "no matching log line of %s", fn)
		time.Sleep(20 * time.Millisecond)
	}
}
