package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/gateway"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// TokenCacheTTL bounds how long a node trusts a token it has seen valid
// without asking the store again: a token revoked through another node
// stops working here within this time (through this node, at once).
const TokenCacheTTL = 2 * time.Second

// TokenTouchInterval is how often at most a node records that a token was
// used: "last used" costs one store write per token per interval, not one
// per request.
const TokenTouchInterval = time.Minute

// tokenIDLen is how many hex digits of a token's hash name it in listings
// and revocations: enough to be unique, useless to guess the token.
const tokenIDLen = 12

// HashToken is how tokens are kept: hex SHA-256 of the token.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// NewToken returns a fresh random token (32 random bytes).
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "st_" + base64.RawURLEncoding.EncodeToString(b)
}

// tokenCache remembers tokens seen valid, each for TokenCacheTTL, so most
// requests cost no store read and a revocation still reaches every node.
type tokenCache struct {
	mu  sync.Mutex
	m   map[string]cachedToken // by hash
	gen uint64                 // revocations through this node so far
	// touched is when this node last recorded each token's use (by hash);
	// it holds at most one entry per token that exists.
	touched map[string]time.Time
}

// touch reports whether the use of a token at now should be written to
// the store: not when this node, or (as far as the token record read
// says) another node, wrote one less than TokenTouchInterval ago.
func (c *tokenCache) touch(t record.Token, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	last := c.touched[t.Hash]
	if t.LastUsedAt.After(last) {
		last = t.LastUsedAt
	}
	if now.Sub(last) < TokenTouchInterval {
		return false
	}
	if c.touched == nil {
		c.touched = map[string]time.Time{}
	}
	c.touched[t.Hash] = now
	return true
}

type cachedToken struct {
	tok   record.Token
	until time.Time
}

func (c *tokenCache) get(hash string, now time.Time) (record.Token, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[hash]
	if !ok || !now.Before(e.until) {
		delete(c.m, hash)
		return record.Token{}, false
	}
	return e.tok, true
}

// generation is read before the store is asked, and put with it: a lookup
// that started before a revocation on this node must not cache its
// (now stale) answer after the revocation dropped the entry.
func (c *tokenCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *tokenCache) put(t record.Token, now time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil {
		c.m = map[string]cachedToken{}
	}
	// Expired entries of tokens nobody presents again go here, so the map
	// holds at most the tokens used in the last TokenCacheTTL.
	for h, e := range c.m {
		if !now.Before(e.until) {
			delete(c.m, h)
		}
	}
	c.m[t.Hash] = cachedToken{tok: t, until: now.Add(TokenCacheTTL)}
}

func (c *tokenCache) drop(hash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, hash)
	delete(c.touched, hash)
	c.gen++
}

// authenticate finds the request's token: the store is searched by the
// token's hash, so lookup timing says nothing about how close a guess was.
// A request the console makes in-process for its session carries the
// session's token hash in its context instead (WithTokenHash): it is
// checked the same way, so a revoked token ends the session too.
func (a *API) authenticate(r *http.Request) (record.Token, error) {
	if h, ok := r.Context().Value(tokenHashKey{}).(string); ok {
		return a.TokenByHash(r.Context(), h)
	}
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || tok == "" {
		return record.Token{}, gateway.Errorf(http.StatusUnauthorized, "missing admin token: pass --token or set STRATA_TOKEN")
	}
	return a.TokenByHash(r.Context(), HashToken(tok))
}

// tokenHashKey is the context key of WithTokenHash: unexported, so only
// code in this process can set it, never a request from outside.
type tokenHashKey struct{}

// WithTokenHash returns ctx carrying a token's hash, for requests built
// in-process (the console's actions) that the API is to authorise as
// that token: every scope and project check applies as for a request
// that presented the token.
func WithTokenHash(ctx context.Context, hash string) context.Context {
	return context.WithValue(ctx, tokenHashKey{}, hash)
}

