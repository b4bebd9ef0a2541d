package objects

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/stratahq/strata/sdk/go/wire"
)

// State is what an object knows of itself: its identity, its storage, its
// alarm and its WebSockets. The SDK makes one per live object and passes
// it to the class's constructor; keep it in the object. Its methods act
// on the object whose event is running, so call them only while one of
// the object's events is being handled.
type State struct {
	class, id, name string
	// Storage is the object's durable key-value storage.
	Storage *Storage
	sockets map[string]*WebSocket // known sockets by id; see socket
}

func newState(class, id, name string) *State {
	return &State{class: class, id: id, name: name, Storage: &Storage{}, sockets: map[string]*WebSocket{}}
}

// ID returns the object's id: 64 lowercase hex digits.
func (s *State) ID() string { return s.id }

// Name returns the name the object's id was derived from (Namespace.Get),
// or "" if no event told it (an object addressed by a unique id).
func (s *State) Name() string { return s.name }

// Class returns the object's class, as registered with Register.
func (s *State) Class() string { return s.class }

// Alarm returns the time the object's alarm is set for, and false if none
// is set.
func (s *State) Alarm(ctx context.Context) (time.Time, bool, error) {
	resp, err := call(ctx, "get alarm", &wire.ObjectRequest{Op: wire.ObjectOpAlarmGet})
	if err != nil {
		return time.Time{}, false, err
	}
	if resp.AtMS == 0 {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(resp.AtMS), true, nil
}

// SetAlarm sets the object's one alarm to t (replacing any earlier one),
// rounded down to the millisecond. At t, or soon after, the object gets
// an alarm event (Alarmer); a time in the past fires at once.
func (s *State) SetAlarm(ctx context.Context, t time.Time) error {
	ms := t.UnixMilli()
	if ms <= 0 {
		return fmt.Errorf("objects: set alarm: time %v is not after 1970", t)
	}
	_, err := call(ctx, "set alarm", &wire.ObjectRequest{Op: wire.ObjectOpAlarmSet, AtMS: ms})
	return err
}

// DeleteAlarm removes the object's alarm, if any.
func (s *State) DeleteAlarm(ctx context.Context) error {
	_, err := call(ctx, "delete alarm", &wire.ObjectRequest{Op: wire.ObjectOpAlarmDelete})
	return err
}

// Message is one WebSocket message: a text frame (Text) or a binary one.
type Message struct {
	Data []byte
	Text bool
}

// TextMessage returns a text message holding s.
func TextMessage(s string) Message { return Message{Data: []byte(s), Text: true} }

// ErrNotUpgrade: AcceptWebSocket was called for a request that does not
// ask for a WebSocket (no "Upgrade: websocket" header).
var ErrNotUpgrade = errors.New("the request is not a WebSocket upgrade (no Upgrade: websocket header)")

// AcceptWebSocket makes the WebSocket the request r asks for one of the
// object's sockets, with tags to find it by (WebSockets, Broadcast), and
// answers r with 101 Switching Protocols on w: after it returns nil, the
// Fetch method must write nothing more. The platform holds the
// connection; its messages and close arrive as events (WebSocketMessager,
// WebSocketCloser) even after the object was evicted from memory.
//
// It fails with ErrNotUpgrade for a request without "Upgrade: websocket",
// and with the host's error when called outside a fetch event; then
// nothing is written to w.
func (s *State) AcceptWebSocket(w http.ResponseWriter, r *http.Request, tags ...string) (*WebSocket, error) {
	if !IsWebSocketUpgrade(r) {
		return nil, fmt.Errorf("objects: accept WebSocket: %w", ErrNotUpgrade)
	}
	resp, err := call(r.Context(), "accept WebSocket", &wire.ObjectRequest{Op: wire.ObjectOpWSAccept, Tags: tags})
	if err != nil {
		return nil, err
	}
	if resp.Socket == "" {
		return nil, errors.New("objects: accept WebSocket: the host returned no socket id")
	}
	ws := &WebSocket{state: s, id: resp.Socket, tags: append([]string(nil), tags...), loaded: true}
	s.sockets[ws.id] = ws
	w.WriteHeader(http.StatusSwitchingProtocols)
	return ws, nil
}

// IsWebSocketUpgrade reports whether r asks for a WebSocket.
func IsWebSocketUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), "websocket") {
				return true
			}
		}
	}
	return false
}

