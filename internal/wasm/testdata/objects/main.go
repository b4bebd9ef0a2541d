// Command objects is a test guest for durable objects and WebSocket
// routes. It defines the class Counter and serves plain requests; the
// engine's tests drive it over the real runtime. Answers are text.
//
// Counter (mem counts the events its live Go value handled, in memory):
//
//	POST /incr                 storage n += 1; "n=<n> mem=<mem>"
//	GET  /get                  "n=<n> mem=<mem>"
//	GET  /op?op=...            storage and alarm ops (see op below)
//	GET  /sleep?ms=N           "slept" after N ms
//	GET  /loop                 never returns
//	GET  /ws?tag=T[&attach=A]  (upgrade) accepts a WebSocket tagged T with attachment A, 101
//
// Its WebSocket messages: "broadcast:<text>" sends text to every socket;
// "count" answers "sockets=<n>"; "storage" answers "last=<last>";
// "whoami" answers "attachment=<the socket's attachment>";
// anything else is stored as "last" and echoed "echo:<msg>". A close
// increments storage "closed"; an alarm increments "alarms" and fails
// with "alarm failed on purpose" when storage "alarm_fail" is "1".
//
// Plain requests:
//
//	GET /stub?binding=B&name=N&path=P[&method=M]  the object's status and body
//	GET /newid?binding=B                          a new unique id
//	GET /idfromname?binding=B&name=N              the id of the name
//	WebSocket route events: $connect (403 with ?refuse=1 or the header
//	X-Refuse: 1), "hi" answered "echo:hi", "close" closes with 4000 "bye"
//	anything else                                 "plain"
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/objects"
	"github.com/stratahq/strata/sdk/go/sockets"
)

func init() {
	objects.Register("Counter", func(st *objects.State) objects.Object { return &Counter{st: st} })
	strata.HandleFunc(plain)
}

func main() {}

// Counter is the test class.
type Counter struct {
	st  *objects.State
	mem int
}

var sink int

