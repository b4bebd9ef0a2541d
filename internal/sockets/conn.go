package sockets

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// endKind is who ended a connection, which decides how it is closed.
type endKind int

const (
	endByUs   endKind = iota // Close, the hub's Close: queued messages are written, then a close handshake
	endSlow                  // the queue filled: the write in flight is abandoned, then a close handshake
	endTooBig                // the library sent 1009: finish its close handshake
	endByPeer                // the client's close frame: the library answered it
	endDrop                  // the connection failed: nothing more to say
)

// Conn is one WebSocket connection. Its reader goroutine hands messages
// to Handlers.OnMessage; its writer goroutine is the only one that writes
// data to the client, from a bounded queue that Send fills without
// blocking.
type Conn struct {
	hub    *Hub
	ws     *websocket.Conn
	id     string
	owner  Owner
	tags   []string
	opened time.Time
	remote string
	hs     Handlers

	mu         sync.Mutex
	attachment []byte

	queue chan Message // never closed: a late Send must not panic

	endOnce sync.Once
	closing chan struct{} // closed once the end is decided
	code    int           // set before closing is closed
	reason  string
	kind    endKind
	// abortCtx is every write's parent; a slow end cancels it, which
	// closes the connection at once if a write is in flight
	// (coder/websocket closes it when a write's context ends).
	abortCtx   context.Context
	abort      context.CancelFunc
	readerDone chan struct{}
	dropReason atomic.Pointer[string] // why the writer gave up, for the reader's 1006
	done       chan struct{}          // closed after OnClose returned
}

// ID is the connection's id (32 hex digits).
func (c *Conn) ID() string { return c.id }

// Owner is what the connection belongs to.
func (c *Conn) Owner() Owner { return c.owner }

// Tags are the tags it was accepted with (do not modify).
func (c *Conn) Tags() []string { return c.tags }

// Attachment is the data last set with SetAttachment (do not modify).
func (c *Conn) Attachment() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.attachment
}

// SetAttachment keeps a copy of b with the connection.
func (c *Conn) SetAttachment(b []byte) {
	b = slices.Clone(b)
	c.mu.Lock()
	c.attachment = b
	c.mu.Unlock()
}

// Info describes the connection.
func (c *Conn) Info() Info {
	return Info{ID: c.id, Owner: c.owner, Tags: slices.Clone(c.tags), Attachment: c.Attachment(), Opened: c.opened, Remote: c.remote}
}

// Done is closed once the connection ended and OnClose returned.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Send queues m for the writer without blocking; m.Data is not copied,
// so the caller must not change it (one slice may go to many
// connections). A full queue closes the connection with 1008 and returns
// ErrSlow; a closed connection returns ErrClosed.
func (c *Conn) Send(m Message) error {
	select {
	case <-c.closing:
		return ErrClosed
	default:
	}
	select {
	case c.queue <- m:
		return nil
	default:
	}
	if !c.end(CodePolicy, slowReason, endSlow) {
		return ErrClosed
	}
	c.hub.cfg.Logger.Warn("websocket closed: its client does not read", "connection", c.id,
		"function", c.owner.Function, "queued", cap(c.queue))
	return ErrSlow
}

// Close ends the connection with code and reason: what is queued is
// written first, then the close handshake. It returns at once (OnClose
// follows); ErrClosed if the connection was ending already. Codes are
// 1000 or 3000..4999 (others are the protocol's own), reasons at most 123
// bytes.
func (c *Conn) Close(code int, reason string) error {
	if !validAppCode(code) {
		return fmt.Errorf("close connection %s: code %d: use 1000 or 3000..4999", c.id, code)
	}
	if len(reason) > 123 {
		return fmt.Errorf("close connection %s: the reason is %d bytes; at most 123 fit a close frame", c.id, len(reason))
	}
	if !c.end(code, reason, endByUs) {
		return ErrClosed
	}
	return nil
}

// validAppCode reports the close codes a caller may send: 1000, the
// protocol's codes a server sends (1001, 1008, 1011, 1012) and the
// application range.
func validAppCode(code int) bool {
	switch code {
	case CodeNormal, CodeGoingAway, CodePolicy, CodeServerError, CodeServiceRestart:
		return true
	}
	return code >= 3000 && code <= 4999
}

// end decides how the connection ends, once; it reports whether this call
// decided. The connection leaves the hub's indexes at once, so a listing
// after a Close never shows it.
func (c *Conn) end(code int, reason string, kind endKind) bool {
	first := false
	c.endOnce.Do(func() {
		c.code, c.reason, c.kind = code, reason, kind
		first = true
	})
	if !first {
		return false
	}
	c.hub.unregister(c)
	if kind == endSlow {
		c.abort()
	}
	close(c.closing)
	return true
}

