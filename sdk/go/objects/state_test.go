package objects

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/sdk/go/wire"
)

func TestAlarm(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost(t)
	st := newState("C", "id", "")

	_, ok, err := st.Alarm(ctx)
	require.NoError(t, err)
	require.False(t, ok)

	at := time.UnixMilli(1_900_000_000_123).Add(456 * time.Microsecond)
	require.NoError(t, st.SetAlarm(ctx, at))
	require.Equal(t, wire.ObjectRequest{Op: wire.ObjectOpAlarmSet, AtMS: 1_900_000_000_123}, h.last())
	got, ok, err := st.Alarm(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, got.Equal(time.UnixMilli(1_900_000_000_123)), "%v", got)

	require.NoError(t, st.DeleteAlarm(ctx))
	require.Equal(t, wire.ObjectRequest{Op: wire.ObjectOpAlarmDelete}, h.last())
	_, ok, err = st.Alarm(ctx)
	require.NoError(t, err)
	require.False(t, ok)

	n := len(h.reqs)
	require.Error(t, st.SetAlarm(ctx, time.Time{}), "the zero time would read as no alarm")
	require.Len(t, h.reqs, n)
}

func upgrade(path string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "WebSocket")
	return r
}

// AcceptWebSocket asks the host with the tags and writes the 101 itself;
// a request that is no upgrade is refused without a host call.
func TestAcceptWebSocket(t *testing.T) {
	h := newFakeHost(t)
	st := newState("C", "id", "")

	w := httptest.NewRecorder()
	_, err := st.AcceptWebSocket(w, httptest.NewRequest(http.MethodGet, "/", nil), "room")
	require.ErrorIs(t, err, ErrNotUpgrade)
	require.Empty(t, h.reqs)
	require.False(t, w.Flushed || w.Code != http.StatusOK || w.Body.Len() > 0, "nothing written")

	w = httptest.NewRecorder()
	ws, err := st.AcceptWebSocket(w, upgrade("/ws"), "room", "admin")
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, w.Code)
	require.Equal(t, wire.ObjectRequest{Op: wire.ObjectOpWSAccept, Tags: []string{"room", "admin"}}, h.last())
	require.Equal(t, "s1", ws.ID())
	require.Equal(t, []string{"room", "admin"}, ws.Tags())
	require.Len(t, h.reqs, 1, "an accepted socket knows its tags")

	h.fail[wire.ObjectOpWSAccept] = "WebSockets are accepted only during a fetch event carrying an upgrade"
	w = httptest.NewRecorder()
	_, err = st.AcceptWebSocket(w, upgrade("/ws"))
	require.EqualError(t, err, "objects: accept WebSocket: WebSockets are accepted only during a fetch event carrying an upgrade")
	require.Equal(t, http.StatusOK, w.Code, "nothing written")
}

func TestIsWebSocketUpgrade(t *testing.T) {
	for v, want := range map[string]bool{"websocket": true, "h2c, WebSocket": true, "h2c": false, "": false} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if v != "" {
			r.Header.Set("Upgrade", v)
		}
		require.Equal(t, want, IsWebSocketUpgrade(r), v)
	}
}

func TestWebSocketRequests(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost(t)
	st := newState("C", "id", "")
	_, err := st.AcceptWebSocket(httptest.NewRecorder(), upgrade("/"), "red")
	require.NoError(t, err)
	_, err = st.AcceptWebSocket(httptest.NewRecorder(), upgrade("/"), "blue")
	require.NoError(t, err)

	red, err := st.WebSockets(ctx, "red")
	require.NoError(t, err)
	require.Len(t, red, 1)
	require.Equal(t, wire.ObjectRequest{Op: wire.ObjectOpWSList, Tag: "red"}, h.last())
	all, err := st.WebSockets(ctx, "")
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Same(t, red[0], all[0], "one value per socket")

	ws := all[1]
	require.NoError(t, ws.Send(ctx, TextMessage("hi")))
	require.Equal(t, wire.ObjectRequest{Op: wire.ObjectOpWSSend, Sockets: []string{"s2"}, Data: []byte("hi"), Text: true}, h.last())
	require.NoError(t, ws.Send(ctx, Message{Data: []byte{0, 1}}))
	require.Equal(t, wire.ObjectRequest{Op: wire.ObjectOpWSSend, Sockets: []string{"s2"}, Data: []byte{0, 1}}, h.last())
	require.NoError(t, ws.Close(ctx, 4000, "bye"))
	require.Equal(t, wire.ObjectRequest{Op: wire.ObjectOpWSClose, Sockets: []string{"s2"}, Code: 4000, Reason: "bye"}, h.last())
	require.NoError(t, ws.SetAttachment(ctx, []byte("user-7")))
	require.Equal(t, wire.ObjectRequest{Op: wire.ObjectOpWSAttach, Sockets: []string{"s2"}, Data: []byte("user-7")}, h.last())
	require.Equal(t, "user-7", string(ws.Attachment()))

	n := len(h.reqs)
	require.NoError(t, st.Broadcast(ctx, "red", TextMessage("all red")))
	require.NoError(t, st.Broadcast(ctx, "", Message{Data: []byte("all")}))
	require.Equal(t, []wire.ObjectRequest{
		{Op: wire.ObjectOpWSSend, Tag: "red", Data: []byte("all red"), Text: true},
		{Op: wire.ObjectOpWSSend, Data: []byte("all")},
	}, h.reqs[n:], "one host call per broadcast")

	require.NoError(t, st.SetWebSocketAutoResponse(ctx, "ping", "pong"))
	require.Equal(t, wire.ObjectRequest{Op: wire.ObjectOpWSAutoResponse, AutoReq: "ping", AutoResp: "pong"}, h.last())
	require.NoError(t, st.SetWebSocketAutoResponse(ctx, "", ""))
	require.Error(t, st.SetWebSocketAutoResponse(ctx, "ping", ""))
}

