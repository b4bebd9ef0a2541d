package events

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Message attributes with a meaning to the engine. CloudEvents attributes
// are kept under their own names (id, source, type, time, subject,
// datacontenttype).
const (
	attrEncoding    = "strata.encoding" // "request": the body is a wire-encoded HTTP request
	encodingRequest = "request"
	// attrPayload marks an async invoke whose request carries a Lambda
	// Invoke API payload ("direct"): a function with events: lambda gets
	// it as it is, not wrapped as an API Gateway event.
	attrPayload   = "strata.payload"
	payloadDirect = "direct"
)

// BatchContentType is the content type of a batch of events.
const BatchContentType = "application/cloudevents-batch+json"

// eventID is the CloudEvents id of a message.
func eventID(m record.Message) string {
	if id := m.Attributes["id"]; id != "" {
		return id
	}
	return fmt.Sprintf("%s-%d", m.Queue, m.ID)
}

// singleRequest turns one message into the request its consumer sees.
func singleRequest(m record.Message) (*wire.Request, error) {
	if m.Attributes[attrEncoding] == encodingRequest {
		req, err := wire.DecodeRequest(m.Body)
		if err != nil {
			return nil, fmt.Errorf("decode stored request of message %d: %w", m.ID, err)
		}
		req.Headers = append(req.Headers,
			wire.Header{Name: "X-Strata-Event-Id", Values: []string{eventID(m)}},
			wire.Header{Name: "X-Strata-Receive-Count", Values: []string{strconv.Itoa(m.ReceiveCount)}})
		return req, nil
	}
	hs := []wire.Header{
		{Name: "Ce-Specversion", Values: []string{"1.0"}},
		{Name: "Ce-Id", Values: []string{eventID(m)}},
		{Name: "Ce-Source", Values: []string{attrOr(m, "source", "/queues/"+m.Queue)}},
		{Name: "Ce-Type", Values: []string{attrOr(m, "type", "strata.message")}},
		{Name: "Ce-Time", Values: []string{attrOr(m, "time", m.SentAt.UTC().Format(time.RFC3339Nano))}},
		{Name: "X-Strata-Queue", Values: []string{m.Queue}},
		{Name: "X-Strata-Receive-Count", Values: []string{strconv.Itoa(m.ReceiveCount)}},
	}
	if s := m.Attributes["subject"]; s != "" {
		hs = append(hs, wire.Header{Name: "Ce-Subject", Values: []string{s}})
	}
	if ct := m.Attributes["datacontenttype"]; ct != "" {
		hs = append(hs, wire.Header{Name: "Content-Type", Values: []string{ct}})
	}
	return &wire.Request{Method: "POST", Path: "/", Headers: hs, Body: m.Body}, nil
}

func attrOr(m record.Message, k, def string) string {
	if v := m.Attributes[k]; v != "" {
		return v
	}
	return def
}

// structured is a CloudEvent in JSON (structured) form.
type structured struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Time            string          `json:"time,omitempty"`
	Subject         string          `json:"subject,omitempty"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	Data            json.RawMessage `json:"data,omitempty"`
	DataBase64      string          `json:"data_base64,omitempty"`
	// Extensions (lowercase alphanumerics, as the spec requires).
	StrataQueue        string `json:"strataqueue"`
	StrataReceiveCount int    `json:"stratareceivecount"`
}

// batchRequest turns several messages into one JSON batch request.
func batchRequest(queue string, ms []record.Message) (*wire.Request, error) {
	evs := make([]structured, 0, len(ms))
	for _, m := range ms {
		ev := structured{
			SpecVersion: "1.0", ID: eventID(m),
			Source:  attrOr(m, "source", "/queues/"+m.Queue),
			Type:    attrOr(m, "type", "strata.message"),
			Time:    attrOr(m, "time", m.SentAt.UTC().Format(time.RFC3339Nano)),
			Subject: m.Attributes["subject"], DataContentType: m.Attributes["datacontenttype"],
			StrataQueue: m.Queue, StrataReceiveCount: m.ReceiveCount,
		}
		if isJSON(ev.DataContentType) && json.Valid(m.Body) {
			ev.Data = m.Body
		} else if len(m.Body) > 0 {
			ev.DataBase64 = base64.StdEncoding.EncodeToString(m.Body)
		}
		evs = append(evs, ev)
	}
	body, err := json.Marshal(evs)
	if err != nil {
		return nil, err
	}
	return &wire.Request{Method: "POST", Path: "/", Body: body, Headers: []wire.Header{
		{Name: "Content-Type", Values: []string{BatchContentType}},
		{Name: "X-Strata-Queue", Values: []string{queue}},
	}}, nil
}

func isJSON(ct string) bool {
	ct, _, _ = strings.Cut(ct, ";")
	ct = strings.TrimSpace(strings.ToLower(ct))
	return ct == "" || ct == "application/json" || strings.HasSuffix(ct, "+json")
}

// batchFailures reads a partial batch failure report, the shape Lambda uses
// for SQS: {"batchItemFailures":[{"itemIdentifier":"<event id>"}]}. An
// empty or non-JSON body means every item succeeded.
func batchFailures(body []byte) map[string]bool {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	var rep struct {
		BatchItemFailures []struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		return nil // a plain body is not a report
	}
	out := map[string]bool{}
	for _, f := range rep.BatchItemFailures {
		out[f.ItemIdentifier] = true
	}
	return out
}

// newEventID returns a fresh CloudEvents id (a random UUID v4).
func newEventID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	b[6] = 0x40 | b[6]&0x0f
	b[8] = 0x80 | b[8]&0x3f
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
