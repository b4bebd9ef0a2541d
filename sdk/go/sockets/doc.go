// Package sockets is the guest side of WebSocket routes served by plain
// functions (routes: [{websocket: /chat, function: chat}]): the platform
// holds each client's connection and invokes the function once per event,
// with no state kept between them.
//
//	func handle(w http.ResponseWriter, r *http.Request) {
//		ev, ok := sockets.FromRequest(r)
//		if !ok {
//			... an ordinary HTTP request
//		}
//		switch ev.Type {
//		case sockets.Connect:
//			// answer non-2xx to refuse the connection
//		case sockets.Disconnect:
//		default: // a message, ev.Type is its route key
//			err := sockets.Send(r.Context(), ev.Connection, sockets.TextMessage("got it"))
//		}
//	}
//
// Any invocation of the project may Send to or Close a connection it
// knows the id of (kept in a database, say). For state and fan-out per
// room, accept the WebSocket in a durable object instead (package
// objects). The package uses only the standard library and works only
// inside a Strata function (GOOS=wasip1).
package sockets
