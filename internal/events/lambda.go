package events

import (
	"fmt"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/lambda"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/sdk/go/wire"
)

// lambdaAttributes are the message attributes an SQS-shaped record
// carries as messageAttributes: what the sender chose. The engine's own
// (id, time, traceparent, strata.*) stay out.
var lambdaAttributes = []string{"type", "source", "subject", "datacontenttype"}

// deliveryShaper gives a consumer that takes Lambda event shapes the
// events of one delivery: a schedule fire as an EventBridge scheduled
// event, an async invoke's HTTP request as an API Gateway HTTP API event
// (a Lambda Invoke API payload as it is),
// and any other batch (a user queue's, a topic subscription's) as an SQS
// batch, whose answer may name failed items (batchItemFailures).
type deliveryShaper struct {
	q    record.QueueConfig
	msgs []record.Message
	sqs  bool // the event was an SQS batch
}

var _ invoke.Shaper = (*deliveryShaper)(nil)

func (s *deliveryShaper) LambdaRequest(inv lambda.Invocation, _ *wire.Request) (*wire.Request, error) {
	if s.q.Kind == record.QueueAsync && len(s.msgs) == 1 {
		m := s.msgs[0]
		switch {
		case m.Attributes["type"] == TypeSchedule:
			due, err := time.Parse(time.RFC3339, m.Attributes["time"])
			if err != nil {
				return nil, fmt.Errorf("schedule fire %s: time %q: %w", eventID(m), m.Attributes["time"], err)
			}
			name := strings.TrimPrefix(m.Attributes["source"], "/schedules/")
			return lambda.ScheduledEventRequest(inv, eventID(m), name, due)
		case m.Attributes[attrEncoding] == encodingRequest:
			req, err := wire.DecodeRequest(m.Body)
			if err != nil {
				return nil, fmt.Errorf("decode stored request of message %d: %w", m.ID, err)
			}
			if m.Attributes[attrPayload] == payloadDirect {
				// A Lambda Invoke API payload: the event itself.
				return req, nil
			}
			return lambda.HTTPEventRequest(inv, lambda.DefaultRouteKey, "HTTP/1.1", req)
		}
	}
	s.sqs = true
	msgs := make([]lambda.Message, len(s.msgs))
	for i, m := range s.msgs {
		lm := lambda.Message{
			ID: eventID(m), Receipt: m.Receipt, Queue: m.Queue, Body: m.Body, ReceiveCount: m.ReceiveCount,
			SentAt: m.SentAt, GroupID: m.GroupID, DedupID: m.DedupID, SequenceNo: m.ID,
		}
		for _, k := range lambdaAttributes {
			if v := m.Attributes[k]; v != "" {
				if lm.Attributes == nil {
					lm.Attributes = map[string]string{}
				}
				lm.Attributes[k] = v
			}
		}
		msgs[i] = lm
	}
	return lambda.SQSEventRequest(inv, s.q.Name, msgs)
}

// LambdaResponse passes the answer on: the engine reads an SQS batch's
// failures from it, and ignores the result of anything else, as Lambda
// does for asynchronous invocations.
func (s *deliveryShaper) LambdaResponse(resp *wire.Response) (*wire.Response, error) {
	return resp, nil
}
