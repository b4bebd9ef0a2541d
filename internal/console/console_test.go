package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/api"
	"github.com/stratahq/strata/internal/console"
	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
	"github.com/stratahq/strata/internal/store/storetest"
)

// fixture is a console over a real SQLite store holding two projects, a
// and b, each with a function, a queue with a dead-letter queue, an
// execution, usage, logs and a trace; and tokens of several scopes.
type fixture struct {
	srv    *httptest.Server
	st     store.Store
	tokens map[string]string // name → secret
	traceA string
	traceB string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	now := time.Now().UTC()
	for _, p := range []string{"a", "b"} {
		_, err := st.DeploymentApply(ctx, store.DeploymentApplyParams{Project: p,
			NewVersions: []store.NewVersionParams{{Function: "f" + p, ModuleSHA256: storetest.Digest([]byte(p)),
				Config: record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 64, TimeoutMS: 1000, MaxConcurrency: 1}}},
			Events: &store.EventsApplyParams{Queues: []record.QueueConfig{
				{Name: "q" + p, Kind: record.QueueUser, MaxReceives: 1, DeadLetter: "dlq" + p, Consumer: "f" + p},
				{Name: "dlq" + p, Kind: record.QueueUser},
			}}})
		require.NoError(t, err)
		_, _, err = st.FlowStart(ctx, store.FlowStartParams{Execution: record.FlowExecution{ID: "exec-" + p, Project: p, Workflow: "w" + p,
			Function: "f" + p, Run: 1, Status: record.FlowRunning, Input: []byte(`{}`), CreatedAt: now, UpdatedAt: now},
			Events: []record.FlowEvent{{Type: "started", Name: "w" + p, Data: []byte(`{"input":{}}`), Time: now}}, DueAt: now.Add(time.Hour)}, now)
		require.NoError(t, err)
		require.NoError(t, st.UsageInsert(ctx, []record.Usage{{InvocationID: "inv-" + p, Function: "f" + p, Version: 1, Trigger: "http",
			Start: now.Add(-time.Minute), Duration: 3 * time.Millisecond, BilledMS: 3, MemoryMB: 64, Outcome: record.OutcomeOK}}))
		require.NoError(t, st.LogInsert(ctx, []record.LogLine{{InvocationID: "inv-" + p, Function: "f" + p, Version: 1,
			Time: now.Add(-time.Minute), Stream: "stdout", Level: record.LevelInfo, Line: "hello from f" + p}}))
	}
	f := &fixture{st: st, tokens: map[string]string{}, traceA: strings.Repeat("a", 32), traceB: strings.Repeat("b", 32)}
	for tr, p := range map[string]string{f.traceA: "a", f.traceB: "b"} {
		require.NoError(t, st.SpanInsert(ctx, []store.Span{
			{TraceID: tr, SpanID: strings.Repeat("1", 16), Project: p, Function: "f" + p, Name: "GET /" + p, Kind: "server",
				Start: now.Add(-time.Minute), Duration: 10 * time.Millisecond, Status: "ok"},
			{TraceID: tr, SpanID: strings.Repeat("2", 16), ParentID: strings.Repeat("1", 16), Project: p, Function: "f" + p,
				Name: "invoke f" + p, Kind: "internal", Start: now.Add(-time.Minute + time.Millisecond), Duration: 5 * time.Millisecond,
				Attributes: map[string]string{"strata.invocation_id": "inv-" + p, "faas.coldstart": "true"}},
		}))
	}
	for _, tk := range []struct{ name, project, scope string }{
		{"admin", "", record.ScopeAdmin}, {"reader", "", record.ScopeRead},
		{"a-deploy", "a", record.ScopeDeploy}, {"a-read", "a", record.ScopeRead},
	} {
		secret := api.NewToken()
		require.NoError(t, st.TokenPut(ctx, record.Token{Hash: api.HashToken(secret), Name: tk.name, Project: tk.project, Scope: tk.scope}))
		f.tokens[tk.name] = secret
	}
	engine := flow.New(flow.Config{Store: st, ProjectOf: func(string) string { return "" },
		Workflows: func(string) (flow.WorkflowRef, bool) { return flow.WorkflowRef{}, false }})
	a := api.New(api.Config{Store: st, Flows: engine})
	c, err := console.New(console.Config{API: a, Store: st, Flows: engine, Traces: st, Key: []byte("0123456789abcdef0123456789abcdef")})
	require.NoError(t, err)
	f.srv = httptest.NewServer(c)
	t.Cleanup(f.srv.Close)
	return f
}

// browser is an HTTP client with a cookie jar, not following redirects.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
}

