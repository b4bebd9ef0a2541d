package objects_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/objects"
)

// Room is a chat room: one object per room name, holding the room's
// WebSockets and the count of messages in its storage.
type Room struct {
	st *objects.State
}

func (rm *Room) Fetch(w http.ResponseWriter, r *http.Request) {
	if objects.IsWebSocketUpgrade(r) {
		if _, err := rm.st.AcceptWebSocket(w, r, "chat"); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
		return // the 101 is written
	}
	v, _, err := rm.st.Storage.Get(r.Context(), "messages")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "%s messages\n", v)
}

// WebSocketMessage counts the message and sends it to everyone in the room.
func (rm *Room) WebSocketMessage(ctx context.Context, ws *objects.WebSocket, msg objects.Message) error {
	return rm.st.Storage.Transaction(ctx, func(tx *objects.Txn) error {
		v, _, err := tx.Get(ctx, "messages")
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(string(v))
		if err := tx.Put(ctx, "messages", []byte(strconv.Itoa(n+1))); err != nil {
			return err
		}
		return rm.st.Broadcast(ctx, "chat", msg)
	})
}

func Example() {
	// In the function's init:
	objects.Register("Room", func(st *objects.State) objects.Object { return &Room{st: st} })

	// Any function with a binding to the class reaches a room by name.
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := objects.Namespace("rooms").Get(r.URL.Query().Get("room")).Call(r.Context(), http.MethodGet, "/", nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})
}
