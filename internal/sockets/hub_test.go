package sockets

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/record"
)

// closed is what OnClose reported for one connection.
type closed struct {
	code   int
	reason string
	calls  int
}

// harness serves a hub on a loopback httptest server: each request is
// accepted with the owner the query names (?project=, ?object=) and the
// harness's handlers; accepted connections arrive on conns.
type harness struct {
	t     testing.TB
	hub   *Hub
	srv   *httptest.Server
	conns chan *Conn
	clock *clock.Fake

	mu       sync.Mutex
	onMsg    func(c *Conn, m Message)
	closedBy map[string]*closed
	closedCh chan string // ids, as OnClose runs
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, conns: make(chan *Conn, 2000), closedBy: map[string]*closed{}, closedCh: make(chan string, 2000),
		clock: clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))}
	cfg.Clock = h.clock
	h.hub = NewHub(cfg)
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		owner := Owner{Project: q.Get("project"), Function: "f", Route: "GET /ws"}
		if o := q.Get("object"); o != "" {
			owner.Object = record.ObjectKey{Project: owner.Project, Class: "Room", ID: o}
		}
		h.clock.Advance(time.Second) // distinct Opened times, so List's order is known
		c, err := h.hub.Accept(w, r, owner, q["tag"], Handlers{
			OnMessage: func(c *Conn, m Message) {
				h.mu.Lock()
				fn := h.onMsg
				h.mu.Unlock()
				if fn != nil {
					fn(c, m)
				}
			},
			OnClose: func(c *Conn, code int, reason string) {
				h.mu.Lock()
				e := h.closedBy[c.ID()]
				if e == nil {
					e = &closed{}
					h.closedBy[c.ID()] = e
				}
				e.code, e.reason = code, reason
				e.calls++
				h.mu.Unlock()
				h.closedCh <- c.ID()
			},
		})
		if err == nil {
			h.conns <- c
		}
	}))
	t.Cleanup(func() {
		h.srv.Close()
		h.hub.Close()
	})
	return h
}

func (h *harness) setOnMessage(fn func(c *Conn, m Message)) {
	h.mu.Lock()
	h.onMsg = fn
	h.mu.Unlock()
}

// dial opens a client and returns it with the server's side.
func (h *harness) dial(query string) (*websocket.Conn, *Conn) {
	h.t.Helper()
	ws, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(h.srv.URL, "http")+"/ws?"+query, nil)
	require.NoError(h.t, err)
	ws.SetReadLimit(-1)
	h.t.Cleanup(func() { _ = ws.CloseNow() })
	return ws, <-h.conns
}

// closedWith waits for c's OnClose and returns what it reported.
func (h *harness) closedWith(c *Conn) closed {
	h.t.Helper()
	<-c.Done()
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.closedBy[c.ID()]
	require.NotNil(h.t, e, "OnClose was not called for %s", c.ID())
	return *e
}

func TestOrderedDelivery(t *testing.T) {
	h := newHarness(t, Config{})
	got := make(chan string, 1000)
	h.setOnMessage(func(c *Conn, m Message) { got <- string(m.Data) })
	ws, c := h.dial("project=p")
	require.Len(t, c.ID(), 32)
	ctx := context.Background()
	const n = 200
	for i := range n {
		require.NoError(t, c.Send(Message{Data: []byte(strconv.Itoa(i)), Text: i%2 == 0}))
		require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte(strconv.Itoa(i))))
	}
	for i := range n {
		typ, b, err := ws.Read(ctx)
		require.NoError(t, err)
		require.Equal(t, strconv.Itoa(i), string(b))
		want := websocket.MessageBinary
		if i%2 == 0 {
			want = websocket.MessageText
		}
		require.Equal(t, want, typ)
		require.Equal(t, strconv.Itoa(i), <-got)
	}
}

