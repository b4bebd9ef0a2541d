package bindings

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/sdk/go/wire"
)

// fakeResolver answers from a table and counts lookups.
type fakeResolver struct {
	mu      sync.Mutex
	hosts   map[string][]string
	lookups []string
}

func (r *fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lookups = append(r.lookups, host)
	ips, ok := r.hosts[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, ip := range ips {
		out = append(out, netip.MustParseAddr(ip))
	}
	return out, nil
}

// failDialer fails the test on any dial: refusals must come first.
type failDialer struct{ t *testing.T }

func (d failDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.t.Errorf("dialed %s %s: a refused fetch must never dial", network, addr)
	return nil, errors.New("dial forbidden in this test")
}

// recordDialer dials for real and records the addresses.
type recordDialer struct {
	mu    sync.Mutex
	addrs []string
}

func (d *recordDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.addrs = append(d.addrs, addr)
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func TestFetchRefusesBeforeDialing(t *testing.T) {
	res := &fakeResolver{hosts: map[string][]string{
		"rebind.example.org":   {"127.0.0.1"},
		"private.example.org":  {"10.0.0.1"},
		"metadata.example.org": {"169.254.169.254"},
		"v6.example.org":       {"::1"},
		"mapped.example.org":   {"::ffff:192.168.1.1"},
		"mixed.example.org":    {"93.184.216.34", "10.1.2.3"},
		"cgnat.example.org":    {"100.64.0.1"},
		"nat64.example.org":    {"64:ff9b::a00:1"},
		"ula.example.org":      {"fd00::1"},
		"ll6.example.org":      {"fe80::1"},
	}}
	f := setup(t, func(c *Config) { c.Resolver = res; c.Dialer = failDialer{t} })
	allow := []string{"127.0.0.1", "10.0.0.1", "169.254.169.254", "[::1]", "0.0.0.0", "[::ffff:127.0.0.1]", "*.example.org"}
	ctx := as("app", "i1", record.FunctionConfig{Fetch: allow})

	for _, tt := range []struct {
		url  string
		want string
	}{
		{"http://127.0.0.1/", "loopback"},
		{"http://10.0.0.1/admin", "private"},
		{"http://169.254.169.254/latest/meta-data/", "link-local"},
		{"http://[::1]/", "loopback"},
		{"http://[::ffff:127.0.0.1]/", "loopback"},
		{"http://0.0.0.0/", "unspecified"},
		{"http://rebind.example.org/", "loopback"},
		{"https://private.example.org/", "private"},
		{"http://metadata.example.org/", "link-local"},
		{"http://v6.example.org/", "loopback"},
		{"http://mapped.example.org/", "private"},
		{"http://mixed.example.org/", "private"},
		{"http://cgnat.example.org/", "special-purpose"},
		{"http://nat64.example.org/", "special-purpose"},
		{"http://ula.example.org/", "private"},
		{"http://ll6.example.org/", "link-local"},
	} {
		t.Run(tt.url, func(t *testing.T) {
			_, err := f.b.Fetch(ctx, wire.FetchRequest{URL: tt.url})
			require.ErrorIs(t, err, ErrNotPermitted)
			require.ErrorContains(t, err, tt.want)
		})
	}

	// Off the list, wrong scheme or port, no list at all: refused before
	// even a lookup.
	res.lookups = nil
	for _, tt := range []struct {
		url string
		cfg record.FunctionConfig
	}{
		{"http://evil.org/", record.FunctionConfig{Fetch: allow}},
		{"http://example.org/", record.FunctionConfig{Fetch: allow}}, // *.example.org is subdomains only
		{"http://a.example.org:8080/", record.FunctionConfig{Fetch: allow}},
		{"file:///etc/passwd", record.FunctionConfig{Fetch: allow}},
		{"gopher://a.example.org/", record.FunctionConfig{Fetch: allow}},
		{"http://a.example.org/", record.FunctionConfig{}},
		{"http://127.0.0.1/", record.FunctionConfig{Fetch: []string{"localhost"}}},
	} {
		t.Run("unlisted "+tt.url, func(t *testing.T) {
			_, err := f.b.Fetch(as("app", "i1", tt.cfg), wire.FetchRequest{URL: tt.url})
			require.ErrorIs(t, err, ErrNotPermitted)
		})
	}
	require.Empty(t, res.lookups)

	_, err := f.b.Fetch(context.Background(), wire.FetchRequest{URL: "http://a.example.org/"})
	require.ErrorIs(t, err, ErrNoCaller)
}

// echoServer answers /echo with what it received, and redirects.
func echoServer(t *testing.T) (*httptest.Server, string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Traceparent", r.Header.Get("Traceparent"))
		w.Header().Set("X-Custom", r.Header.Get("X-Custom"))
		w.Header()["X-Bin"] = []string{"caf\xe9"}
		w.Header().Add("X-Multi", "1")
		w.Header().Add("X-Multi", "2")
		w.WriteHeader(http.StatusTeapot)
		w.Write(body)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 2000))
	})
	mux.HandleFunc("/hop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/echo", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://evil.org/steal", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	return srv, u.Port()
}

