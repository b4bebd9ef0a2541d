package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/pool"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/trace"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/sdk/go/wire"
)

// fakeRouter routes GET/POST /f/{x} to "f", POST /async to "a" (an async
// route) and GET /limited to "f" with a rate limit of 1/s, burst 2.
type fakeRouter struct{}

var (
	routeF       = record.Route{Method: "*", Path: "/f/{x}", Function: "f"}
	routeAsync   = record.Route{Method: "POST", Path: "/async", Function: "a", Async: true}
	routeLimited = record.Route{Method: "GET", Path: "/limited", Function: "f", RateLimit: 1, RateBurst: 2}
	routeSlow    = record.Route{Method: "GET", Path: "/slow", Function: "f", RateLimit: 0.1, RateBurst: 1}
)

func (fakeRouter) MatchRoute(method, path string) (*record.Route, []wire.Param, []string, bool) {
	switch path {
	case "/async":
		return &routeAsync, nil, nil, true
	case "/limited":
		return &routeLimited, nil, nil, true
	case "/slow":
		return &routeSlow, nil, nil, true
	}
	x, ok := strings.CutPrefix(path, "/f/")
	if !ok {
		return nil, nil, nil, false
	}
	if method != "GET" && method != "HEAD" && method != "POST" {
		return nil, nil, []string{"GET", "HEAD", "POST"}, false
	}
	return &routeF, []wire.Param{{Name: "x", Value: x}}, nil, true
}

// fakeAsync records what an async route stored.
type fakeAsync struct {
	fn  string
	req *wire.Request
}

func (f *fakeAsync) InvokeAsync(ctx context.Context, fn string, req *wire.Request, tp string) (*apitype.SendResult, error) {
	f.fn, f.req = fn, req
	return &apitype.SendResult{ID: "ev-1"}, nil
}

// fakeInvoker records the request and answers with resp or err.
type fakeInvoker struct {
	got  invoke.Request
	resp *wire.Response
	err  error
}

func (f *fakeInvoker) Invoke(ctx context.Context, r invoke.Request) (*invoke.Result, error) {
	f.got = r
	// The gateway reuses the request, its headers and its body buffer.
	w := *r.Wire
	w.Headers = slices.Clone(w.Headers)
	w.Body = slices.Clone(w.Body)
	f.got.Wire = &w
	tc := trace.New(r.TraceParent)
	res := &invoke.Result{InvocationID: "inv-1", Version: 7, Trace: tc, TraceHeader: tc.Header(), Response: f.resp}
	return res, f.err
}

func newGW(inv *fakeInvoker) *Gateway {
	g := New(Config{Invoker: inv, MaxBody: 1024, Version: "test"})
	g.SetRouter(fakeRouter{}, []record.Route{routeF, routeAsync, routeLimited})
	return g
}

func TestAsyncRouteStoresAndAnswers202(t *testing.T) {
	inv := &fakeInvoker{}
	async := &fakeAsync{}
	g := New(Config{Invoker: inv, Async: async, MaxBody: 1024})
	g.SetRouter(fakeRouter{}, nil)
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest("POST", "/async?x=1", strings.NewReader("payload")))
	if rec.Code != 202 || !strings.Contains(rec.Body.String(), `"ev-1"`) {
		t.Fatalf("async route: %d %s", rec.Code, rec.Body)
	}
	if async.fn != "a" || string(async.req.Body) != "payload" || async.req.RawQuery != "x=1" || async.req.Method != "POST" {
		t.Fatalf("stored %q %+v", async.fn, async.req)
	}
	if inv.got.Function != "" {
		t.Fatal("an async route ran the function synchronously")
	}
}

