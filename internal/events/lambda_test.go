package events

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/lambda"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/sdk/go/wire"
)

// lambdaFunction answers as the invoker does for a version with events:
// lambda: it builds the delivery's Lambda event with the request's Shaper
// and hands it to fn, whose answer is the function's.
func lambdaFunction(t *testing.T, fn func(event map[string]any) string) func(invoke.Request) (int, string, error) {
	return func(r invoke.Request) (int, string, error) {
		if r.Shaper == nil {
			t.Errorf("delivery without a Shaper")
			return 500, "", nil
		}
		inv := lambda.Invocation{Account: "p", Function: r.Function, RequestID: "inv-1", Time: time.Now()}
		req, err := r.Shaper.LambdaRequest(inv, r.Wire)
		if err != nil {
			return 0, "", err
		}
		var ev map[string]any
		if err := json.Unmarshal(req.Body, &ev); err != nil {
			t.Errorf("event is not JSON: %v", err)
		}
		resp, err := r.Shaper.LambdaResponse(&wire.Response{Status: 200, Body: []byte(fn(ev))})
		if err != nil {
			return 0, "", err
		}
		return resp.Status, string(resp.Body), nil
	}
}

// TestLambdaShapedDeliveries checks what a Lambda-shaped consumer gets from
// each source (an SQS record from a queue of batch size 1, an EventBridge
// event from a schedule fire, an API Gateway event from an async request)
// and that batchItemFailures fails only what it names even when the batch
// holds one message.
func TestLambdaShapedDeliveries(t *testing.T) {
	events := make(chan map[string]any, 16)
	answer := lambdaFunction(t, func(ev map[string]any) string {
		events <- ev
		if recs, ok := ev["Records"].([]any); ok {
			r := recs[0].(map[string]any)
			if r["body"] == "fail-once" && r["attributes"].(map[string]any)["ApproximateReceiveCount"] == "1" {
				return fmt.Sprintf(`{"batchItemFailures":[{"itemIdentifier":%q}]}`, r["messageId"])
			}
		}
		return `{"batchItemFailures":[]}`
	})
	async := record.QueueConfig{Name: AsyncQueue("fn"), Project: "p", Kind: record.QueueAsync, VisibilityTimeout: time.Second,
		MaxReceives: 3, Consumer: "fn", BatchSize: 1, RetryBase: 10 * time.Millisecond}
	e := setupRecorder(t, []record.QueueConfig{userQueue("jobs", nil), async}, nil,
		&recorder{answer: answer, seen: make(chan struct{}, 1), shaped: true})
	ctx := context.Background()

	next := func() map[string]any {
		t.Helper()
		select {
		case ev := <-events:
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no delivery")
			return nil
		}
	}
	sent, err := e.eng.Send(ctx, "jobs", SendParams{Body: []byte("fail-once"), Subject: "s-1"})
	if err != nil {
		t.Fatal(err)
	}
	for want := 1; want <= 2; want++ {
		ev := next()
		rec := ev["Records"].([]any)[0].(map[string]any)
		if rec["messageId"] != sent.ID || rec["eventSource"] != "aws:sqs" || rec["eventSourceARN"] != "arn:aws:sqs:strata:p:jobs" ||
			rec["attributes"].(map[string]any)["ApproximateReceiveCount"] != fmt.Sprint(want) {
			t.Fatalf("delivery %d: %v", want, rec)
		}
		if got := rec["messageAttributes"].(map[string]any)["subject"].(map[string]any)["stringValue"]; got != "s-1" {
			t.Fatalf("subject attribute: %v", got)
		}
	}
	waitFor(t, "jobs drained", func() bool { s := stats(t, e.st, "jobs"); return s.Visible+s.InFlight+s.Delayed == 0 })

	fired, err := e.eng.FireNow(ctx, record.Schedule{Name: "nightly", Project: "p", Function: "fn", Spec: "0 3 * * *"})
	if err != nil {
		t.Fatal(err)
	}
	ev := next()
	if ev["detail-type"] != "Scheduled Event" || ev["id"] != fired.ID || ev["account"] != "p" ||
		fmt.Sprint(ev["resources"]) != "[arn:aws:events:strata:p:rule/nightly]" {
		t.Fatalf("scheduled event: %v", ev)
	}

	if _, err := e.eng.InvokeAsync(ctx, "fn", &wire.Request{Method: "PUT", Path: "/things/1", Body: []byte("later"),
		Params: []wire.Param{{Name: "id", Value: "1"}}}, ""); err != nil {
		t.Fatal(err)
	}
	ev = next()
	if ev["version"] != "2.0" || ev["routeKey"] != "$default" || ev["rawPath"] != "/things/1" || ev["body"] != "later" ||
		fmt.Sprint(ev["pathParameters"]) != "map[id:1]" {
		t.Fatalf("async request event: %v", ev)
	}
	select {
	case ev := <-events:
		t.Fatalf("an extra delivery: %v", ev)
	default:
	}
}
