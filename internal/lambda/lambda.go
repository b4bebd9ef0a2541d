package lambda

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/stratahq/strata/sdk/go/wire"
)

// Region is the AWS region every Lambda-shaped event names (awsRegion,
// region, the region part of ARNs). Strata has no regions; a fixed,
// obviously local name keeps handlers that read it working and never
// passes for a real one.
const Region = "strata"

// Partition is the partition of the ARNs in events.
const Partition = "aws"

// ErrBadResponse marks a function's answer that is not a valid Lambda
// result for its trigger (the gateway answers 502).
var ErrBadResponse = errors.New("invalid Lambda response")

// Invocation is what an event says about the invocation it starts and the
// function's place: the project is the account.
type Invocation struct {
	Account   string    // the function's project
	Function  string    // the function's name
	RequestID string    // the invocation id
	Time      time.Time // when the invocation started
}

// ARN builds an ARN of service in Region and inv's account.
func (inv Invocation) ARN(service, resource string) string {
	return "arn:" + Partition + ":" + service + ":" + Region + ":" + inv.Account + ":" + resource
}

// jsonRequest is the request that carries an event to a function: a POST
// of its JSON, as the Lambda runtime hands an event to a handler.
func jsonRequest(event []byte) *wire.Request {
	return &wire.Request{Method: "POST", Path: "/", Body: event, Headers: []wire.Header{
		{Name: "Content-Type", Values: []string{"application/json"}},
	}}
}

// marshal encodes an event as JSON without escaping <, > and & (as AWS
// sends them).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
