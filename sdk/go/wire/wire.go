// Package wire is the byte format that carries HTTP requests and responses
// across the strata_v1 host ABI between the Strata host and a guest module.
//
// It is shared by the host (internal/wasm) and the guest SDK so that both
// sides agree on one encoding. It is pure Go with no dependencies, so it builds
// for GOOS=wasip1 as well as for the host. The format is documented in
// docs/ABI.md; any change to it needs a new host module version.
//
// Layout: a version byte, then fields in a fixed order. Strings and byte
// slices are a little-endian uint32 length followed by the bytes; counts are
// uint32; integers are little-endian. Nothing is base64-encoded, so bodies are
// binary-safe and cost one copy.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"
)

// Version is the first byte of every encoded request and response.
const Version byte = 1

// ErrShort is returned when an encoded message ends before its fields do.
var ErrShort = errors.New("wire: message truncated")

// Header is one header name with its values, in the order received.
type Header struct {
	Name   string
	Values []string
}

// Param is one path parameter captured by the route, e.g. {id}.
type Param struct {
	Name  string
	Value string
}

// Request is an HTTP request as the guest sees it.
type Request struct {
	Method       string
	Path         string // the URL path, already unescaped by the gateway
	RawQuery     string
	Host         string
	RemoteAddr   string
	Headers      []Header
	Params       []Param
	Body         []byte
	InvocationID string
	TraceParent  string // W3C traceparent of this invocation
	DeadlineMS   int64  // unix milliseconds after which the host interrupts the guest
}

// Response is what the guest answers.
type Response struct {
	Status  int
	Headers []Header
	Body    []byte
}

// AppendRequest appends the encoding of r to dst and returns the result.
func AppendRequest(dst []byte, r *Request) []byte {
	dst = append(dst, Version)
	dst = appendString(dst, r.Method)
	dst = appendString(dst, r.Path)
	dst = appendString(dst, r.RawQuery)
	dst = appendString(dst, r.Host)
	dst = appendString(dst, r.RemoteAddr)
	dst = appendHeaders(dst, r.Headers)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(r.Params)))
	for _, p := range r.Params {
		dst = appendString(dst, p.Name)
		dst = appendString(dst, p.Value)
	}
	dst = appendBytes(dst, r.Body)
	dst = appendString(dst, r.InvocationID)
	dst = appendString(dst, r.TraceParent)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(r.DeadlineMS))
	return dst
}

// DecodeRequest decodes a request encoded by AppendRequest. The returned
// body aliases src.
func DecodeRequest(src []byte) (*Request, error) {
	d := decoder{buf: src}
	if v := d.byte(); v != Version {
		if d.err != nil {
			return nil, d.err
		}
		return nil, fmt.Errorf("wire: request version %d, want %d", v, Version)
	}
	r := &Request{}
	r.Method = d.string()
	r.Path = d.string()
	r.RawQuery = d.string()
	r.Host = d.string()
	r.RemoteAddr = d.string()
	r.Headers = d.headers()
	n := d.count()
	if n > 0 && d.err == nil {
		r.Params = make([]Param, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			r.Params = append(r.Params, Param{Name: d.string(), Value: d.string()})
		}
	}
	r.Body = d.bytes()
	r.InvocationID = d.string()
	r.TraceParent = d.string()
	r.DeadlineMS = int64(d.uint64())
	if d.err != nil {
		return nil, d.err
	}
	return r, nil
}

// RequestView decodes requests without copying, for a reader that copies
// what it keeps (the guest SDK builds its *http.Request from it). After
// Decode, the strings and the body of Request alias the encoded bytes and
// are valid only while those bytes are unchanged; Decode reuses the
// view's slices, so a view decodes one request at a time.
type RequestView struct {
	Request
	values []string // every header's values, back to back
}

// Decode decodes src, encoded by AppendRequest, into v.
func (v *RequestView) Decode(src []byte) error {
	d := decoder{buf: src, alias: true}
	if ver := d.byte(); ver != Version {
		if d.err != nil {
			return d.err
		}
		return fmt.Errorf("wire: request version %d, want %d", ver, Version)
	}
	r := &v.Request
	r.Method = d.string()
	r.Path = d.string()
	r.RawQuery = d.string()
	r.Host = d.string()
	r.RemoteAddr = d.string()
	r.Headers, v.values = d.headersInto(r.Headers[:0], v.values[:0])
	n := d.count()
	r.Params = r.Params[:0]
	for i := 0; i < n && d.err == nil; i++ {
		r.Params = append(r.Params, Param{Name: d.string(), Value: d.string()})
	}
	r.Body = d.bytes()
	r.InvocationID = d.string()
	r.TraceParent = d.string()
	r.DeadlineMS = int64(d.uint64())
	return d.err
}

