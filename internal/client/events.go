package client

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/stratahq/strata/internal/apitype"
)

// EventParams are the optional parts of a message to send or publish.
type EventParams struct {
	ContentType string
	Type        string
	Source      string
	Subject     string
	GroupID     string
	DedupID     string
	Delay       time.Duration
}

func (p EventParams) header() http.Header {
	h := http.Header{}
	set := func(k, v string) {
		if v != "" {
			h.Set(k, v)
		}
	}
	set("Content-Type", p.ContentType)
	set(apitype.HeaderEventType, p.Type)
	set(apitype.HeaderEventSource, p.Source)
	set(apitype.HeaderEventSubject, p.Subject)
	set(apitype.HeaderGroupID, p.GroupID)
	set(apitype.HeaderDedupID, p.DedupID)
	if p.Delay > 0 {
		h.Set(apitype.HeaderDelay, p.Delay.String())
	}
	return h
}

func (c *Client) postRaw(ctx context.Context, path string, body []byte, h http.Header, out any) error {
	resp, err := c.do(ctx, http.MethodPost, path, bytes.NewReader(body), h)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// InvokeAsync stores an invoke to run later and returns its event id.
func (c *Client) InvokeAsync(ctx context.Context, fn, method, path string, body []byte) (*apitype.SendResult, error) {
	h := http.Header{}
	if method != "" {
		h.Set(apitype.HeaderMethod, method)
	}
	if path != "" {
		h.Set(apitype.HeaderPath, path)
	}
	if json.Valid(body) {
		h.Set("Content-Type", "application/json")
	}
	var out apitype.SendResult
	return &out, c.postRaw(ctx, "/functions/"+url.PathEscape(fn)+"/invoke?async=true", body, h, &out)
}

// QueueSend sends one message to a queue.
func (c *Client) QueueSend(ctx context.Context, queue string, body []byte, p EventParams) (*apitype.SendResult, error) {
	var out apitype.SendResult
	return &out, c.postRaw(ctx, "/queues/"+url.PathEscape(queue)+"/messages", body, p.header(), &out)
}

// TopicPublish publishes one event to a topic and reports how many
// subscribers got it.
func (c *Client) TopicPublish(ctx context.Context, topic string, body []byte, p EventParams) (string, int, error) {
	var out apitype.PublishResult
	err := c.postRaw(ctx, "/topics/"+url.PathEscape(topic)+"/messages", body, p.header(), &out)
	return out.ID, out.Subscribers, err
}

// Queues lists queues with their numbers (internal ones too with all).
func (c *Client) Queues(ctx context.Context, all bool) ([]apitype.QueueInfo, error) {
	var out []apitype.QueueInfo
	return out, c.getJSON(ctx, http.MethodGet, "/queues?all="+strconv.FormatBool(all), nil, &out)
}

// Queue reports one queue.
func (c *Client) Queue(ctx context.Context, name string) (*apitype.QueueInfo, error) {
	var out apitype.QueueInfo
	return &out, c.getJSON(ctx, http.MethodGet, "/queues/"+url.PathEscape(name), nil, &out)
}

// QueuePeek lists messages of a queue without receiving them.
func (c *Client) QueuePeek(ctx context.Context, name string, limit int) ([]apitype.MessageInfo, error) {
	var out []apitype.MessageInfo
	return out, c.getJSON(ctx, http.MethodGet, "/queues/"+url.PathEscape(name)+"/messages?limit="+strconv.Itoa(limit), nil, &out)
}

// QueueRedrive moves messages out of a (dead-letter) queue: to the named
// queue, or with to == "" back to where each came from.
func (c *Client) QueueRedrive(ctx context.Context, name, to string, max int) (int, error) {
	var out apitype.RedriveResult
	err := c.getJSON(ctx, http.MethodPost, "/queues/"+url.PathEscape(name)+"/redrive", apitype.RedriveRequest{To: to, Max: max}, &out)
	return out.Moved, err
}

// Schedules lists schedules with their next fire times.
func (c *Client) Schedules(ctx context.Context) ([]apitype.ScheduleInfo, error) {
	var out []apitype.ScheduleInfo
	return out, c.getJSON(ctx, http.MethodGet, "/schedules", nil, &out)
}

// ScheduleFire fires a schedule now, as its next tick would.
func (c *Client) ScheduleFire(ctx context.Context, name string) (*apitype.ScheduleFireResult, error) {
	var out apitype.ScheduleFireResult
	return &out, c.getJSON(ctx, http.MethodPost, "/schedules/"+url.PathEscape(name)+"/fire", nil, &out)
}
