package wire

// Durable objects and WebSockets across the ABI (docs/ABI.md,
// docs/objects.md).
//
// An object event is an ordinary invocation of the function that defines
// the object's class, on the instance that keeps the object live: an HTTP
// request (ObjectEventFetch, the request as the client or the calling stub
// sent it) or a POST whose body is the event's payload, with the
// ObjectClassHeader, ObjectIDHeader and ObjectEventHeader headers set.
// The gateway strips every X-Strata-* header a client sends, so a guest
// can trust them. The guest SDK keeps one live Go value per (class, id)
// between events and drops the ids listed in ObjectEvictHeader before
// handling the event.
//
// Storage, alarms and the object's WebSockets are binding_call op 6 with a
// JSON ObjectRequest whose Op is one of the ObjectOp* below; they act on
// the object the invocation runs for, and fail outside an object event.
// Stub calls (ObjectOpStubFetch, ObjectOpNewID, ObjectOpIDFromName) and
// the connection calls of WebSocket routes (ObjectOpConnSend,
// ObjectOpConnClose) are open to every invocation, within its project and
// the classes it binds.
//
// A WebSocket route of a plain function invokes it once per event: a
// POST whose SocketEventHeader is "$connect", "$disconnect" or the
// message's route key, SocketConnHeader the connection's id, and whose
// body is the message. A $connect answered with a non-2xx status refuses
// the connection.

// Headers of object events.
const (
	ObjectClassHeader = "X-Strata-Object-Class"
	ObjectIDHeader    = "X-Strata-Object-Id"    // 64 lowercase hex digits
	ObjectNameHeader  = "X-Strata-Object-Name"  // the name the id was derived from, when known
	ObjectEventHeader = "X-Strata-Object-Event" // one of ObjectEvent*
	// ObjectEvictHeader lists ids (comma-separated, "class/id") the guest
	// must forget before this event: the host evicted them, and their next
	// event rebuilds them from storage.
	ObjectEvictHeader  = "X-Strata-Object-Evict"
	ObjectSocketHeader = "X-Strata-Object-Socket" // ws events: the socket's id
	ObjectTextHeader   = "X-Strata-Object-Text"   // ws-message: "1" for a text frame
	ObjectRetryHeader  = "X-Strata-Object-Retry"  // alarm: 0 on the first attempt
	ObjectCodeHeader   = "X-Strata-Object-Code"   // ws-close: the close code
	ObjectReasonHeader = "X-Strata-Object-Reason" // ws-close: the reason; ws-error: the error
)

// Object events (ObjectEventHeader).
const (
	ObjectEventFetch     = "fetch"
	ObjectEventAlarm     = "alarm"
	ObjectEventWSMessage = "ws-message"
	ObjectEventWSClose   = "ws-close"
	ObjectEventWSError   = "ws-error"
)

// Headers of WebSocket route events of plain functions.
const (
	SocketEventHeader = "X-Strata-Socket-Event" // "$connect", "$disconnect" or the route key
	SocketConnHeader  = "X-Strata-Socket-Connection"
	SocketTextHeader  = "X-Strata-Socket-Text" // "1" for a text frame
)

// Socket route keys.
const (
	SocketConnect    = "$connect"
	SocketDisconnect = "$disconnect"
	SocketDefault    = "$default"
)