func (f *fixture) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: f.srv.URL + console.Prefix, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	res, err := b.c.Get(b.base + path)
	require.NoError(b.t, err)
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func (b *browser) post(path string, form url.Values) (int, string, string) {
	b.t.Helper()
	res, err := b.c.PostForm(b.base+path, form)
	require.NoError(b.t, err)
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(body)
}

func (b *browser) login(token string) {
	b.t.Helper()
	code, loc, body := b.post("/login", url.Values{"token": {token}, "next": {console.Prefix + "/functions"}})
	require.Equal(b.t, http.StatusSeeOther, code, body)
	require.Equal(b.t, console.Prefix+"/functions", loc)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the session's CSRF token from a page's forms.
func (b *browser) csrf() string {
	b.t.Helper()
	_, body := b.get("/queues")
	m := csrfRE.FindStringSubmatch(body)
	require.NotNil(b.t, m, "a page of a session has the logout form")
	return m[1]
}

var pages = []string{"/", "/functions", "/functions/fa", "/logs", "/logs?function=fa", "/traces", "/traces?function=fa&status=error&min=1ms",
	"/executions", "/executions?status=running", "/executions/exec-a", "/queues", "/queues/dlqa", "/schedules", "/usage", "/usage?window=7d",
	"/objects", "/objects?project=a&class=Counter", "/connections"}

// TestNoSession: without a session (no cookie, a forged or expired one)
// every page and every action answers 403; a page shows the login form.
func TestNoSession(t *testing.T) {
	f := setup(t)
	b := f.browser(t)
	for _, p := range append(pages, "/traces/"+f.traceA) {
		code, body := b.get(p)
		require.Equal(t, http.StatusForbidden, code, p)
		require.Contains(t, body, `name="token"`, p)
		require.NotContains(t, body, "hello from fa", p)
	}
	for _, p := range []string{"/queues/dlqa/redrive", "/functions/fa/rollback", "/executions/exec-a/cancel", "/executions/exec-a/signal", "/logout"} {
		code, _, _ := b.post(p, url.Values{"csrf": {"x"}})
		require.Equal(t, http.StatusForbidden, code, p)
	}
	// A cookie not signed with the console's key.
	u, _ := url.Parse(f.srv.URL + console.Prefix + "/")
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "strata_console", Value: api.HashToken(f.tokens["admin"]) + ".9999999999.00.forged", Path: console.Prefix}})
	code, _ := b.get("/functions")
	require.Equal(t, http.StatusForbidden, code)
	// A wrong token does not log in.
	code, _, body := b.post("/login", url.Values{"token": {"st_wrong"}})
	require.Equal(t, http.StatusForbidden, code)
	require.Contains(t, body, "not valid")
}

// TestCSRF: a session's POST needs the session's CSRF token.
func TestCSRF(t *testing.T) {
	f := setup(t)
	b := f.browser(t)
	b.login(f.tokens["admin"])
	tok := b.csrf()
	for _, bad := range []url.Values{{}, {"csrf": {""}}, {"csrf": {tok + "x"}}, {"csrf": {strings.Repeat("A", len(tok))}}} {
		code, _, _ := b.post("/executions/exec-a/cancel", bad)
		require.Equal(t, http.StatusForbidden, code, bad)
	}
	// Another session's token is no good either.
	other := f.browser(t)
	other.login(f.tokens["admin"])
	code, _, _ := b.post("/executions/exec-a/cancel", url.Values{"csrf": {other.csrf()}})
	require.Equal(t, http.StatusForbidden, code)
	ex, err := f.st.FlowGet(context.Background(), "exec-a")
	require.NoError(t, err)
	require.Equal(t, record.FlowRunning, ex.Status, "no refused POST reached the engine")

	// The right token: the API terminates the execution.
	code, loc, body := b.post("/executions/exec-a/terminate", url.Values{"csrf": {tok}, "reason": {"test"}})
	require.Equal(t, http.StatusSeeOther, code, body)
	require.Contains(t, loc, "flash=terminated")
	ex, err = f.st.FlowGet(context.Background(), "exec-a")
	require.NoError(t, err)
	require.Equal(t, record.FlowTerminated, ex.Status)
}

