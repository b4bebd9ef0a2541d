// Command rooms is a chat server. The function serves the page at / and
// defines the Room durable object: one per room name, reached by the
// routes /rooms/{name}/ws (a WebSocket) and /rooms/{name}/history.
//
// A Room keeps nothing in Go memory. Who is behind each socket is the
// socket's attachment, which the platform keeps with the connection, and
// the messages are in the room's storage. So the platform may evict an
// idle room while its sockets stay open (hibernation): the next message
// builds a fresh Room that still knows every sender's name.
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/objects"
)

//go:embed index.html
var page []byte

func init() {
	objects.Register("Room", func(st *objects.State) objects.Object { return &Room{st: st} })
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
}

func main() {}

// Room is one chat room.
type Room struct {
	st *objects.State
}

// entry is one message of the room, as stored, broadcast and listed.
type entry struct {
	Seq  int       `json:"seq"`
	User string    `json:"user"`
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

const (
	tag       = "chat"
	msgPrefix = "msg/"
	maxText   = 2000 // bytes of one message
)

// msgKey orders messages by sequence number: zero-padded so that key
// order is number order.
func msgKey(seq int) string { return fmt.Sprintf("%s%012d", msgPrefix, seq) }

func (rm *Room) Fetch(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/ws"):
		user := strings.TrimSpace(r.URL.Query().Get("user"))
		if user == "" || utf8.RuneCountInString(user) > 40 {
			http.Error(w, "say who you are: ?user=NAME (at most 40 characters)", http.StatusBadRequest)
			return
		}
		ws, err := rm.st.AcceptWebSocket(w, r, tag)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// The 101 is written; from here on, only host calls. The name
		// goes with the socket, not into a map of this Go value, so it
		// outlives the object's eviction.
		_ = ws.SetAttachment(r.Context(), []byte(user))
	case strings.HasSuffix(r.URL.Path, "/history"):
		list, err := rm.history(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(list)
	default:
		http.NotFound(w, r)
	}
}

// WebSocketMessage stores a message and sends it to everyone in the room,
// the sender included (its page shows a message once the room has it).
func (rm *Room) WebSocketMessage(ctx context.Context, ws *objects.WebSocket, msg objects.Message) error {
	text := strings.TrimSpace(string(msg.Data))
	if !msg.Text || text == "" {
		return nil
	}
	if len(text) > maxText {
		return ws.Send(ctx, objects.TextMessage(`{"error":"message too long"}`))
	}
	e := entry{User: string(ws.Attachment()), Text: text, At: time.Now().UTC()}
	keep := setting("HISTORY", 50)
	// The sequence number, the message and the trimming of old messages
	// commit together: a crash keeps all of it or none.
	err := rm.st.Storage.Transaction(ctx, func(tx *objects.Txn) error {
		v, _, err := tx.Get(ctx, "seq")
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(string(v))
		e.Seq = n + 1
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if err := tx.PutMany(ctx, map[string][]byte{"seq": []byte(strconv.Itoa(e.Seq)), msgKey(e.Seq): b}); err != nil {
			return err
		}
		if old := e.Seq - keep; old > 0 {
			_, err = tx.Delete(ctx, msgKey(old))
		}
		return err
	})
	if err != nil {
		return err
	}
	b, _ := json.Marshal(e)
	return rm.st.Broadcast(ctx, tag, objects.Message{Data: b, Text: true})
}

// history returns the room's last messages, oldest first.
func (rm *Room) history(ctx context.Context) ([]entry, error) {
	list, err := rm.st.Storage.List(ctx, objects.ListOptions{Prefix: msgPrefix, Reverse: true, Limit: setting("HISTORY", 50)})
	if err != nil {
		return nil, err
	}
	out := make([]entry, 0, len(list))
	for i := len(list) - 1; i >= 0; i-- {
		var e entry
		if json.Unmarshal(list[i].Value, &e) == nil {
			out = append(out, e)
		}
	}
	return out, nil
}

// setting reads a positive whole number from the environment, or def.
func setting(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