// While OnMessage runs, the reader reads nothing more: a ping the client
// sends after a second message is answered only once the first message's
// OnMessage returned.
func TestOnMessageBackpressure(t *testing.T) {
	h := newHarness(t, Config{})
	release := make(chan struct{})
	entered := make(chan string, 10)
	var inside, overlap atomic.Int32
	h.setOnMessage(func(c *Conn, m Message) {
		if inside.Add(1) > 1 {
			overlap.Add(1)
		}
		entered <- string(m.Data)
		if string(m.Data) == "first" {
			<-release
		}
		inside.Add(-1)
	})
	ws, _ := h.dial("project=p")
	ctx := context.Background()
	go func() { _, _, _ = ws.Read(ctx) }() // the client reads, so its pongs are processed
	require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte("first")))
	require.Equal(t, "first", <-entered)
	require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte("second")))
	order := make(chan string, 2)
	go func() {
		if err := ws.Ping(ctx); err == nil {
			order <- "pong"
		}
	}()
	// Another connection's full round trip: the server had every chance
	// to read ahead on the first one.
	ws2, c2 := h.dial("project=p")
	require.NoError(t, c2.Send(Message{Data: []byte("x")}))
	_, _, err := ws2.Read(ctx)
	require.NoError(t, err)
	select {
	case <-order:
		t.Fatal("the ping was answered while OnMessage still held the first message")
	default:
	}
	order <- "released"
	close(release)
	require.Equal(t, "second", <-entered)
	require.Equal(t, "released", <-order)
	require.Equal(t, "pong", <-order)
	require.Zero(t, overlap.Load(), "OnMessage ran twice at once")
}

func TestMessageTooBigClosed1009(t *testing.T) {
	h := newHarness(t, Config{MaxMessageBytes: 1024})
	got := make(chan string, 10)
	h.setOnMessage(func(c *Conn, m Message) { got <- string(m.Data) })
	ws, c := h.dial("project=p")
	other, oc := h.dial("project=p")
	ctx := context.Background()
	require.NoError(t, ws.Write(ctx, websocket.MessageBinary, make([]byte, 1024))) // at the limit: fine
	require.Len(t, <-got, 1024)
	_ = ws.Write(ctx, websocket.MessageBinary, make([]byte, 4096))
	_, _, err := ws.Read(ctx)
	require.Equal(t, websocket.StatusMessageTooBig, websocket.CloseStatus(err), "client read: %v", err)
	e := h.closedWith(c)
	require.Equal(t, closed{code: 1009, reason: "message over 1024 bytes", calls: 1}, e)
	// The hub serves the others as before.
	require.NoError(t, other.Write(ctx, websocket.MessageText, []byte("still here")))
	require.Equal(t, "still here", <-got)
	require.NoError(t, oc.Send(Message{Data: []byte("yes"), Text: true}))
	_, b, err := other.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, "yes", string(b))
}

// A client that never reads: the socket buffers fill, then the queue, and
// the Send that finds it full closes the connection with 1008. No Send
// ever blocks: the loop ends.
func TestSlowClientClosed1008(t *testing.T) {
	h := newHarness(t, Config{SendBuffer: 4})
	_, c := h.dial("project=p&object=r1")
	big := make([]byte, 256<<10)
	var err error
	sent := 0
	for ; sent < 4096 && err == nil; sent++ { // 1 GiB at most: far past any socket buffer
		err = c.Send(Message{Data: big})
	}
	require.ErrorIs(t, err, ErrSlow, "after %d sends", sent)
	require.ErrorIs(t, c.Send(Message{Data: big}), ErrClosed)
	require.ErrorIs(t, c.Close(1000, ""), ErrClosed)
	e := h.closedWith(c)
	require.Equal(t, closed{code: 1008, reason: slowReason, calls: 1}, e)
	_, ok := h.hub.Get(c.ID())
	require.False(t, ok)
	require.Empty(t, h.hub.ByObject(c.Owner().Object))
}

// Send returns while the client is stalled and the writer blocked.
func TestSendNeverBlocks(t *testing.T) {
	h := newHarness(t, Config{SendBuffer: 8})
	_, c := h.dial("project=p")
	big := make([]byte, 1<<20)
	returned := make(chan error)
	go func() {
		var err error
		for i := 0; i < 2048 && err == nil; i++ {
			err = c.Send(Message{Data: big})
		}
		returned <- err
	}()
	require.ErrorIs(t, <-returned, ErrSlow)
}

func TestAutoResponse(t *testing.T) {
	h := newHarness(t, Config{})
	got := make(chan string, 10)
	h.setOnMessage(func(c *Conn, m Message) { got <- string(m.Data) })
	ws, c := h.dial("project=p&object=r1")
	key := c.Owner().Object
	h.hub.SetAutoResponse(key, "ping", "pong")
	ctx := context.Background()
	require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte("ping")))
	require.NoError(t, ws.Write(ctx, websocket.MessageBinary, []byte("ping"))) // binary: not matched
	require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte("other")))
	typ, b, err := ws.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, websocket.MessageText, typ)
	require.Equal(t, "pong", string(b))
	require.Equal(t, "ping", <-got) // the binary one
	require.Equal(t, "other", <-got)
	h.hub.SetAutoResponse(key, "", "")
	require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte("ping")))
	require.Equal(t, "ping", <-got)
}

