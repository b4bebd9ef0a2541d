package objects

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/sdk/go/internal/dispatch"
	"github.com/stratahq/strata/sdk/go/wire"
)

// probe is a test object: it counts the events its Go value handled and
// records what it was given.
type probe struct {
	st     *State
	events int
	seen   *http.Request
}

func (p *probe) Fetch(w http.ResponseWriter, r *http.Request) {
	p.events++
	p.seen = r
	if r.URL.Path == "/panic" {
		panic("object panicked")
	}
	fmt.Fprintf(w, "%s %s events=%d", p.st.Class(), p.st.ID(), p.events)
}

// full is a probe with every optional method.
type full struct {
	probe
	log []string
	err error
}

func (f *full) Alarm(_ context.Context, info AlarmInfo) error {
	f.log = append(f.log, fmt.Sprintf("alarm retry=%d", info.RetryCount))
	return f.err
}

func (f *full) WebSocketMessage(_ context.Context, ws *WebSocket, msg Message) error {
	f.log = append(f.log, fmt.Sprintf("message %s %q text=%v", ws.ID(), msg.Data, msg.Text))
	return f.err
}

func (f *full) WebSocketClose(_ context.Context, ws *WebSocket, code int, reason string) error {
	f.log = append(f.log, fmt.Sprintf("close %s %d %s", ws.ID(), code, reason))
	return f.err
}

func (f *full) WebSocketError(_ context.Context, ws *WebSocket, err error) error {
	f.log = append(f.log, fmt.Sprintf("error %s %v", ws.ID(), err))
	return f.err
}

var (
	_ Alarmer           = (*full)(nil)
	_ WebSocketMessager = (*full)(nil)
	_ WebSocketCloser   = (*full)(nil)
	_ WebSocketErrorer  = (*full)(nil)
)

// register registers a class named after the test (Register refuses a
// name twice) and returns it with the values its constructor built.
func register[T Object](t *testing.T, newObject func(*State) T) (string, *[]T) {
	class := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	var built []T
	Register(class, func(st *State) Object {
		o := newObject(st)
		built = append(built, o)
		return o
	})
	t.Cleanup(func() {
		delete(classes, class)
		mu.Lock()
		for k := range objects {
			if k.class == class {
				delete(objects, k)
			}
		}
		mu.Unlock()
	})
	return class, &built
}

// event serves one object event through the hook package strata calls.
func event(class, id, ev string, body string, headers ...string) *httptest.ResponseRecorder {
	method := http.MethodPost
	if ev == wire.ObjectEventFetch {
		method = http.MethodGet
	}
	r := httptest.NewRequest(method, "/path?q=1", strings.NewReader(body))
	r.Header.Set(wire.ObjectClassHeader, class)
	r.Header.Set(wire.ObjectIDHeader, id)
	r.Header.Set(wire.ObjectEventHeader, ev)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	dispatch.Object.ServeHTTP(w, r)
	return w
}

// One Go value per (class, id) lives between events.
func TestDispatchKeepsOneValuePerObject(t *testing.T) {
	newFakeHost(t)
	class, built := register(t, func(st *State) *probe { return &probe{st: st} })

	require.Equal(t, class+" a events=1", event(class, "a", "fetch", "").Body.String())
	require.Equal(t, class+" a events=2", event(class, "a", "fetch", "").Body.String())
	require.Equal(t, class+" b events=1", event(class, "b", "fetch", "").Body.String())
	require.Len(t, *built, 2)
}

// The ids in the evict header are rebuilt on their next event; others are
// kept, and malformed items are ignored.
func TestDispatchEvicts(t *testing.T) {
	newFakeHost(t)
	class, built := register(t, func(st *State) *probe { return &probe{st: st} })
	event(class, "a", "fetch", "")
	event(class, "b", "fetch", "")
	event(class, "c", "fetch", "")

	w := event(class, "a", "fetch", "", wire.ObjectEvictHeader, class+"/a, "+class+"/b,garbage,Other/c")
	require.Equal(t, class+" a events=1", w.Body.String(), "the evicted object is built again")
	require.Equal(t, class+" b events=1", event(class, "b", "fetch", "").Body.String())
	require.Equal(t, class+" c events=2", event(class, "c", "fetch", "").Body.String(), "another class's c is not this one")
	require.Len(t, *built, 5)
}

func TestDispatchUnknownClass(t *testing.T) {
	newFakeHost(t)
	register(t, func(st *State) *probe { return &probe{st: st} })
	w := event("Nope", "a", "fetch", "")
	require.Equal(t, http.StatusNotFound, w.Code)
	require.Contains(t, w.Body.String(), `durable object class "Nope" is not defined by this function`)
}

func TestDispatchBadEvents(t *testing.T) {
	newFakeHost(t)
	class, _ := register(t, func(st *State) *probe { return &probe{st: st} })
	w := event(class, "", "fetch", "")
	require.Equal(t, http.StatusBadRequest, w.Code)
	w = event(class, "a", "teleport", "")
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Contains(t, w.Body.String(), `unknown object event "teleport"`)
}

