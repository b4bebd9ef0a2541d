package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/sockets"
	"github.com/stratahq/strata/internal/trace"
	"github.com/stratahq/strata/sdk/go/wire"
)

var routeChat = record.Route{Project: "p", Method: "GET", Path: "/chat/{room}", Function: "chat", WebSocket: true}

type chatRouter struct{}

func (chatRouter) MatchRoute(method, path string) (*record.Route, []wire.Param, []string, bool) {
	room, ok := strings.CutPrefix(path, "/chat/")
	if !ok {
		return nil, nil, nil, false
	}
	return &routeChat, []wire.Param{{Name: "room", Value: room}}, nil, true
}

// socketEvent is one invocation the fake function saw.
type socketEvent struct {
	trigger, method, path, query string
	event, conn, text            string
	body                         string
	headers                      []wire.Header
	params                       []wire.Param
}

// socketFunc stands for a function with a WebSocket route: $connect
// answers 200 unless ?refuse=1 (403 with a body); a message "fail" fails
// its invocation. Every event is recorded and sent on events.
type socketFunc struct {
	mu     sync.Mutex
	seen   []socketEvent
	events chan socketEvent
}

func (f *socketFunc) Invoke(ctx context.Context, r invoke.Request) (*invoke.Result, error) {
	q := r.Wire
	e := socketEvent{trigger: r.Trigger, method: q.Method, path: q.Path, query: q.RawQuery, body: string(q.Body),
		headers: slices.Clone(q.Headers), params: slices.Clone(q.Params)}
	for _, h := range q.Headers {
		switch http.CanonicalHeaderKey(h.Name) {
		case http.CanonicalHeaderKey(wire.SocketEventHeader):
			e.event = strings.Join(h.Values, ",")
		case http.CanonicalHeaderKey(wire.SocketConnHeader):
			e.conn = strings.Join(h.Values, ",")
		case http.CanonicalHeaderKey(wire.SocketTextHeader):
			e.text = strings.Join(h.Values, ",")
		}
	}
	f.mu.Lock()
	f.seen = append(f.seen, e)
	f.mu.Unlock()
	f.events <- e
	tc := trace.New(r.TraceParent)
	res := &invoke.Result{InvocationID: "inv-" + strconv.Itoa(len(f.seen)), Version: 3, Trace: tc, TraceHeader: tc.Header(),
		Response: &wire.Response{Status: 200, Headers: []wire.Header{{Name: "X-Hello", Values: []string{"there"}},
			{Name: "Sec-WebSocket-Accept", Values: []string{"forged"}}}}}
	if e.event == wire.SocketConnect && strings.Contains(q.RawQuery, "refuse=1") {
		res.Response = &wire.Response{Status: 403, Headers: []wire.Header{{Name: "X-Why", Values: []string{"banned"}}}, Body: []byte("go away")}
	}
	if e.body == "fail" {
		return res, errors.New("the function trapped")
	}
	return res, nil
}

func newSocketGW(t *testing.T) (*socketFunc, *sockets.Hub, string) {
	t.Helper()
	f := &socketFunc{events: make(chan socketEvent, 1000)}
	hub := sockets.NewHub(sockets.Config{})
	g := New(Config{Invoker: f, Sockets: hub})
	g.SetRouter(chatRouter{}, []record.Route{routeChat})
	srv := httptest.NewServer(g)
	t.Cleanup(func() {
		srv.Close()
		hub.Close()
	})
	return f, hub, "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dialChat(t *testing.T, url string, hdr http.Header) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.Dial(context.Background(), url, &websocket.DialOptions{HTTPHeader: hdr})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return ws
}

func TestSocketRouteWithoutUpgradeIs426(t *testing.T) {
	f, _, url := newSocketGW(t)
	resp, err := http.Get("http" + strings.TrimPrefix(url, "ws") + "/chat/lobby")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusUpgradeRequired, resp.StatusCode)
	require.Equal(t, "websocket", resp.Header.Get("Upgrade"))
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(body), "GET /chat/{room} is a WebSocket route")
	require.Empty(t, f.events, "the function was invoked")
}

func TestSocketConnectRefused(t *testing.T) {
	f, hub, url := newSocketGW(t)
	_, resp, err := websocket.Dial(context.Background(), url+"/chat/lobby?refuse=1", nil)
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, "banned", resp.Header.Get("X-Why"))
	require.Equal(t, "inv-1", resp.Header.Get("X-Strata-Invocation-Id"))
	e := <-f.events
	require.Equal(t, wire.SocketConnect, e.event)
	require.Equal(t, "GET", e.method)
	require.Equal(t, "/chat/lobby", e.path)
	require.Equal(t, "refuse=1", e.query)
	require.Equal(t, TriggerWebSocket, e.trigger)
	require.Empty(t, e.body)
	require.Zero(t, hub.Len(), "a refused connection is registered")
}