func TestIndexesAfterClose(t *testing.T) {
	h := newHarness(t, Config{})
	ws1, a1 := h.dial("project=p1&object=A&tag=x&tag=y")
	go func() { _, _, _ = ws1.Read(context.Background()) }() // answers the close handshake
	_, a2 := h.dial("project=p1&object=A")
	_, b1 := h.dial("project=p1&object=B")
	wsf, f1 := h.dial("project=p2")
	go func() { _, _, _ = wsf.Read(context.Background()) }()
	keyA := a1.Owner().Object
	require.Equal(t, []*Conn{a1, a2}, h.hub.ByObject(keyA))
	list := h.hub.List("p1")
	require.Len(t, list, 3)
	require.Equal(t, []string{a1.ID(), a2.ID(), b1.ID()}, []string{list[0].ID, list[1].ID, list[2].ID})
	require.Equal(t, []string{"x", "y"}, list[0].Tags)
	require.True(t, list[0].Opened.Before(list[1].Opened))
	require.Len(t, h.hub.List(""), 4)
	a1.SetAttachment([]byte("state"))
	require.Equal(t, "state", string(h.hub.List("p1")[0].Attachment))

	require.NoError(t, a1.Close(4000, "bye"))
	// Gone from the indexes as soon as Close returns.
	require.Equal(t, []*Conn{a2}, h.hub.ByObject(keyA))
	require.Len(t, h.hub.List("p1"), 2)
	require.Equal(t, closed{code: 4000, reason: "bye", calls: 1}, h.closedWith(a1))
	require.NoError(t, f1.Close(1000, ""))
	require.Empty(t, h.hub.List("p2"))
	require.Error(t, a2.Close(1005, ""), "1005 is never sent")
}

func TestHubCloseClosesAll(t *testing.T) {
	h := newHarness(t, Config{})
	var clients []*websocket.Conn
	var conns []*Conn
	for range 5 {
		ws, c := h.dial("project=p")
		clients = append(clients, ws)
		conns = append(conns, c)
	}
	// The clients read, so they answer the close handshake.
	codes := make(chan websocket.StatusCode, len(clients))
	for _, ws := range clients {
		go func() {
			_, _, err := ws.Read(context.Background())
			codes <- websocket.CloseStatus(err)
		}()
	}
	h.hub.Close()
	for _, c := range conns {
		require.Equal(t, closed{code: 1001, reason: "the server is stopping", calls: 1}, h.closedWith(c))
	}
	for range clients {
		require.Equal(t, websocket.StatusGoingAway, <-codes)
	}
	require.Zero(t, h.hub.Len())
	_, resp, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(h.srv.URL, "http")+"/ws", nil)
	require.Error(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
}

