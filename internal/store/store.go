// Package store is Strata's storage contract: the records it keeps, the
// interface every backend implements, and the sentinel errors callers branch
// on. It holds no SQL. Backends live in store/sqlite (embedded, the default)
// and store/postgres, and both pass the one conformance suite in
// store/storetest.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Backends wrap them with %w so callers use errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	// ErrTooLarge: a value or key is over its limit (KVMaxValueBytes,
	// KVMaxKeyBytes); nothing was stored.
	ErrTooLarge = errors.New("too large")
)

// Module kinds.
const (
	KindReactor = "reactor" // built with the Go SDK, instance reused
	KindCommand = "command" // WASI _start, CGI style, fresh instance per request
)

// Invocation outcomes recorded in usage.
const (
	OutcomeOK       = "ok"       // the guest answered (any HTTP status)
	OutcomeError    = "error"    // trap, panic, bad response
	OutcomeTimeout  = "timeout"  // deadline reached, guest interrupted
	OutcomeLimited  = "limited"  // rejected before running (concurrency, size)
	OutcomeCanceled = "canceled" // the caller went away; the guest was stopped
)

// FunctionConfig is the part of a function version that is not code.
// Two versions with equal ModuleSHA256 and equal FunctionConfig are the same.
type FunctionConfig struct {
	Kind           string            `json:"kind"`
	MemoryMB       int               `json:"memory_mb"`
	TimeoutMS      int64             `json:"timeout_ms"`
	MaxConcurrency int               `json:"max_concurrency"`
	Env            map[string]string `json:"env,omitempty"`
	// Provisioned instances are kept initialised at all times, ahead of
	// traffic (0: none; scale to zero when idle).
	Provisioned int `json:"provisioned,omitempty"`
	// Bindings are the databases and KV namespaces the function may use.
	Bindings []Binding `json:"bindings,omitempty"`
	// Secrets the function may read (names; values live encrypted in the
	// store and are read at call time, so rotation needs no redeploy).
	Secrets []string `json:"secrets,omitempty"`
	// Fetch is the outbound HTTP allow-list: exact hosts ("api.stripe.com"),
	// wildcards ("*.example.org"), optionally with a port. Empty: no
	// outbound HTTP at all.
	Fetch []string `json:"fetch,omitempty"`
	// FetchPrivate allows fetch to reach loopback, private and link-local
	// addresses of listed hosts (off by default, against SSRF).
	FetchPrivate bool `json:"fetch_private,omitempty"`
	// Workflows are the workflows this function's code orchestrates
	// (declared under workflows: in strata.yaml).
	Workflows []WorkflowConfig `json:"workflows,omitempty"`
}

// WorkflowConfig is one workflow a function orchestrates.
type WorkflowConfig struct {
	Name string `json:"name"`
	// HistoryLimit is the number of events one run may hold (0: the
	// engine's default).
	HistoryLimit int `json:"history_limit,omitempty"`
	// Retention keeps a finished execution this long (0: the default).
	Retention time.Duration `json:"retention,omitempty"`
}

// Version is one immutable, numbered version of a function.
type Version struct {
	Function     string
	Number       int
	ModuleSHA256 string // hex; the bytes are a blob
	Config       FunctionConfig
	CreatedAt    time.Time
}