// Fetch sees the request without the X-Strata-Object-* headers; the
// State knows the id, the class and the name.
func TestDispatchFetchStripsHeaders(t *testing.T) {
	newFakeHost(t)
	class, built := register(t, func(st *State) *probe { return &probe{st: st} })
	event(class, "a", "fetch", "", wire.ObjectNameHeader, "room-1", wire.ObjectEvictHeader, "X/y", "X-Other", "kept")
	p := (*built)[0]
	require.Equal(t, "kept", p.seen.Header.Get("X-Other"))
	for k := range p.seen.Header {
		require.False(t, strings.HasPrefix(k, "X-Strata-Object-"), "%s reached Fetch", k)
	}
	require.Equal(t, "/path", p.seen.URL.Path)
	require.Equal(t, "1", p.seen.URL.Query().Get("q"))
	require.Equal(t, "room-1", p.st.Name())
	require.Equal(t, "a", p.st.ID())
	require.Equal(t, class, p.st.Class())

	// A later event without the name keeps it.
	event(class, "a", "fetch", "")
	require.Equal(t, "room-1", p.st.Name())
}

// A panic fails the invocation and forgets the Go value: the next event
// starts from storage.
func TestDispatchPanicForgetsTheObject(t *testing.T) {
	newFakeHost(t)
	class, built := register(t, func(st *State) *probe { return &probe{st: st} })
	event(class, "a", "fetch", "")
	r := httptest.NewRequest(http.MethodGet, "/panic", nil)
	r.Header.Set(wire.ObjectClassHeader, class)
	r.Header.Set(wire.ObjectIDHeader, "a")
	r.Header.Set(wire.ObjectEventHeader, "fetch")
	require.PanicsWithValue(t, "object panicked", func() { dispatch.Object.ServeHTTP(httptest.NewRecorder(), r) })
	require.Equal(t, class+" a events=1", event(class, "a", "fetch", "").Body.String())
	require.Len(t, *built, 2)
}

func TestDispatchNilObject(t *testing.T) {
	newFakeHost(t)
	class, _ := register(t, func(*State) Object { return nil })
	w := event(class, "a", "fetch", "")
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.Contains(t, w.Body.String(), "returned a nil Object")
}

// Alarm and WebSocket events reach the optional methods with their
// headers decoded; an error answers 500 with its text.
func TestDispatchOptionalMethods(t *testing.T) {
	newFakeHost(t)
	class, built := register(t, func(st *State) *full { return &full{probe: probe{st: st}} })
	ok := func(w *httptest.ResponseRecorder) {
		t.Helper()
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	}
	ok(event(class, "a", "alarm", "", wire.ObjectRetryHeader, "2"))
	ok(event(class, "a", "ws-message", "hello", wire.ObjectSocketHeader, "s1", wire.ObjectTextHeader, "1"))
	ok(event(class, "a", "ws-message", "\x00\x01", wire.ObjectSocketHeader, "s1"))
	ok(event(class, "a", "ws-close", "", wire.ObjectSocketHeader, "s1", wire.ObjectCodeHeader, "1001", wire.ObjectReasonHeader, "going away"))
	ok(event(class, "a", "ws-error", "", wire.ObjectSocketHeader, "s2", wire.ObjectReasonHeader, "connection lost"))
	f := (*built)[0]
	require.Equal(t, []string{
		"alarm retry=2",
		`message s1 "hello" text=true`,
		`message s1 "\x00\x01" text=false`,
		"close s1 1001 going away",
		"error s2 connection lost",
	}, f.log)
	require.Empty(t, f.st.sockets, "closed and failed sockets are forgotten")

	f.err = errors.New("alarm failed on purpose")
	w := event(class, "a", "alarm", "")
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.Equal(t, "alarm failed on purpose\n", w.Body.String())
	w = event(class, "a", "ws-message", "x", wire.ObjectSocketHeader, "s1")
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.Len(t, *built, 1)
}

// Without the optional methods: an alarm or a message is an error (the
// object set an alarm or accepted a socket it cannot serve), a close or
// an error is done.
func TestDispatchMissingOptionalMethods(t *testing.T) {
	newFakeHost(t)
	class, _ := register(t, func(st *State) *probe { return &probe{st: st} })
	w := event(class, "a", "alarm", "")
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.Contains(t, w.Body.String(), "class "+class+" has no Alarm method")
	w = event(class, "a", "ws-message", "hi", wire.ObjectSocketHeader, "s1")
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.Contains(t, w.Body.String(), "has no WebSocketMessage method")
	require.Equal(t, http.StatusOK, event(class, "a", "ws-close", "", wire.ObjectSocketHeader, "s1").Code)
	require.Equal(t, http.StatusOK, event(class, "a", "ws-error", "", wire.ObjectSocketHeader, "s1").Code)
}

// The body of a message event is read whole.
func TestDispatchReadsMessageBody(t *testing.T) {
	newFakeHost(t)
	class, built := register(t, func(st *State) *full { return &full{probe: probe{st: st}} })
	big := strings.Repeat("m", 100_000)
	require.Equal(t, http.StatusOK, event(class, "a", "ws-message", big, wire.ObjectSocketHeader, "s1").Code)
	require.Equal(t, []string{fmt.Sprintf("message s1 %q text=false", big)}, (*built)[0].log)
}

func TestRegisterRefusesDuplicates(t *testing.T) {
	class, _ := register(t, func(st *State) *probe { return &probe{st: st} })
	require.Panics(t, func() { Register(class, func(*State) Object { return nil }) })
	require.Panics(t, func() { Register("", func(*State) Object { return nil }) })
	require.Panics(t, func() { Register("X", nil) })
}
