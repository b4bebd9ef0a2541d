package sockets

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/stratahq/strata/sdk/go/internal/hostcall"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Event types besides route keys.
const (
	Connect    = wire.SocketConnect    // a client opens a connection
	Disconnect = wire.SocketDisconnect // the connection closed
	Default    = wire.SocketDefault    // a message no other route key matched
)

// Event is one WebSocket route event.
type Event struct {
	// Type is Connect, Disconnect or the message's route key.
	Type string
	// Connection is the connection's id: pass it to Send and Close, from
	// this invocation or any later one.
	Connection string
	// Data is the message (empty for Connect and Disconnect); Text is
	// set for a text frame.
	Data []byte
	Text bool
}

// FromRequest returns the WebSocket event r carries, and false if r is
// not one (an ordinary HTTP request). It reads r's body.
func FromRequest(r *http.Request) (Event, bool) {
	typ := r.Header.Get(wire.SocketEventHeader)
	if typ == "" {
		return Event{}, false
	}
	ev := Event{Type: typ, Connection: r.Header.Get(wire.SocketConnHeader), Text: r.Header.Get(wire.SocketTextHeader) == "1"}
	if r.Body != nil {
		data, err := io.ReadAll(r.Body)
		if err == nil && len(data) > 0 {
			ev.Data = data
		}
	}
	return ev, true
}

// Message is one message to send: a text frame (Text) or a binary one.
type Message struct {
	Data []byte
	Text bool
}

// TextMessage returns a text message holding s.
func TextMessage(s string) Message { return Message{Data: []byte(s), Text: true} }

// Send sends msg on connection, which must belong to a WebSocket route of
// this function's project.
func Send(ctx context.Context, connection string, msg Message) error {
	return call(ctx, "send on connection "+connection,
		&wire.ObjectRequest{Op: wire.ObjectOpConnSend, Connection: connection, Data: msg.Data, Text: msg.Text})
}

// Close closes connection with a close code (1000: normal; 4000-4999: the
// application's own) and a reason.
func Close(ctx context.Context, connection string, code int, reason string) error {
	return call(ctx, "close connection "+connection,
		&wire.ObjectRequest{Op: wire.ObjectOpConnClose, Connection: connection, Code: code, Reason: reason})
}

func call(ctx context.Context, what string, req *wire.ObjectRequest) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sockets: %s: %w", what, err)
	}
	if err := hostcall.Call(hostcall.Object, wire.AppendObjectRequest(nil, req), func([]byte) error { return nil }); err != nil {
		return fmt.Errorf("sockets: %s: %w", what, err)
	}
	return nil
}
