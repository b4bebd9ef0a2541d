package sockets

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/record"
)

// Defaults of Config.
const (
	DefaultSendBuffer      = 256
	DefaultMaxMessageBytes = 1 << 20
	DefaultWriteTimeout    = 10 * time.Second
)

// Close codes the hub sends (RFC 6455 section 7.4.1).
const (
	CodeNormal      = 1000
	CodeGoingAway   = 1001 // the hub closes: the server is stopping
	CodeNoStatus    = 1005 // the peer's close frame had no code
	CodeAbnormal    = 1006 // no close frame: the connection dropped
	CodePolicy      = 1008 // the client does not read its messages
	CodeTooBig      = 1009 // a frame over Config.MaxMessageBytes
	CodeServerError = 1011
	// CodeServiceRestart: the object moved to another node (its lease was
	// taken over); reconnecting reaches it there.
	CodeServiceRestart = 1012
)

// Errors of Send and Close.
var (
	ErrClosed = errors.New("websocket connection is closed")
	ErrSlow   = errors.New("send buffer full: the client is not reading (connection closed with 1008)")
)

// slowReason is the reason of the 1008 close of a client whose queue
// filled.
const slowReason = "send buffer full: the client is not reading"

// Config configures a hub; zero fields take their defaults.
type Config struct {
	SendBuffer      int           // messages queued per connection before it is closed as too slow (default 256)
	MaxMessageBytes int64         // largest message accepted from a client (default 1 MiB); bigger: closed with 1009
	WriteTimeout    time.Duration // one write to a client (default 10s); exceeded: closed
	// OriginPatterns are the hosts (path.Match patterns, as
	// coder/websocket's AcceptOptions) whose pages may open connections
	// besides the request's own host; a request without Origin (not a
	// browser) is always let in.
	OriginPatterns []string
	Logger         *slog.Logger
	Clock          clock.Clock // Info.Opened; nil: the real clock
}

// Owner is what a connection belongs to: who handles its events.
type Owner struct {
	Project  string
	Function string           // the function whose code handles the events
	Object   record.ObjectKey // durable object that accepted it; zero for a function's WebSocket route
	Route    string           // "GET /chat": the route it came in on
}

// Message is one WebSocket data message.
type Message struct {
	Data []byte
	Text bool
}

// Handlers are a connection's callbacks. Both run on the connection's own
// goroutines, never two at once for one connection.
type Handlers struct {
	// OnMessage gets each message in order, one at a time: the reader does
	// not read the next frame until it returns (per-connection
	// backpressure). It may keep m.Data.
	OnMessage func(c *Conn, m Message)
	// OnClose is called once when the connection ends, whoever ended it
	// (code and reason as received or as sent; 1006 when it just
	// dropped), after the last OnMessage returned.
	OnClose func(c *Conn, code int, reason string)
}

// Info describes a connection.
type Info struct {
	ID         string
	Owner      Owner
	Tags       []string
	Attachment []byte
	Opened     time.Time
	Remote     string
}

// Hub holds the live connections of a node.
type Hub struct {
	cfg Config

	mu       sync.RWMutex
	closed   bool
	conns    map[string]*Conn
	byObject map[record.ObjectKey]map[string]*Conn
	auto     map[record.ObjectKey]autoResponse

	wg sync.WaitGroup // one per connection until its OnClose returned
}

type autoResponse struct{ request, response string }