func TestRouteRateLimit(t *testing.T) {
	inv := &fakeInvoker{resp: &wire.Response{Status: 200}}
	g := newGW(inv)
	codes := []int{}
	for i := 0; i < 4; i++ {
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest("GET", "/limited", nil))
		codes = append(codes, rec.Code)
		// 1 request/s: the next token is a second away.
		if rec.Code == 429 && rec.Header().Get("Retry-After") != "1" {
			t.Fatalf("429 with Retry-After %q, want 1", rec.Header().Get("Retry-After"))
		}
	}
	// A burst of 2 passes, then the 1/s rate refuses the rest at once.
	if fmt.Sprint(codes) != "[200 200 429 429]" {
		t.Fatalf("codes %v", codes)
	}
	// Other routes are not limited.
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest("GET", "/f/x", nil))
	if rec.Code != 200 {
		t.Fatalf("unlimited route: %d", rec.Code)
	}
	// Re-setting the same routes keeps the spent bucket: no fresh burst.
	g.SetRouter(fakeRouter{}, []record.Route{routeF, routeAsync, routeLimited})
	rec = httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest("GET", "/limited", nil))
	if rec.Code != 429 {
		t.Fatalf("after a route reload: %d, want 429", rec.Code)
	}
}

func TestRequestAndResponseCrossIntact(t *testing.T) {
	body := []byte{0, 1, 2, 0xff, '\r', '\n'}
	inv := &fakeInvoker{resp: &wire.Response{Status: 201, Headers: []wire.Header{
		{Name: "content-type", Values: []string{"application/octet-stream"}},
		{Name: "X-Multi", Values: []string{"a", "b"}},
		{Name: "Connection", Values: []string{"close"}},      // hop-by-hop: dropped
		{Name: "Content-Length", Values: []string{"999999"}}, // recomputed by the gateway
	}, Body: body}}
	g := newGW(inv)
	req := httptest.NewRequest("POST", "/f/abc?q=1&q=2", strings.NewReader("in\x00put"))
	req.Header.Set("X-In", "yes")
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)

	if inv.got.Function != "f" || inv.got.Trigger != "http" {
		t.Fatalf("invoked %+v", inv.got)
	}
	w := inv.got.Wire
	if w.Method != "POST" || w.Path != "/f/abc" || w.RawQuery != "q=1&q=2" || string(w.Body) != "in\x00put" {
		t.Fatalf("wire request %+v", w)
	}
	if len(w.Params) != 1 || w.Params[0] != (wire.Param{Name: "x", Value: "abc"}) {
		t.Fatalf("params %+v", w.Params)
	}
	var sawHeader bool
	for _, h := range w.Headers {
		if h.Name == "X-In" && len(h.Values) == 1 && h.Values[0] == "yes" {
			sawHeader = true
		}
	}
	if !sawHeader {
		t.Fatalf("header X-In missing from %+v", w.Headers)
	}

	res := rec.Result()
	got, _ := io.ReadAll(res.Body)
	if res.StatusCode != 201 || string(got) != string(body) {
		t.Fatalf("response %d %q", res.StatusCode, got)
	}
	if res.Header.Get("Content-Type") != "application/octet-stream" || len(res.Header["X-Multi"]) != 2 {
		t.Fatalf("headers %v", res.Header)
	}
	if res.Header.Get("Connection") != "" || res.Header.Get("Content-Length") != fmt.Sprint(len(body)) {
		t.Fatalf("hop-by-hop or length header passed through: %v", res.Header)
	}
	if res.Header.Get(apitype.HeaderInvocationID) != "inv-1" || res.Header.Get(apitype.HeaderVersion) != "7" || res.Header.Get("Traceparent") == "" {
		t.Fatalf("platform headers %v", res.Header)
	}
}

func TestHeadHasNoBody(t *testing.T) {
	inv := &fakeInvoker{resp: &wire.Response{Status: 200, Body: []byte("hello")}}
	rec := httptest.NewRecorder()
	newGW(inv).ServeHTTP(rec, httptest.NewRequest("HEAD", "/f/x", nil))
	if rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") != "5" {
		t.Fatalf("HEAD: %d %q %v", rec.Code, rec.Body, rec.Header())
	}
}