// TokenByHash returns the token whose hash is h, through the cache of
// tokens seen valid (TokenCacheTTL), and records its use. Unknown or
// revoked: a 401 error.
func (a *API) TokenByHash(ctx context.Context, h string) (record.Token, error) {
	now := a.cfg.Clock.Now()
	t, ok := a.tokens.get(h, now)
	if !ok {
		gen := a.tokens.generation()
		got, err := a.cfg.Store.TokenGet(ctx, h)
		if errors.Is(err, store.ErrNotFound) {
			return record.Token{}, gateway.Errorf(http.StatusUnauthorized, "invalid admin token (revoked, or never issued)")
		}
		if err != nil {
			return record.Token{}, fmt.Errorf("check token: %w", err)
		}
		a.tokens.put(*got, now, gen)
		t = *got
	}
	if a.tokens.touch(t, now) {
		// A failed write loses a "last used" time, not the request; a
		// canceled request does not cancel it.
		if err := a.cfg.Store.TokenTouch(context.WithoutCancel(ctx), t.Hash, now); err != nil {
			a.cfg.Logger.Warn("record token use", "token", t.Name, "err", err)
		}
	}
	return t, nil
}

// Access says which project a request acts on, so that a project-scoped
// token is let through only to its own project. Every route declares one
// when it is registered (handle); this file is the one place the
// decision is made.
type Access func(a *API, r *http.Request, tok record.Token) (project string, err error)

// AdminOnly routes act on every project (or on none in particular: the
// route table, logs, tokens, the profiler) and need an admin token.
var AdminOnly Access

// AnyProject routes either touch no project's data (content-addressed
// blob uploads, whoami) or check or filter by project themselves through
// allow and allowed (deploy: the project is in the body; listings).
func AnyProject(*API, *http.Request, record.Token) (string, error) { return "", errAnyProject }

var errAnyProject = errors.New("any project")

// FunctionProject: the route acts on the function named by the path
// parameter param, so on its project.
func FunctionProject(param string) Access {
	return func(a *API, r *http.Request, tok record.Token) (string, error) {
		name := r.PathValue(param)
		f, err := a.cfg.Store.FunctionGet(r.Context(), name)
		if err != nil {
			return "", err // the store names the function
		}
		return f.Project, nil
	}
}

// QueryFunctionProject: the route acts on the function named by the query
// parameter param (logs and usage of one function); without it the route
// spans every project and needs a token of every project.
func QueryFunctionProject(param string) Access {
	return func(a *API, r *http.Request, tok record.Token) (string, error) {
		name := r.URL.Query().Get(param)
		if name == "" {
			return "", gateway.Errorf(http.StatusForbidden, "token %s is limited to project %s; %s %s of every project needs a token of every project (name one of your functions with ?%s=)",
				tok.Name, tok.Project, r.Method, strings.TrimPrefix(r.URL.Path, apitype.Prefix), param)
		}
		f, err := a.cfg.Store.FunctionGet(r.Context(), name)
		if err != nil {
			return "", err // the store names the function
		}
		return f.Project, nil
	}
}

// DatabaseProject: the route acts on the database named by param.
func DatabaseProject(param string) Access {
	return func(a *API, r *http.Request, tok record.Token) (string, error) {
		name := r.PathValue(param)
		d, err := a.cfg.Store.DatabaseGet(r.Context(), name)
		if err != nil {
			return "", err // the store names the database
		}
		return d.Project, nil
	}
}

// QueueProject: the route acts on the queue named by param (internal
// queues have the project of their function or topic).
func QueueProject(param string) Access {
	return func(a *API, r *http.Request, tok record.Token) (string, error) {
		name := r.PathValue(param)
		q, err := a.cfg.Store.QueueGet(r.Context(), name)
		if err != nil {
			return "", err // the store names the queue
		}
		return q.Project, nil
	}
}

// ScheduleProject: the route acts on the schedule named by param.
func ScheduleProject(param string) Access {
	return func(a *API, r *http.Request, tok record.Token) (string, error) {
		s, err := a.scheduleGet(r.Context(), r.PathValue(param))
		if err != nil {
			return "", err
		}
		return s.Project, nil
	}
}

