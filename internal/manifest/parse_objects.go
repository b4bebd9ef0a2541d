package manifest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/stratahq/strata/internal/deploy"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/route"
)

// objectKeys are the known keys of a durable object class.
var objectKeys = []string{"function", "idle_timeout", "storage_limit", "cpu_ms"}

// objects reads the top-level objects: section. Which functions exist is
// checked in checkObjects, since they may come later in the file.
func (p *parser) objects(e entry) []Object {
	return readSection(p, e, "objects", "object class", p.object, func(o Object) string { return o.Name })
}

func (p *parser) object(e entry) Object {
	field := "objects." + e.key
	o := Object{Name: e.key, Pos: e.pos}
	if err := deploy.ValidateClassName(e.key); err != nil {
		p.addf(e.pos, field, "class name %v", err)
	}
	o.Function, o.fnPos = p.functionSettings(e, field, objectKeys, "defines class", "rooms", func(s entry, sf string) {
		switch s.key {
		case "idle_timeout":
			o.IdleTimeout = p.duration(s, sf, deploy.IdleTimeoutRule, deploy.ValidateObjectIdleTimeout)
		case "storage_limit":
			o.StorageLimit = p.size(s, sf, deploy.StorageLimitRule, deploy.ValidateObjectStorageLimit)
		case "cpu_ms":
			o.cpuPos = valuePos(s)
			o.CPUMS = p.cpuMS(s, sf)
		}
	})
	return o
}

// size reads a size with a binary unit ("50MiB"). A bare number is an
// error with a hint, as for durations: bytes are rarely what was meant.
func (p *parser) size(e entry, field, rule string, check func(int64) error) int64 {
	pos := valuePos(e)
	s, ok := str(e.value)
	if !ok {
		if _, isInt := e.value.(*ast.IntegerNode); isInt {
			p.addf(pos, field, "%s, got %s; a number needs a unit, e.g. \"%sB\" for bytes", rule, describe(e.value), describe(e.value))
		} else {
			p.addf(pos, field, "%s, got %s", rule, describe(e.value))
		}
		return 0
	}
	n, err := deploy.ParseSize(s)
	if err != nil {
		p.addf(pos, field, "%s, got %s", rule, describe(e.value))
		return 0
	}
	if err := check(n); err != nil {
		p.addf(pos, field, "%v", err)
	}
	return n
}

// routeOpts remembers where a route's object settings are, for the checks
// that need its parsed path or every class of the file.
type routeOpts struct {
	objKey, objPos Position // of object: and of its value
	id             string
	idSet          bool
	idKey, idPos   Position
	wsKey          Position
}

// routeObjectKey reads a route's object:, id: or websocket:.
func (p *parser) routeObjectKey(rt *Route, ro *routeOpts, s entry, field string) {
	if s.value == nil {
		return
	}
	switch s.key {
	case "object":
		name, ok := str(s.value)
		if !ok || name == "" {
			p.addf(valuePos(s), field, "must be the name of an object class of this project, got %s", describe(s.value))
			return
		}
		rt.Object, ro.objKey, ro.objPos = name, s.pos, valuePos(s)
	case "id":
		name, ok := str(s.value)
		if !ok || name == "" {
			p.addf(valuePos(s), field, "must be the name of a parameter of the route's path, got %s", describe(s.value))
			return
		}
		ro.id, ro.idSet, ro.idKey, ro.idPos = name, true, s.pos, valuePos(s)
	case "websocket":
		ro.wsKey = s.pos
		rt.WebSocket = p.boolean(s, field)
	}
}

// checkRouteTargets checks that a route does one thing: invoke its
// function (perhaps async), start a workflow, forward to an object, or
// serve a WebSocket.
func (p *parser) checkRouteTargets(rt *Route, ro *routeOpts, field string, asyncPos, workflowPos Position) {
	if rt.WebSocket {
		var also []string
		if rt.Async {
			also = append(also, "be async")
		}
		if rt.Workflow != "" {
			also = append(also, "start a workflow")
		}
		if rt.Object != "" {
			also = append(also, "forward to an object")
		}
		if len(also) > 0 {
			p.addf(ro.wsKey, join(field, "websocket"), "a websocket route cannot also %s: the connection's events go to the function itself", strings.Join(also, " or "))
			rt.Async, rt.Workflow, rt.Object = false, "", ""
		}
	}
	if rt.Object != "" && rt.Workflow != "" {
		pos, key := ro.objKey, "object"
		if later(ro.objKey, workflowPos) == workflowPos {
			pos, key = workflowPos, "workflow"
		}
		p.addf(pos, join(field, key), "a route either forwards to an object or starts a workflow, not both")
		rt.Object = ""
	}
	if rt.Object != "" && rt.Async {
		p.addf(asyncPos, join(field, "async"), "a route that forwards to an object cannot be async: the object answers the request itself")
		rt.Async = false
	}
	if ro.idSet && rt.Object == "" && ro.objKey.Line == 0 {
		p.addf(ro.idKey, join(field, "id"), "names the path parameter an object's id derives from; it needs object: too")
	}
}

