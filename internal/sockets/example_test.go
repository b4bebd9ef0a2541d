package sockets_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/coder/websocket"

	"github.com/stratahq/strata/internal/sockets"
)

// An echo server: each message comes back upper-cased, through the
// connection's send queue.
func ExampleHub() {
	hub := sockets.NewHub(sockets.Config{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = hub.Accept(w, r, sockets.Owner{Project: "demo", Function: "echo", Route: "GET /ws"}, nil, sockets.Handlers{
			OnMessage: func(c *sockets.Conn, m sockets.Message) {
				_ = c.Send(sockets.Message{Data: []byte(strings.ToUpper(string(m.Data))), Text: m.Text})
			},
		})
	}))
	defer hub.Close() // after the server: closes what is left with 1001
	defer srv.Close()

	ctx := context.Background()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.CloseNow()
	_ = ws.Write(ctx, websocket.MessageText, []byte("hello"))
	_, b, _ := ws.Read(ctx)
	fmt.Println(string(b), len(hub.List("demo")))
	// Output: HELLO 1
}
