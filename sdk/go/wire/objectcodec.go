package wire

import (
	"encoding/binary"
	"fmt"
)

// The byte format of op-6 requests and answers: the Version byte, then
// every field of ObjectRequest (ObjectResponse) in declaration order, in
// the encoding of requests (strings and byte slices length-prefixed,
// counts uint32, integers uint64, booleans one byte; an optional struct
// is a presence byte and its fields). It replaced JSON because encoding
// and decoding JSON by reflection inside a Go guest cost more than the
// rest of a storage call (docs/ABI.md).

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

func appendInt(dst []byte, n int64) []byte { return binary.LittleEndian.AppendUint64(dst, uint64(n)) }

func appendStrings(dst []byte, ss []string) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(ss)))
	for _, s := range ss {
		dst = appendString(dst, s)
	}
	return dst
}

func appendEntries(dst []byte, es []ObjectEntry) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(es)))
	for _, e := range es {
		dst = appendString(dst, e.Key)
		dst = appendBytes(dst, e.Value)
	}
	return dst
}

func (d *decoder) bool() bool { return d.byte() != 0 }

func (d *decoder) int() int64 { return int64(d.uint64()) }

func (d *decoder) strings() []string {
	n := d.count()
	if n == 0 || d.err != nil {
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.string())
	}
	return out
}

func (d *decoder) entries() []ObjectEntry {
	n := d.count()
	if n == 0 || d.err != nil {
		return nil
	}
	out := make([]ObjectEntry, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, ObjectEntry{Key: d.string(), Value: d.copyBytes()})
	}
	return out
}

// copyBytes reads a byte slice the caller keeps: a copy, nil when empty.
func (d *decoder) copyBytes() []byte {
	b := d.bytes()
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// AppendObjectRequest appends the encoding of r to dst.
func AppendObjectRequest(dst []byte, r *ObjectRequest) []byte {
	dst = append(dst, Version)
	dst = appendString(dst, r.Op)
	dst = appendString(dst, r.TxID)
	dst = appendStrings(dst, r.Keys)
	dst = appendEntries(dst, r.Entries)
	dst = appendString(dst, r.Prefix)
	dst = appendString(dst, r.Start)
	dst = appendString(dst, r.End)
	dst = appendInt(dst, int64(r.Limit))
	dst = appendBool(dst, r.Reverse)
	dst = appendInt(dst, r.AtMS)
	dst = appendStrings(dst, r.Tags)
	dst = appendString(dst, r.Tag)
	dst = appendStrings(dst, r.Sockets)
	dst = appendBytes(dst, r.Data)
	dst = appendBool(dst, r.Text)
	dst = appendInt(dst, int64(r.Code))
	dst = appendString(dst, r.Reason)
	dst = appendString(dst, r.AutoReq)
	dst = appendString(dst, r.AutoResp)
	dst = appendString(dst, r.Binding)
	dst = appendString(dst, r.ID)
	dst = appendString(dst, r.Name)
	dst = appendBool(dst, r.Request != nil)
	if q := r.Request; q != nil {
		dst = appendString(dst, q.Method)
		dst = appendString(dst, q.Path)
		dst = appendHeaders(dst, q.Headers)
		dst = appendBytes(dst, q.Body)
	}
	dst = appendString(dst, r.Connection)
	return dst
}

// DecodeObjectRequest decodes a request encoded by AppendObjectRequest.
// Nothing of the result aliases src: the host decodes straight from guest
// memory, which the guest reuses once the call returns.
func DecodeObjectRequest(src []byte) (*ObjectRequest, error) {
	d := decoder{buf: src}
	if v := d.byte(); v != Version {
		if d.err != nil {
			return nil, d.err
		}
		return nil, fmt.Errorf("wire: object request version %d, want %d", v, Version)
	}
	r := &ObjectRequest{}
	r.Op = d.string()
	r.TxID = d.string()
	r.Keys = d.strings()
	r.Entries = d.entries()
	r.Prefix = d.string()
	r.Start = d.string()
	r.End = d.string()
	r.Limit = int(d.int())
	r.Reverse = d.bool()
	r.AtMS = d.int()
	r.Tags = d.strings()
	r.Tag = d.string()
	r.Sockets = d.strings()
	r.Data = d.copyBytes()
	r.Text = d.bool()
	r.Code = int(d.int())
	r.Reason = d.string()
	r.AutoReq = d.string()
	r.AutoResp = d.string()
	r.Binding = d.string()
	r.ID = d.string()
	r.Name = d.string()
	if d.bool() {
		q := &StubRequest{Method: d.string(), Path: d.string()}
		q.Headers = d.headers()
		q.Body = d.copyBytes()
		r.Request = q
	}
	r.Connection = d.string()
	if d.err != nil {
		return nil, d.err
	}
	if len(d.buf) != 0 {
		return nil, fmt.Errorf("wire: object request has %d bytes after its last field", len(d.buf))
	}
	return r, nil
}

// AppendObjectResponse appends the encoding of r to dst.
func AppendObjectResponse(dst []byte, r *ObjectResponse) []byte {
	dst = append(dst, Version)
	dst = appendEntries(dst, r.Entries)
	dst = appendInt(dst, int64(r.Count))
	dst = appendString(dst, r.TxID)
	dst = appendInt(dst, r.AtMS)
	dst = appendString(dst, r.Socket)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(r.Sockets)))
	for _, s := range r.Sockets {
		dst = appendString(dst, s.ID)
		dst = appendStrings(dst, s.Tags)
		dst = appendBytes(dst, s.Attachment)
	}
	dst = appendString(dst, r.ID)
	dst = appendBool(dst, r.Response != nil)
	if p := r.Response; p != nil {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(p.Status))
		dst = appendHeaders(dst, p.Headers)
		dst = appendBytes(dst, p.Body)
	}
	return dst
}

// DecodeObjectResponse decodes an answer encoded by AppendObjectResponse;
// nothing of the result aliases src.
func DecodeObjectResponse(src []byte) (*ObjectResponse, error) {
	d := decoder{buf: src}
	if v := d.byte(); v != Version {
		if d.err != nil {
			return nil, d.err
		}
		return nil, fmt.Errorf("wire: object response version %d, want %d", v, Version)
	}
	r := &ObjectResponse{}
	r.Entries = d.entries()
	r.Count = int(d.int())
	r.TxID = d.string()
	r.AtMS = d.int()
	r.Socket = d.string()
	if n := d.count(); n > 0 && d.err == nil {
		r.Sockets = make([]SocketInfo, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			r.Sockets = append(r.Sockets, SocketInfo{ID: d.string(), Tags: d.strings(), Attachment: d.copyBytes()})
		}
	}
	r.ID = d.string()
	if d.bool() {
		p := &StubResponse{Status: int(d.uint32())}
		p.Headers = d.headers()
		p.Body = d.copyBytes()
		r.Response = p
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.buf) != 0 {
		return nil, fmt.Errorf("wire: object response has %d bytes after its last field", len(d.buf))
	}
	return r, nil
}
