// Package objects runs durable objects: per-key, single-threaded actors
// with transactional storage, an alarm and WebSockets, as Cloudflare's
// Durable Objects have them (docs/objects.md).
//
// A class is defined by a function's code (the Go SDK's
// objects.Register); its objects are reached by id, derived from a name or
// random, within one project. This package keeps, per (project, class,
// id):
//
//   - one live object on this node, whose events (HTTP requests, alarms,
//     WebSocket messages) run one at a time (the input gate) on one pinned
//     instance of the defining function, so the guest's Go value of the
//     object stays in memory between events;
//   - a storage view: a cache of what the object read and wrote, and the
//     writes of the running event, undone if the event fails;
//   - the output gate: an event's writes are handed to the committer,
//     which group-commits the writes of many events (of many objects) in
//     one store transaction; the next event of the object starts at once,
//     but no event's response leaves before its writes, and those of every
//     event before it, are durable;
//   - a lease with a fencing token, checked by every commit, so two live
//     copies of one object can never both commit;
//   - its alarm, run by the alarm loop through the same input gate, with
//     retries and backoff.
//
// Idle objects are evicted (the guest is told to drop them on its next
// event); an object whose only activity is open WebSockets is evicted too
// (hibernation), its sockets stay with the node's hub, and the next
// message brings it back.
//
// It does not own the HTTP routes (internal/gateway), the sockets' framing
// (internal/sockets) nor the storage's SQL (internal/store).
package objects