func (c *Counter) Fetch(w http.ResponseWriter, r *http.Request) {
	c.mem++
	ctx := r.Context()
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/incr":
		n, err := c.add(ctx, "n")
		if err != nil {
			fail(w, err)
			return
		}
		fmt.Fprintf(w, "n=%d mem=%d", n, c.mem)
	case r.URL.Path == "/get":
		n, err := c.number(ctx, "n")
		if err != nil {
			fail(w, err)
			return
		}
		fmt.Fprintf(w, "n=%d mem=%d", n, c.mem)
	case r.URL.Path == "/op":
		c.op(w, r)
	case r.URL.Path == "/call":
		// Another Counter, through a stub from inside this object's event.
		resp, err := objects.Namespace("Counter").Get(q.Get("name")).Call(ctx, http.MethodGet, q.Get("path"), nil)
		if err != nil {
			fail(w, err)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	case r.URL.Path == "/sleep":
		ms, _ := strconv.Atoi(q.Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		io.WriteString(w, "slept")
	case r.URL.Path == "/loop":
		for sink >= 0 { // never false: it would take centuries to wrap
			sink++
		}
		io.WriteString(w, "unreachable")
	case r.URL.Path == "/ws":
		var tags []string
		if t := q.Get("tag"); t != "" {
			tags = append(tags, t)
		}
		if !objects.IsWebSocketUpgrade(r) {
			http.Error(w, "GET /ws wants an Upgrade: websocket header", http.StatusBadRequest)
			return
		}
		if err := c.st.SetWebSocketAutoResponse(ctx, "ping", "pong"); err != nil {
			fail(w, err)
			return
		}
		ws, err := c.st.AcceptWebSocket(w, r, tags...)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if a := q.Get("attach"); a != "" {
			// Set in the accepting event; nothing may be written now.
			_ = ws.SetAttachment(ctx, []byte(a))
		}
		if q.Get("welcome") != "" {
			// Sent in the accepting event: the socket must get it first.
			_ = ws.Send(ctx, objects.TextMessage("welcome"))
		}
	default:
		http.Error(w, "no such path in Counter: "+r.URL.Path, http.StatusNotFound)
	}
}

// op runs one storage or alarm op of GET /op.
func (c *Counter) op(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	s := c.st.Storage
	key := q.Get("key")
	var err error
	switch q.Get("op") {
	case "put":
		if err = s.Put(ctx, key, []byte(q.Get("value"))); err == nil {
			io.WriteString(w, "ok")
		}
	case "get":
		var v []byte
		var ok bool
		if v, ok, err = s.Get(ctx, key); err == nil {
			if !ok {
				http.Error(w, "missing "+key, http.StatusNotFound)
				return
			}
			w.Write(v)
		}
	case "delete":
		var ok bool
		if ok, err = s.Delete(ctx, key); err == nil {
			fmt.Fprintf(w, "deleted=%v", ok)
		}
	case "list":
		limit, _ := strconv.Atoi(q.Get("limit"))
		var list []objects.Entry
		list, err = s.List(ctx, objects.ListOptions{Prefix: q.Get("prefix"), Start: q.Get("start"), End: q.Get("end"),
			Limit: limit, Reverse: q.Get("reverse") == "1"})
		if err == nil {
			for _, e := range list {
				fmt.Fprintf(w, "%s=%s\n", e.Key, e.Value)
			}
		}
	case "deleteall":
		if err = s.DeleteAll(ctx); err == nil {
			io.WriteString(w, "ok")
		}
	case "putbig":
		size, _ := strconv.Atoi(q.Get("size"))
		if err := s.Put(ctx, key, []byte(strings.Repeat("x", size))); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		io.WriteString(w, "ok")
	case "tx":
		err := s.Transaction(ctx, func(tx *objects.Txn) error {
			if err := tx.Put(ctx, "tx1", []byte("a")); err != nil {
				return err
			}
			if err := tx.Put(ctx, "tx2", []byte("b")); err != nil {
				return err
			}
			if q.Get("fail") == "1" {
				return errors.New("failing on purpose")
			}
			return nil
		})
		if err != nil {
			fmt.Fprintf(w, "rolled back: %v", err)
			return
		}
		io.WriteString(w, "committed")
	case "alarm_set":
		ms, _ := strconv.Atoi(q.Get("in_ms"))
		at := time.Now().Add(time.Duration(ms) * time.Millisecond)
		if err = c.st.SetAlarm(ctx, at); err == nil {
			fmt.Fprintf(w, "alarm=%d", at.UnixMilli())
		}
	case "alarm_get":
		var at time.Time
		var ok bool
		if at, ok, err = c.st.Alarm(ctx); err == nil {
			if ok {
				fmt.Fprintf(w, "alarm=%d", at.UnixMilli())
			} else {
				io.WriteString(w, "alarm=none")
			}
		}
	case "alarm_delete":
		if err = c.st.DeleteAlarm(ctx); err == nil {
			io.WriteString(w, "ok")
		}
	default:
		http.Error(w, "unknown op "+q.Get("op"), http.StatusBadRequest)
		return
	}
	if err != nil {
		fail(w, err)
	}
}

func (c *Counter) WebSocketMessage(ctx context.Context, ws *objects.WebSocket, msg objects.Message) error {
	c.mem++
	text := string(msg.Data)
	switch {
	case strings.HasPrefix(text, "broadcast:"):
		return c.st.Broadcast(ctx, "", objects.TextMessage(strings.TrimPrefix(text, "broadcast:")))
	case text == "count":
		list, err := c.st.WebSockets(ctx, "")
		if err != nil {
			return err
		}
		return ws.Send(ctx, objects.TextMessage(fmt.Sprintf("sockets=%d", len(list))))
	case text == "whoami":
		return ws.Send(ctx, objects.TextMessage("attachment="+string(ws.Attachment())))
	case text == "storage":
		v, _, err := c.st.Storage.Get(ctx, "last")
		if err != nil {
			return err
		}
		return ws.Send(ctx, objects.TextMessage("last="+string(v)))
	}
	if err := c.st.Storage.Put(ctx, "last", msg.Data); err != nil {
		return err
	}
	return ws.Send(ctx, objects.TextMessage("echo:"+text))
}

func (c *Counter) WebSocketClose(ctx context.Context, _ *objects.WebSocket, _ int, _ string) error {
	c.mem++
	_, err := c.add(ctx, "closed")
	return err
}

func (c *Counter) Alarm(ctx context.Context, _ objects.AlarmInfo) error {
	c.mem++
	if _, err := c.add(ctx, "alarms"); err != nil {
		return err
	}
	v, _, err := c.st.Storage.Get(ctx, "alarm_fail")
	if err != nil {
		return err
	}
	if string(v) == "1" {
		return errors.New("alarm failed on purpose")
	}
	return nil
}

// number reads a decimal counter from storage (missing: 0).
func (c *Counter) number(ctx context.Context, key string) (int, error) {
	v, ok, err := c.st.Storage.Get(ctx, key)
	if err != nil || !ok {
		return 0, err
	}
	return strconv.Atoi(string(v))
}

// add increments a decimal counter in storage and returns its new value.
func (c *Counter) add(ctx context.Context, key string) (int, error) {
	n, err := c.number(ctx, key)
	if err != nil {
		return 0, err
	}
	n++
	return n, c.st.Storage.Put(ctx, key, []byte(strconv.Itoa(n)))
}

func fail(w http.ResponseWriter, err error) {
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// plain serves every request that is not an object event.
func plain(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	if ev, ok := sockets.FromRequest(r); ok {
		var err error
		switch {
		case ev.Type == sockets.Connect:
			if q.Get("refuse") == "1" || r.Header.Get("X-Refuse") == "1" {
				http.Error(w, "refused", http.StatusForbidden)
				return
			}
		case ev.Type == sockets.Disconnect:
		case string(ev.Data) == "hi":
			err = sockets.Send(ctx, ev.Connection, sockets.TextMessage("echo:hi"))
		case string(ev.Data) == "close":
			err = sockets.Close(ctx, ev.Connection, 4000, "bye")
		}
		if err != nil {
			fail(w, err)
			return
		}
		io.WriteString(w, "ok")
		return
	}
	switch r.URL.Path {
	case "/stub":
		method := q.Get("method")
		if method == "" {
			method = http.MethodGet
		}
		resp, err := objects.Namespace(q.Get("binding")).Get(q.Get("name")).Call(ctx, method, q.Get("path"), nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	case "/newid":
		id, err := objects.Namespace(q.Get("binding")).NewUniqueID(ctx)
		if err != nil {
			fail(w, err)
			return
		}
		io.WriteString(w, id)
	case "/idfromname":
		id, err := objects.Namespace(q.Get("binding")).IDFromName(ctx, q.Get("name"))
		if err != nil {
			fail(w, err)
			return
		}
		io.WriteString(w, id)
	default:
		io.WriteString(w, "plain")
	}
}
