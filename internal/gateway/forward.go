package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Forwarding object requests between nodes. An object lives on the node
// that holds its lease; a request for it that reaches another node (the
// load balancer knows nothing of objects) is sent on to the owner, once:
// the owner does not forward it again (if the object moved meanwhile, the
// answer is 503 and the client retries). A forwarded request carries
// ForwardHeader, "<node> <unix seconds> <hex HMAC-SHA256>" over the node,
// the time, the method and the request URI, keyed by NodeKey (derived
// from the secret key every node shares), so a client cannot pass a
// request off as forwarded: a bad or stale credential is refused (403).
// What a client could gain by faking one is little (its request would
// not be forwarded again), but a request the nodes did not send has no
// business claiming to be theirs.

// ForwardHeader marks a request forwarded by another node.
const ForwardHeader = "X-Strata-Forwarded"

// forwardSkew is how old (or how far ahead) a forwarded request's time
// may be.
const forwardSkew = 30 * time.Second

func forwardMAC(key []byte, node string, ts int64, method, uri string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(node + "\n" + strconv.FormatInt(ts, 10) + "\n" + method + "\n" + uri))
	return hex.EncodeToString(m.Sum(nil))
}

// checkForwarded reports whether r was forwarded by another node; a
// request claiming to be whose credential does not verify is answered
// 403 (ok false). The header is removed: the object does not see it.
func (g *Gateway) checkForwarded(w http.ResponseWriter, r *http.Request) (forwarded, ok bool) {
	v := r.Header.Get(ForwardHeader)
	if v == "" {
		return false, true
	}
	r.Header.Del(ForwardHeader)
	parts := strings.Fields(v)
	if len(parts) == 3 && len(g.cfg.NodeKey) > 0 {
		ts, err := strconv.ParseInt(parts[1], 10, 64)
		age := time.Since(time.Unix(ts, 0))
		want := forwardMAC(g.cfg.NodeKey, parts[0], ts, r.Method, r.URL.RequestURI())
		if err == nil && age < forwardSkew && age > -forwardSkew && hmac.Equal([]byte(want), []byte(parts[2])) {
			return true, true
		}
	}
	WriteError(w, Errorf(http.StatusForbidden, "%s: not a valid forwarding credential of a node of this cluster", ForwardHeader), "")
	return false, false
}

// forwardClient sends forwarded requests; one per process, so
// connections to the other nodes are reused.
var forwardClient = &http.Client{Timeout: 5 * time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// forwardObject sends r (whose body the gateway already read: body) to
// the node at base and relays its answer. A WebSocket upgrade is proxied
// as a stream, so the socket then runs between the client and the owner.
//
// While a plain request is in flight, the owner's membership is checked
// every half second: an owner declared gone (it died or stalled past its
// lease) no longer answers for the object, so the request ends with 503
// at once instead of waiting out the function's timeout, and the client's
// retry reaches the object's next holder. Whatever the stalled owner was
// doing cannot commit any more (fencing).
func (g *Gateway) forwardObject(w http.ResponseWriter, r *http.Request, owner, base string, body []byte) {
	target, err := url.Parse(base)
	if err != nil {
		WriteError(w, Errorf(http.StatusBadGateway, "object owner address %q: %v", base, err), "")
		return
	}
	ts := time.Now().Unix()
	cred := g.cfg.NodeID + " " + strconv.FormatInt(ts, 10) + " " + forwardMAC(g.cfg.NodeKey, g.cfg.NodeID, ts, r.Method, r.URL.RequestURI())
	if isUpgrade(r) {
		rp := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.Out.URL.Path, pr.Out.URL.RawPath, pr.Out.URL.RawQuery = r.URL.Path, r.URL.RawPath, r.URL.RawQuery
				pr.Out.Host = r.Host
				pr.SetXForwarded()
				pr.Out.Header.Set(ForwardHeader, cred)
			},
			ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
				WriteError(w, Errorf(http.StatusBadGateway, "forward to the object's node: %v", err), "")
			},
		}
		rp.ServeHTTP(w, r)
		return
	}
	u := *target
	u.Path, u.RawPath, u.RawQuery = r.URL.Path, r.URL.RawPath, r.URL.RawQuery
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(r.Context()))
	defer cancel(nil)
	go g.watchOwner(ctx, cancel, owner)
	out, err := http.NewRequestWithContext(ctx, r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		WriteError(w, Errorf(http.StatusBadGateway, "forward to the object's node: %v", err), "")
		return
	}
	for k, vs := range r.Header {
		if hopHeader(k) {
			continue
		}
		out.Header[k] = vs
	}
	out.Host = r.Host
	out.Header.Set(ForwardHeader, cred)
	out.Header.Set("X-Forwarded-For", clientIP(r))
	resp, err := forwardClient.Do(out)
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, errOwnerGone) {
			WriteError(w, Errorf(http.StatusServiceUnavailable, "%v", cause), "")
			return
		}
		WriteError(w, Errorf(http.StatusBadGateway, "forward to the object's node: %v", err), "")
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		if !hopHeader(k) {
			w.Header()[k] = vs
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// errOwnerGone ends a forward whose owner was declared gone meanwhile.
var errOwnerGone = errors.New("the node holding the object stopped answering (declared gone); retry the request, it reaches the object's next holder")

// watchOwner cancels ctx with errOwnerGone once owner is no longer a
// serving or draining node, checking every half second until ctx ends.
func (g *Gateway) watchOwner(ctx context.Context, cancel context.CancelCauseFunc, owner string) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	misses := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Two checks in a row: one failed read of the membership is not
		// a gone node.
		if _, ok := g.cfg.Owners(ctx, owner); ok {
			misses = 0
		} else if misses++; misses == 2 && ctx.Err() == nil {
			cancel(errOwnerGone)
			return
		}
	}
}

