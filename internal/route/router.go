package route

import (
	"errors"
	"fmt"
	"strings"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/sdk/go/wire"
)

// anyIndex is the slot of method "*" in an endpoint; slots below it follow
// methodIndex.
const anyIndex = 7

// literalMapMin is the number of literal children from which a node switches
// from a linear scan to a map. Most nodes have a handful of children, where
// comparing strings beats hashing.
const literalMapMin = 8

// Router matches request methods and paths against a fixed set of routes. It
// is immutable once built and safe for concurrent use; the gateway builds a
// new one when routes change.
type Router struct {
	root node
}

// handler is what one route leads to.
type handler struct {
	fn    string
	route record.Route
	// slots maps each capture (parameter or catch-all, in path order) to its
	// index in the returned params, or -1 for an unnamed "*" catch-all.
	slots   []int
	names   []string // parameter names, in params order
	nparams int
}

// endpoint holds the handlers of the routes that end at one node, by method.
type endpoint [anyIndex + 1]*handler

type node struct {
	litKeys  []string
	litNodes []*node
	litMap   map[string]*node // replaces litKeys/litNodes when there are many
	param    *node            // {name}
	catchAll *endpoint        // {name...} or * as the last segment
	end      *endpoint        // routes that end here
}

// NewRouter builds a router from routes (of all projects). A route that does
// not parse, or that clashes with an earlier one (same method and shape),
// is left out and reported in the error; deploys prevent both, so this only
// happens with bad stored data. The returned router is usable even then,
// serving every other route, so one bad row cannot take the gateway down.
func NewRouter(routes []record.Route) (*Router, error) {
	r := &Router{}
	var errs []error
	for _, rt := range routes {
		p, err := New(rt.Method, rt.Path)
		if err != nil {
			errs = append(errs, fmt.Errorf("route %s %s of function %q: %w", rt.Method, rt.Path, rt.Function, err))
			continue
		}
		if err := r.add(p, rt); err != nil {
			errs = append(errs, err)
		}
	}
	r.root.finish()
	return r, errors.Join(errs...)
}

func (r *Router) add(p Pattern, rt record.Route) error {
	h := &handler{fn: rt.Function, route: rt}
	n := &r.root
	var ep **endpoint
	for _, s := range p.Segments {
		switch s.Kind {
		case Literal:
			n = n.literalChild(s.Value)
		case Param:
			if n.param == nil {
				n.param = &node{}
			}
			n = n.param
			h.addCapture(s.Value)
		case CatchAll:
			ep = &n.catchAll
			h.addCapture(s.Value)
		}
	}
	if ep == nil {
		ep = &n.end
	}
	if *ep == nil {
		*ep = &endpoint{}
	}
	slot := anyIndex
	if p.Method != Any {
		slot = methodIndex(p.Method)
	}
	if old := (*ep)[slot]; old != nil {
		return fmt.Errorf("route %s %s (project %q, function %q) clashes with %s %s (project %q, function %q)",
			rt.Method, rt.Path, rt.Project, rt.Function,
			old.route.Method, old.route.Path, old.route.Project, old.route.Function)
	}
	(*ep)[slot] = h
	return nil
}

func (h *handler) addCapture(name string) {
	if name == "" {
		h.slots = append(h.slots, -1)
		return
	}
	h.slots = append(h.slots, h.nparams)
	h.names = append(h.names, name)
	h.nparams++
}

func (n *node) literalChild(seg string) *node {
	for i, k := range n.litKeys {
		if k == seg {
			return n.litNodes[i]
		}
	}
	c := &node{}
	n.litKeys = append(n.litKeys, seg)
	n.litNodes = append(n.litNodes, c)
	return c
}

// finish switches wide nodes to map lookups once all routes are in.
func (n *node) finish() {
	if len(n.litKeys) >= literalMapMin {
		n.litMap = make(map[string]*node, len(n.litKeys))
		for i, k := range n.litKeys {
			n.litMap[k] = n.litNodes[i]
		}
	}
	for _, c := range n.litNodes {
		c.finish()
	}
	if n.param != nil {
		n.param.finish()
	}
}