// TestReadScope: a read token opens every page but sees no action button,
// and its POSTs are refused even with a valid CSRF token.
func TestReadScope(t *testing.T) {
	f := setup(t)
	b := f.browser(t)
	b.login(f.tokens["reader"])
	for _, p := range append(pages, "/traces/"+f.traceA, "/functions/fb", "/queues/dlqb") {
		code, body := b.get(p)
		require.Equal(t, http.StatusOK, code, "%s: %s", p, body)
		for _, button := range []string{"/rollback", "/redrive", "/signal", "/cancel", "/terminate", "/restart"} {
			require.NotContains(t, body, button, "%s shows %s to a read token", p, button)
		}
	}
	tok := b.csrf()
	for _, p := range []string{"/queues/dlqa/redrive", "/functions/fa/rollback", "/executions/exec-a/signal", "/executions/exec-a/cancel",
		"/executions/exec-a/terminate", "/executions/exec-a/restart"} {
		code, _, body := b.post(p, url.Values{"csrf": {tok}, "version": {"1"}, "name": {"go"}})
		require.Equal(t, http.StatusForbidden, code, p)
		require.Contains(t, body, "scope read", p)
	}
	ex, err := f.st.FlowGet(context.Background(), "exec-a")
	require.NoError(t, err)
	require.Equal(t, record.FlowRunning, ex.Status)

	// An admin session sees the buttons the read one does not.
	a := f.browser(t)
	a.login(f.tokens["admin"])
	_, body := a.get("/executions/exec-a")
	require.Contains(t, body, "/signal")
	_, body = a.get("/queues/dlqa")
	require.Contains(t, body, "/redrive")
}

// TestProjectScope is the attack: project a's tokens ask for project b's
// function, trace, execution, queue and logs by URL, and get 404 as for
// something that does not exist; listings show project a only.
func TestProjectScope(t *testing.T) {
	f := setup(t)
	for _, name := range []string{"a-read", "a-deploy"} {
		t.Run(name, func(t *testing.T) {
			b := f.browser(t)
			b.login(f.tokens[name])
			for _, p := range []string{"/functions/fb", "/traces/" + f.traceB, "/executions/exec-b", "/queues/qb", "/queues/dlqb",
				"/logs?function=fb", "/logs/stream?function=fb", "/logs/stream"} {
				code, body := b.get(p)
				require.Equal(t, http.StatusNotFound, code, "%s: %s", p, body)
				require.NotContains(t, body, "hello from fb", p)
			}
			for _, p := range []string{"/", "/functions", "/traces", "/executions", "/queues", "/usage", "/schedules", "/logs?function=fa"} {
				code, body := b.get(p)
				require.Equal(t, http.StatusOK, code, p)
				for _, leak := range []string{">fb<", "exec-b", ">qb<", f.traceB, "hello from fb"} {
					require.NotContains(t, body, leak, "%s shows project b's %s", p, leak)
				}
			}
			code, body := b.get("/traces/" + f.traceA)
			require.Equal(t, http.StatusOK, code)
			require.Contains(t, body, "hello from fa", "the waterfall shows the invocation's logs inline")
			// Actions on project b go nowhere either: the API scopes them.
			tok := b.csrf()
			code, loc, _ := b.post("/executions/exec-b/terminate", url.Values{"csrf": {tok}})
			if name == "a-read" {
				require.Equal(t, http.StatusForbidden, code)
			} else {
				require.Equal(t, http.StatusSeeOther, code)
				require.Contains(t, loc, "error=404")
			}
			ex, err := f.st.FlowGet(context.Background(), "exec-b")
			require.NoError(t, err)
			require.Equal(t, record.FlowRunning, ex.Status)
		})
	}
}

// TestRevokedTokenEndsSession: the cookie names the token's hash, which
// is looked up on every request: revoking the token ends the session.
func TestRevokedTokenEndsSession(t *testing.T) {
	f := setup(t)
	b := f.browser(t)
	b.login(f.tokens["reader"])
	code, _ := b.get("/functions")
	require.Equal(t, http.StatusOK, code)
	// Revoked in the store, as through another node: this node's API
	// trusts its cached lookup for at most TokenCacheTTL.
	ok, err := f.st.TokenDelete(context.Background(), api.HashToken(f.tokens["reader"]))
	require.NoError(t, err)
	require.True(t, ok)
	require.Eventually(t, func() bool {
		code, _ := b.get("/functions")
		return code == http.StatusForbidden
	}, 3*api.TokenCacheTTL, 50*time.Millisecond, "within the API's token cache time")
}

// TestTraceWaterfall: every span with its attributes, nested under its
// parent.
func TestTraceWaterfall(t *testing.T) {
	f := setup(t)
	b := f.browser(t)
	b.login(f.tokens["admin"])
	code, body := b.get("/traces/" + f.traceA)
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{"GET /a", "invoke fa", "strata.invocation_id", "inv-a", "faas.coldstart", "hello from fa", "padding-left:1em"} {
		require.Contains(t, body, want)
	}
	require.Less(t, strings.Index(body, "GET /a"), strings.Index(body, "invoke fa"), "the parent comes first")
	_, body = b.get("/")
	require.Contains(t, body, fmt.Sprintf(`href="%s/traces/%s"`, console.Prefix, f.traceA), "the overview links recent traces")
}
