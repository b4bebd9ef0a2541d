package objects

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/sdk/go/wire"
)

// boundClass is the class a caller reaches under binding: one of its
// object bindings, or a class its own code defines. A function reaches
// only classes of its own project, and only those it declared: the
// project comes from the calling invocation, never from the request.
func boundClass(c *host.Call, binding string) (string, error) {
	for _, b := range c.Config.Bindings {
		if b.Name == binding {
			if b.Kind != record.BindingObject {
				return "", fmt.Errorf("function %s: binding %q is %s, not an object class: %w", c, binding, b.Kind, ErrNotBound)
			}
			return b.Resource, nil
		}
	}
	for _, cls := range c.Config.Objects {
		if cls.Name == binding {
			return cls.Name, nil
		}
	}
	return "", fmt.Errorf("function %s neither binds nor defines object class %q (add it under bindings: in strata.yaml, e.g. bindings: { %s: ClassName }): %w",
		c, binding, binding, ErrNotBound)
}

// stubCall serves the ops a stub makes: ids and fetches.
func (e *Engine) stubCall(ctx context.Context, c *host.Call, req wire.ObjectRequest) (*wire.ObjectResponse, error) {
	class, err := boundClass(c, req.Binding)
	if err != nil {
		return nil, err
	}
	switch req.Op {
	case wire.ObjectOpNewID:
		return &wire.ObjectResponse{ID: NewID()}, nil
	case wire.ObjectOpIDFromName:
		id, err := IDFromName(class, req.Name)
		if err != nil {
			return nil, err
		}
		return &wire.ObjectResponse{ID: id}, nil
	}
	id := req.ID
	if id == "" {
		if id, err = IDFromName(class, req.Name); err != nil {
			return nil, err
		}
	} else if err := CheckID(id); err != nil {
		return nil, err
	}
	if req.Request == nil {
		return nil, fmt.Errorf("stub fetch without a request: %w", ErrBadRequest)
	}
	key := record.ObjectKey{Project: c.Project, Class: class, ID: id}
	var held []*slot
	if l, ok := c.Object.(*live); ok {
		if l.key == key {
			return nil, fmt.Errorf("object %s called itself through a stub: it would wait for its own event to finish: %w", key, ErrBadRequest)
		}
		held = l.held
	}
	path, query, _ := strings.Cut(req.Request.Path, "?")
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	if p, err := url.PathUnescape(path); err == nil {
		path = p
	}
	method := req.Request.Method
	if method == "" {
		method = "GET"
	}
	wr := &wire.Request{
		Method: method, Path: path, RawQuery: query, Host: "object", RemoteAddr: "stub",
		Headers: append([]wire.Header(nil), req.Request.Headers...), Body: req.Request.Body,
	}
	if c.TraceParent != "" {
		wr.Headers = append(wr.Headers, wire.Header{Name: "Traceparent", Values: []string{c.TraceParent}})
	}
	res, err := e.run(ctx, key, req.Name, event{kind: wire.ObjectEventFetch, req: wr, held: held})
	var lh *store.LeaseHeldError
	if err != nil && errors.As(err, &lh) && e.cfg.Forward != nil {
		// Another node holds the object: the call runs there.
		r, ferr := e.cfg.Forward(ctx, lh.Owner, key, req.Name, wr)
		if ferr != nil {
			return nil, fmt.Errorf("%w (and forwarding to its node failed: %v)", err, ferr)
		}
		return &wire.ObjectResponse{Response: &wire.StubResponse{Status: r.Status, Headers: r.Headers, Body: r.Body}}, nil
	}
	if err != nil {
		return nil, err
	}
	if res.Accept != nil {
		return nil, fmt.Errorf("object %s accepted a WebSocket from a stub call: only a client's request through a route can become a WebSocket: %w", key, ErrBadRequest)
	}
	r := res.Response
	return &wire.ObjectResponse{Response: &wire.StubResponse{Status: r.Status, Headers: r.Headers, Body: r.Body}}, nil
}

// Fetch runs an HTTP request (an object route's) on the object called
// name, or with id when name is empty, of class in project.
func (e *Engine) Fetch(ctx context.Context, project, class, name, id string, req *wire.Request) (*Result, error) {
	if id == "" {
		var err error
		if id, err = IDFromName(class, name); err != nil {
			return nil, err
		}
	} else if err := CheckID(id); err != nil {
		return nil, err
	}
	return e.run(ctx, record.ObjectKey{Project: project, Class: class, ID: id}, name, event{kind: wire.ObjectEventFetch, req: req})
}

// Invocation is the event's invocation result, nil when it did not run.
func (r *Result) Invocation() *invoke.Result {
	if r == nil {
		return nil
	}
	return r.Result
}
