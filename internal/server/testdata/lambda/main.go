// Command lambda is the test guest of functions deployed with events:
// lambda. It reads the event its trigger delivers with the types of AWS's
// own Go library (aws-lambda-go/events), as a handler written for AWS
// Lambda does, and answers with them:
//   - an API Gateway HTTP API (2.0) event: a structured response, status
//     201, two cookies and a JSON body echoing what it read; with
//     ?mode=plain a bare JSON object (inferred as a 200); with ?mode=bad a
//     malformed structured response (statusCode a string);
//   - an SQS batch: each record logged as "sqs {json}", and the record
//     whose body is "fail-once" reported in batchItemFailures on its first
//     receive;
//   - an EventBridge scheduled event: logged as "scheduled {json}".
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	strata "github.com/stratahq/strata/sdk/go"
)

func init() {
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var probe struct {
			RouteKey   string            `json:"routeKey"`
			Records    []json.RawMessage `json:"Records"`
			DetailType string            `json:"detail-type"`
		}
		if err := json.Unmarshal(body, &probe); err != nil {
			http.Error(w, "not a JSON event: "+err.Error(), http.StatusBadRequest)
			return
		}
		switch {
		case probe.RouteKey != "":
			serveHTTP(w, body)
		case probe.Records != nil:
			serveSQS(w, body)
		case probe.DetailType != "":
			var ev events.EventBridgeEvent
			if err := json.Unmarshal(body, &ev); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			fmt.Println("scheduled " + string(body))
		default:
			http.Error(w, "unknown event: "+string(body), http.StatusBadRequest)
		}
	})
}

func serveHTTP(w http.ResponseWriter, body []byte) {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch ev.QueryStringParameters["mode"] {
	case "plain":
		fmt.Fprint(w, `{"hello":"world"}`)
		return
	case "bad":
		fmt.Fprint(w, `{"statusCode":"two hundred","body":"x"}`)
		return
	}
	echo, _ := json.Marshal(map[string]any{
		"version": ev.Version, "routeKey": ev.RouteKey, "rawPath": ev.RawPath, "rawQueryString": ev.RawQueryString,
		"id": ev.PathParameters["id"], "query": ev.QueryStringParameters, "cookies": ev.Cookies,
		"method": ev.RequestContext.HTTP.Method, "sourceIp": ev.RequestContext.HTTP.SourceIP,
		"userAgent": ev.RequestContext.HTTP.UserAgent, "protocol": ev.RequestContext.HTTP.Protocol,
		"requestId": ev.RequestContext.RequestID, "stage": ev.RequestContext.Stage, "account": ev.RequestContext.AccountID,
		"timeEpoch": ev.RequestContext.TimeEpoch, "body": ev.Body, "isBase64Encoded": ev.IsBase64Encoded,
		"header": ev.Headers["x-test"],
	})
	out, _ := json.Marshal(events.APIGatewayV2HTTPResponse{
		StatusCode: 201,
		Headers:    map[string]string{"Content-Type": "application/json", "X-Route-Key": ev.RouteKey},
		Cookies:    []string{"session=s1; Path=/; HttpOnly", "theme=dark"},
		Body:       string(echo),
	})
	w.Write(out)
}

func serveSQS(w http.ResponseWriter, body []byte) {
	var ev events.SQSEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for _, rec := range ev.Records {
		line, _ := json.Marshal(map[string]any{
			"messageId": rec.MessageId, "body": rec.Body, "receiveCount": rec.Attributes["ApproximateReceiveCount"],
			"eventSource": rec.EventSource, "eventSourceARN": rec.EventSourceARN, "awsRegion": rec.AWSRegion,
			"batch": len(ev.Records),
		})
		fmt.Println("sqs " + string(line))
		if rec.Body == "fail-once" && rec.Attributes["ApproximateReceiveCount"] == "1" {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	out, _ := json.Marshal(resp)
	w.Write(out)
}

func main() {}
