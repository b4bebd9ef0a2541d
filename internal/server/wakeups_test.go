package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
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
