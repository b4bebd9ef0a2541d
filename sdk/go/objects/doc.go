// Package objects is the guest side of durable objects: named, single
// threaded actors with their own transactional storage, an alarm and
// WebSockets that survive the object being evicted from memory.
//
// A class is a constructor registered from init; the SDK keeps one live Go
// value per object of the function's instance and builds it again, from
// the State (and so from storage), after the platform evicts it:
//
//	type Counter struct{ st *objects.State }
//
//	func (c *Counter) Fetch(w http.ResponseWriter, r *http.Request) {
//		v, _, err := c.st.Storage.Get(r.Context(), "n")
//		...
//	}
//
//	func init() {
//		objects.Register("Counter", func(st *objects.State) objects.Object { return &Counter{st: st} })
//	}
//
// Events reach an object one at a time: its HTTP requests (Fetch, with
// the X-Strata-Object-* headers removed), its alarm (Alarmer), and the
// messages, closes and errors of the WebSockets it accepted
// (WebSocketMessager, WebSocketCloser, WebSocketErrorer); the optional
// methods are found by type assertion. An alarm or WebSocket method that
// returns an error answers 500 with its text; an alarm without an Alarm
// method fails the same way, and so does a message without a
// WebSocketMessage method, while a close or error without a method is
// simply done.
//
// Storage, alarm and WebSocket calls act on the object whose event is
// running and fail outside one. State.AcceptWebSocket writes the 101
// answer itself, so a Fetch that accepts writes nothing after it.
//
// Any invocation reaches objects through a binding:
//
//	resp, err := objects.Namespace("counters").Get("room-1").Call(ctx, "POST", "/incr", nil)
//
// Limits are checked before the host is called: a key of at most 2 KiB
// (ErrKeyTooLong), a value of at most 128 KiB (ErrValueTooLarge). The
// package uses only the standard library and works only inside a Strata
// function (GOOS=wasip1); object events are dispatched by package strata,
// before the handler registered with strata.HandleHTTP.
package objects
