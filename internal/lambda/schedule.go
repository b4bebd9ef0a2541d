package lambda

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/stratahq/strata/sdk/go/wire"
)

// ScheduledEvent is an EventBridge scheduled event.
type ScheduledEvent struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// NewScheduledEvent builds the event of a fire, with event id id, of the
// schedule named schedule (the rule of its ARN) due at due.
func NewScheduledEvent(inv Invocation, id, schedule string, due time.Time) *ScheduledEvent {
	return &ScheduledEvent{
		Version: "0", ID: id, DetailType: "Scheduled Event", Source: "aws.events",
		Account: inv.Account, Time: due.UTC().Format(time.RFC3339), Region: Region,
		Resources: []string{inv.ARN("events", "rule/"+schedule)}, Detail: json.RawMessage("{}"),
	}
}

// ScheduledEventRequest is the request that delivers a fire to a function.
func ScheduledEventRequest(inv Invocation, id, schedule string, due time.Time) (*wire.Request, error) {
	b, err := marshal(NewScheduledEvent(inv, id, schedule, due))
	if err != nil {
		return nil, fmt.Errorf("encode scheduled event: %w", err)
	}
	return jsonRequest(b), nil
}
