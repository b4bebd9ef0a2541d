package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/stratahq/strata/internal/objects"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Objects runs the events of durable objects (*objects.Engine).
type Objects interface {
	Fetch(ctx context.Context, project, class, name, id string, req *wire.Request) (*objects.Result, error)
	// Upgrade completes the WebSocket an object accepted in res: w and r
	// are the client's, and the socket belongs to the object from now on.
	Upgrade(w http.ResponseWriter, r *http.Request, res *objects.Result) error
}

// serveObject forwards an object route's request to the object whose id
// derives from the route's parameter: the route names the class, the
// project is the route's, so a request reaches only objects of the
// project that deployed the route.
func (g *Gateway) serveObject(w http.ResponseWriter, r *http.Request, rt *record.Route, params []wire.Param) {
	if g.cfg.Objects == nil {
		WriteError(w, Errorf(http.StatusServiceUnavailable, "durable objects are not available on this node"), "")
		return
	}
	name := ""
	for _, p := range params {
		if p.Name == rt.ObjectParam {
			name = p.Value
		}
	}
	if name == "" {
		WriteError(w, Errorf(http.StatusBadRequest, "route %s %s: the object name (path parameter {%s}) is empty", rt.Method, rt.Path, rt.ObjectParam), "")
		return
	}
	forwarded, ok := g.checkForwarded(w, r)
	if !ok {
		return
	}
	c := g.calls.Get().(*call)
	defer g.putCall(c)
	if !g.read(w, r, c, params) {
		return
	}
	if isUpgrade(r) {
		// The object sees the client's upgrade request as it came, so it
		// can tell a WebSocket from a plain request (the gateway strips
		// hop-by-hop headers from what functions see otherwise).
		c.req.Headers = append(c.req.Headers,
			wire.Header{Name: "Upgrade", Values: []string{r.Header.Get("Upgrade")}},
			wire.Header{Name: "Connection", Values: []string{"Upgrade"}})
	}
	res, err := g.cfg.Objects.Fetch(r.Context(), rt.Project, rt.Object, name, "", &c.req)
	if err == nil && res.Accept != nil {
		if !isUpgrade(r) {
			WriteError(w, Errorf(http.StatusBadGateway, "object %s accepted a WebSocket on a request that is not an upgrade", rt.Object), res.InvocationID)
			return
		}
		if err := g.cfg.Objects.Upgrade(w, r, res); err != nil {
			g.cfg.Logger.Warn("WebSocket upgrade failed", "object", rt.Object, "err", err)
		}
		return
	}
	var held *store.LeaseHeldError
	if err != nil && !forwarded && errors.As(err, &held) && g.cfg.Owners != nil && held.Owner != g.cfg.NodeID {
		if base, ok := g.cfg.Owners(r.Context(), held.Owner); ok {
			g.forwardObject(w, r, held.Owner, base, c.req.Body)
			return
		}
	}
	ir := res.Invocation()
	if err != nil {
		switch {
		case errors.Is(err, objects.ErrBadID), errors.Is(err, objects.ErrBadRequest):
			err = &StatusError{Code: http.StatusBadRequest, Err: err}
		case errors.Is(err, objects.ErrNoClass):
			err = &StatusError{Code: http.StatusNotFound, Err: err}
		case errors.Is(err, objects.ErrOverloaded), errors.Is(err, store.ErrLeaseHeld):
			err = &StatusError{Code: http.StatusServiceUnavailable, Err: err}
		}
	}
	g.writeResult(w, r, rt.Function, ir, err)
}

func isUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

// headerHasToken reports whether a comma-separated header of h lists
// token (case-insensitively), as Connection: keep-alive, Upgrade does.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