// routeTarget checks what a route's object: and websocket: need of its
// parsed path: a WebSocket upgrade is a GET, and an object's id comes from
// one parameter of the path.
func (p *parser) routeTarget(rt *Route, ro routeOpts, pat route.Pattern, text, field string, pos Position, fn string) {
	if rt.WebSocket && pat.Method != "GET" && pat.Method != route.Any {
		p.addf(pos, field, "a websocket route's method must be GET or none (a WebSocket handshake is a GET), got %s", pat.Method)
	}
	if rt.Object == "" {
		return
	}
	params := pat.Params()
	objField := join(field, "object")
	switch {
	case ro.idSet && !slices.Contains(params, ro.id):
		idField := join(field, "id")
		switch s := suggest(ro.id, params); {
		case len(params) == 0:
			p.addf(ro.idPos, idField, "%q is not a parameter of route %q, which has none; add one, e.g. \"GET /rooms/{%s}\"", ro.id, text, ro.id)
		case s != "":
			p.addf(ro.idPos, idField, "%q is not a parameter of route %q; did you mean %q?", ro.id, text, s)
		default:
			p.addf(ro.idPos, idField, "%q is not a parameter of route %q; its parameters are %s", ro.id, text, strings.Join(params, ", "))
		}
	case ro.idSet:
		rt.ObjectParam = ro.id
	case len(params) == 1:
		rt.ObjectParam = params[0]
	case len(params) == 0:
		p.addf(ro.objPos, objField, "route %q has no path parameter for the object's id to derive from; add one, e.g. \"GET /rooms/{name}\"", text)
	default:
		p.addf(ro.objPos, objField, "route %q has parameters %s; say which one names the object with id:", text, strings.Join(params, ", "))
	}
	p.objRefs = append(p.objRefs, ref{kind: "object class", name: rt.Object, pos: ro.objPos, field: objField, consumer: fn})
}

// checkObjects checks each class's function and hands the class to it,
// then checks the classes that routes forward to: a route forwards to one
// of its own function's classes, because the function whose code defines
// a class is the one that runs its objects.
func (p *parser) checkObjects(m *Manifest) {
	fns := map[string]*Function{}
	var names []string
	for i := range m.Functions {
		fns[m.Functions[i].Name] = &m.Functions[i]
		names = append(names, m.Functions[i].Name)
	}
	byName := map[string]Object{}
	var classes []string
	for _, o := range m.Objects {
		byName[o.Name] = o
		classes = append(classes, o.Name)
		if o.Function == "" || len(m.Functions) == 0 {
			continue // reported already: no function, or no functions at all
		}
		field := "objects." + o.Name + ".function"
		f, ok := fns[o.Function]
		if !ok {
			p.unknownName(ref{kind: "function", name: o.Function, pos: o.fnPos, field: field}, names)
			continue
		}
		if f.Kind == record.KindCommand {
			p.addf(o.fnPos, field, "function %q is a command module (kind: command); durable objects run in reactor functions built with the Go SDK", f.Name)
			continue
		}
		p.checkCPU(o.CPUMS, *f, o.cpuPos, "objects."+o.Name+".cpu_ms", fmt.Sprintf(" (the timeout is function %q's)", f.Name))
		f.Objects = append(f.Objects, record.ObjectClass{
			Name:              o.Name,
			IdleTimeoutMS:     o.IdleTimeout.Milliseconds(),
			StorageLimitBytes: o.StorageLimit,
			CPUMS:             o.CPUMS,
		})
	}
	for _, r := range p.objRefs {
		o, ok := byName[r.name]
		switch {
		case !ok:
			p.unknownClass(r, classes)
		case o.Function != "" && o.Function != r.consumer:
			p.addf(r.pos, r.field, "object class %q is defined by function %q (%s:%s); a route that forwards to it must be one of that function's routes",
				r.name, o.Function, p.file, o.Pos)
		}
	}
}

// unknownClass reports a reference to an object class the file does not
// declare.
func (p *parser) unknownClass(r ref, known []string) {
	switch {
	case len(known) == 0:
		p.addf(r.pos, r.field, "unknown object class %q; this project declares none (add it under objects:)", r.name)
	case suggest(r.name, known) != "":
		p.addf(r.pos, r.field, "unknown object class %q; did you mean %q?", r.name, suggest(r.name, known))
	default:
		p.addf(r.pos, r.field, "unknown object class %q; the project's classes are %s", r.name, strings.Join(known, ", "))
	}
}