// Object request ops (ObjectRequest.Op).
const (
	// Storage of the current object.
	ObjectOpGet         = "get"          // Keys → Entries (found ones only)
	ObjectOpPut         = "put"          // Entries
	ObjectOpDelete      = "delete"       // Keys → Count (how many existed)
	ObjectOpList        = "list"         // Prefix, Start, End, Limit, Reverse → Entries
	ObjectOpDeleteAll   = "delete_all"   //
	ObjectOpTxBegin     = "tx_begin"     // → TxID
	ObjectOpTxCommit    = "tx_commit"    // TxID
	ObjectOpTxRollback  = "tx_rollback"  // TxID
	ObjectOpAlarmGet    = "alarm_get"    // → AtMS (0: none)
	ObjectOpAlarmSet    = "alarm_set"    // AtMS
	ObjectOpAlarmDelete = "alarm_delete" //
	// WebSockets of the current object.
	ObjectOpWSAccept       = "ws_accept"       // Tags; only during a fetch event carrying an upgrade → Socket
	ObjectOpWSSend         = "ws_send"         // Sockets (or Tag: every socket with it; neither: all), Data, Text
	ObjectOpWSClose        = "ws_close"        // Sockets, Code, Reason
	ObjectOpWSList         = "ws_list"         // Tag ("" for all) → Sockets
	ObjectOpWSAttach       = "ws_attach"       // Sockets[0], Data: the socket's attachment (kept across hibernation)
	ObjectOpWSAutoResponse = "ws_autoresponse" // Request, Response (both empty: none)
	// Open to every invocation.
	ObjectOpStubFetch  = "stub_fetch"   // Binding, ID or Name, Request → Response
	ObjectOpNewID      = "new_id"       // Binding → ID
	ObjectOpIDFromName = "id_from_name" // Binding, Name → ID
	ObjectOpConnSend   = "conn_send"    // Connection, Data, Text
	ObjectOpConnClose  = "conn_close"   // Connection, Code, Reason
)

// ObjectMaxValueBytes is the largest value one storage key may hold, as in
// Cloudflare's Durable Objects (128 KiB); ObjectMaxKeyBytes the longest key.
const (
	ObjectMaxValueBytes = 128 << 10
	ObjectMaxKeyBytes   = 2 << 10
)

// ObjectEntry is one storage key and its value.
type ObjectEntry struct {
	Key   string `json:"k"`
	Value []byte `json:"v,omitempty"`
}

// ObjectRequest is one op-6 host call.
type ObjectRequest struct {
	Op      string        `json:"op"`
	TxID    string        `json:"tx,omitempty"` // storage ops inside an explicit transaction
	Keys    []string      `json:"keys,omitempty"`
	Entries []ObjectEntry `json:"entries,omitempty"`
	Prefix  string        `json:"prefix,omitempty"`
	Start   string        `json:"start,omitempty"` // list: first key (inclusive)
	End     string        `json:"end,omitempty"`   // list: key to stop before (exclusive)
	Limit   int           `json:"limit,omitempty"`
	Reverse bool          `json:"reverse,omitempty"`
	AtMS    int64         `json:"at_ms,omitempty"`

	Tags     []string `json:"tags,omitempty"`
	Tag      string   `json:"tag,omitempty"`
	Sockets  []string `json:"sockets,omitempty"`
	Data     []byte   `json:"data,omitempty"`
	Text     bool     `json:"text,omitempty"`
	Code     int      `json:"code,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	AutoReq  string   `json:"auto_req,omitempty"`
	AutoResp string   `json:"auto_resp,omitempty"`

	Binding    string       `json:"binding,omitempty"` // stub calls: the object binding (or a class the function defines)
	ID         string       `json:"id,omitempty"`
	Name       string       `json:"name,omitempty"`
	Request    *StubRequest `json:"request,omitempty"`
	Connection string       `json:"connection,omitempty"`
}

// StubRequest is the HTTP request a stub sends to an object.
type StubRequest struct {
	Method  string   `json:"method"`
	Path    string   `json:"path"` // with the query
	Headers []Header `json:"headers,omitempty"`
	Body    []byte   `json:"body,omitempty"`
}

// StubResponse is the object's answer to a stub.
type StubResponse struct {
	Status  int      `json:"status"`
	Headers []Header `json:"headers,omitempty"`
	Body    []byte   `json:"body,omitempty"`
}

// SocketInfo is one WebSocket accepted by the current object.
type SocketInfo struct {
	ID         string   `json:"id"`
	Tags       []string `json:"tags,omitempty"`
	Attachment []byte   `json:"attachment,omitempty"`
}

// ObjectResponse answers an ObjectRequest.
type ObjectResponse struct {
	Entries  []ObjectEntry `json:"entries,omitempty"`
	Count    int           `json:"count,omitempty"`
	TxID     string        `json:"tx,omitempty"`
	AtMS     int64         `json:"at_ms,omitempty"`
	Socket   string        `json:"socket,omitempty"`
	Sockets  []SocketInfo  `json:"sockets,omitempty"`
	ID       string        `json:"id,omitempty"`
	Response *StubResponse `json:"response,omitempty"`
}
