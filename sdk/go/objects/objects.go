package objects

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/stratahq/strata/sdk/go/internal/dispatch"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Object is one durable object: the value a class's constructor returns.
// Fetch answers the HTTP requests sent to the object (by a route to the
// class or a Stub); they reach it one at a time.
type Object interface {
	Fetch(w http.ResponseWriter, r *http.Request)
}

// The optional methods an Object may have, found by type assertion.
type (
	// Alarmer handles the object's alarm (State.SetAlarm). An error is
	// retried by the platform with backoff; info.RetryCount says how many
	// attempts failed before.
	Alarmer interface {
		Alarm(ctx context.Context, info AlarmInfo) error
	}
	// WebSocketMessager handles a message on one of the object's
	// WebSockets (State.AcceptWebSocket).
	WebSocketMessager interface {
		WebSocketMessage(ctx context.Context, ws *WebSocket, msg Message) error
	}
	// WebSocketCloser handles the close of one of the object's
	// WebSockets, by the client or the platform.
	WebSocketCloser interface {
		WebSocketClose(ctx context.Context, ws *WebSocket, code int, reason string) error
	}
	// WebSocketErrorer handles a WebSocket failing (a protocol error, a
	// lost connection); a close event does not follow.
	WebSocketErrorer interface {
		WebSocketError(ctx context.Context, ws *WebSocket, err error) error
	}
)

// AlarmInfo describes one alarm event.
type AlarmInfo struct {
	// RetryCount is 0 on the first attempt and counts the failed ones.
	RetryCount int
}

type liveKey struct{ class, id string }

type live struct {
	state *State
	obj   Object
}

var (
	// classes is written only by Register (from init); read without mu.
	classes = map[string]func(*State) Object{}

	mu      sync.Mutex
	objects = map[liveKey]*live{} // the live objects of this instance
)

// Register makes class one of the durable object classes this function
// defines: newObject builds the object's Go value when an event finds it
// not live (the first event, or the first after the platform evicted it),
// with the object's State; keep what the object needs across evictions
// in State.Storage. Call Register from an init function; a class
// registered twice panics.
//
// Object events are served before any handler registered with
// strata.HandleHTTP sees them; a function may define classes and serve
// plain requests too.
func Register(class string, newObject func(*State) Object) {
	if class == "" || newObject == nil {
		panic("objects.Register: empty class or nil constructor")
	}
	if _, dup := classes[class]; dup {
		panic("objects.Register: class " + class + " registered twice")
	}
	classes[class] = newObject
	dispatch.Object = http.HandlerFunc(serveEvent)
}