// read is the reader goroutine: one message at a time, to OnMessage or
// answered by the auto-response.
func (c *Conn) read() {
	defer close(c.readerDone)
	obj := c.owner.Object
	hasObj := obj.ID != ""
	for {
		// Background: the reader ends when the connection closes, which
		// the writer does once the end is decided.
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.readFailed(err)
			return
		}
		text := typ == websocket.MessageText
		if text && hasObj {
			if resp, ok := c.hub.autoResponse(obj, data); ok {
				_ = c.Send(Message{Data: []byte(resp), Text: true})
				continue
			}
		}
		if c.hs.OnMessage != nil {
			c.hs.OnMessage(c, Message{Data: data, Text: text})
		}
	}
}

// readFailed ends the connection after a failed read.
func (c *Conn) readFailed(err error) {
	var ce websocket.CloseError
	switch {
	case errors.Is(err, websocket.ErrMessageTooBig):
		c.end(CodeTooBig, fmt.Sprintf("message over %d bytes", c.hub.cfg.MaxMessageBytes), endTooBig)
	case errors.As(err, &ce):
		c.end(int(ce.Code), ce.Reason, endByPeer)
	default:
		reason := ""
		if r := c.dropReason.Load(); r != nil {
			reason = *r
		}
		c.end(CodeAbnormal, reason, endDrop)
	}
}

// write is the writer goroutine: it writes the queue until the end is
// decided, closes the connection, waits for the reader and calls OnClose.
func (c *Conn) write() {
	defer c.finish()
	for {
		// An end decided goes before what is queued (a slow end must
		// not start another write under its cancelled context).
		select {
		case <-c.closing:
			c.shut()
			return
		default:
		}
		select {
		case m := <-c.queue:
			if err := c.writeOne(m); err != nil {
				// The reader decides the code: a write fails as well
				// when the client's close frame just arrived, and
				// that close is what OnClose should report.
				reason := "write failed: " + err.Error()
				if errors.Is(err, context.DeadlineExceeded) {
					reason = fmt.Sprintf("write failed: not done in %s (the client is not reading)", c.hub.cfg.WriteTimeout)
				}
				c.dropReason.Store(&reason)
				_ = c.ws.CloseNow()
				<-c.readerDone
				c.end(CodeAbnormal, reason, endDrop) // decided already, unless the reader was never told
				return
			}
		case <-c.closing:
			c.shut()
			return
		}
	}
}

// writeOne writes m within the write timeout; a slow end cancels it.
func (c *Conn) writeOne(m Message) error {
	ctx, cancel := context.WithTimeout(c.abortCtx, c.hub.cfg.WriteTimeout)
	defer cancel()
	typ := websocket.MessageBinary
	if m.Text {
		typ = websocket.MessageText
	}
	return c.ws.Write(ctx, typ, m.Data)
}

// shut closes the connection as its end requires.
func (c *Conn) shut() {
	switch c.kind {
	case endByUs:
		// What was queued before the Close goes first, as a client
		// expects of "send, then close".
		for drained := false; !drained; {
			select {
			case m := <-c.queue:
				if err := c.writeOne(m); err != nil {
					drained = true
				}
			default:
				drained = true
			}
		}
		_ = c.ws.Close(websocket.StatusCode(c.code), c.reason)
	case endSlow, endTooBig:
		// Slow: the write in flight was cancelled (so the connection may
		// be gone already); too big: the library sent 1009, Close waits
		// for the client's answer and drains the rest of the big frame,
		// so the client reads the close frame instead of a reset.
		_ = c.ws.Close(websocket.StatusCode(c.code), c.reason)
	default:
		_ = c.ws.CloseNow()
	}
}

// finish waits for the reader, calls OnClose once and releases the hub.
func (c *Conn) finish() {
	<-c.readerDone
	reason := c.reason
	if r := c.dropReason.Load(); r != nil && c.kind == endDrop && reason == "" {
		// The failed write closed the connection, and the reader saw
		// the drop before the writer could say why.
		reason = *r
	}
	if c.hs.OnClose != nil {
		c.hs.OnClose(c, c.code, reason)
	}
	c.abort() // releases the context
	close(c.done)
	c.hub.wg.Done()
}

// matchFold is path.Match, case-insensitive (hosts).
func matchFold(pattern, name string) (bool, error) {
	return path.Match(strings.ToLower(pattern), strings.ToLower(name))
}
