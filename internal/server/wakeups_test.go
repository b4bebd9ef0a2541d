package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/client"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// twoPGNodes starts two nodes on one PostgreSQL schema whose periodic
// sync is ten minutes: whatever one node sees of the other's deploys
// within a test came through a wake-up.
func twoPGNodes(t testing.TB) (a, b *node) {
	pg := os.Getenv("STRATA_TEST_POSTGRES")
	if pg == "" {
		t.Skip("STRATA_TEST_POSTGRES not set")
	}
	url := withSearchPath(pg, testSchema(t, pg))
	slow := func(c *config.Config) { c.SyncInterval = 10 * time.Minute }
	a = startNodeWith(t.(*testing.T), url, slow)
	tok, err := a.srv.EnsureAdminToken(context.Background())
	require.NoError(t, err)
	a.c = client.New(a.url, tok)
	b = startNodeWith(t.(*testing.T), url, slow)
	b.c = client.New(b.url, tok)
	return a, b
}

// TestWakeupsBetweenNodes: a deploy on one node is served by the other at
// once although its periodic sync is ten minutes away (LISTEN/NOTIFY),
// and a task token sent to one node completes an execution waiting on the
// other.
func TestWakeupsBetweenNodes(t *testing.T) {
	a, b := twoPGNodes(t)
	wasm := wasmtest.Guest(t, wasmtest.Hello)
	c1 := cfgOf(record.KindReactor)
	require.NoError(t, a.deploy(t, "shared", fn{"hello", wasm, c1, routes("GET /hello/{name}")}))
	waitServed := func(url, want string) time.Duration {
		t.Helper()
		start := time.Now()
		for deadline := start.Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			code, _, body := get(t, url, nil)
			if code == 200 && strings.Contains(body, want) {
				return time.Since(start)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d %s, want %q (the other node did not hear of the deploy)", url, code, body, want)
			}
		}
	}
	waitServed(b.url+"/hello/b", "env.GREETING=hi")
	c2 := c1
	c2.Env = map[string]string{"GREETING": "v2"}
	require.NoError(t, a.deploy(t, "shared", fn{"hello", wasm, c2, routes("GET /hello/{name}")}))
	t.Logf("node B served the new version %s after the deploy on A returned", waitServed(b.url+"/hello/b", "env.GREETING=v2"))

	// A STANDARD execution started on B waits for a callback; the token
	// goes to A's Step Functions API.
	adder := wasmtest.BuildGuest(t, "testdata/sfntask")
	require.NoError(t, a.deploy(t, "p", fn{name: "adder", wasm: adder, config: cfgOf(record.KindReactor)}))
	waitDeployed := func(n *node) {
		require.Eventually(t, func() bool { return n.srv.wfs.projectOf("adder") == "p" }, 20*time.Second, 5*time.Millisecond)
	}
	waitDeployed(b)
	tok := projectToken(t, a, "p", record.ScopeDeploy)
	ca, cb := sfnClient(a, tok, "us-east-1"), sfnClient(b, tok, "us-east-1")
	m, err := cb.CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{Name: aws.String("ask"), RoleArn: aws.String("unused"),
		Type: types.StateMachineTypeStandard, Definition: aws.String(`{"StartAt":"Ask","States":{"Ask":{"Type":"Task",
		 "Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken","Parameters":{"FunctionName":"adder","Payload":{"a":1,"b":2,"log.$":"States.Format('wake token={}', $$.Task.Token)"}},"End":true}}}`)})
	require.NoError(t, err)
	start, err := cb.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: m.StateMachineArn})
	require.NoError(t, err)
	line := logLine(t, b, "adder", "wake token=")
	token := strings.TrimSpace(line[strings.Index(line, "wake token=")+len("wake token="):])
	_, err = ca.SendTaskSuccess(context.Background(), &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{"ok":true}`)})
	require.NoError(t, err)
	d := waitStatus(t, ca, *start.ExecutionArn)
	require.Equal(t, types.ExecutionStatusSucceeded, d.Status)
}

// TestCrossNodeWakeLatency (run with STRATA_WAKE_SAMPLES=N) measures how
// long a message sent through one node takes to end an execution started
// on the other: SendTaskSuccess on node A for a STANDARD execution whose
// callback was handed out on node B, to its end as A describes it, and
// logs the percentiles. Without the variable it is skipped: it is a
// measurement, not a check.
func TestCrossNodeWakeLatency(t *testing.T) {
	n := os.Getenv("STRATA_WAKE_SAMPLES")
	if n == "" {
		t.Skip("set STRATA_WAKE_SAMPLES=N to measure")
	}
	samples := 0
	for _, c := range n {
		samples = samples*10 + int(c-'0')
	}
	a, bn := twoPGNodes(t)
	adder := wasmtest.BuildGuest(t, "testdata/sfntask")
	require.NoError(t, a.deploy(t, "p", fn{name: "adder", wasm: adder, config: cfgOf(record.KindReactor)}))
	require.Eventually(t, func() bool { return bn.srv.wfs.projectOf("adder") == "p" }, 20*time.Second, 5*time.Millisecond)
	tok := projectToken(t, a, "p", record.ScopeDeploy)
	ca, cb := sfnClient(a, tok, "us-east-1"), sfnClient(bn, tok, "us-east-1")
	m, err := cb.CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{Name: aws.String("ask"), RoleArn: aws.String("unused"),
		Type: types.StateMachineTypeStandard, Definition: aws.String(`{"StartAt":"Ask","States":{"Ask":{"Type":"Task",
		 "Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken","Parameters":{"FunctionName":"adder","Payload":{"a":1,"b":2,"log.$":"States.Format('lat token={} {}', $$.Execution.Name, $$.Task.Token)"}},"End":true}}}`)})
	require.NoError(t, err)
	var lat []time.Duration
	for i := range samples {
		name := fmt.Sprintf("lat-%d", i)
		start, err := cb.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: m.StateMachineArn, Name: aws.String(name)})
		require.NoError(t, err)
		line := logLine(t, bn, "adder", "lat token="+name+" ")
		token := strings.TrimSpace(line[strings.Index(line, name+" ")+len(name)+1:])
		began := time.Now()
		_, err = ca.SendTaskSuccess(context.Background(), &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{}`)})
		require.NoError(t, err)
		for {
			d, err := ca.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: start.ExecutionArn})
			require.NoError(t, err)
			if d.Status != types.ExecutionStatusRunning {
				lat = append(lat, time.Since(began))
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("cross-node callback, %d samples: p50 %s, p99 %s, max %s", len(lat), lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
}

// TestCrossNodeQueueWakeLatency (run with STRATA_WAKE_SAMPLES=N) measures
// issue 16's cross-node wake-up: a message sent through node A starts its
// consumer on node B. A's engines stop claiming first, so only B consumes; each message is
// sent after the last was consumed, so each wakes an idle consumer. The
// consumer logs how long after the send (the event's time, stamped by A)
// it started; both nodes share this process's clock.
func TestCrossNodeQueueWakeLatency(t *testing.T) {
	n := os.Getenv("STRATA_WAKE_SAMPLES")
	if n == "" {
		t.Skip("set STRATA_WAKE_SAMPLES=N to measure")
	}
	samples, err := strconv.Atoi(n)
	require.NoError(t, err)
	ctx := context.Background()
	a, bn := twoPGNodes(t)
	recv := wasmtest.BuildGuest(t, "testdata/lagrecv")
	sum := sha256.Sum256(recv)
	sha := hex.EncodeToString(sum[:])
	_, err = a.c.UploadBlob(ctx, sha, recv)
	require.NoError(t, err)
	_, err = a.c.Deploy(ctx, apitype.Spec{Project: "lat",
		Queues: []apitype.QueueSpec{{Name: "lat", VisibilityTimeoutMS: 30000, MaxReceives: 3}},
		Functions: []apitype.FunctionSpec{{Name: "recv", ModuleSHA256: sha, Config: cfgOf(record.KindReactor),
			Queue: &apitype.QueueTrigger{Name: "lat", BatchSize: 1}}}}, false)
	require.NoError(t, err)
	lags := func() map[string]int64 {
		out := map[string]int64{}
		_ = bn.c.Logs(ctx, client.LogsParams{Function: "recv"}, func(e apitype.LogEntry) error {
			var us int64
			var id string
			if _, err := fmt.Sscanf(e.Line, "lag_us=%d id=%s", &us, &id); err == nil {
				out[id] = us
			}
			return nil
		})
		return out
	}
	// A's engines claim no work (what a drain does first), while A
	// still serves its API.
	a.srv.draining.Store(true)
	// One message first, which only B can take: B has loaded the deploy
	// and its consumer is warm.
	warm, err := a.c.QueueSend(ctx, "lat", []byte("warm"), client.EventParams{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, ok := lags()[warm.ID]; return ok }, 30*time.Second, 5*time.Millisecond)
	var lat []time.Duration
	for i := range samples {
		sent, err := a.c.QueueSend(ctx, "lat", []byte(strconv.Itoa(i)), client.EventParams{})
		require.NoError(t, err)
		var us int64
		require.Eventually(t, func() bool {
			v, ok := lags()[sent.ID]
			us = v
			return ok
		}, 20*time.Second, 2*time.Millisecond, "message %d consumed on B", i)
		lat = append(lat, time.Duration(us)*time.Microsecond)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("cross-node queue wake-up (send on A, consumer starts on B), %d samples: p50 %s, p99 %s, max %s",
		len(lat), lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
}

// TestObjectRequestsForwardedToTheOwner: an object lives on the node that
// holds its lease; a request for it reaching the other node is forwarded
// there, so both nodes' answers count on one object (no 503, no second
// owner), and a request that fakes the forwarding credential is refused.
func TestObjectRequestsForwardedToTheOwner(t *testing.T) {
	a, b := twoPGNodes(t)
	guest := wasmtest.BuildGuest(t, "testdata/objcount")
	cfg := cfgOf(record.KindReactor)
	cfg.Objects = []record.ObjectClass{{Name: "Counter"}}
	require.NoError(t, a.deploy(t, "o", fn{name: "counters", wasm: guest, config: cfg,
		routes: []apitype.RouteSpec{{Method: "GET", Path: "/c/{name}", Object: "Counter", ObjectParam: "name"}, {Method: "GET", Path: "/stub"}}}))
	require.Eventually(t, func() bool { code, _, _ := get(t, b.url+"/c/warm", nil); return code == 200 }, 20*time.Second, 10*time.Millisecond)

	// Node A takes the object; then requests alternate between the nodes.
	code, _, body := get(t, a.url+"/c/shared", nil)
	require.Equal(t, 200, code, body)
	require.Equal(t, "1", body)
	for i := 2; i <= 11; i++ {
		url := a.url
		if i%2 == 0 {
			url = b.url
		}
		code, _, body := get(t, url+"/c/shared", nil)
		require.Equal(t, 200, code, "request %d: %s", i, body)
		require.Equal(t, fmt.Sprint(i), body, "request %d counted on another copy of the object", i)
	}

	// A function's stub call on either node reaches the one object too.
	for i := 12; i <= 15; i++ {
		url := a.url
		if i%2 == 0 {
			url = b.url
		}
		code, _, body := get(t, url+"/stub?name=shared", nil)
		require.Equal(t, 200, code, "stub call %d: %s", i, body)
		require.Equal(t, fmt.Sprint(i), body, "stub call %d counted on another copy of the object", i)
	}
	// The internal stub-call path refuses a call without the nodes' key.
	resp, err := http.Post(b.url+"/_strata/internal/object-call", "application/json",
		strings.NewReader(`{"project":"o","class":"Counter","name":"shared","request":{"Method":"GET","Path":"/"}}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	// A forged forwarding credential is refused, and so is a stale one.
	for _, cred := range []string{"node-x 123 deadbeef", "garbage", fmt.Sprintf("%s %d %s", "n", time.Now().Unix(), strings.Repeat("0", 64))} {
		req, _ := http.NewRequest("GET", b.url+"/c/shared", nil)
		req.Header.Set("X-Strata-Forwarded", cred)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode, cred)
	}
	// The refused requests did not reach the object.
	code, _, body = get(t, b.url+"/c/shared", nil)
	require.Equal(t, 200, code)
	require.Equal(t, "16", body)
}
