package bindings

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/internal/trace"
	"github.com/stratahq/strata/sdk/go/wire"
)

const maxRedirects = 5

// specialPrefixes are ranges fetch refuses besides loopback, RFC 1918 and
// fc00::/7 private, link-local, multicast and unspecified addresses: none
// is a public service, and several reach back into the host or its
// network (NAT64 and 6to4 embed IPv4 addresses; the CGNAT range is
// private in practice).
var specialPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (CGNAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated)
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments (Teredo among them)
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
}

// neverAllowed explains the refusals that fetch_private does not lift.
// The unspecified address (0.0.0.0, ::) is "this host": Linux connects it
// to loopback, so it would be a second spelling of 127.0.0.1 that no
// allow-list entry names. Refusing it always (rather than treating it as
// loopback) keeps one spelling per service: a function that must reach
// this host lists 127.0.0.1 or [::1] and sets fetch_private.
var neverAllowed = map[string]string{
	"unspecified": "the unspecified address means this host itself and is never a server's address, so fetch refuses it even with fetch_private (to reach a service on this host, list 127.0.0.1 or [::1] and set fetch_private)",
	"multicast":   "a multicast address is never a server's, so fetch refuses it even with fetch_private",
}

// refusal says why fetch may not connect to a, or "" if it may. Only
// private callers (FetchPrivate) reach loopback, private, link-local and
// special addresses; nobody reaches unspecified or multicast ones (see
// neverAllowed).
func refusal(a netip.Addr, private bool) string {
	a = a.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	switch {
	case !a.IsValid():
		return "invalid"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsMulticast():
		return "multicast"
	case private:
		return ""
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast():
		return "link-local" // 169.254.169.254, the cloud metadata service, among them
	}
	for _, p := range specialPrefixes {
		if p.Contains(a) {
			return "special-purpose"
		}
	}
	return ""
}

// allowed reports whether the function's allow-list admits u. An entry
// without a port admits only the scheme's default port; "*.example.org"
// admits subdomains, not example.org itself.
func allowed(list []string, u *url.URL) bool {
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	port := u.Port()
	if port == "" {
		port = defaultPort(u.Scheme)
	}
	for _, entry := range list {
		eh, ep := strings.ToLower(entry), ""
		if h, p, err := net.SplitHostPort(eh); err == nil {
			eh, ep = h, p
		} else {
			eh = strings.Trim(eh, "[]")
		}
		eh = strings.TrimSuffix(eh, ".")
		if ep == "" {
			ep = defaultPort(u.Scheme)
		}
		if ep != port {
			continue
		}
		if suffix, ok := strings.CutPrefix(eh, "*."); ok {
			if strings.HasSuffix(host, "."+suffix) {
				return true
			}
			continue
		}
		if eh == host {
			return true
		}
	}
	return false
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// fetchCallerKey carries the calling invocation from Fetch to the
// redirect check of its request, and nowhere else.
type fetchCallerKey struct{}

// checkURL applies the scheme and allow-list rules to a request or
// redirect target.
func checkURL(c *host.Call, u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("fetch %s: only http and https are allowed: %w", u.Redacted(), ErrNotPermitted)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("fetch %s: no host: %w", u.Redacted(), ErrBadRequest)
	}
	if !allowed(c.Config.Fetch, u) {
		return fmt.Errorf("fetch %s: host %s is not in the fetch allow-list of function %s (add it under fetch: in the manifest): %w",
			u.Redacted(), u.Host, c, ErrNotPermitted)
	}
	return nil
}

func (b *Bindings) newFetchClient(private bool) *http.Client {
	t := &http.Transport{
		Proxy: nil, // never an environment proxy: it would dial names we did not check
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return b.dialChecked(ctx, network, addr, private)
		},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       60 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: t,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("fetch %s: more than %d redirects: %w", via[0].URL.Redacted(), maxRedirects, ErrLimit)
			}
			c, _ := req.Context().Value(fetchCallerKey{}).(*host.Call)
			if err := checkCaller(c, "fetch redirect"); err != nil {
				return err
			}
			if err := checkURL(c, req.URL); err != nil {
				return fmt.Errorf("redirect: %w", err)
			}
			return nil
		},
	}
}

