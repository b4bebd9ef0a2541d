package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/sockets"
	"github.com/stratahq/strata/sdk/go/wire"
)

// TriggerWebSocket is the trigger of a WebSocket route's invocations.
const TriggerWebSocket = "websocket"

// maxRouteKey bounds an "action" taken as a route key.
const maxRouteKey = 64

// serveSocket serves a WebSocket route of a plain function, as API
// Gateway's WebSocket APIs do: the function is invoked with the upgrade
// request as the $connect event and refuses the connection with any
// non-2xx answer; then once per message (the message's route key, in
// order) and once with $disconnect when the connection ends.
func (g *Gateway) serveSocket(w http.ResponseWriter, r *http.Request, rt *record.Route, params []wire.Param) {
	hub := g.cfg.Sockets
	if hub == nil {
		WriteError(w, Errorf(http.StatusServiceUnavailable, "WebSocket routes are not available on this node"), "")
		return
	}
	if status, err := hub.CheckUpgrade(r); err != nil {
		if status == http.StatusUpgradeRequired {
			w.Header().Set("Upgrade", "websocket")
			w.Header().Set("Connection", "Upgrade")
			err = fmt.Errorf("%s %s is a WebSocket route: connect with a WebSocket client (Connection: Upgrade, Upgrade: websocket)", rt.Method, rt.Path)
		}
		WriteError(w, &StatusError{Code: status, Err: err}, "")
		return
	}
	id := sockets.NewID()
	s := &socketRoute{g: g, fn: rt.Function, id: id, params: params,
		path: r.URL.Path, query: r.URL.RawQuery, host: r.Host, remote: r.RemoteAddr}

	// $connect: the upgrade request as received (a client's X-Strata-*
	// headers stripped), body empty.
	req := wireRequest(r, nil)
	req.Params = params
	req.Headers = append(req.Headers, wire.Header{Name: wire.SocketEventHeader, Values: []string{wire.SocketConnect}},
		wire.Header{Name: wire.SocketConnHeader, Values: []string{id}})
	res, err := g.cfg.Invoker.Invoke(r.Context(), invoke.Request{Function: rt.Function, Trigger: TriggerWebSocket,
		TraceParent: r.Header.Get(HeaderTraceparent), Wire: req})
	if err != nil {
		invID := ""
		if res != nil {
			w.Header().Set(HeaderTraceparent, res.TraceHeader)
			invID = res.InvocationID
		}
		WriteError(w, err, invID)
		return
	}
	if st := res.Response.Status; st < 200 || st > 299 {
		g.refuseSocket(w, r, rt.Function, res)
		return
	}
	// The accepting answer's headers go on the 101 (a cookie, or the
	// subprotocol the function chose among the client's), but for those
	// of the handshake itself.
	h := w.Header()
	for _, hv := range res.Response.Headers {
		if hopByHop(hv.Name) || handshakeHeader(hv.Name) {
			continue
		}
		h[http.CanonicalHeaderKey(hv.Name)] = hv.Values
	}
	h.Set(apitype.HeaderInvocationID, res.InvocationID)
	owner := sockets.Owner{Project: rt.Project, Function: rt.Function, Route: rt.Method + " " + rt.Path}
	if _, err := hub.AcceptWithID(w, r, id, owner, nil, sockets.Handlers{OnMessage: s.message, OnClose: s.close}); err != nil {
		// The answer is written; the function accepted, so it hears the
		// end of what it accepted.
		g.cfg.Logger.Warn("websocket upgrade failed after $connect", logFunction, rt.Function, logConnection, id, "err", err)
		s.close(nil, sockets.CodeAbnormal, "")
	}
}

const logConnection = "connection"

// handshakeHeader reports the headers of the WebSocket handshake that
// only the upgrade sets.
func handshakeHeader(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Sec-Websocket-Accept", "Sec-Websocket-Extensions", "Sec-Websocket-Version", "Content-Type":
		return true
	}
	return false
}