// Every way a connection ends calls OnClose once, with the code as
// received or as sent.
func TestOnCloseOnceInEveryEnding(t *testing.T) {
	cases := []struct {
		name string
		end  func(t *testing.T, h *harness, ws *websocket.Conn, c *Conn)
		want closed
	}{
		{"client closes", func(t *testing.T, h *harness, ws *websocket.Conn, c *Conn) {
			require.NoError(t, ws.Close(4001, "done"))
		}, closed{code: 4001, reason: "done", calls: 1}},
		{"client closes without a code", func(t *testing.T, h *harness, ws *websocket.Conn, c *Conn) {
			_ = ws.Close(websocket.StatusNoStatusRcvd, "")
		}, closed{code: 1005, calls: 1}},
		{"server closes", func(t *testing.T, h *harness, ws *websocket.Conn, c *Conn) {
			go func() { _, _, _ = ws.Read(context.Background()) }()
			require.NoError(t, c.Close(1000, "over"))
			require.ErrorIs(t, c.Close(1000, "again"), ErrClosed)
		}, closed{code: 1000, reason: "over", calls: 1}},
		{"connection drops", func(t *testing.T, h *harness, ws *websocket.Conn, c *Conn) {
			require.NoError(t, ws.CloseNow())
		}, closed{code: 1006, calls: 1}},
		{"too big", func(t *testing.T, h *harness, ws *websocket.Conn, c *Conn) {
			_ = ws.Write(context.Background(), websocket.MessageBinary, make([]byte, 2048))
			_, _, _ = ws.Read(context.Background())
		}, closed{code: 1009, reason: "message over 1024 bytes", calls: 1}},
		{"hub closes", func(t *testing.T, h *harness, ws *websocket.Conn, c *Conn) {
			go func() { _, _, _ = ws.Read(context.Background()) }()
			h.hub.Close()
		}, closed{code: 1001, reason: "the server is stopping", calls: 1}},
		{"closed from OnMessage while the client closes", func(t *testing.T, h *harness, ws *websocket.Conn, c *Conn) {
			h.setOnMessage(func(c *Conn, m Message) { _ = c.Close(4002, "from handler") })
			require.NoError(t, ws.Write(context.Background(), websocket.MessageText, []byte("x")))
			_, _, _ = ws.Read(context.Background())
		}, closed{code: 4002, reason: "from handler", calls: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{MaxMessageBytes: 1024})
			ws, c := h.dial("project=p")
			tc.end(t, h, ws, c)
			require.Equal(t, tc.want, h.closedWith(c))
			h.hub.Close() // a later hub close does not call it again
			h.mu.Lock()
			require.Equal(t, 1, h.closedBy[c.ID()].calls)
			h.mu.Unlock()
		})
	}
}

// Sends, closes and a hub close from many goroutines at once: no panic,
// no Send blocks, every OnClose once.
func TestHammerSendAndClose(t *testing.T) {
	h := newHarness(t, Config{SendBuffer: 16})
	var conns []*Conn
	for range 20 {
		ws, c := h.dial("project=p")
		go func() {
			for {
				if _, _, err := ws.Read(context.Background()); err != nil {
					return
				}
			}
		}()
		conns = append(conns, c)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				c := conns[(g*7+i)%len(conns)]
				err := c.Send(Message{Data: []byte(fmt.Sprint(i)), Text: true})
				if err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrSlow) {
					t.Errorf("send: %v", err)
				}
				if i%50 == 49 {
					_ = c.Close(1000, "")
				}
			}
		}()
	}
	wg.Wait()
	h.hub.Close()
	for _, c := range conns {
		require.Equal(t, 1, h.closedWith(c).calls)
	}
}

// A write that outlasts WriteTimeout (the client stopped reading) closes
// the connection: 1006, with why.
func TestWriteTimeoutCloses(t *testing.T) {
	h := newHarness(t, Config{SendBuffer: 1 << 12, WriteTimeout: 50 * time.Millisecond})
	_, c := h.dial("project=p")
	big := make([]byte, 1<<20)
	for i := 0; i < 256; i++ { // 256 MiB: past any socket buffer, within the queue
		if err := c.Send(Message{Data: big}); err != nil {
			require.ErrorIs(t, err, ErrClosed) // the timeout may come first
			break
		}
	}
	e := h.closedWith(c)
	require.Equal(t, 1006, e.code)
	require.Contains(t, e.reason, "write failed")
	require.Equal(t, 1, e.calls)
}

// A page of another origin may not open a connection unless the
// configuration allows its host; a client without Origin (not a browser)
// always may.
func TestOriginCheck(t *testing.T) {
	h := newHarness(t, Config{OriginPatterns: []string{"*.example.com"}})
	url := "ws" + strings.TrimPrefix(h.srv.URL, "http") + "/ws?project=p"
	dial := func(origin string) (int, error) {
		hdr := http.Header{}
		if origin != "" {
			hdr.Set("Origin", origin)
		}
		ws, resp, err := websocket.Dial(context.Background(), url, &websocket.DialOptions{HTTPHeader: hdr})
		if err == nil {
			_ = ws.CloseNow()
			<-h.conns
		}
		return resp.StatusCode, err
	}
	code, err := dial("https://evil.test")
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, code)
	require.Zero(t, h.hub.Len())
	_, err = dial("https://app.example.com")
	require.NoError(t, err)
	_, err = dial("")
	require.NoError(t, err)
	_, err = dial("http://" + strings.TrimPrefix(h.srv.URL, "http://")) // same host
	require.NoError(t, err)
}
