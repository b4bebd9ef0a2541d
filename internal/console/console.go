package console

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/api"
	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/gateway"
	"github.com/stratahq/strata/internal/store"
)

// Prefix is where the console is served.
const Prefix = "/_strata/console"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Config configures the console.
type Config struct {
	// API authenticates sessions (TokenByHash) and performs every action.
	API   *api.API
	Store store.Store
	// Flows reads workflow executions; nil: the node runs none.
	Flows api.Flows
	// Traces is the built-in trace store; nil: the traces page says
	// there is none.
	Traces store.Traces
	Prices apitype.Prices
	// Key signs session cookies; nodes sharing a store share it, so a
	// session works on any of them.
	Key    []byte
	Clock  clock.Clock
	Logger *slog.Logger
	// Stopping ends live log streams at shutdown.
	Stopping <-chan struct{}
	// SyncLogs writes lines recorded but not yet stored, before a log
	// page reads.
	SyncLogs func(ctx context.Context) error
}

// Console is the console's HTTP handler.
type Console struct {
	cfg   Config
	key   []byte
	mux   *http.ServeMux
	pages map[string]*template.Template
	cache seriesCache
}

// New builds the console.
func New(cfg Config) (*Console, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Key) < 16 {
		return nil, errors.New("console: the session key must be at least 16 bytes")
	}
	c := &Console{cfg: cfg, key: cfg.Key, mux: http.NewServeMux(), pages: map[string]*template.Template{}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", n, err)
		}
		c.pages[base] = t
	}
	assets, _ := fs.Sub(assetFS, "assets")
	c.mux.Handle("GET "+Prefix+"/assets/", http.StripPrefix(Prefix+"/assets/", cacheFor(http.FileServerFS(assets))))
	c.mux.HandleFunc("GET "+Prefix+"/login", c.loginPage)
	c.mux.HandleFunc("POST "+Prefix+"/login", c.login)
	c.mux.HandleFunc("POST "+Prefix+"/logout", c.post(c.logout))
	c.routes()
	return c, nil
}

func cacheFor(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		h.ServeHTTP(w, r)
	})
}

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Pages are not framed (clickjacking) and run only their own script;
	// inline style attributes are allowed (bar widths in the waterfall).
	h := w.Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.URL.Path == Prefix {
		http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
		return
	}
	c.mux.ServeHTTP(w, r)
}

// view is what every page template gets.
type view struct {
	Title   string
	Nav     string
	Token   string // the token's name
	Scope   string
	Project string // the token's project, "" for every project
	CanAct  bool
	CSRF    string
	Flash   string
	Error   string
	Now     time.Time
	Data    any
}

// page registers a GET page that needs a session.
func (c *Console) page(pattern string, h func(w http.ResponseWriter, r *http.Request, s *session) (string, *view, error)) {
	c.mux.HandleFunc("GET "+Prefix+pattern, func(w http.ResponseWriter, r *http.Request) {
		s, err := c.session(r)
		if err != nil {
			c.denied(w, r, err)
			return
		}
		start := time.Now()
		name, v, err := h(w, r, s)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		if name == "" {
			return // the handler answered (a stream)
		}
		c.render(w, http.StatusOK, name, s, v)
		c.cfg.Logger.Debug("console page", "path", r.URL.Path, "took", time.Since(start))
	})
}

// denied answers a request without a valid session: 403 with the login
// form, so a browser shows where to log in.
func (c *Console) denied(w http.ResponseWriter, r *http.Request, err error) {
	msg := "Log in with a Strata token."
	if !errors.Is(err, errNoSession) {
		msg = "Your session ended (" + err.Error() + "). Log in again."
		if gateway.Status(err) >= 500 {
			msg = "Could not check your session: " + err.Error()
		}
	}
	c.setCookie(w, r, "", -1)
	c.render(w, http.StatusForbidden, "login", nil, &view{Title: "Log in", Error: msg, Data: loginData{Next: r.URL.RequestURI()}})
}

// fail renders an error page with the error's status (404 for what the
// token's project does not hold).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	code := gateway.Status(err)
	if code >= 500 {
		c.cfg.Logger.Error("console page failed", "path", r.URL.Path, "err", err)
	}
	c.render(w, code, "error", s, &view{Title: http.StatusText(code), Error: err.Error()})
}

func (c *Console) render(w http.ResponseWriter, code int, name string, s *session, v *view) {
	if v == nil {
		v = &view{}
	}
	v.Now = c.cfg.Clock.Now()
	if s != nil {
		v.Token, v.Scope, v.Project, v.CanAct, v.CSRF = s.tok.Name, s.tok.Scope, s.tok.Project, s.canAct(), s.csrf
	}
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		c.cfg.Logger.Error("render console page", "page", name, "err", err)
		http.Error(w, "render "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// post wraps a state-changing handler: it needs a session, the session's
// CSRF token in the form, and a same-origin request; else 403.
func (c *Console) post(h func(w http.ResponseWriter, r *http.Request, s *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		s, err := c.session(r)
		if err != nil {
			http.Error(w, "403 forbidden: no console session (log in at "+Prefix+"/login)", http.StatusForbidden)
			return
		}
		if !sameOrigin(r) || !validCSRF(r.PostFormValue("csrf"), s.csrf) {
			http.Error(w, "403 forbidden: the form's CSRF token is missing or not this session's; reload the page", http.StatusForbidden)
			return
		}
		h(w, r, s)
	}
}

func validCSRF(got, want string) bool {
	return got != "" && len(got) == len(want) && subtleEq(got, want)
}

// action registers a POST that changes something: only a token of the
// deploy or admin scope may (the API checks again, and the project).
func (c *Console) action(pattern string, h func(w http.ResponseWriter, r *http.Request, s *session)) {
	c.mux.HandleFunc("POST "+Prefix+pattern, c.post(func(w http.ResponseWriter, r *http.Request, s *session) {
		if !s.canAct() {
			http.Error(w, fmt.Sprintf("403 forbidden: token %s has scope %s, which may look but not change anything", s.tok.Name, s.tok.Scope), http.StatusForbidden)
			return
		}
		h(w, r, s)
	}))
}

// callAPI performs an admin API request in-process as the session's
// token and returns the status and body. This is how every action is
// done: the API's handler, with its checks, is the one implementation.
func (c *Console) callAPI(ctx context.Context, s *session, method, path string, body any) (int, []byte) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(api.WithTokenHash(ctx, s.tok.Hash), method, apitype.Prefix+path, rd)
	if err != nil {
		return http.StatusBadRequest, []byte(err.Error())
	}
	req.Header.Set("Content-Type", "application/json")
	rec := &recorder{h: http.Header{}}
	c.cfg.API.ServeHTTP(rec, req)
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	return rec.code, rec.body.Bytes()
}

// done redirects after an action to back, with the API's answer as a
// message (its error text, when it failed).
func (c *Console) done(w http.ResponseWriter, r *http.Request, back string, code int, body []byte, ok string) {
	q := url.Values{}
	if code >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(body))
		}
		q.Set("error", fmt.Sprintf("%d: %s", code, e.Error))
	} else {
		q.Set("flash", ok)
	}
	sep := "?"
	if strings.Contains(back, "?") {
		sep = "&"
	}
	http.Redirect(w, r, back+sep+q.Encode(), http.StatusSeeOther)
}

// recorder is the response of an in-process API request.
type recorder struct {
	h    http.Header
	code int
	body bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.h }
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.body.Write(b)
}