// refuseSocket relays a $connect's non-2xx answer as the refusal.
func (g *Gateway) refuseSocket(w http.ResponseWriter, r *http.Request, fn string, res *invoke.Result) {
	st := res.Response.Status
	h := w.Header()
	if st < 200 || st > 999 {
		h.Set(HeaderTraceparent, res.TraceHeader)
		WriteError(w, &StatusError{Code: http.StatusBadGateway, Err: fmt.Errorf(
			"function %s answered $connect with status %d; answer 2xx to accept the WebSocket, 400..599 to refuse it", fn, st)}, res.InvocationID)
		return
	}
	for _, hv := range res.Response.Headers {
		if hopByHop(hv.Name) {
			continue
		}
		h[http.CanonicalHeaderKey(hv.Name)] = hv.Values
	}
	if _, ok := h[HeaderTraceparent]; !ok {
		h.Set(HeaderTraceparent, res.TraceHeader)
	}
	h.Set(apitype.HeaderInvocationID, res.InvocationID)
	h.Set(apitype.HeaderVersion, fmt.Sprint(res.Version))
	h.Set("Content-Length", fmt.Sprint(len(res.Response.Body)))
	w.WriteHeader(st)
	_, _ = w.Write(res.Response.Body)
}

// socketRoute is one connection of a WebSocket route: what its message
// and $disconnect invocations say of it.
type socketRoute struct {
	g                         *Gateway
	fn, id                    string
	params                    []wire.Param
	path, query, host, remote string
}

// event builds the POST of one event.
func (s *socketRoute) event(key string, body []byte, text bool) *wire.Request {
	hs := []wire.Header{
		{Name: wire.SocketEventHeader, Values: []string{key}},
		{Name: wire.SocketConnHeader, Values: []string{s.id}},
	}
	if text {
		hs = append(hs, wire.Header{Name: wire.SocketTextHeader, Values: []string{"1"}},
			wire.Header{Name: "Content-Type", Values: []string{"text/plain; charset=utf-8"}})
	} else if body != nil {
		hs = append(hs, wire.Header{Name: "Content-Type", Values: []string{"application/octet-stream"}})
	}
	return &wire.Request{Method: http.MethodPost, Path: s.path, RawQuery: s.query, Host: s.host, RemoteAddr: s.remote,
		Headers: hs, Body: body, Params: s.params}
}

// message invokes the function for one message, on the connection's
// reader: the next message waits until it returns, so messages reach the
// function in order. A failed invocation is logged and the connection
// stays, as in API Gateway.
func (s *socketRoute) message(_ *sockets.Conn, m sockets.Message) {
	key := RouteKey(m.Data, m.Text)
	// Background: the upgrade request's context ended with its handler;
	// the invoker bounds the invocation by the function's timeout.
	res, err := s.g.cfg.Invoker.Invoke(context.Background(), invoke.Request{Function: s.fn, Trigger: TriggerWebSocket,
		Wire: s.event(key, m.Data, m.Text)})
	s.logFailure(key, res, err)
}

// close invokes $disconnect, once, when the connection ended.
func (s *socketRoute) close(_ *sockets.Conn, code int, reason string) {
	res, err := s.g.cfg.Invoker.Invoke(context.Background(), invoke.Request{Function: s.fn, Trigger: TriggerWebSocket,
		Wire: s.event(wire.SocketDisconnect, nil, false)})
	s.logFailure(wire.SocketDisconnect, res, err)
}

func (s *socketRoute) logFailure(key string, res *invoke.Result, err error) {
	switch {
	case err != nil:
		id := ""
		if res != nil {
			id = res.InvocationID
		}
		s.g.cfg.Logger.Warn("websocket event failed", logFunction, s.fn, logConnection, s.id, "event", key, logInvocation, id, "err", err)
	case res.Response.Status >= 500:
		s.g.cfg.Logger.Warn("websocket event answered an error", logFunction, s.fn, logConnection, s.id, "event", key,
			logInvocation, res.InvocationID, logStatus, res.Response.Status)
	}
}

// RouteKey is a message's route key: the string field "action" of a text
// message holding a JSON object, when it is a short name (letters,
// digits, "_", "-", ".", ":"; at most 64), else $default. A client can
// never name $connect or $disconnect.
func RouteKey(data []byte, text bool) string {
	if !text || !startsObject(data) {
		return wire.SocketDefault
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) != nil {
		return wire.SocketDefault
	}
	raw, ok := obj["action"]
	if !ok {
		return wire.SocketDefault
	}
	var action string
	if json.Unmarshal(raw, &action) != nil || !validRouteKey(action) {
		return wire.SocketDefault
	}
	return action
}

// startsObject reports whether data's first non-space byte is "{": most
// messages that are not objects are passed over without parsing.
func startsObject(data []byte) bool {
	for _, b := range data {
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b == '{'
	}
	return false
}

func validRouteKey(s string) bool {
	if s == "" || len(s) > maxRouteKey {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}