// ResponseView decodes a response encoded by AppendResponse without
// copying: its strings and body alias src, which the caller owns and must
// not change while the response is in use. The host decodes the response
// it copied out of guest memory this way: one allocation for a response
// of a few headers instead of one per string.
func ResponseView(src []byte) (*Response, error) {
	d := decoder{buf: src, alias: true}
	if v := d.byte(); v != Version {
		if d.err != nil {
			return nil, d.err
		}
		return nil, fmt.Errorf("wire: response version %d, want %d", v, Version)
	}
	status := int(d.uint32())
	// Count the headers and their values first, so that the response, its
	// headers and their values share one allocation when they are few.
	nh, nv := d.countHeaders()
	if d.err != nil {
		return nil, d.err
	}
	var r *Response
	var hs []Header
	var vs []string
	if nh <= smallHeaders && nv <= smallHeaders {
		b := &responseBlock{}
		r, hs, vs = &b.r, b.hs[:0:nh], b.vs[:0:nv]
	} else {
		r, hs, vs = &Response{}, make([]Header, 0, nh), make([]string, 0, nv)
	}
	r.Status = status
	r.Headers, _ = d.headersInto(hs, vs)
	r.Body = d.bytes()
	if d.err != nil {
		return nil, d.err
	}
	if r.Status < 100 || r.Status > 999 {
		return nil, fmt.Errorf("wire: response status %d out of range", r.Status)
	}
	if len(r.Headers) == 0 {
		r.Headers = nil
	}
	return r, nil
}

// smallHeaders is how many headers, and values, a response may have for
// ResponseView to allocate them with the response in one block.
const smallHeaders = 6

type responseBlock struct {
	r  Response
	hs [smallHeaders]Header
	vs [smallHeaders]string
}

// AppendResponse appends the encoding of r to dst and returns the result.
func AppendResponse(dst []byte, r *Response) []byte {
	dst = append(dst, Version)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(r.Status))
	dst = appendHeaders(dst, r.Headers)
	dst = appendBytes(dst, r.Body)
	return dst
}

// DecodeResponse decodes a response encoded by AppendResponse. The returned
// body aliases src.
func DecodeResponse(src []byte) (*Response, error) {
	d := decoder{buf: src}
	if v := d.byte(); v != Version {
		if d.err != nil {
			return nil, d.err
		}
		return nil, fmt.Errorf("wire: response version %d, want %d", v, Version)
	}
	r := &Response{}
	r.Status = int(d.uint32())
	r.Headers = d.headers()
	r.Body = d.bytes()
	if d.err != nil {
		return nil, d.err
	}
	if r.Status < 100 || r.Status > 999 {
		return nil, fmt.Errorf("wire: response status %d out of range", r.Status)
	}
	return r, nil
}

func appendString(dst []byte, s string) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

func appendBytes(dst []byte, b []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(b)))
	return append(dst, b...)
}

func appendHeaders(dst []byte, hs []Header) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(hs)))
	for _, h := range hs {
		dst = appendString(dst, h.Name)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(h.Values)))
		for _, v := range h.Values {
			dst = appendString(dst, v)
		}
	}
	return dst
}

// decoder reads fields in order and remembers the first error, so callers
// check once at the end instead of after every field.
type decoder struct {
	buf []byte
	err error
	// alias makes strings share the encoded bytes instead of copying
	// them (RequestView, ResponseView).
	alias bool
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.buf) {
		d.err = ErrShort
		return nil
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}

func (d *decoder) byte() byte {
	b := d.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (d *decoder) uint32() uint32 {
	b := d.take(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (d *decoder) uint64() uint64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

// count reads a uint32 count and rejects counts that could not fit in the
// remaining bytes, so a hostile length cannot make the decoder allocate.
func (d *decoder) count() int {
	n := int(d.uint32())
	if d.err == nil && n > len(d.buf) {
		d.err = ErrShort
		return 0
	}
	return n
}

func (d *decoder) bytes() []byte {
	n := int(d.uint32())
	return d.take(n)
}

func (d *decoder) string() string {
	b := d.bytes()
	if d.alias {
		if len(b) == 0 {
			return ""
		}
		return unsafe.String(&b[0], len(b))
	}
	return string(b)
}

// countHeaders reads ahead (d is not advanced) and returns how many
// headers the next header list has and how many values they have in all.
func (d *decoder) countHeaders() (headers, values int) {
	ahead := *d
	n := ahead.count()
	for i := 0; i < n && ahead.err == nil; i++ {
		ahead.bytes()
		m := ahead.count()
		values += m
		for j := 0; j < m && ahead.err == nil; j++ {
			ahead.bytes()
		}
	}
	if ahead.err != nil {
		d.err = ahead.err
		return 0, 0
	}
	return n, values
}

// headersInto decodes a header list, appending the headers to hs and all
// their values to vals: each header's Values is a full slice expression
// of vals, so appending to one cannot overwrite the next.
func (d *decoder) headersInto(hs []Header, vals []string) ([]Header, []string) {
	n := d.count()
	for i := 0; i < n && d.err == nil; i++ {
		h := Header{Name: d.string()}
		m := d.count()
		start := len(vals)
		for j := 0; j < m && d.err == nil; j++ {
			vals = append(vals, d.string())
		}
		if m > 0 {
			h.Values = vals[start:len(vals):len(vals)]
		}
		hs = append(hs, h)
	}
	return hs, vals
}

func (d *decoder) headers() []Header {
	n := d.count()
	if n == 0 || d.err != nil {
		return nil
	}
	hs := make([]Header, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		h := Header{Name: d.string()}
		m := d.count()
		if m > 0 && d.err == nil {
			h.Values = make([]string, 0, m)
			for j := 0; j < m && d.err == nil; j++ {
				h.Values = append(h.Values, d.string())
			}
		}
		hs = append(hs, h)
	}
	return hs
}
