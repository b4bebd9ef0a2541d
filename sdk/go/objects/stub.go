package objects

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/stratahq/strata/sdk/go/wire"
)

// Binding is an object binding of the function's manifest (bindings:
// [{name: counters, kind: object, resource: Counter}]), or a class the
// function defines itself: the way to reach that class's objects.
type Binding struct {
	name string
}

// Namespace returns the object binding named binding. Nothing is checked
// until the first call.
func Namespace(binding string) *Binding { return &Binding{name: binding} }

// IDFromName returns the id of the object called name: the same name
// always gives the same id within the class.
func (b *Binding) IDFromName(ctx context.Context, name string) (string, error) {
	resp, err := call(ctx, fmt.Sprintf("%s: id from name %q", b.name, name), &wire.ObjectRequest{Op: wire.ObjectOpIDFromName, Binding: b.name, Name: name})
	if err != nil {
		return "", err
	}
	return resp.ID, nil
}

// NewUniqueID returns the id of a new object no name leads to.
func (b *Binding) NewUniqueID(ctx context.Context) (string, error) {
	resp, err := call(ctx, b.name+": new id", &wire.ObjectRequest{Op: wire.ObjectOpNewID, Binding: b.name})
	if err != nil {
		return "", err
	}
	return resp.ID, nil
}

// Get returns a stub of the object called name (created on first use).
func (b *Binding) Get(name string) *Stub { return &Stub{binding: b.name, name: name} }

// GetByID returns a stub of the object with id (from IDFromName or
// NewUniqueID).
func (b *Binding) GetByID(id string) *Stub { return &Stub{binding: b.name, id: id} }

// Stub sends requests to one object. The object handles them one at a
// time, in its Fetch method.
type Stub struct {
	binding, name, id string
}

// Fetch sends req to the object and returns its answer. Only the
// request's method, path and query, headers and body are sent (the host
// and scheme of its URL do not matter); the request's context bounds the
// call. The response's body is already read: closing it is optional.
func (s *Stub) Fetch(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, fmt.Errorf("objects: %s: read request body: %w", s.what(), err)
		}
		body = b
	}
	path := req.URL.RequestURI()
	sr := &wire.StubRequest{Method: req.Method, Path: path, Body: body}
	if sr.Method == "" {
		sr.Method = http.MethodGet
	}
	for k, v := range req.Header {
		sr.Headers = append(sr.Headers, wire.Header{Name: k, Values: v})
	}
	resp, err := call(req.Context(), s.what()+": "+sr.Method+" "+path,
		&wire.ObjectRequest{Op: wire.ObjectOpStubFetch, Binding: s.binding, ID: s.id, Name: s.name, Request: sr})
	if err != nil {
		return nil, err
	}
	if resp.Response == nil {
		return nil, fmt.Errorf("objects: %s: %s %s: the host returned no response", s.what(), sr.Method, path)
	}
	return toHTTP(resp.Response, req), nil
}

// Call is Fetch for a request built from its parts: path is the path
// and query ("/incr?by=2").
func (s *Stub) Call(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://object"+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("objects: %s: %w", s.what(), err)
	}
	return s.Fetch(req)
}

func (s *Stub) what() string {
	if s.id != "" {
		return s.binding + " " + s.id
	}
	return fmt.Sprintf("%s %q", s.binding, s.name)
}

func toHTTP(r *wire.StubResponse, req *http.Request) *http.Response {
	h := make(http.Header, len(r.Headers))
	for _, hd := range r.Headers {
		k := http.CanonicalHeaderKey(hd.Name)
		h[k] = append(h[k], hd.Values...)
	}
	return &http.Response{
		Status:        strconv.Itoa(r.Status) + " " + http.StatusText(r.Status),
		StatusCode:    r.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(r.Body)),
		ContentLength: int64(len(r.Body)),
		Request:       req,
	}
}
