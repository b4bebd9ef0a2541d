package lambda

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/stratahq/strata/sdk/go/wire"
)

// Message is one queue message as an SQS event describes it.
type Message struct {
	ID           string // the message's event id: batchItemFailures name it
	Receipt      string
	Queue        string
	Body         []byte
	ReceiveCount int
	SentAt       time.Time
	GroupID      string // FIFO queues
	DedupID      string
	SequenceNo   int64 // FIFO queues: the message's number in its queue
	// Attributes become messageAttributes (string values).
	Attributes map[string]string
}

// SQSEvent is a batch of SQS messages.
type SQSEvent struct {
	Records []SQSRecord `json:"Records"`
}

// SQSRecord is one message of an SQSEvent.
type SQSRecord struct {
	MessageID              string                         `json:"messageId"`
	ReceiptHandle          string                         `json:"receiptHandle"`
	Body                   string                         `json:"body"`
	Attributes             map[string]string              `json:"attributes"`
	MessageAttributes      map[string]SQSMessageAttribute `json:"messageAttributes"`
	MD5OfMessageAttributes *string                        `json:"md5OfMessageAttributes"`
	MD5OfBody              string                         `json:"md5OfBody"`
	EventSource            string                         `json:"eventSource"`
	EventSourceARN         string                         `json:"eventSourceARN"`
	AWSRegion              string                         `json:"awsRegion"`
}

// SQSMessageAttribute is a message attribute of an SQSRecord.
type SQSMessageAttribute struct {
	StringValue      *string  `json:"stringValue,omitempty"`
	BinaryValue      []byte   `json:"binaryValue,omitempty"`
	StringListValues []string `json:"stringListValues"`
	BinaryListValues []string `json:"binaryListValues"`
	DataType         string   `json:"dataType"`
}

// AttrEncoding is the message attribute set to "base64" on a record
// whose body is not UTF-8 text: SQS bodies are text, so such a body is
// base64-encoded.
const AttrEncoding = "strata.encoding"

// NewSQSEvent builds the event of a batch of messages of one queue.
func NewSQSEvent(inv Invocation, queue string, msgs []Message) *SQSEvent {
	ev := &SQSEvent{Records: make([]SQSRecord, 0, len(msgs))}
	arn := inv.ARN("sqs", queue)
	for _, m := range msgs {
		r := SQSRecord{
			MessageID: m.ID, ReceiptHandle: m.Receipt,
			Attributes: map[string]string{
				"ApproximateReceiveCount":          strconv.Itoa(m.ReceiveCount),
				"SentTimestamp":                    timeMillis(m.SentAt),
				"SenderId":                         inv.Account,
				"ApproximateFirstReceiveTimestamp": timeMillis(inv.Time),
			},
			MessageAttributes: map[string]SQSMessageAttribute{},
			EventSource:       "aws:sqs", EventSourceARN: arn, AWSRegion: Region,
		}
		if m.GroupID != "" {
			r.Attributes["MessageGroupId"] = m.GroupID
			r.Attributes["SequenceNumber"] = strconv.FormatInt(m.SequenceNo, 10)
		}
		if m.DedupID != "" {
			r.Attributes["MessageDeduplicationId"] = m.DedupID
		}
		names := make([]string, 0, len(m.Attributes))
		for k := range m.Attributes {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			r.MessageAttributes[k] = stringAttribute(m.Attributes[k])
		}
		if utf8.Valid(m.Body) {
			r.Body = string(m.Body)
		} else {
			r.Body = base64.StdEncoding.EncodeToString(m.Body)
			r.MessageAttributes[AttrEncoding] = stringAttribute("base64")
		}
		// The digest of the body as delivered, so a handler checking it
		// agrees.
		sum := md5.Sum([]byte(r.Body))
		r.MD5OfBody = hex.EncodeToString(sum[:])
		ev.Records = append(ev.Records, r)
	}
	return ev
}

func stringAttribute(v string) SQSMessageAttribute {
	return SQSMessageAttribute{StringValue: &v, StringListValues: []string{}, BinaryListValues: []string{}, DataType: "String"}
}

// SQSEventRequest is the request that delivers a batch to a function.
func SQSEventRequest(inv Invocation, queue string, msgs []Message) (*wire.Request, error) {
	b, err := marshal(NewSQSEvent(inv, queue, msgs))
	if err != nil {
		return nil, fmt.Errorf("encode SQS event: %w", err)
	}
	return jsonRequest(b), nil
}