// NewHub returns a hub with cfg's defaults filled in.
func NewHub(cfg Config) *Hub {
	if cfg.SendBuffer <= 0 {
		cfg.SendBuffer = DefaultSendBuffer
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	return &Hub{cfg: cfg, conns: map[string]*Conn{}, byObject: map[record.ObjectKey]map[string]*Conn{},
		auto: map[record.ObjectKey]autoResponse{}}
}

// NewID returns a fresh connection id: 32 random hex digits.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Accept upgrades r (w must be the original ResponseWriter, or one that
// unwraps to it), registers the connection under a new random id and
// starts its reader and writer; it returns once upgraded. On an error the
// answer to r is written already.
func (h *Hub) Accept(w http.ResponseWriter, r *http.Request, owner Owner, tags []string, hs Handlers) (*Conn, error) {
	return h.AcceptWithID(w, r, NewID(), owner, tags, hs)
}

// AcceptWithID is Accept under an id chosen before (NewID), for callers
// that name the connection before they decide to accept it (a WebSocket
// route's $connect event carries the id).
func (h *Hub) AcceptWithID(w http.ResponseWriter, r *http.Request, id string, owner Owner, tags []string, hs Handlers) (*Conn, error) {
	if status, err := h.CheckUpgrade(r); err != nil {
		http.Error(w, err.Error(), status)
		return nil, err
	}
	// Registered before the upgrade answers, so the connection is found
	// (Get, ByObject) by the time its client hears 101; Send and Close
	// work on it at once (the writer starts after the upgrade).
	c := &Conn{hub: h, id: id, owner: owner, tags: slices.Clone(tags), opened: h.cfg.Clock.Now(),
		remote: r.RemoteAddr, hs: hs, queue: make(chan Message, h.cfg.SendBuffer),
		closing: make(chan struct{}), readerDone: make(chan struct{}), done: make(chan struct{})}
	c.abortCtx, c.abort = context.WithCancel(context.Background())
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		http.Error(w, "the server is stopping", http.StatusServiceUnavailable)
		return nil, fmt.Errorf("accept connection %s: %w", id, ErrClosed)
	}
	if h.conns[id] != nil {
		h.mu.Unlock()
		http.Error(w, "connection id in use", http.StatusInternalServerError)
		return nil, fmt.Errorf("accept connection %s: the id is in use", id)
	}
	h.conns[id] = c
	if owner.Object != (record.ObjectKey{}) {
		m := h.byObject[owner.Object]
		if m == nil {
			m = map[string]*Conn{}
			h.byObject[owner.Object] = m
		}
		m[id] = c
	}
	h.wg.Add(1)
	h.mu.Unlock()
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: h.cfg.OriginPatterns})
	if err != nil {
		// Never upgraded: no goroutines, no OnClose; a Send that found
		// it meanwhile gets ErrClosed from now on.
		c.end(CodeAbnormal, "upgrade failed", endDrop)
		c.abort()
		h.wg.Done()
		return nil, fmt.Errorf("accept connection %s: %w", id, err)
	}
	ws.SetReadLimit(h.cfg.MaxMessageBytes)
	c.ws = ws
	go c.read()
	go c.write()
	return c, nil
}

// CheckUpgrade reports whether r is a WebSocket handshake Accept would
// take, and the status to refuse it with when not: callers that do work
// before accepting (a $connect invocation) check first, so a request that
// cannot upgrade never reaches a function.
func (h *Hub) CheckUpgrade(r *http.Request) (int, error) {
	if !IsUpgrade(r) {
		return http.StatusUpgradeRequired, errors.New("not a WebSocket handshake: the request needs Connection: Upgrade and Upgrade: websocket")
	}
	if r.Method != http.MethodGet {
		return http.StatusMethodNotAllowed, fmt.Errorf("a WebSocket handshake is a GET, not %s", r.Method)
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		return http.StatusBadRequest, fmt.Errorf("unsupported WebSocket version %q: only 13 is spoken", r.Header.Get("Sec-WebSocket-Version"))
	}
	if len(r.Header.Values("Sec-WebSocket-Key")) != 1 {
		return http.StatusBadRequest, errors.New("a WebSocket handshake needs one Sec-WebSocket-Key header")
	}
	if err := h.checkOrigin(r); err != nil {
		return http.StatusForbidden, err
	}
	return 0, nil
}