// A socket first met in an event (after an eviction) loads its tags and
// attachment with one ws_list, on first use only.
func TestWebSocketLoadsLazily(t *testing.T) {
	h := newFakeHost(t)
	h.sockets = []wire.SocketInfo{{ID: "s1", Tags: []string{"t"}, Attachment: []byte("att")}, {ID: "s2"}}
	st := newState("C", "id", "")
	ws := st.socket("s1")
	require.Empty(t, h.reqs)
	require.Equal(t, []string{"t"}, ws.Tags())
	require.Equal(t, "att", string(ws.Attachment()))
	require.Nil(t, st.socket("s2").Tags())
	require.Equal(t, []string{wire.ObjectOpWSList}, h.ops())
}

func TestStubs(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost(t)
	ns := Namespace("counters")

	id, err := ns.IDFromName(ctx, "room")
	require.NoError(t, err)
	require.Equal(t, "id-of-room", id)
	require.Equal(t, wire.ObjectRequest{Op: wire.ObjectOpIDFromName, Binding: "counters", Name: "room"}, h.last())
	id, err = ns.NewUniqueID(ctx)
	require.NoError(t, err)
	require.Equal(t, "unique", id)
	require.Equal(t, wire.ObjectRequest{Op: wire.ObjectOpNewID, Binding: "counters"}, h.last())

	resp, err := ns.Get("room").Call(ctx, http.MethodPost, "/incr?by=2", []byte("body"))
	require.NoError(t, err)
	require.Equal(t, wire.ObjectRequest{Op: wire.ObjectOpStubFetch, Binding: "counters", Name: "room",
		Request: &wire.StubRequest{Method: "POST", Path: "/incr?by=2", Body: []byte("body")}}, h.last())
	require.Equal(t, 201, resp.StatusCode)
	require.Equal(t, "201 Created", resp.Status)
	require.Equal(t, "yes", resp.Header.Get("X-Answer"))
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "object got POST /incr?by=2 body", string(b))

	req := httptest.NewRequest(http.MethodPut, "http://ignored.example/x?y=1", nil)
	req.Header.Set("X-Custom", "v")
	_, err = ns.GetByID("abc").Fetch(req)
	require.NoError(t, err)
	require.Equal(t, wire.ObjectRequest{Op: wire.ObjectOpStubFetch, Binding: "counters", ID: "abc",
		Request: &wire.StubRequest{Method: "PUT", Path: "/x?y=1", Headers: []wire.Header{{Name: "X-Custom", Values: []string{"v"}}}}}, h.last())

	_, err = ns.Get("room").Call(ctx, http.MethodGet, "get", nil)
	require.NoError(t, err)
	require.Equal(t, "/get", h.last().Request.Path, "a path without its slash gets one")

	h.fail[wire.ObjectOpStubFetch] = `binding "counters" is not declared`
	_, err = ns.Get("room").Call(ctx, http.MethodGet, "/", nil)
	require.EqualError(t, err, `objects: counters "room": GET /: binding "counters" is not declared`)
}

// Outside WebAssembly every call fails with hostcall's explanation.
func TestOutsideWasm(t *testing.T) {
	_, _, err := (&Storage{}).Get(context.Background(), "k")
	require.ErrorContains(t, err, "only inside a Strata function")
}