// Function is a named function and the version its triggers point at.
type Function struct {
	Name          string
	Project       string
	ActiveVersion int
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Route is one HTTP route of a project. Path uses {name} for parameters and
// may end in {name...} (or "/*") for a catch-all. Method "*" matches any method.
type Route struct {
	Project  string
	Method   string
	Path     string
	Function string
	// Workflow, when set, makes the route start an execution of this
	// workflow (orchestrated by Function) and answer 202 with its id.
	Workflow string
	// Async routes store the request as an event in the function's async
	// queue and answer 202 with its id at once.
	Async bool
	// RateLimit is the route's steady rate in requests per second (0: no
	// limit) and RateBurst how many may come at once.
	RateLimit float64
	RateBurst int
}

// NewVersionParams asks for a new version of a function (created if absent)
// which becomes its active version.
type NewVersionParams struct {
	Function     string
	ModuleSHA256 string
	Config       FunctionConfig
}

// DeploymentApplyParams is a whole deploy of one project, applied in one
// transaction: either everything lands or nothing does.
type DeploymentApplyParams struct {
	Project         string
	NewVersions     []NewVersionParams
	RemoveFunctions []string // functions of this project to delete (with versions)
	Routes          []Route  // the project's complete route set after the deploy
	// Events, when not nil, replaces the project's queues, topics and
	// schedules in the same transaction (see EventsApplyParams).
	Events *EventsApplyParams
	// Bindings, when not nil, replaces the project's databases and KV
	// namespaces in the same transaction (see BindingsApplyParams).
	Bindings *BindingsApplyParams
	// CheckRoutes, when not nil, is called inside the transaction, once
	// no other deploy can commit (the deploy lock is held), with every
	// other project's routes; an error aborts the deploy. It keeps the
	// planner's route-ownership check true against a deploy another node
	// committed since the plan was made.
	CheckRoutes func(others []Route) error
}

// Validate checks what a deploy needs no database for: a project, function
// names, module digests and complete routes, no route listed twice (that
// wraps ErrConflict) and no function both given a version and removed.
// Backends call it before touching anything.
func (p DeploymentApplyParams) Validate() error {
	if p.Project == "" {
		return errors.New("deploy: empty project name")
	}
	updated := make(map[string]bool, len(p.NewVersions))
	for _, v := range p.NewVersions {
		if v.Function == "" {
			return fmt.Errorf("deploy project %s: new version with empty function name", p.Project)
		}
		if !isHexSHA256(v.ModuleSHA256) {
			return fmt.Errorf("deploy project %s: function %s: module digest %q is not a lowercase hex SHA-256", p.Project, v.Function, v.ModuleSHA256)
		}
		updated[v.Function] = true
	}
	for _, name := range p.RemoveFunctions {
		if updated[name] {
			return fmt.Errorf("deploy project %s: function %s is both given a new version and removed", p.Project, name)
		}
	}
	seen := make(map[[2]string]bool, len(p.Routes))
	for _, r := range p.Routes {
		if r.Method == "" || r.Path == "" || r.Function == "" {
			return fmt.Errorf("deploy project %s: route %q %q -> %q: method, path and function are required", p.Project, r.Method, r.Path, r.Function)
		}
		k := [2]string{r.Method, r.Path}
		if seen[k] {
			return fmt.Errorf("deploy project %s: route %s %s listed twice: %w", p.Project, r.Method, r.Path, ErrConflict)
		}
		seen[k] = true
		if r.RateLimit < 0 || r.RateBurst < 0 {
			return fmt.Errorf("deploy project %s: route %s %s: negative rate limit or burst", p.Project, r.Method, r.Path)
		}
	}
	if p.Events != nil {
		if err := p.Events.Validate(p.Project); err != nil {
			return err
		}
	}
	if p.Bindings != nil {
		return p.Bindings.Validate(p.Project)
	}
	return nil
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// DeploymentApplyResult reports what the deploy created.
type DeploymentApplyResult struct {
	Versions []Version // one per NewVersions entry, in order
}

// Usage is the metering record of one invocation.
type Usage struct {
	InvocationID string
	Function     string
	Version      int
	Trigger      string // "http", "invoke", ...
	TraceID      string // 32 hex
	Start        time.Time
	Duration     time.Duration
	BilledMS     int64 // duration rounded up to whole ms, at least 1
	MemoryMB     int
	Cold         bool
	Outcome      string
	Status       int // HTTP status returned, 0 if none
	Error        string
}

// UsageListParams filters usage records. Zero fields do not filter.
type UsageListParams struct {
	Function string
	Since    time.Time
	Limit    int // 0 means no limit
}

// LogLine is one line a guest wrote to stdout or stderr, or a platform line
// about an invocation (Stream "platform").
type LogLine struct {
	ID           int64 // assigned by the store, increasing; used to follow
	InvocationID string
	Function     string
	Version      int
	TraceID      string
	Time         time.Time
	Stream       string // stdout, stderr, platform
	Line         string
}

// LogListParams selects log lines with ID > AfterID, oldest first.
type LogListParams struct {
	Function     string
	InvocationID string
	AfterID      int64
	Limit        int // 0 means the backend's default of 1000
}

// Token is an API token as the store keeps it: the SHA-256 of the secret
// value, never the value.
type Token struct {
	Hash string // hex SHA-256 of the token
	Name string // what the operator called it; not unique
	// Project limits the token to one project's functions, deploys,
	// secrets and databases; "" is an admin token (every project).
	Project   string
	CreatedAt time.Time
}

// Store is everything durable Strata keeps. All methods are safe for
// concurrent use.
type Store interface {
	Events
	Bindings
	Flow

	// BlobPut stores bytes under their SHA-256 (hex). Storing existing
	// content is a no-op. The backend verifies the digest.
	BlobPut(ctx context.Context, sha256 string, data []byte) error
	BlobGet(ctx context.Context, sha256 string) ([]byte, error)
	BlobExists(ctx context.Context, sha256 string) (bool, error)

	// DeploymentApply applies a project's deploy atomically.
	DeploymentApply(ctx context.Context, p DeploymentApplyParams) (*DeploymentApplyResult, error)

	FunctionGet(ctx context.Context, name string) (*Function, error)
	FunctionList(ctx context.Context) ([]Function, error)
	// FunctionSetActiveVersion repoints a function (rollback).
	// ErrNotFound if the function or version does not exist.
	FunctionSetActiveVersion(ctx context.Context, name string, version int) error

	VersionGet(ctx context.Context, function string, number int) (*Version, error)
	// VersionList returns a function's versions, newest first.
	VersionList(ctx context.Context, function string) ([]Version, error)

	// RouteList returns every route of every project.
	RouteList(ctx context.Context) ([]Route, error)

	UsageInsert(ctx context.Context, records []Usage) error
	UsageList(ctx context.Context, p UsageListParams) ([]Usage, error)
	UsageDeleteBefore(ctx context.Context, t time.Time) (int64, error)

	// LogInsert stores lines and assigns their IDs.
	LogInsert(ctx context.Context, lines []LogLine) error
	LogList(ctx context.Context, p LogListParams) ([]LogLine, error)
	LogDeleteBefore(ctx context.Context, t time.Time) (int64, error)

	// TokenPut records a token by the SHA-256 hash (hex) of its secret
	// value; putting an existing hash renames and re-scopes it.
	TokenPut(ctx context.Context, t Token) error
	// TokenGet returns the token with this hash; unknown: ErrNotFound.
	TokenGet(ctx context.Context, hash string) (*Token, error)
	// TokenList returns every token (hashes included, never the secret
	// values, which the store does not have), oldest first.
	TokenList(ctx context.Context) ([]Token, error)
	// TokenDelete removes the token with this hash (revocation) and
	// reports whether it existed.
	TokenDelete(ctx context.Context, hash string) (bool, error)
	// TokenCount reports how many admin tokens exist.
	TokenCount(ctx context.Context) (int, error)

	Close() error
}