// serveEvent serves one object event (a request with ObjectEventHeader).
func serveEvent(w http.ResponseWriter, r *http.Request) {
	h := r.Header
	evict(h.Get(wire.ObjectEvictHeader))
	class, id := h.Get(wire.ObjectClassHeader), h.Get(wire.ObjectIDHeader)
	newObject, ok := classes[class]
	if !ok {
		http.Error(w, fmt.Sprintf("durable object class %q is not defined by this function (objects.Register)", class), http.StatusNotFound)
		return
	}
	if id == "" {
		http.Error(w, "object event without "+wire.ObjectIDHeader, http.StatusBadRequest)
		return
	}
	o, err := liveObject(class, id, h.Get(wire.ObjectNameHeader), newObject)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	// A panic leaves the Go value in an unknown state: forget it, so the
	// next event rebuilds it from storage. The panic goes on to strata,
	// which fails the invocation.
	defer func() {
		if v := recover(); v != nil {
			forget(liveKey{class, id})
			panic(v)
		}
	}()
	ctx := r.Context()
	switch ev := h.Get(wire.ObjectEventHeader); ev {
	case wire.ObjectEventFetch:
		o.obj.Fetch(w, stripped(r))
	case wire.ObjectEventAlarm:
		a, ok := o.obj.(Alarmer)
		if !ok {
			http.Error(w, fmt.Sprintf("class %s has no Alarm method (objects.Alarmer), but an alarm was set", class), http.StatusInternalServerError)
			return
		}
		retry, _ := strconv.Atoi(h.Get(wire.ObjectRetryHeader))
		answer(w, class+".Alarm", a.Alarm(ctx, AlarmInfo{RetryCount: retry}))
	case wire.ObjectEventWSMessage:
		m, ok := o.obj.(WebSocketMessager)
		if !ok {
			http.Error(w, fmt.Sprintf("class %s has no WebSocketMessage method (objects.WebSocketMessager), but it accepted a WebSocket", class), http.StatusInternalServerError)
			return
		}
		data, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read message: "+err.Error(), http.StatusBadRequest)
			return
		}
		ws := o.state.socket(h.Get(wire.ObjectSocketHeader))
		answer(w, class+".WebSocketMessage", m.WebSocketMessage(ctx, ws, Message{Data: data, Text: h.Get(wire.ObjectTextHeader) == "1"}))
	case wire.ObjectEventWSClose:
		sid := h.Get(wire.ObjectSocketHeader)
		ws := o.state.socket(sid)
		delete(o.state.sockets, sid) // closed: no later event names it
		c, ok := o.obj.(WebSocketCloser)
		if !ok {
			return // nothing to do: the socket is closed either way
		}
		code, _ := strconv.Atoi(h.Get(wire.ObjectCodeHeader))
		answer(w, class+".WebSocketClose", c.WebSocketClose(ctx, ws, code, h.Get(wire.ObjectReasonHeader)))
	case wire.ObjectEventWSError:
		sid := h.Get(wire.ObjectSocketHeader)
		ws := o.state.socket(sid)
		delete(o.state.sockets, sid)
		e, ok := o.obj.(WebSocketErrorer)
		if !ok {
			return
		}
		answer(w, class+".WebSocketError", e.WebSocketError(ctx, ws, errors.New(h.Get(wire.ObjectReasonHeader))))
	default:
		http.Error(w, fmt.Sprintf("unknown object event %q (this SDK knows fetch, alarm, ws-message, ws-close, ws-error)", ev), http.StatusBadRequest)
	}
}

// answer writes the outcome of an alarm or WebSocket event: 200, or 500
// with the error's text, which also goes to the function's log (stderr),
// where `strata logs` shows why an alarm is being retried.
func answer(w http.ResponseWriter, what string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s failed: %v\n", what, err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// liveObject returns the live Go value of (class, id), building it if
// there is none.
func liveObject(class, id, name string, newObject func(*State) Object) (*live, error) {
	k := liveKey{class, id}
	mu.Lock()
	o := objects[k]
	mu.Unlock()
	if o == nil {
		st := newState(class, id, name)
		obj := newObject(st)
		if obj == nil {
			return nil, fmt.Errorf("the constructor of class %s returned a nil Object", class)
		}
		o = &live{state: st, obj: obj}
		mu.Lock()
		objects[k] = o
		mu.Unlock()
	}
	if name != "" {
		o.state.name = name
	}
	return o, nil
}

// evict forgets the live objects the host evicted ("class/id,...").
func evict(list string) {
	if list == "" {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	for _, item := range strings.Split(list, ",") {
		class, id, ok := strings.Cut(strings.TrimSpace(item), "/")
		if ok {
			delete(objects, liveKey{class, id})
		}
	}
}

func forget(k liveKey) {
	mu.Lock()
	delete(objects, k)
	mu.Unlock()
}

// stripped returns r without the X-Strata-Object-* headers: an object's
// Fetch sees the request as its client sent it.
func stripped(r *http.Request) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	r2.Header = make(http.Header, len(r.Header))
	for k, v := range r.Header {
		if !strings.HasPrefix(k, "X-Strata-Object-") {
			r2.Header[k] = v
		}
	}
	return r2
}
