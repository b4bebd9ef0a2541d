// Command lambda is the test guest of functions deployed with events:
// lambda. It reads the event its trigger delivers, as a handler written for
// AWS Lambda would, and answers what Lambda expects:
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

	strata "github.com/stratahq/strata/sdk/go"
)

type httpEvent struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters"`
	PathParameters        map[string]string `json:"pathParameters"`
	RequestContext        struct {
		AccountID string `json:"accountId"`
		HTTP      struct {
			Method    string `json:"method"`
			Path      string `json:"path"`
			Protocol  string `json:"protocol"`
			SourceIP  string `json:"sourceIp"`
			UserAgent string `json:"userAgent"`
		} `json:"http"`
		RequestID string `json:"requestId"`
		Stage     string `json:"stage"`
		TimeEpoch int64  `json:"timeEpoch"`
	} `json:"requestContext"`
	Body            string `json:"body"`
	IsBase64Encoded bool   `json:"isBase64Encoded"`
}

type sqsEvent struct {
	Records []struct {
		MessageID      string            `json:"messageId"`
		Body           string            `json:"body"`
		Attributes     map[string]string `json:"attributes"`
		EventSource    string            `json:"eventSource"`
		EventSourceARN string            `json:"eventSourceARN"`
		AWSRegion      string            `json:"awsRegion"`
	} `json:"Records"`
}

type failure struct {
	ItemIdentifier string `json:"itemIdentifier"`
}

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
			fmt.Println("scheduled " + string(body))
		default:
			http.Error(w, "unknown event: "+string(body), http.StatusBadRequest)
		}
	})
}

func serveHTTP(w http.ResponseWriter, body []byte) {
	var ev httpEvent
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
	out, _ := json.Marshal(map[string]any{
		"statusCode": 201,
		"headers":    map[string]string{"Content-Type": "application/json", "X-Route-Key": ev.RouteKey},
		"cookies":    []string{"session=s1; Path=/; HttpOnly", "theme=dark"},
		"body":       string(echo),
	})
	w.Write(out)
}

func serveSQS(w http.ResponseWriter, body []byte) {
	var ev sqsEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	failures := []failure{}
	for _, rec := range ev.Records {
		line, _ := json.Marshal(map[string]any{
			"messageId": rec.MessageID, "body": rec.Body, "receiveCount": rec.Attributes["ApproximateReceiveCount"],
			"eventSource": rec.EventSource, "eventSourceARN": rec.EventSourceARN, "awsRegion": rec.AWSRegion,
			"batch": len(ev.Records),
		})
		fmt.Println("sqs " + string(line))
		if rec.Body == "fail-once" && rec.Attributes["ApproximateReceiveCount"] == "1" {
			failures = append(failures, failure{ItemIdentifier: rec.MessageID})
		}
	}
	out, _ := json.Marshal(map[string]any{"batchItemFailures": failures})
	w.Write(out)
}

func main() {}
