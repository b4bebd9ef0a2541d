package objects

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/sockets"
	"github.com/stratahq/strata/sdk/go/wire"
)

// ErrNoConnection: no connection of the caller's project has that id.
var ErrNoConnection = errors.New("no such connection")

// socketTimeout bounds the WebSocket events an object runs (its
// function's timeout bounds the guest; this bounds the wait at the gate).
const socketTimeout = time.Minute

// Upgrade completes the WebSocket the object accepted in res's fetch
// event: the connection joins the hub, owned by the object, and its
// messages become the object's ws-message events.
func (e *Engine) Upgrade(w http.ResponseWriter, r *http.Request, res *Result) error {
	if e.cfg.Hub == nil {
		return errors.New("WebSockets are not available on this node")
	}
	a := res.Accept
	owner := sockets.Owner{Project: a.Key.Project, Function: a.Function, Object: a.Key, Route: r.Method + " " + r.URL.Path}
	id := a.ID
	if id == "" {
		id = sockets.NewID()
	}
	c, err := e.cfg.Hub.AcceptWithID(w, r, id, owner, a.Tags, sockets.Handlers{OnMessage: e.onSocketMessage, OnClose: e.onSocketClose})
	if err != nil {
		return err
	}
	if a.Attachment != nil {
		c.SetAttachment(a.Attachment)
	}
	for _, m := range a.pending {
		_ = c.Send(m)
	}
	return nil
}

// wants reports whether a send to ids (or, with none, to the sockets with
// tag, or all) includes the socket being accepted.
func (a *Accept) wants(ids []string, tag string) bool {
	if len(ids) > 0 {
		return slices.Contains(ids, a.ID)
	}
	return tag == "" || slices.Contains(a.Tags, tag)
}

func (e *Engine) socketEvent(kind string, c *sockets.Conn, body []byte, hs ...wire.Header) {
	k := c.Owner().Object
	ctx, cancel := context.WithTimeout(context.Background(), socketTimeout)
	defer cancel()
	req := &wire.Request{Method: "POST", Path: "/", Host: "object", RemoteAddr: "websocket", Body: body,
		Headers: append(hs, wire.Header{Name: wire.ObjectSocketHeader, Values: []string{c.ID()}})}
	res, err := e.run(ctx, k, "", event{kind: kind, req: req})
	if err == nil && res.Response.Status >= 300 {
		err = fmt.Errorf("answered %d: %s", res.Response.Status, clip(string(res.Response.Body)))
	}
	if err != nil {
		e.log.Warn("object WebSocket event failed", "object", k.String(), "project", k.Project, "event", kind, "socket", c.ID(), "err", err)
	}
}

func (e *Engine) onSocketMessage(c *sockets.Conn, m sockets.Message) {
	text := "0"
	if m.Text {
		text = "1"
	}
	e.socketEvent(wire.ObjectEventWSMessage, c, m.Data, wire.Header{Name: wire.ObjectTextHeader, Values: []string{text}})
}

func (e *Engine) onSocketClose(c *sockets.Conn, code int, reason string) {
	select {
	case <-e.stop:
		return // shutting down: the object is not woken for it
	default:
	}
	e.socketEvent(wire.ObjectEventWSClose, c, nil,
		wire.Header{Name: wire.ObjectCodeHeader, Values: []string{strconv.Itoa(code)}},
		wire.Header{Name: wire.ObjectReasonHeader, Values: []string{reason}})
}

