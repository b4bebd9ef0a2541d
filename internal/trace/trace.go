package trace

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"unsafe"
)

// Context is a W3C trace context: the trace this invocation belongs to
// and the span that stands for the invocation.
type Context struct {
	TraceID  string // 32 lowercase hex
	SpanID   string // 16 lowercase hex: the invocation's own span
	ParentID string // 16 hex of the caller's span, "" when the trace starts here
	Flags    string // 2 hex
}

// Header renders the traceparent header value carrying this span.
func (t Context) Header() string {
	return "00-" + t.TraceID + "-" + t.SpanID + "-" + t.Flags
}

// New continues the trace in an incoming traceparent header, or starts a
// fresh one when the header is absent or malformed (as the W3C spec says a
// receiver must).
func New(traceparent string) Context {
	tc := Context{SpanID: randomHex(8), Flags: "01"}
	if traceID, parent, flags, ok := parseTraceparent(traceparent); ok {
		tc.TraceID, tc.ParentID, tc.Flags = traceID, parent, flags
		return tc
	}
	tc.TraceID = randomHex(16)
	return tc
}

func parseTraceparent(h string) (traceID, spanID, flags string, ok bool) {
	// version(2) - trace-id(32) - parent-id(16) - flags(2)
	if len(h) < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-' {
		return "", "", "", false
	}
	if len(h) > 55 && h[55] != '-' { // future versions may append fields
		return "", "", "", false
	}
	version, traceID, spanID, flags := h[0:2], h[3:35], h[36:52], h[53:55]
	if version == "ff" || !isLowerHex(version) || !isLowerHex(traceID) || !isLowerHex(spanID) || !isLowerHex(flags) {
		return "", "", "", false
	}
	if allZero(traceID) || allZero(spanID) {
		return "", "", "", false
	}
	if version == "00" && len(h) != 55 {
		return "", "", "", false
	}
	return traceID, spanID, flags, true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}

// randomHex returns n random bytes in hex. Trace and span ids must be
// unpredictable enough not to collide, not secret, so the runtime's fast
// per-thread ChaCha8 generator (math/rand/v2, randomly seeded) is used
// instead of a getrandom system call per invocation.
func randomHex(n int) string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	return hex.EncodeToString(b[:n])
}

// HeaderLen is the length of a version-00 traceparent header.
const HeaderLen = 55

// NewIn is New, writing the header of the new span into buf and returning
// it with the context, whose strings alias buf (or traceparent): no
// allocation, for the request path. The caller must not change buf while
// the context or the header is in use.
func NewIn(buf *[HeaderLen]byte, traceparent string) (Context, string) {
	traceID, parent, flags, ok := parseTraceparent(traceparent)
	var r [24]byte
	binary.LittleEndian.PutUint64(r[0:8], rand.Uint64())
	binary.LittleEndian.PutUint64(r[8:16], rand.Uint64())
	binary.LittleEndian.PutUint64(r[16:24], rand.Uint64())
	copy(buf[0:3], "00-")
	if ok {
		copy(buf[3:35], traceID)
	} else {
		hex.Encode(buf[3:35], r[0:16])
		flags = "01"
	}
	buf[35] = '-'
	hex.Encode(buf[36:52], r[16:24])
	buf[52] = '-'
	copy(buf[53:55], flags)
	h := unsafe.String(&buf[0], HeaderLen)
	return Context{TraceID: h[3:35], SpanID: h[36:52], ParentID: parent, Flags: h[53:55]}, h
}