// The function sees $connect, each message in order with its route key,
// and $disconnect once when the client closes; it can send through the
// hub by the connection id it was given.
func TestSocketEventsInOrder(t *testing.T) {
	f, hub, url := newSocketGW(t)
	ws, resp, err := websocket.Dial(context.Background(), url+"/chat/lobby?user=ann", nil)
	require.NoError(t, err)
	defer ws.CloseNow()
	require.Equal(t, "there", resp.Header.Get("X-Hello"), "the $connect answer's headers are on the 101")
	conn := <-f.events
	require.Equal(t, wire.SocketConnect, conn.event)
	require.Len(t, conn.conn, 32)
	require.Equal(t, []wire.Param{{Name: "room", Value: "lobby"}}, conn.params)
	require.Equal(t, "user=ann", conn.query)

	c, ok := hub.Get(conn.conn)
	require.True(t, ok)
	require.Equal(t, sockets.Owner{Project: "p", Function: "chat", Route: "GET /chat/{room}"}, c.Owner())
	require.NoError(t, c.Send(sockets.Message{Data: []byte("welcome"), Text: true}))
	_, b, err := ws.Read(context.Background())
	require.NoError(t, err)
	require.Equal(t, "welcome", string(b))

	ctx := context.Background()
	for i := range 50 {
		require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte(strconv.Itoa(i))))
	}
	require.NoError(t, ws.Write(ctx, websocket.MessageBinary, []byte{0, 1, 2}))
	for i := range 50 {
		e := <-f.events
		require.Equal(t, strconv.Itoa(i), e.body)
		require.Equal(t, wire.SocketDefault, e.event)
		require.Equal(t, conn.conn, e.conn)
		require.Equal(t, "1", e.text)
		require.Equal(t, "POST", e.method)
		require.Equal(t, "/chat/lobby", e.path)
		require.Equal(t, TriggerWebSocket, e.trigger)
	}
	bin := <-f.events
	require.Equal(t, "\x00\x01\x02", bin.body)
	require.Empty(t, bin.text)

	require.NoError(t, ws.Close(websocket.StatusNormalClosure, ""))
	<-c.Done()
	e := <-f.events
	require.Equal(t, wire.SocketDisconnect, e.event)
	require.Equal(t, conn.conn, e.conn)
	require.Empty(t, f.events, "more than one $disconnect")
}

func TestSocketRouteKeyFromAction(t *testing.T) {
	f, _, url := newSocketGW(t)
	ws := dialChat(t, url+"/chat/a", nil)
	<-f.events // $connect
	cases := []struct {
		msg  string
		text bool
		want string
	}{
		{`{"action":"join","room":"a"}`, true, "join"},
		{`  {"room":"a","action":"chat:send"}`, true, "chat:send"},
		{`{"action":"$connect"}`, true, wire.SocketDefault},
		{`{"action":"$disconnect"}`, true, wire.SocketDefault},
		{`{"action":5}`, true, wire.SocketDefault},
		{`{"Action":"join"}`, true, wire.SocketDefault},
		{`{"action":"` + strings.Repeat("a", 65) + `"}`, true, wire.SocketDefault},
		{`{"action":"has space"}`, true, wire.SocketDefault},
		{`{"action":"join"`, true, wire.SocketDefault},
		{`["join"]`, true, wire.SocketDefault},
		{`hello`, true, wire.SocketDefault},
		{`{"action":"join"}`, false, wire.SocketDefault},
	}
	for _, tc := range cases {
		typ := websocket.MessageBinary
		if tc.text {
			typ = websocket.MessageText
		}
		require.NoError(t, ws.Write(context.Background(), typ, []byte(tc.msg)))
		e := <-f.events
		require.Equal(t, tc.msg, e.body)
		require.Equal(t, tc.want, e.event, "message %s", tc.msg)
	}
}

// A failed invocation is logged; the connection stays.
func TestSocketFailedMessageKeepsConnection(t *testing.T) {
	f, hub, url := newSocketGW(t)
	ws := dialChat(t, url+"/chat/a", nil)
	id := (<-f.events).conn
	ctx := context.Background()
	require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte("fail")))
	require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte("after")))
	require.Equal(t, "fail", (<-f.events).body)
	require.Equal(t, "after", (<-f.events).body)
	_, ok := hub.Get(id)
	require.True(t, ok)
}

// $disconnect comes once however the connection ends: the server closes
// it, or the hub closes (the node stops).
func TestSocketDisconnectOnce(t *testing.T) {
	for _, how := range []string{"server", "hub"} {
		t.Run(how, func(t *testing.T) {
			f, hub, url := newSocketGW(t)
			ws := dialChat(t, url+"/chat/a", nil)
			go func() { _, _, _ = ws.Read(context.Background()) }() // answers the close handshake
			id := (<-f.events).conn
			c, ok := hub.Get(id)
			require.True(t, ok)
			if how == "server" {
				require.NoError(t, c.Close(4000, "kicked"))
			} else {
				hub.Close()
			}
			<-c.Done()
			e := <-f.events
			require.Equal(t, wire.SocketDisconnect, e.event)
			require.Equal(t, id, e.conn)
			hub.Close()
			require.Empty(t, f.events, "more than one $disconnect")
		})
	}
}

// A client's X-Strata-Socket-* headers never reach the function: the
// event and connection headers are the gateway's own.
func TestSocketSpoofedHeadersNeverReachFunction(t *testing.T) {
	f, _, url := newSocketGW(t)
	hdr := http.Header{}
	hdr.Set(wire.SocketEventHeader, wire.SocketDisconnect)
	hdr.Set(wire.SocketConnHeader, "0123456789abcdef0123456789abcdef")
	hdr.Set(wire.SocketTextHeader, "1")
	hdr.Set("x-strata-socket-event", "join")
	ws := dialChat(t, url+"/chat/a", hdr)
	e := <-f.events
	require.Equal(t, wire.SocketConnect, e.event)
	require.NotEqual(t, "0123456789abcdef0123456789abcdef", e.conn)
	require.Len(t, e.conn, 32)
	require.Empty(t, e.text)
	for _, h := range e.headers {
		if strings.HasPrefix(strings.ToLower(h.Name), "x-strata-") {
			require.Len(t, h.Values, 1, "header %s", h.Name)
		}
	}
	require.NoError(t, ws.Write(context.Background(), websocket.MessageBinary, []byte("m")))
	m := <-f.events
	require.Equal(t, wire.SocketDefault, m.event)
	require.Equal(t, e.conn, m.conn)
}
