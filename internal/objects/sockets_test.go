package objects

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stratahq/strata/internal/sockets"
	"github.com/stratahq/strata/sdk/go/wire"
)

// serveObjects is a minimal gateway: GET /{name}/... goes to the Counter
// object called name, and an accepted WebSocket is upgraded.
func serveObjects(t *testing.T, e *env) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		req := &wire.Request{Method: r.Method, Path: "/" + rest, RawQuery: r.URL.RawQuery, Host: r.Host, RemoteAddr: r.RemoteAddr}
		for k, v := range r.Header {
			req.Headers = append(req.Headers, wire.Header{Name: k, Values: v})
		}
		res, err := e.eng.Fetch(r.Context(), "p", "Counter", name, "", req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if res.Accept != nil {
			if err := e.eng.Upgrade(w, r, res); err != nil {
				t.Errorf("upgrade: %v", err)
			}
			return
		}
		w.WriteHeader(res.Response.Status)
		_, _ = w.Write(res.Response.Body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func dial(t *testing.T, srv *httptest.Server, path string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+path, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func send(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("send %q: %v", msg, err)
	}
}

func recv(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return string(b)
}

func TestObjectWebSocketsAndHibernation(t *testing.T) {
	hub := sockets.NewHub(sockets.Config{})
	defer hub.Close()
	e := newEnv(t, Config{Hub: hub, IdleTimeout: 200 * time.Millisecond})
	srv := serveObjects(t, e)
	a := dial(t, srv, "/room/ws?tag=t")
	b := dial(t, srv, "/room/ws?tag=t")

	send(t, a, "hello")
	if got := recv(t, a); got != "echo:hello" {
		t.Fatalf("echo: %q", got)
	}
	send(t, b, "count")
	if got := recv(t, b); got != "sockets=2" {
		t.Fatalf("count: %q", got)
	}
	send(t, a, "broadcast:hi all")
	if ga, gb := recv(t, a), recv(t, b); ga != "hi all" || gb != "hi all" {
		t.Fatalf("broadcast: %q %q", ga, gb)
	}
	// Answered by the node, without an event.
	events := e.eng.Stats().Events
	send(t, a, "ping")
	if got := recv(t, a); got != "pong" {
		t.Fatalf("auto-response: %q", got)
	}
	if e.eng.Stats().Events != events {
		t.Fatal("the auto-response woke the object")
	}

	// Hibernation: the object is evicted while its sockets stay open; the
	// next message wakes it from storage.
	waitFor(t, "the room to hibernate", func() bool { return e.eng.Stats().Live == 0 })
	if len(hub.ByObject(key(t, "p", "room"))) != 2 {
		t.Fatal("hibernation closed the sockets")
	}
	send(t, b, "storage")
	if got := recv(t, b); got != "last=hello" {
		t.Fatalf("after waking: %q", got)
	}

	// A close is an event: the object counts it in storage.
	_ = a.Close(websocket.StatusNormalClosure, "bye")
	waitFor(t, "the close event", func() bool {
		ents, _ := e.st.ObjectGet(context.Background(), key(t, "p", "room"), []string{"closed"})
		return len(ents) == 1 && string(ents[0].Value) == "1"
	})
}

// An attachment set by the event that accepts the socket (before the
// connection exists) is kept with it and read back after hibernation.
func TestObjectSocketAttachmentSetOnAccept(t *testing.T) {
	hub := sockets.NewHub(sockets.Config{})
	defer hub.Close()
	e := newEnv(t, Config{Hub: hub, IdleTimeout: 200 * time.Millisecond})
	srv := serveObjects(t, e)
	a := dial(t, srv, "/room/ws?tag=t&attach=ann")
	send(t, a, "whoami")
	if got := recv(t, a); got != "attachment=ann" {
		t.Fatalf("before hibernation: %q", got)
	}
	waitFor(t, "the room to hibernate", func() bool { return e.eng.Stats().Live == 0 })
	send(t, a, "whoami")
	if got := recv(t, a); got != "attachment=ann" {
		t.Fatalf("after hibernation: %q", got)
	}
}

// A socket the object never accepted, or another object's, is out of
// reach: sends name only the object's own sockets.
func TestObjectReachesOnlyItsSockets(t *testing.T) {
	hub := sockets.NewHub(sockets.Config{})
	defer hub.Close()
	e := newEnv(t, Config{Hub: hub, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	srv := serveObjects(t, e)
	a := dial(t, srv, "/one/ws")
	b := dial(t, srv, "/two/ws")
	send(t, a, "broadcast:only one")
	if got := recv(t, a); got != "only one" {
		t.Fatalf("a: %q", got)
	}
	send(t, b, "count")
	if got := recv(t, b); got != "sockets=1" {
		t.Fatalf("b sees %q, want only its own socket", got)
	}
}

// A message the accepting event sends to its new socket arrives first.
func TestAcceptingEventSendsToItsSocket(t *testing.T) {
	hub := sockets.NewHub(sockets.Config{})
	defer hub.Close()
	e := newEnv(t, Config{Hub: hub})
	srv := serveObjects(t, e)
	a := dial(t, srv, "/w/ws?welcome=1")
	if got := recv(t, a); got != "welcome" {
		t.Fatalf("first message: %q", got)
	}
	send(t, a, "hi")
	if got := recv(t, a); got != "echo:hi" {
		t.Fatalf("then: %q", got)
	}
}

// A node whose object was taken over by another node (here: its leases
// released as when it is declared gone, and the other node serving the
// object) closes that object's WebSockets with 1012 at its next commit,
// so clients reconnect and reach the object where it now lives.
func TestMovedObjectClosesItsSocketsToReconnect(t *testing.T) {
	hub := sockets.NewHub(sockets.Config{})
	defer hub.Close()
	e := newEnv(t, Config{Hub: hub})
	srv := serveObjects(t, e)
	a := dial(t, srv, "/room/ws")
	send(t, a, "hello")
	if got := recv(t, a); got != "echo:hello" {
		t.Fatalf("echo: %q", got)
	}
	if _, err := e.st.NodeRelease(context.Background(), "node-a"); err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Store: e.st, Registry: e.reg, Invoker: e.inv, Node: "node-b"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	if st, body, err := e.fetch(t, b, "p", "room", "GET", "/op?op=get&key=last"); err != nil || st != 200 || body != "hello" {
		t.Fatalf("node-b takes the room: %d %q %v", st, body, err)
	}
	// node-a still believes it holds the room: the message runs there and
	// its write is fenced.
	send(t, a, "again")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, msg, err := a.Read(ctx)
		if err == nil {
			t.Logf("before the close: %q", msg)
			continue
		}
		if code := websocket.CloseStatus(err); code != sockets.CodeServiceRestart {
			t.Fatalf("the socket ended with %v (code %d), want 1012 (service restart)", err, code)
		}
		break
	}
	if n := len(hub.ByObject(key(t, "p", "room"))); n != 0 {
		t.Fatalf("%d sockets of the moved object left on node-a", n)
	}
	ents, _ := e.st.ObjectGet(context.Background(), key(t, "p", "room"), []string{"last"})
	if len(ents) != 1 || string(ents[0].Value) != "hello" {
		t.Fatalf("stored last after the fenced write: %v", ents)
	}
}