func TestPlatformErrors(t *testing.T) {
	for _, tc := range []struct {
		name, method, path string
		body               string
		invErr             error
		status             int
		want               string
	}{
		{"unknown route", "GET", "/nope", "", nil, 404, "no route for GET /nope"},
		{"wrong method", "DELETE", "/f/x", "", nil, 405, "method DELETE not allowed"},
		{"body over cap", "POST", "/f/x", strings.Repeat("x", 1025), nil, 413, "limit"},
		{"throttled", "GET", "/f/x", "", fmt.Errorf("f: %w", pool.ErrAtCapacity), 429, ""},
		{"timeout", "GET", "/f/x", "", fmt.Errorf("f@1 timed out: %w", wasm.ErrTimeout), 504, "timed out"},
		{"cpu limit", "GET", "/f/x", "", &wasm.CPULimitError{Module: "f@1", Limit: 50 * time.Millisecond}, 503, "f@1: exceeded CPU time limit of 50 ms"},
		{"trap", "GET", "/f/x", "", fmt.Errorf("f@1: %w", &wasm.TrapError{Module: "f@1", Message: "secret panic text"}), 500, "function failed"},
		{"response too large", "GET", "/f/x", "", wasm.ErrResponseTooLarge, 502, ""},
		{"not deployed", "GET", "/f/x", "", fmt.Errorf("%w: f", invoke.ErrNoFunction), 404, "not deployed"},
		{"still loading", "GET", "/f/x", "", fmt.Errorf("function f@2 is still loading on this node: %w", invoke.ErrLoading), 503, "f@2 is still loading"},
		{"unknown platform path", "GET", "/_strata/nope", "", nil, 404, "unknown platform path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := &fakeInvoker{err: tc.invErr}
			rec := httptest.NewRecorder()
			newGW(inv).ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%d %s, want %d containing %q", rec.Code, rec.Body, tc.status, tc.want)
			}
			if strings.Contains(rec.Body.String(), "secret panic text") {
				t.Fatal("a guest's panic text leaked into the response")
			}
			if tc.status == 405 && rec.Header().Get("Allow") == "" {
				t.Fatal("405 without Allow")
			}
			cpuLimit := invoke.IsCPULimit(tc.invErr)
			if (tc.status == 429 || tc.status == 503 && !cpuLimit) && rec.Header().Get("Retry-After") == "" {
				t.Fatalf("%d without Retry-After", tc.status)
			}
			if cpuLimit && rec.Header().Get("Retry-After") != "" {
				// The same request would use as much CPU again.
				t.Fatalf("over the CPU limit, with Retry-After %q", rec.Header().Get("Retry-After"))
			}
			if tc.invErr != nil && rec.Header().Get(apitype.HeaderInvocationID) != "inv-1" {
				t.Fatalf("invocation id missing on a failed invocation: %v", rec.Header())
			}
		})
	}
}

func TestStatusMapping(t *testing.T) {
	for err, want := range map[error]int{
		store.ErrNotFound:                          404,
		fmt.Errorf("x: %w", store.ErrConflict):     409,
		fmt.Errorf("x: %w", wasm.ErrInvalidModule): 400,
		Errorf(http.StatusUnauthorized, "no"):      401,
		errors.New("disk on fire"):                 500,
	} {
		if got := Status(err); got != want {
			t.Errorf("Status(%v) = %d, want %d", err, got, want)
		}
	}
}