func (n *node) child(seg string) *node {
	if n.litMap != nil {
		return n.litMap[seg]
	}
	for i, k := range n.litKeys {
		if k == seg {
			return n.litNodes[i]
		}
	}
	return nil
}

// matcher is the state of one Match call. It lives on the caller's stack.
type matcher struct {
	method  int // methodIndex of the request method, -1 if not a route method
	allowed uint8
	h       *handler
	params  []wire.Param
}

// Match finds the function for a request. The path must be the unescaped
// URL path, starting with "/". On success it returns the function and the
// captured parameters (nil when the route has none). When no route matches
// both, allowed lists the methods that a route on this path accepts, for a
// 405 answer with an Allow header; it is nil when no route matches the path
// at all (404).
//
// Precedence, per segment from left to right: a literal beats a {param},
// which beats a catch-all; a route is skipped, and the next candidate tried,
// when its method does not fit. Among routes with the same shape, the
// request's own method beats "*"; HEAD uses a GET route when there is no HEAD
// route.
func (r *Router) Match(method, path string) (fn string, params []wire.Param, allowed []string, ok bool) {
	if path == "" || path[0] != '/' {
		return "", nil, nil, false
	}
	m := matcher{method: methodIndex(method)}
	if m.walk(&r.root, path[1:], true, 0) {
		return m.h.fn, m.params, nil, true
	}
	return "", nil, m.allowedMethods(), false
}

// MatchRoute is Match returning the whole stored route, so the gateway can
// read its attributes (async, rate limit) from the route it matched. The
// route belongs to the router: callers must not modify it. It does not
// allocate more than Match.
func (r *Router) MatchRoute(method, path string) (rt *record.Route, params []wire.Param, allowed []string, ok bool) {
	if path == "" || path[0] != '/' {
		return nil, nil, nil, false
	}
	m := matcher{method: methodIndex(method)}
	if m.walk(&r.root, path[1:], true, 0) {
		return &m.h.route, m.params, nil, true
	}
	return nil, nil, m.allowedMethods(), false
}

func (m *matcher) allowedMethods() []string {
	if m.allowed == 0 {
		return nil
	}
	allowed := make([]string, 0, 8)
	for i, name := range Methods {
		if m.allowed&(1<<i) != 0 {
			allowed = append(allowed, name)
		}
	}
	return allowed
}

// walk tries to match rest (the path after the slash that ends the part
// already matched by n). more is false once the whole path is consumed.
// depth counts the captures made so far. Captured values are filled in on
// the way back up, once a handler has been found and the params sized, so a
// route without parameters never allocates.
func (m *matcher) walk(n *node, rest string, more bool, depth int) bool {
	if !more {
		return m.pick(n.end)
	}
	seg, next, hasNext := rest, "", false
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		seg, next, hasNext = rest[:i], rest[i+1:], true
	}
	if c := n.child(seg); c != nil && m.walk(c, next, hasNext, depth) {
		return true
	}
	if n.param != nil && seg != "" && m.walk(n.param, next, hasNext, depth+1) {
		m.capture(depth, seg)
		return true
	}
	if m.pick(n.catchAll) {
		m.capture(depth, rest)
		return true
	}
	return false
}

// pick chooses the handler of e for the request method, or records which
// methods e would have allowed.
func (m *matcher) pick(e *endpoint) bool {
	if e == nil {
		return false
	}
	var h *handler
	switch {
	case m.method >= 0 && e[m.method] != nil:
		h = e[m.method]
	case m.method == 1 && e[0] != nil: // HEAD falls back to GET
		h = e[0]
	case e[anyIndex] != nil:
		h = e[anyIndex]
	default:
		for i := range anyIndex {
			if e[i] != nil {
				m.allowed |= 1 << i
			}
		}
		if e[0] != nil {
			m.allowed |= 1 << 1 // a GET route serves HEAD too
		}
		return false
	}
	m.h = h
	if h.nparams > 0 {
		m.params = make([]wire.Param, h.nparams)
		for i, name := range h.names {
			m.params[i].Name = name
		}
	}
	return true
}

func (m *matcher) capture(depth int, value string) {
	if i := m.h.slots[depth]; i >= 0 {
		m.params[i].Value = value
	}
}
