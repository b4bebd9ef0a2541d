package strata

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stratahq/strata/sdk/go/wire"
)

// captureHost replaces the host call for one test and records its inputs.
type captured struct {
	topic bool
	name  string
	body  []byte
	opts  wire.EventOptions
}

func captureHost(t *testing.T, id, msg string, ok bool) *captured {
	t.Helper()
	c := &captured{}
	prev := hostSend
	hostSend = func(topic bool, name string, body, opts []byte) (string, string, bool) {
		o, err := wire.DecodeEventOptions(opts)
		if err != nil {
			t.Fatalf("options do not decode: %v", err)
		}
		c.topic, c.name, c.body, c.opts = topic, name, append([]byte(nil), body...), *o
		return id, msg, ok
	}
	t.Cleanup(func() { hostSend = prev })
	return c
}

func TestSendEncodesOptions(t *testing.T) {
	c := captureHost(t, "ev-1", "", true)
	id, err := Send(context.Background(), "jobs", []byte("b"), WithType("t"), WithSubject("s"), WithGroup("g"),
		WithDedupID("d"), WithContentType("text/plain"), WithDelay(1500*time.Microsecond))
	if err != nil || id != "ev-1" {
		t.Fatalf("Send: %q %v", id, err)
	}
	want := wire.EventOptions{ContentType: "text/plain", Type: "t", Subject: "s", GroupID: "g", DedupID: "d", DelayMS: 2}
	if c.topic || c.name != "jobs" || string(c.body) != "b" || c.opts != want {
		t.Fatalf("host saw %+v, want jobs/b/%+v", c, want)
	}
}

func TestPublishJSON(t *testing.T) {
	c := captureHost(t, "ev-2", "", true)
	if _, err := PublishJSON(context.Background(), "signups", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	if !c.topic || string(c.body) != `{"n":1}` || c.opts.ContentType != "application/json" {
		t.Fatalf("host saw %+v", c)
	}
	if _, err := SendJSON(context.Background(), "q", 1, WithContentType("application/x")); err != nil {
		t.Fatal(err)
	}
	if c.topic || c.opts.ContentType != "application/x" {
		t.Fatalf("an explicit content type wins: %+v", c)
	}
}

func TestSendErrors(t *testing.T) {
	captureHost(t, "", "queue jobs belongs to project b", false)
	_, err := Send(context.Background(), "jobs", nil)
	var se *SendError
	if !errors.As(err, &se) || se.Message != "queue jobs belongs to project b" || se.Topic ||
		err.Error() != "strata: send to queue jobs: queue jobs belongs to project b" {
		t.Fatalf("Send: %v", err)
	}
	tests := []struct {
		name string
		call func() (string, error)
		want string
	}{
		{"negative delay", func() (string, error) {
			return Publish(context.Background(), "t", nil, WithDelay(-time.Second))
		}, "strata: publish to topic t: negative delay"},
		{"empty name", func() (string, error) { return Send(context.Background(), "", nil) }, "strata: send to queue : empty name"},
		{"JSON that does not encode", func() (string, error) {
			return SendJSON(context.Background(), "q", func() {})
		}, "strata: send to queue q: encode JSON: json: unsupported type: func()"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.call(); err == nil || err.Error() != tt.want {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
		})
	}
}