// PathProject: the path parameter param is the project.
func PathProject(param string) Access {
	return func(a *API, r *http.Request, tok record.Token) (string, error) {
		p := r.PathValue(param)
		return p, checkProjectName(p)
	}
}

// scopeRank orders scopes: a token may use a route whose scope ranks at
// or below its own.
var scopeRank = map[string]int{record.ScopeRead: 1, record.ScopeDeploy: 2, record.ScopeAdmin: 3}

// checkScope answers 403 naming the token's scope unless it reaches need.
func checkScope(r *http.Request, tok record.Token, need string) error {
	if scopeRank[tok.Scope] >= scopeRank[need] {
		return nil
	}
	also := " or admin"
	if need == record.ScopeAdmin {
		also = ""
	}
	return gateway.Errorf(http.StatusForbidden, "token %s has scope %s; %s %s needs scope %s%s",
		tok.Name, tok.Scope, r.Method, strings.TrimPrefix(r.URL.Path, apitype.Prefix), need, also)
}

// authorize authenticates r and checks its token may use a route with
// this access and scope; it returns the token, which the route's handler
// gets as an argument (for allow and allowed).
func (a *API) authorize(r *http.Request, acc Access, need string) (record.Token, error) {
	tok, err := a.authenticate(r)
	if err != nil {
		return record.Token{}, err
	}
	if err := checkScope(r, tok, need); err != nil {
		return record.Token{}, err
	}
	if tok.Project == "" {
		return tok, nil // a token of no one project reaches every project
	}
	if acc == nil {
		return record.Token{}, gateway.Errorf(http.StatusForbidden, "token %s is limited to project %s; %s %s needs a token of every project",
			tok.Name, tok.Project, r.Method, strings.TrimPrefix(r.URL.Path, apitype.Prefix))
	}
	project, err := acc(a, r, tok)
	if errors.Is(err, errAnyProject) {
		return tok, nil
	}
	if err != nil {
		return record.Token{}, err
	}
	if err := a.allow(tok, project); err != nil {
		return record.Token{}, err
	}
	return tok, nil
}

// allow answers 403 unless the request's token may act on project.
func (a *API) allow(tok record.Token, project string) error {
	if a.allowed(tok, project) {
		return nil
	}
	return gateway.Errorf(http.StatusForbidden, "token %s is limited to project %s; it may not act on project %s (use a token of that project, or an admin token)",
		tok.Name, tok.Project, project)
}

// allowed reports whether the request's token may act on project (for
// filtering listings).
func (a *API) allowed(tok record.Token, project string) bool {
	return tok.Project == "" || tok.Project == project
}

func (a *API) routeTokens() {
	a.handleAdmin("GET /tokens", a.tokenList)
	a.handleAdmin("POST /tokens", a.tokenCreate)
	a.handleAdmin("DELETE /tokens/{id}", a.tokenRevoke)
}

func tokenInfo(t record.Token) apitype.TokenInfo {
	ti := apitype.TokenInfo{ID: t.Hash[:min(tokenIDLen, len(t.Hash))], Name: t.Name, Project: t.Project, Scope: t.Scope, CreatedAt: t.CreatedAt}
	if !t.LastUsedAt.IsZero() {
		at := t.LastUsedAt
		ti.LastUsedAt = &at
	}
	return ti
}

// isAdmin reports whether t may do everything (manage tokens included).
func isAdmin(t record.Token) bool { return t.Project == "" && t.Scope == record.ScopeAdmin }

func (a *API) tokenList(w http.ResponseWriter, r *http.Request) error {
	ts, err := a.cfg.Store.TokenList(r.Context())
	if err != nil {
		return err
	}
	out := []apitype.TokenInfo{}
	for _, t := range ts {
		out = append(out, tokenInfo(t))
	}
	return writeJSON(w, http.StatusOK, out)
}

