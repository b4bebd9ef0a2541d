// Package sockets holds the WebSocket connections a node serves: the
// upgrade (github.com/coder/websocket), a reader per connection that hands
// its messages on in order, a bounded send queue and writer per
// connection (a client that never reads is closed, never waited for),
// auto-responses answered without waking anyone, and the hub that finds a
// connection by id for the host calls that send to it.
//
// It knows nothing of invocations: durable objects (internal/objects) and
// the gateway's WebSocket routes decide what a message does.
package sockets