func TestFetch(t *testing.T) {
	_, port := echoServer(t)
	res := &fakeResolver{hosts: map[string][]string{"api.test": {"127.0.0.1"}, "evil.org": {"127.0.0.1"}}}
	dialer := &recordDialer{}
	f := setup(t, func(c *Config) { c.Resolver = res; c.Dialer = dialer; c.MaxFetchBody = 1000 })
	cfg := record.FunctionConfig{Fetch: []string{"api.test:" + port}, FetchPrivate: true}
	ctx := WithCaller(context.Background(), Caller{Function: "app", Version: 2, InvocationID: "i1", Config: cfg,
		TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
	base := "http://api.test:" + port

	body := []byte{0, 1, 2, 0xff, 0xfe}
	resp, err := f.b.Fetch(ctx, wire.FetchRequest{Method: "PUT", URL: base + "/echo", Body: body,
		Headers: []wire.FetchHeader{{Name: "X-Custom", Values: []string{"hello"}}, {Name: "Host", Values: []string{"evil.org"}}}})
	require.NoError(t, err)
	require.Equal(t, http.StatusTeapot, resp.Status)
	require.Equal(t, body, resp.Body)
	hdr := map[string][]string{}
	for _, h := range resp.Headers {
		hdr[h.Name] = h.Values
	}
	require.Equal(t, []string{"PUT"}, hdr["X-Method"])
	require.Equal(t, []string{"hello"}, hdr["X-Custom"])
	require.Equal(t, []string{"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}, hdr["X-Traceparent"])
	require.Equal(t, []string{"caf\xe9"}, hdr["X-Bin"], "header bytes arrive intact")
	require.Equal(t, []string{"1", "2"}, hdr["X-Multi"])
	dialer.mu.Lock()
	require.Equal(t, []string{"127.0.0.1:" + port}, dialer.addrs, "the checked IP is dialed, not the name")
	dialer.mu.Unlock()

	// Redirects on the list are followed; the response says where it ended.
	resp, err = f.b.Fetch(ctx, wire.FetchRequest{URL: base + "/hop"})
	require.NoError(t, err)
	require.Equal(t, base+"/echo", resp.URL)

	_, err = f.b.Fetch(ctx, wire.FetchRequest{URL: base + "/loop"})
	require.ErrorIs(t, err, ErrLimit)
	_, err = f.b.Fetch(ctx, wire.FetchRequest{URL: base + "/away"})
	require.ErrorIs(t, err, ErrNotPermitted, "a redirect off the list is refused")
	require.ErrorContains(t, err, "evil.org")

	_, err = f.b.Fetch(ctx, wire.FetchRequest{URL: base + "/big"})
	require.ErrorIs(t, err, ErrLimit)
	_, err = f.b.Fetch(ctx, wire.FetchRequest{Method: "POST", URL: base + "/echo", Body: make([]byte, 1001)})
	require.ErrorIs(t, err, ErrLimit)

	// The same host without FetchPrivate is refused before dialing.
	dialer.mu.Lock()
	before := len(dialer.addrs)
	dialer.mu.Unlock()
	cfg.FetchPrivate = false
	_, err = f.b.Fetch(as("app", "i2", cfg), wire.FetchRequest{URL: base + "/echo"})
	require.ErrorIs(t, err, ErrNotPermitted)
	dialer.mu.Lock()
	require.Len(t, dialer.addrs, before)
	dialer.mu.Unlock()
}

func TestFetchAllowList(t *testing.T) {
	list := []string{"api.stripe.com", "*.example.org", "hooks.test:8443", "[::1]:9000", "Upper.Case."}
	for _, tt := range []struct {
		url  string
		want bool
	}{
		{"https://api.stripe.com/v1", true},
		{"http://api.stripe.com/", true},
		{"https://api.stripe.com:8443/", false},
		{"https://API.Stripe.com./x", true},
		{"https://evil-api.stripe.com/", false},
		{"https://a.example.org/", true},
		{"https://a.b.example.org/", true},
		{"https://example.org/", false},
		{"https://notexample.org/", false},
		{"https://hooks.test:8443/", true},
		{"https://hooks.test/", false},
		{"http://[::1]:9000/", true},
		{"http://[::1]/", false},
		{"http://upper.case/", true},
	} {
		u, err := url.Parse(tt.url)
		require.NoError(t, err)
		require.Equal(t, tt.want, allowed(list, u), tt.url)
	}
}

func TestRefusal(t *testing.T) {
	for _, tt := range []struct {
		addr    string
		public  string // reason without FetchPrivate
		private string // reason with it
	}{
		{"8.8.8.8", "", ""},
		{"2606:4700::1111", "", ""},
		{"127.0.0.1", "loopback", ""},
		{"127.255.0.9", "loopback", ""},
		{"172.16.0.1", "private", ""},
		{"192.168.0.1", "private", ""},
		{"169.254.169.254", "link-local", ""},
		{"fe80::1", "link-local", ""},
		{"fc00::1", "private", ""},
		{"255.255.255.255", "special-purpose", ""},
		{"0.0.0.0", "unspecified", "unspecified"},
		{"::", "unspecified", "unspecified"},
		{"224.0.0.1", "multicast", "multicast"},
		{"::ffff:169.254.169.254", "link-local", ""},
	} {
		a := netip.MustParseAddr(tt.addr)
		require.Equal(t, tt.public, refusal(a, false), tt.addr)
		require.Equal(t, tt.private, refusal(a, true), tt.addr+" private")
	}
}

func ExampleBindings_Fetch() {
	fmt.Println(allowed([]string{"*.example.org"}, &url.URL{Scheme: "https", Host: "api.example.org"}))
	// Output: true
}

// TestFetchUnspecifiedNeverAllowed: 0.0.0.0 and :: mean "this host". The
// refusal used to say "allowed only with fetch_private" although
// fetch_private did not lift it; now it is refused with or without
// fetch_private, says so, and never dials.
func TestFetchUnspecifiedNeverAllowed(t *testing.T) {
	res := &fakeResolver{hosts: map[string][]string{
		"zero.example.org":  {"0.0.0.0"},
		"zero6.example.org": {"::"},
	}}
	f := setup(t, func(c *Config) { c.Resolver = res; c.Dialer = failDialer{t} })
	allow := []string{"0.0.0.0", "0.0.0.0:8080", "[::]", "[::ffff:0.0.0.0]", "*.example.org", "224.0.0.1"}
	for _, private := range []bool{false, true} {
		ctx := as("app", "i1", record.FunctionConfig{Fetch: allow, FetchPrivate: private})
		for _, u := range []string{
			"http://0.0.0.0/", "http://0.0.0.0:8080/admin", "http://[::]/", "http://[::ffff:0.0.0.0]/",
			"http://zero.example.org/", "http://zero6.example.org/",
		} {
			t.Run(fmt.Sprintf("%s private=%v", u, private), func(t *testing.T) {
				_, err := f.b.Fetch(ctx, wire.FetchRequest{URL: u})
				require.ErrorIs(t, err, ErrNotPermitted)
				require.ErrorContains(t, err, "unspecified")
				require.ErrorContains(t, err, "this host")
				require.ErrorContains(t, err, "even with fetch_private")
				require.NotContains(t, err.Error(), "allowed only with fetch_private")
			})
		}
		_, err := f.b.Fetch(ctx, wire.FetchRequest{URL: "http://224.0.0.1/"})
		require.ErrorIs(t, err, ErrNotPermitted)
		require.ErrorContains(t, err, "even with fetch_private")
	}
}
