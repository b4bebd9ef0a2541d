package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// TestExampleLambdaNode runs an unchanged API Gateway v2 Node.js handler
// as a sandboxed process through routes of the real binary.
func TestExampleLambdaNode(t *testing.T) {
	t.Parallel()
	d := startDev(t, "lambda-node")
	for range 3 { // the first starts a process, the others reuse it
		r := do(t, "GET", d.url+"/hello/ada", nil, nil)
		if r.status != 200 || string(r.body) != "Hello, ada! (api, 128 MB)" || r.header.Get("Content-Type") != "text/plain" {
			t.Fatalf("hello: %d %q %v", r.status, r.body, r.header)
		}
	}
	r := do(t, "POST", d.url+"/echo", []byte(`{"a":[1,2]}`), map[string]string{"Content-Type": "application/json"})
	if r.status != 201 || r.header.Get("Set-Cookie") != "seen=1; Path=/" {
		t.Fatalf("echo: %d %q %v", r.status, r.body, r.header)
	}
	var echo struct {
		Echoed      map[string][]int `json:"echoed"`
		RemainingMs bool             `json:"remainingMs"`
	}
	if err := json.Unmarshal(r.body, &echo); err != nil || len(echo.Echoed["a"]) != 2 || !echo.RemainingMs {
		t.Fatalf("echo body %s: %v", r.body, err)
	}
	id := r.header.Get("X-Strata-Invocation-Id")
	eventually(t, 10*time.Second, "the handler's log line", func() bool {
		out, _, _ := run(t, d.dir, nil, "logs", "api")
		return strings.Contains(out, "POST /echo (request "+id+")")
	})

	// The same handler through the Lambda Invoke API with the AWS SDK:
	// the event is the caller's, the answer the handler's own object, and
	// Tail returns the invocation's log.
	ev := `{"version":"2.0","routeKey":"GET /hello/{name}","rawPath":"/hello/grace","pathParameters":{"name":"grace"},
	  "requestContext":{"http":{"method":"GET","path":"/hello/grace"}},"isBase64Encoded":false}`
	out, err := lambdaClient(d, "lambda-node").Invoke(context.Background(), &lambda.InvokeInput{
		FunctionName: aws.String("api"), Payload: []byte(ev), LogType: types.LogTypeTail})
	if err != nil {
		t.Fatalf("invoke api with the SDK: %v", err)
	}
	var res struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if err := json.Unmarshal(out.Payload, &res); err != nil || out.StatusCode != 200 || out.FunctionError != nil ||
		res.StatusCode != 200 || res.Body != "Hello, grace! (api, 128 MB)" {
		t.Fatalf("invoke api: %d %q %v (%v)", out.StatusCode, out.Payload, aws.ToString(out.FunctionError), err)
	}
	logs, err := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if err != nil || !strings.Contains(string(logs), "GET /hello/grace (request ") {
		t.Fatalf("the invocation's log tail: %q (%v)", logs, err)
	}
	// Asynchronous: accepted at once, run by the node.
	async, err := lambdaClient(d, "lambda-node").Invoke(context.Background(), &lambda.InvokeInput{
		FunctionName: aws.String("api"), Payload: []byte(strings.ReplaceAll(ev, "grace", "async")), InvocationType: types.InvocationTypeEvent})
	if err != nil || async.StatusCode != 202 {
		t.Fatalf("an Event invocation: %v %+v", err, async)
	}
	eventually(t, 10*time.Second, "the Event invocation's log line", func() bool {
		out, _, _ := run(t, d.dir, nil, "logs", "api")
		return strings.Contains(out, "GET /hello/async (request ")
	})
}

