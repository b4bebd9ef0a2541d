package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stratahq/strata/internal/sockets"
)

// TestNodeHub: the node's hub is the one the admin API lists, and a stop
// closes its connections with 1001 after the listeners.
func TestNodeHub(t *testing.T) {
	n := startNode(t, "")
	closedWith := make(chan int, 1)
	// A connection accepted straight into the node's hub, as a WebSocket
	// route or an object would.
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = n.srv.hub.Accept(w, r, sockets.Owner{Project: "p", Function: "f", Route: "GET /ws"}, nil,
			sockets.Handlers{OnClose: func(_ *sockets.Conn, code int, _ string) { closedWith <- code }})
	}))
	defer ws.Close()
	ctx := context.Background()
	cl, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ws.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.CloseNow()
	read := make(chan websocket.StatusCode, 1)
	go func() {
		_, _, err := cl.Read(ctx)
		read <- websocket.CloseStatus(err)
	}()
	list, err := n.c.Connections(ctx, "")
	if err != nil || len(list) != 1 || list[0].Project != "p" {
		t.Fatalf("connections: %+v %v", list, err)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := n.srv.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	if code := <-closedWith; code != sockets.CodeGoingAway {
		t.Fatalf("OnClose code %d, want 1001", code)
	}
	if code := <-read; code != websocket.StatusGoingAway {
		t.Fatalf("client saw %d, want 1001", code)
	}
}