// objectConns are the sockets of l accepted by it, those named in ids
// only when ids is not empty, those with tag only when tag is set.
func (e *Engine) objectConns(k record.ObjectKey, ids []string, tag string) []*sockets.Conn {
	if e.cfg.Hub == nil {
		return nil
	}
	var out []*sockets.Conn
	for _, c := range e.cfg.Hub.ByObject(k) {
		if len(ids) > 0 && !slices.Contains(ids, c.ID()) {
			continue
		}
		if tag != "" && !slices.Contains(c.Tags(), tag) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// socketCall serves the WebSocket ops of the object l. An object reaches
// only the sockets it accepted (the hub's index by object key, which
// includes the project).
func (e *Engine) socketCall(_ context.Context, l *live, req wire.ObjectRequest) (*wire.ObjectResponse, error) {
	switch req.Op {
	case wire.ObjectOpWSAccept:
		if e.cfg.Hub == nil {
			return nil, errors.New("WebSockets are not available on this node")
		}
		if l.event != wire.ObjectEventFetch {
			return nil, fmt.Errorf("acceptWebSocket is only possible while handling the upgrade request (a fetch event): %w", ErrBadRequest)
		}
		// The id is chosen now: the SDK's AcceptWebSocket needs it, and
		// the event may set the socket's attachment before it ends.
		l.accept = &Accept{Key: l.key, Function: l.fn, Tags: slices.Clone(req.Tags), ID: sockets.NewID()}
		return &wire.ObjectResponse{Socket: l.accept.ID}, nil
	case wire.ObjectOpWSSend:
		// Held by the output gate: sent once this event's writes (and
		// every earlier event's) are durable, dropped if they fail.
		cs := e.objectConns(l.key, req.Sockets, req.Tag)
		m := sockets.Message{Data: slices.Clone(req.Data), Text: req.Text}
		l.out = append(l.out, pendingSend{conns: cs, m: m})
		n := len(cs)
		if a := l.accept; a != nil && a.wants(req.Sockets, req.Tag) {
			// The socket this event accepted joins the hub after it: it
			// gets the message right after the upgrade.
			a.pending = append(a.pending, m)
			n++
		}
		return &wire.ObjectResponse{Count: n}, nil
	case wire.ObjectOpWSClose:
		code := req.Code
		if code == 0 {
			code = 1000
		}
		cs := e.objectConns(l.key, req.Sockets, req.Tag)
		l.out = append(l.out, pendingSend{conns: cs, close: true, code: code, reason: req.Reason})
		return &wire.ObjectResponse{Count: len(cs)}, nil
	case wire.ObjectOpWSList:
		resp := &wire.ObjectResponse{Sockets: []wire.SocketInfo{}}
		for _, c := range e.objectConns(l.key, nil, req.Tag) {
			resp.Sockets = append(resp.Sockets, wire.SocketInfo{ID: c.ID(), Tags: c.Tags(), Attachment: c.Attachment()})
		}
		return resp, nil
	case wire.ObjectOpWSAttach:
		if len(req.Sockets) != 1 {
			return nil, fmt.Errorf("attach names one socket: %w", ErrBadRequest)
		}
		if len(req.Data) > 2048 {
			return nil, fmt.Errorf("attachment of %d bytes is over the 2048 byte limit: %w", len(req.Data), ErrTooLarge)
		}
		if a := l.accept; a != nil && a.ID == req.Sockets[0] {
			// Accepted by this very event: the connection joins the
			// hub after it, with this attachment.
			a.Attachment = slices.Clone(req.Data)
			return &wire.ObjectResponse{}, nil
		}
		cs := e.objectConns(l.key, req.Sockets, "")
		if len(cs) == 0 {
			return nil, fmt.Errorf("socket %q: %w", req.Sockets[0], ErrNoConnection)
		}
		cs[0].SetAttachment(slices.Clone(req.Data))
		return &wire.ObjectResponse{}, nil
	case wire.ObjectOpWSAutoResponse:
		if e.cfg.Hub != nil {
			e.cfg.Hub.SetAutoResponse(l.key, req.AutoReq, req.AutoResp)
		}
		return &wire.ObjectResponse{}, nil
	}
	return nil, fmt.Errorf("object op %q: %w", req.Op, ErrBadRequest)
}

// connCall sends to or closes a WebSocket route's connection by id. A
// function reaches only connections of its own project that came in on a
// function's WebSocket route (an object's sockets are its own); any other
// id is "no such connection", so ids of other projects are not confirmed.
func (e *Engine) connCall(c *host.Call, req wire.ObjectRequest) (*wire.ObjectResponse, error) {
	if e.cfg.Hub == nil {
		return nil, errors.New("WebSockets are not available on this node")
	}
	conn, ok := e.cfg.Hub.Get(req.Connection)
	if !ok || conn.Owner().Project != c.Project || conn.Owner().Object != (record.ObjectKey{}) {
		return nil, fmt.Errorf("connection %q: %w", clip(req.Connection), ErrNoConnection)
	}
	var err error
	if req.Op == wire.ObjectOpConnSend {
		err = conn.Send(sockets.Message{Data: req.Data, Text: req.Text})
	} else {
		code := req.Code
		if code == 0 {
			code = 1000
		}
		err = conn.Close(code, req.Reason)
	}
	if err != nil {
		return nil, fmt.Errorf("connection %q: %w", req.Connection, err)
	}
	return &wire.ObjectResponse{}, nil
}

func (e *Engine) hasSockets(k record.ObjectKey) bool {
	return e.cfg.Hub != nil && len(e.cfg.Hub.ByObject(k)) > 0
}

// pendingSend is a message (or a close) an event sent to its sockets,
// held until the event's writes are durable.
type pendingSend struct {
	conns  []*sockets.Conn
	m      sockets.Message
	close  bool
	code   int
	reason string
}

type outbox struct {
	t     *ticket // nil: nothing to wait for
	sends []pendingSend
}

// queueSends releases an event's sends after t, in the order of the
// object's events: one sender goroutine per object drains its queue.
func (l *live) queueSends(t *ticket, out []pendingSend) {
	if len(out) == 0 {
		return
	}
	l.sendMu.Lock()
	l.sendQ = append(l.sendQ, outbox{t: t, sends: out})
	if l.sending {
		l.sendMu.Unlock()
		return
	}
	l.sending = true
	l.sendMu.Unlock()
	go func() {
		for {
			l.sendMu.Lock()
			if len(l.sendQ) == 0 {
				l.sending = false
				l.sendMu.Unlock()
				return
			}
			ob := l.sendQ[0]
			l.sendQ = l.sendQ[1:]
			l.sendMu.Unlock()
			if ob.t != nil {
				<-ob.t.done
				if ob.t.err != nil {
					continue // the writes they depended on were lost
				}
			}
			for _, s := range ob.sends {
				for _, c := range s.conns {
					if s.close {
						_ = c.Close(s.code, s.reason)
					} else {
						_ = c.Send(s.m) // a slow client is closed by its queue; the rest go on
					}
				}
			}
		}
	}()
}