// WebSockets returns the object's open WebSockets carrying tag, or all of
// them for "".
func (s *State) WebSockets(ctx context.Context, tag string) ([]*WebSocket, error) {
	what := "list WebSockets"
	if tag != "" {
		what = fmt.Sprintf("list WebSockets tagged %q", tag)
	}
	resp, err := call(ctx, what, &wire.ObjectRequest{Op: wire.ObjectOpWSList, Tag: tag})
	if err != nil {
		return nil, err
	}
	out := make([]*WebSocket, len(resp.Sockets))
	for i, info := range resp.Sockets {
		ws := s.socket(info.ID)
		ws.tags, ws.attachment, ws.loaded = info.Tags, info.Attachment, true
		out[i] = ws
	}
	return out, nil
}

// Broadcast sends msg to every open WebSocket of the object carrying tag
// (all of them for ""), in one host call.
func (s *State) Broadcast(ctx context.Context, tag string, msg Message) error {
	what := "broadcast"
	if tag != "" {
		what = fmt.Sprintf("broadcast to %q", tag)
	}
	_, err := call(ctx, what, &wire.ObjectRequest{Op: wire.ObjectOpWSSend, Tag: tag, Data: msg.Data, Text: msg.Text})
	return err
}

// SetWebSocketAutoResponse makes the platform answer a text message equal
// to request with response on every WebSocket of the object, without an
// event (so without waking an evicted object): a cheap keep-alive. Empty
// strings remove it.
func (s *State) SetWebSocketAutoResponse(ctx context.Context, request, response string) error {
	if (request == "") != (response == "") {
		return errors.New("objects: set WebSocket auto-response: request and response must both be set, or both empty to remove it")
	}
	_, err := call(ctx, "set WebSocket auto-response", &wire.ObjectRequest{Op: wire.ObjectOpWSAutoResponse, AutoReq: request, AutoResp: response})
	return err
}

// socket returns the known WebSocket id, or a new one whose tags and
// attachment load on first use: an event names its socket by id only.
func (s *State) socket(id string) *WebSocket {
	ws, ok := s.sockets[id]
	if !ok {
		ws = &WebSocket{state: s, id: id}
		s.sockets[id] = ws
	}
	return ws
}

// WebSocket is one of the object's WebSockets. It stays valid across
// events and evictions: after an eviction the object's next event gets a
// new value for the same id.
type WebSocket struct {
	state      *State
	id         string
	tags       []string
	attachment []byte
	loaded     bool // tags and attachment are known
}

// ID returns the socket's id, unique within the object.
func (ws *WebSocket) ID() string { return ws.id }

// Tags returns the tags the socket was accepted with. A socket met first
// in an event is loaded with one host call (ws_list) on first use; if
// that fails, Tags returns nil.
func (ws *WebSocket) Tags() []string {
	ws.load()
	return ws.tags
}

// Attachment returns the bytes last set with SetAttachment (kept by the
// platform across evictions), loaded as for Tags.
func (ws *WebSocket) Attachment() []byte {
	ws.load()
	return ws.attachment
}

func (ws *WebSocket) load() {
	if ws.loaded {
		return
	}
	// Loads every socket of the object at once: an object that asks one
	// socket's tags usually asks others'.
	if _, err := ws.state.WebSockets(context.Background(), ""); err == nil {
		ws.loaded = true
	}
}

// Send sends msg on the socket.
func (ws *WebSocket) Send(ctx context.Context, msg Message) error {
	_, err := call(ctx, "send on WebSocket "+ws.id, &wire.ObjectRequest{Op: wire.ObjectOpWSSend, Sockets: []string{ws.id}, Data: msg.Data, Text: msg.Text})
	return err
}

// Close closes the socket with a close code (1000: normal; 4000-4999: the
// application's own) and a reason.
func (ws *WebSocket) Close(ctx context.Context, code int, reason string) error {
	_, err := call(ctx, "close WebSocket "+ws.id, &wire.ObjectRequest{Op: wire.ObjectOpWSClose, Sockets: []string{ws.id}, Code: code, Reason: reason})
	return err
}

// SetAttachment keeps b with the socket, for later events to read with
// Attachment even after the object was evicted (e.g. the user the socket
// belongs to). nil removes it.
func (ws *WebSocket) SetAttachment(ctx context.Context, b []byte) error {
	_, err := call(ctx, "set attachment of WebSocket "+ws.id, &wire.ObjectRequest{Op: wire.ObjectOpWSAttach, Sockets: []string{ws.id}, Data: b})
	if err != nil {
		return err
	}
	ws.attachment = b
	return nil
}