// checkOrigin applies the rule coder/websocket's Accept applies: no
// Origin, or the request's own host, or a host matching a pattern.
func (h *Hub) checkOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	scheme, host, ok := strings.Cut(origin, "://")
	if !ok {
		return fmt.Errorf("origin %q is not a URL", origin)
	}
	host, _, _ = strings.Cut(host, "/")
	if strings.EqualFold(host, r.Host) {
		return nil
	}
	for _, p := range h.cfg.OriginPatterns {
		target := host
		if strings.Contains(p, "://") {
			target = scheme + "://" + host
		}
		if ok, err := matchFold(p, target); err == nil && ok {
			return nil
		}
	}
	return fmt.Errorf("origin %q may not open WebSockets on %s (same host only, or the server's allowed origins)", origin, r.Host)
}

// IsUpgrade reports whether r asks for a WebSocket (Connection: Upgrade
// and Upgrade: websocket, case-insensitive tokens).
func IsUpgrade(r *http.Request) bool {
	return hasToken(r.Header, "Connection", "upgrade") && hasToken(r.Header, "Upgrade", "websocket")
}

func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// Get returns the live connection with id.
func (h *Hub) Get(id string) (*Conn, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	c, ok := h.conns[id]
	return c, ok
}

// ByObject returns the live connections the object key accepted, oldest
// first.
func (h *Hub) ByObject(key record.ObjectKey) []*Conn {
	h.mu.RLock()
	m := h.byObject[key]
	out := make([]*Conn, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	h.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Conn) int { return compareOpened(a, b) })
	return out
}

// List describes every live connection of project ("" : of every
// project), oldest first.
func (h *Hub) List(project string) []Info {
	h.mu.RLock()
	cs := make([]*Conn, 0, len(h.conns))
	for _, c := range h.conns {
		if project == "" || c.owner.Project == project {
			cs = append(cs, c)
		}
	}
	h.mu.RUnlock()
	slices.SortFunc(cs, func(a, b *Conn) int { return compareOpened(a, b) })
	out := make([]Info, len(cs))
	for i, c := range cs {
		out[i] = c.Info()
	}
	return out
}

func compareOpened(a, b *Conn) int {
	if c := a.opened.Compare(b.opened); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

// Len is how many connections are live.
func (h *Hub) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.conns)
}

// SetAutoResponse makes the connections of key answer a text message
// equal to request with response, from their reader, without calling
// OnMessage (a keepalive ping costs no invocation); both "" remove it.
func (h *Hub) SetAutoResponse(key record.ObjectKey, request, response string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if request == "" && response == "" {
		delete(h.auto, key)
		return
	}
	h.auto[key] = autoResponse{request: request, response: response}
}

// autoResponse is key's auto-response to data, if it has one.
func (h *Hub) autoResponse(key record.ObjectKey, data []byte) (string, bool) {
	h.mu.RLock()
	a, ok := h.auto[key]
	h.mu.RUnlock()
	if !ok || a.request != string(data) {
		return "", false
	}
	return a.response, true
}

// Close closes every connection with 1001 (going away), refuses new ones,
// and waits until every connection's goroutines and OnClose returned.
// Call it after the HTTP server stopped accepting requests.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	cs := make([]*Conn, 0, len(h.conns))
	for _, c := range h.conns {
		cs = append(cs, c)
	}
	h.mu.Unlock()
	for _, c := range cs {
		c.end(CodeGoingAway, "the server is stopping", endByUs)
	}
	h.wg.Wait()
}

// unregister removes c from the indexes (once its end is decided).
func (h *Hub) unregister(c *Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conns[c.id] == c {
		delete(h.conns, c.id)
	}
	if c.owner.Object != (record.ObjectKey{}) {
		if m := h.byObject[c.owner.Object]; m != nil {
			delete(m, c.id)
			if len(m) == 0 {
				delete(h.byObject, c.owner.Object)
			}
		}
	}
}