// dialChecked resolves the host once, refuses forbidden addresses, and
// dials the checked IP itself, so a second lookup cannot hand the
// connection a different address (DNS rebinding).
func (b *Bindings) dialChecked(ctx context.Context, network, addr string, private bool) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("fetch: bad address %q: %w", addr, err)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		addrs, err = b.cfg.Resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("fetch: resolve %s: %w", host, err)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("fetch: %s has no addresses", host)
		}
	}
	// One refused address refuses the name: a name answering with both a
	// public and an internal address is a rebinding attempt, not a
	// service.
	for _, a := range addrs {
		why := refusal(a, private)
		if why == "" {
			continue
		}
		if never, ok := neverAllowed[why]; ok {
			return nil, fmt.Errorf("fetch: %s resolves to %s, a %s address: %s: %w", host, a, why, never, ErrNotPermitted)
		}
		return nil, fmt.Errorf("fetch: %s resolves to %s, a %s address (allowed only with fetch_private): %w", host, a, why, ErrNotPermitted)
	}
	var errs []error
	for _, a := range addrs {
		conn, err := b.cfg.Dialer.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("fetch: connect to %s: %w", host, errors.Join(errs...))
}

// Fetch makes an outbound HTTP request for the calling function, within
// its allow-list. Any HTTP status is a response, not an error.
func (b *Bindings) Fetch(ctx context.Context, c *host.Call, req wire.FetchRequest) (*wire.FetchResponse, error) {
	if err := checkCaller(c, "fetch"); err != nil {
		return nil, err
	}
	if len(c.Config.Fetch) == 0 {
		return nil, fmt.Errorf("fetch %s: function %s has no fetch allow-list (list hosts under fetch: in the manifest): %w", req.URL, c, ErrNotPermitted)
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w: %w", err, ErrBadRequest)
	}
	if err := checkURL(c, u); err != nil {
		return nil, err
	}
	if int64(len(req.Body)) > b.cfg.MaxFetchBody {
		return nil, fmt.Errorf("fetch %s: request body is %d bytes, limit %d: %w", u.Redacted(), len(req.Body), b.cfg.MaxFetchBody, ErrLimit)
	}

	timeout := maxFetchTimeout
	if req.TimeoutMS > 0 && time.Duration(req.TimeoutMS)*time.Millisecond < timeout {
		timeout = time.Duration(req.TimeoutMS) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if !c.Deadline.IsZero() {
		ctx, cancel = context.WithDeadline(ctx, c.Deadline)
		defer cancel()
	}

	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	// The redirect check (CheckRedirect) applies the caller's allow-list
	// to every hop; net/http hands it only the request, so the caller
	// rides on the request's context, privately to this file.
	hr, err := http.NewRequestWithContext(context.WithValue(ctx, fetchCallerKey{}, c), method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w: %w", u.Redacted(), err, ErrBadRequest)
	}
	for _, h := range req.Headers {
		if strings.EqualFold(h.Name, "Host") {
			continue // the URL names the host; a different Host header is not ours to send
		}
		for _, v := range h.Values {
			hr.Header.Add(h.Name, v)
		}
	}
	// The fetch's own span (in ctx when tracing) is the parent the
	// server called continues; else the invocation's.
	if tp := trace.HeaderOr(ctx, c.TraceParent); tp != "" && hr.Header.Get("Traceparent") == "" {
		hr.Header.Set("Traceparent", tp)
	}

	client := b.fetchPublic
	if c.Config.FetchPrivate {
		client = b.fetchPrivate
	}
	resp, err := client.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, b.cfg.MaxFetchBody+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: read body: %w", u.Redacted(), err)
	}
	if int64(len(data)) > b.cfg.MaxFetchBody {
		return nil, fmt.Errorf("fetch %s: response body exceeds %d bytes: %w", u.Redacted(), b.cfg.MaxFetchBody, ErrLimit)
	}
	out := &wire.FetchResponse{Status: resp.StatusCode, Body: data, URL: resp.Request.URL.String()}
	names := make([]string, 0, len(resp.Header))
	for name := range resp.Header {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		out.Headers = append(out.Headers, wire.FetchHeader{Name: name, Values: resp.Header[name]})
	}
	return out, nil
}
