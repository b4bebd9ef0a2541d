package apitype

import (
	"time"

	"github.com/stratahq/strata/internal/record"
)

// QueueInfo is a queue with its current numbers.
type QueueInfo struct {
	record.QueueConfig
	Visible    int64     `json:"visible"`
	InFlight   int64     `json:"in_flight"`
	Delayed    int64     `json:"delayed"`
	OldestSent time.Time `json:"oldest_sent,omitzero"`
}

// MessageInfo is a message as `strata dlq list` shows it.
type MessageInfo struct {
	ID           int64             `json:"id"`
	EventID      string            `json:"event_id"`
	Attributes   map[string]string `json:"attributes"`
	Body         string            `json:"body,omitempty"`        // when UTF-8 text
	BodyBase64   []byte            `json:"body_base64,omitempty"` // otherwise
	SentAt       time.Time         `json:"sent_at"`
	ReceiveCount int               `json:"receive_count"`
	LastError    string            `json:"last_error,omitempty"`
}

// SendResult reports a send: the answer to POST /queues/{name}/messages
// and to an async invoke.
type SendResult struct {
	ID        string `json:"id"` // the CloudEvents id
	Duplicate bool   `json:"duplicate,omitempty"`
}

// ScheduleFireResult answers POST /schedules/{name}/fire: the fire's event
// id, and the function that will run it.
type ScheduleFireResult struct {
	ID       string `json:"id"`
	Schedule string `json:"schedule"`
	Function string `json:"function"`
}

// PublishResult answers POST /topics/{name}/messages.
type PublishResult struct {
	ID          string `json:"id"`
	Subscribers int    `json:"subscribers"` // how many queues got the event
}

// RedriveRequest is the body of POST /queues/{name}/redrive: move at most
// Max messages (0: all) to queue To ("": each back to where it came from).
type RedriveRequest struct {
	To  string `json:"to"`
	Max int    `json:"max"`
}

// RedriveResult answers POST /queues/{name}/redrive.
type RedriveResult struct {
	Moved int `json:"moved"`
}

// ScheduleInfo is one schedule with its next fire times.
type ScheduleInfo struct {
	Name     string      `json:"name"`
	Function string      `json:"function"`
	Spec     string      `json:"spec"`
	Timezone string      `json:"timezone,omitempty"`
	Next     []time.Time `json:"next"`
}