// hopHeader reports a hop-by-hop header, which a proxy does not pass on.
func hopHeader(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Proxy-Authorization", "Proxy-Authenticate":
		return true
	}
	return false
}

func clientIP(r *http.Request) string {
	host, _, ok := strings.Cut(r.RemoteAddr, ":")
	if i := strings.LastIndexByte(r.RemoteAddr, ':'); i > 0 {
		host, ok = r.RemoteAddr[:i], true
	}
	if !ok {
		return r.RemoteAddr
	}
	return strings.Trim(host, "[]")
}

// Stub calls between nodes. A function's stub call to an object held by
// another node goes to that node's stubForwardPath: a POST of the object
// and the request as JSON, with ForwardHeader's credential over the body
// too; the owner runs it on the object there (never forwarding it again)
// and answers the object's response as JSON.
const stubForwardPath = "/_strata/internal/object-call"

// StubCall is the body of a forwarded stub call.
type StubCall struct {
	Project string        `json:"project"`
	Class   string        `json:"class"`
	ID      string        `json:"id"`
	Name    string        `json:"name,omitempty"`
	Request *wire.Request `json:"request"`
}

func bodyMAC(key []byte, node string, ts int64, body []byte) string {
	sum := sha256.Sum256(body)
	return forwardMAC(key, node, ts, http.MethodPost, stubForwardPath+"\n"+hex.EncodeToString(sum[:]))
}

// ForwardStub runs call on the object's owner at base (scheme://host:port)
// and returns the object's response.
func (g *Gateway) ForwardStub(ctx context.Context, base string, call StubCall) (*wire.Response, error) {
	body, err := json.Marshal(call)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+stubForwardPath, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	ts := time.Now().Unix()
	req.Header.Set(ForwardHeader, g.cfg.NodeID+" "+strconv.FormatInt(ts, 10)+" "+bodyMAC(g.cfg.NodeKey, g.cfg.NodeID, ts, body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := forwardClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("forward the stub call to the object's node: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the object's node answered the forwarded stub call %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	var out wire.Response
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// serveStubForward runs a stub call another node forwarded here.
func (g *Gateway) serveStubForward(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || g.cfg.Objects == nil || len(g.cfg.NodeKey) == 0 {
		WriteError(w, Errorf(http.StatusNotFound, "no such path"), "")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, g.cfg.MaxBody+1<<20))
	if err != nil {
		WriteError(w, Errorf(http.StatusBadRequest, "read the forwarded call: %v", err), "")
		return
	}
	parts := strings.Fields(r.Header.Get(ForwardHeader))
	valid := false
	if len(parts) == 3 {
		ts, err := strconv.ParseInt(parts[1], 10, 64)
		age := time.Since(time.Unix(ts, 0))
		valid = err == nil && age < forwardSkew && age > -forwardSkew &&
			hmac.Equal([]byte(bodyMAC(g.cfg.NodeKey, parts[0], ts, body)), []byte(parts[2]))
	}
	if !valid {
		WriteError(w, Errorf(http.StatusForbidden, "%s: not a valid forwarding credential of a node of this cluster", ForwardHeader), "")
		return
	}
	var call StubCall
	if err := json.Unmarshal(body, &call); err != nil || call.Request == nil {
		WriteError(w, Errorf(http.StatusBadRequest, "decode the forwarded call: %v", err), "")
		return
	}
	res, err := g.cfg.Objects.Fetch(r.Context(), call.Project, call.Class, call.Name, call.ID, call.Request)
	if err == nil && res.Accept != nil {
		err = errors.New("the object accepted a WebSocket from a stub call")
	}
	if err != nil {
		code := http.StatusBadGateway
		if errors.Is(err, store.ErrLeaseHeld) {
			code = http.StatusServiceUnavailable
		}
		WriteError(w, Errorf(code, "%v", err), "")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res.Response)
}