// maxTokenName caps a token's name (a label for people).
const maxTokenName = 100

func (a *API) tokenCreate(w http.ResponseWriter, r *http.Request) error {
	var req apitype.TokenCreateRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return gateway.Errorf(http.StatusBadRequest, `create token wants {"name": "...", "project": "...", "scope": "admin|deploy|read"}: %v`, err)
	}
	if req.Name == "" || len(req.Name) > maxTokenName || strings.ContainsFunc(req.Name, func(c rune) bool { return c < ' ' || c == 0x7f }) {
		return gateway.Errorf(http.StatusBadRequest, "token name %q: want 1..%d printable characters", req.Name, maxTokenName)
	}
	if req.Project != "" {
		if err := checkProjectName(req.Project); err != nil {
			return err
		}
	}
	if req.Scope == "" {
		req.Scope = record.ScopeAdmin
	}
	if _, ok := scopeRank[req.Scope]; !ok {
		return gateway.Errorf(http.StatusBadRequest, "token scope %q: want admin, deploy or read", req.Scope)
	}
	secret := NewToken()
	t := record.Token{Hash: HashToken(secret), Name: req.Name, Project: req.Project, Scope: req.Scope}
	if err := a.cfg.Store.TokenPut(r.Context(), t); err != nil {
		return fmt.Errorf("create token %s: %w", req.Name, err)
	}
	got, err := a.cfg.Store.TokenGet(r.Context(), t.Hash)
	if err != nil {
		return fmt.Errorf("create token %s: %w", req.Name, err)
	}
	a.cfg.Logger.Info("token created", "name", req.Name, "project", req.Project, "scope", req.Scope, "id", tokenInfo(*got).ID)
	return writeJSON(w, http.StatusCreated, apitype.TokenCreated{TokenInfo: tokenInfo(*got), Token: secret})
}

// tokenRevoke deletes a token, named by its ID or by its name when that
// is unique. It stops working on this node at once and on every other
// node within TokenCacheTTL. The last admin token (admin scope, every
// project) cannot be revoked: that would lock everyone out of the API.
func (a *API) tokenRevoke(w http.ResponseWriter, r *http.Request) error {
	ref := r.PathValue("id")
	ts, err := a.cfg.Store.TokenList(r.Context())
	if err != nil {
		return err
	}
	var match []record.Token
	admins := 0
	for _, t := range ts {
		if isAdmin(t) {
			admins++
		}
		if strings.HasPrefix(t.Hash, ref) && len(ref) == tokenIDLen || t.Name == ref {
			match = append(match, t)
		}
	}
	switch {
	case len(match) == 0:
		return &store.NotFoundError{Kind: "token", Name: ref, More: "(give an id from strata token list, or a name)"}
	case len(match) > 1:
		ids := make([]string, len(match))
		for i, t := range match {
			ids[i] = tokenInfo(t).ID
		}
		return gateway.Errorf(http.StatusConflict, "%d tokens are named %q; revoke one by id: %s", len(match), ref, strings.Join(ids, ", "))
	}
	t := match[0]
	if isAdmin(t) && admins == 1 {
		return gateway.Errorf(http.StatusConflict, "token %s is the last admin token; create another admin token first (strata token create NAME)", ref)
	}
	ok, err := a.cfg.Store.TokenDelete(r.Context(), t.Hash)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", ref, err)
	}
	a.tokens.drop(t.Hash)
	if !ok {
		return store.NotFound("token", ref)
	}
	a.cfg.Logger.Info("token revoked", "name", t.Name, "project", t.Project, "id", tokenInfo(t).ID)
	return writeJSON(w, http.StatusOK, tokenInfo(t))
}

func (a *API) whoami(w http.ResponseWriter, r *http.Request, t record.Token) error {
	scope := t.Project
	if scope == "" {
		scope = "*"
	}
	return writeJSON(w, http.StatusOK, apitype.Whoami{Project: scope, Scope: t.Scope, Status: "authorized", Token: t.Name})
}