// TestExampleLambdaPython runs an unchanged SQS batch handler in Python
// with partial batch failures: good orders are processed once, a bad one
// is retried alone and then dead-lettered.
func TestExampleLambdaPython(t *testing.T) {
	t.Parallel()
	d := startDev(t, "lambda-python")
	for i := 1; i <= 3; i++ {
		mustRun(t, d.dir, "queue", "send", "orders", "--data", fmt.Sprintf(`{"id":%d,"quantity":%d}`, i, 2-i/3*2))
	}
	var out, dlq string
	defer func() {
		if t.Failed() {
			t.Logf("logs:\n%s\ndead letters:\n%s", out, dlq)
		}
	}()
	eventually(t, 60*time.Second, "orders processed and the bad one dead-lettered", func() bool {
		out, _, _ = run(t, d.dir, nil, "logs", "worker")
		dlq, _, _ = run(t, d.dir, nil, "queue", "peek", "orders-dlq")
		return strings.Contains(out, "processed order 1 x2") && strings.Contains(out, "processed order 2 x2") &&
			strings.Count(out, "order failed: order 3 has no quantity") >= 3 && strings.Contains(dlq, `{"id":3,"quantity":0}`)
	})
	out = mustRun(t, d.dir, "logs", "worker")
	for _, n := range []int{1, 2} {
		if c := len(regexp.MustCompile(fmt.Sprintf(`processed order %d x2`, n)).FindAllString(out, -1)); c != 1 {
			t.Fatalf("order %d processed %d times, want once (only failed messages are redelivered):\n%s", n, c, out)
		}
	}

	// The same handler through the Lambda Invoke API with the AWS SDK,
	// given an SQS batch as a test event: it answers the failed
	// message's id in batchItemFailures.
	batch := `{"Records":[
	  {"messageId":"m-good","body":"{\"id\":7,\"quantity\":1}","attributes":{"ApproximateReceiveCount":"1"},"eventSource":"aws:sqs"},
	  {"messageId":"m-bad","body":"{\"id\":8,\"quantity\":0}","attributes":{"ApproximateReceiveCount":"1"},"eventSource":"aws:sqs"}]}`
	res, err := lambdaClient(d, "lambda-python").Invoke(context.Background(), &lambda.InvokeInput{
		FunctionName: aws.String("worker"), Payload: []byte(batch)})
	if err != nil {
		t.Fatalf("invoke worker with the SDK: %v", err)
	}
	var failures struct {
		BatchItemFailures []struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(res.Payload, &failures); err != nil || res.FunctionError != nil ||
		len(failures.BatchItemFailures) != 1 || failures.BatchItemFailures[0].ItemIdentifier != "m-bad" {
		t.Fatalf("invoke worker: %q %v (%v)", res.Payload, aws.ToString(res.FunctionError), err)
	}
	eventually(t, 10*time.Second, "the invoked batch's log line", func() bool {
		out, _, _ := run(t, d.dir, nil, "logs", "worker")
		return strings.Contains(out, "processed order 7 x1 (message m-good)")
	})
}

// TestExampleLambdaGo builds an aws-lambda-go program as Lambda's
// provided runtimes take it (a static Linux executable named bootstrap)
// and serves it through a route of the real binary.
func TestExampleLambdaGo(t *testing.T) {
	t.Parallel()
	dir := copyProject(t, "lambda-go")
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "bin", "bootstrap"), ".")
	build.Dir = filepath.Join(dir, "handler")
	build.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOPROXY=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the bootstrap: %v\n%s", err, out)
	}
	d := startDevIn(t, dir)
	for range 2 {
		r := do(t, "GET", d.url+"/hello/ada", nil, nil)
		if r.status != 200 || string(r.body) != "Hello, ada! (hello, deadline in the future: true)" {
			t.Fatalf("hello: %d %q", r.status, r.body)
		}
	}
	r := do(t, "GET", d.url+"/hello/error", nil, nil)
	if r.status != 500 {
		t.Fatalf("a handler error: %d %q, want 500", r.status, r.body)
	}
	eventually(t, 10*time.Second, "the handler's error in the logs", func() bool {
		out, _, _ := run(t, d.dir, nil, "logs", "hello")
		return strings.Contains(out, `the handler failed: errorString: no greeting for "error"`)
	})

	// Through the Lambda Invoke API with the AWS SDK: the answer is the
	// handler's response object; its error is a function error with the
	// error's type and message, as Lambda reports it.
	c := lambdaClient(d, "lambda-go")
	out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("hello"),
		Payload: []byte(`{"version":"2.0","rawPath":"/hello/sdk","pathParameters":{"name":"sdk"}}`)})
	if err != nil {
		t.Fatalf("invoke hello with the SDK: %v", err)
	}
	var res struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if err := json.Unmarshal(out.Payload, &res); err != nil || out.FunctionError != nil || res.StatusCode != 200 ||
		res.Body != "Hello, sdk! (hello, deadline in the future: true)" {
		t.Fatalf("invoke hello: %q %v (%v)", out.Payload, aws.ToString(out.FunctionError), err)
	}
	out, err = c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("hello"),
		Payload: []byte(`{"version":"2.0","rawPath":"/hello/error","pathParameters":{"name":"error"}}`)})
	if err != nil {
		t.Fatalf("invoke hello (error) with the SDK: %v", err)
	}
	var fe struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if err := json.Unmarshal(out.Payload, &fe); err != nil || aws.ToString(out.FunctionError) != "Unhandled" ||
		fe.ErrorType != "errorString" || fe.ErrorMessage != `no greeting for "error"` {
		t.Fatalf("a handler error through the SDK: %q %v (%v)", out.Payload, aws.ToString(out.FunctionError), err)
	}
}