func TestHealth(t *testing.T) {
	rec := httptest.NewRecorder()
	New(Config{Version: "v9"}).ServeHTTP(rec, httptest.NewRequest("GET", "/_strata/health", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"v9"`) {
		t.Fatalf("health %d %s", rec.Code, rec.Body)
	}
}

// TestReadiness: while the node loads its deployed functions, health stays
// 200 (liveness) and says so, readiness is 503 with what is still loading,
// and workflow routes are refused with 503 (their index is not built yet);
// once loaded, readiness is 200.
func TestReadiness(t *testing.T) {
	g := newWorkflowGW(t, Config{Workflows: &fakeStarter{}, Version: "v9"})
	g.SetLoading(func() []string { return []string{"slow@3"} })
	do := func(method, path string) *httptest.ResponseRecorder {
		return serve(g, httptest.NewRequest(method, path, strings.NewReader("{}")))
	}
	if rec := do("GET", "/_strata/health"); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ready":false`) {
		t.Fatalf("health while loading: %d %s", rec.Code, rec.Body)
	}
	if rec := do("GET", "/_strata/ready"); rec.Code != 503 || !strings.Contains(rec.Body.String(), `"slow@3"`) || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("ready while loading: %d %s %v", rec.Code, rec.Body, rec.Header())
	}
	if rec := do("POST", "/orders"); rec.Code != 503 || !strings.Contains(rec.Body.String(), "still loading") {
		t.Fatalf("workflow route while loading: %d %s", rec.Code, rec.Body)
	}
	g.SetLoading(nil)
	if rec := do("GET", "/_strata/ready"); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ready"`) {
		t.Fatalf("ready once loaded: %d %s", rec.Code, rec.Body)
	}
	if rec := do("GET", "/_strata/health"); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ready":true`) {
		t.Fatalf("health once loaded: %d %s", rec.Code, rec.Body)
	}
	if rec := do("POST", "/orders"); rec.Code == 503 {
		t.Fatalf("workflow route once loaded: %d %s", rec.Code, rec.Body)
	}
}

// TestDraining: a draining node answers health and readiness with 503 and
// status "draining", so a balancer stops sending, and still serves the
// requests that arrive meanwhile.
func TestDraining(t *testing.T) {
	g := newWorkflowGW(t, Config{Workflows: &fakeStarter{}, Version: "v9"})
	do := func(method, path string) *httptest.ResponseRecorder {
		return serve(g, httptest.NewRequest(method, path, strings.NewReader("{}")))
	}
	g.SetDraining()
	if rec := do("GET", "/_strata/health"); rec.Code != 503 || rec.Body.String() != `{"ready":false,"status":"draining","version":"v9"}`+"\n" {
		t.Fatalf("health while draining: %d %s", rec.Code, rec.Body)
	}
	if rec := do("GET", "/_strata/ready"); rec.Code != 503 || rec.Body.String() != `{"status":"draining","version":"v9"}`+"\n" {
		t.Fatalf("ready while draining: %d %s", rec.Code, rec.Body)
	}
	if rec := do("POST", "/orders"); rec.Code == 503 {
		t.Fatalf("a request arriving while draining: %d %s", rec.Code, rec.Body)
	}
}

// TestRateLimitRetryAfterIsTheWait: the 429 of a slow rate limit says how
// long until the next token, not a generic second.
func TestRateLimitRetryAfterIsTheWait(t *testing.T) {
	g := New(Config{Invoker: &fakeInvoker{resp: &wire.Response{Status: 200}}})
	g.SetRouter(fakeRouter{}, []record.Route{routeSlow})
	first := httptest.NewRecorder()
	g.ServeHTTP(first, httptest.NewRequest("GET", "/slow", nil))
	second := httptest.NewRecorder()
	g.ServeHTTP(second, httptest.NewRequest("GET", "/slow", nil))
	if first.Code != 200 || second.Code != 429 {
		t.Fatalf("codes %d, %d", first.Code, second.Code)
	}
	// 0.1 requests/s: about 10 s to the next token.
	if ra := second.Header().Get("Retry-After"); ra != "10" && ra != "9" {
		t.Fatalf("Retry-After %q, want about 10", ra)
	}
}

// A client cannot make a function believe it runs as a workflow step, or
// that its request is an event: the flow and event engines' headers never
// pass the gateway, on sync or async routes.
func TestFlowHeadersAreStripped(t *testing.T) {
	inv := &fakeInvoker{resp: &wire.Response{Status: 200}}
	g := newGW(inv)
	async := &fakeAsync{}
	g.cfg.Async = async
	for _, path := range []string{"/f/x", "/async"} {
		req := httptest.NewRequest("POST", path, strings.NewReader("{}"))
		req.Header.Set(wire.FlowExecutionHeader, "forged")
		req.Header.Set(wire.FlowStepHeader, "1")
		req.Header.Set(wire.FlowHeader, "orchestrate")
		req.Header.Set("x-strata-flow-attempt", "1")
		// The event engine's: an async route's delivery adds its own
		// receive count after the client's headers, and the SDK reads the
		// first.
		req.Header.Set("X-Strata-Receive-Count", "99")
		req.Header.Set("X-Strata-Event-Id", "forged")
		req.Header.Set("ce-id", "forged")
		req.Header.Set("X-Kept", "1")
		g.ServeHTTP(httptest.NewRecorder(), req)
		w := inv.got.Wire
		if path == "/async" {
			w = async.req
		}
		if w == nil {
			t.Fatalf("%s: nothing reached the function", path)
		}
		kept := false
		for _, h := range w.Headers {
			if l := strings.ToLower(h.Name); strings.HasPrefix(l, "x-strata-") || strings.HasPrefix(l, "ce-") {
				t.Fatalf("%s: header %s reached the function", path, h.Name)
			}
			kept = kept || h.Name == "X-Kept"
		}
		if !kept {
			t.Fatalf("%s: ordinary header dropped: %+v", path, w.Headers)
		}
	}
}

// TestInformationalStatusesAre502: whatever a guest (of any language)
// answers below 200 or above 999 is refused with 502, never relayed: net/http
// would send a 1xx as an interim answer and then a 200 of its own, or panic
// on a status out of range.
func TestInformationalStatusesAre502(t *testing.T) {
	for _, code := range []int{0, 99, 100, 101, 102, 103, 199, 1000} {
		inv := &fakeInvoker{resp: &wire.Response{Status: code, Headers: []wire.Header{{Name: "Upgrade", Values: []string{"websocket"}}}, Body: []byte("x")}}
		rec := httptest.NewRecorder()
		newGW(inv).ServeHTTP(rec, httptest.NewRequest("GET", "/f/x", nil))
		want := fmt.Sprintf("function f answered status %d, which is not a final HTTP response", code)
		if rec.Code != http.StatusBadGateway || !strings.Contains(rec.Body.String(), want) || rec.Header().Get("Upgrade") != "" {
			t.Fatalf("status %d: %d %v %s", code, rec.Code, rec.Header(), rec.Body)
		}
	}
	for _, code := range []int{200, 204, 418, 599, 999} {
		rec := httptest.NewRecorder()
		newGW(&fakeInvoker{resp: &wire.Response{Status: code}}).ServeHTTP(rec, httptest.NewRequest("GET", "/f/x", nil))
		if rec.Code != code {
			t.Fatalf("status %d relayed as %d", code, rec.Code)
		}
	}
}

func TestCleanPath(t *testing.T) {
	for in, want := range map[string]string{
		"/":              "/",
		"/a/b/":          "/a/b/",
		"/a//b":          "/a//b",
		"/a.b/..c/...":   "/a.b/..c/...",
		"/.":             "/",
		"/..":            "/",
		"/../../a":       "/a",
		"/a/.":           "/a/",
		"/a/..":          "/",
		"/a/b/..":        "/a/",
		"/a/./b/../c":    "/a/c",
		"/a/b/../../../": "/",
		"/a/.../b":       "/a/.../b",
	} {
		got, _ := cleanPath(in)
		if got != want {
			t.Errorf("cleanPath(%q) = %q, want %q", in, got, want)
		}
	}
}
