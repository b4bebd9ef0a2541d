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

	"github.com/stratahq/strata/internal/record"
)

// Sentinel errors. Backends wrap them with %w so callers use errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	// ErrTooLarge: a value or key is over its limit (KVMaxValueBytes,
	// KVMaxKeyBytes); nothing was stored.
	ErrTooLarge = errors.New("too large")
)

// NotFoundError is ErrNotFound for one named thing. Its text is the whole
// message ("execution \"nope\" not found"), so callers return it as it is
// rather than wrapping it in what they were doing with the same name: that
// read "execution nope: get execution nope: execution nope: not found".
type NotFoundError struct {
	Kind string // "function", "queue", "execution" …
	Name string
	More string // where it was looked for, or what to do: follows the message after a space
}

func (e *NotFoundError) Error() string {
	if e.More != "" {
		return fmt.Sprintf("%s %q not found %s", e.Kind, e.Name, e.More)
	}
	return fmt.Sprintf("%s %q not found", e.Kind, e.Name)
}

// Is makes errors.Is(err, ErrNotFound) hold.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// NotFound returns the NotFoundError for kind and name.
func NotFound(kind, name string) error { return &NotFoundError{Kind: kind, Name: name} }

// Wrapf wraps err with what was being done ("send to queue orders: %w"),
// except a NotFoundError or an ExecutionStateError, which name the thing
// already and are returned as they are.
func Wrapf(err error, format string, args ...any) error {
	var nf *NotFoundError
	var se *ExecutionStateError
	if errors.As(err, &nf) || errors.As(err, &se) {
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// NewVersionParams asks for a new version of a function (created if absent)
// which becomes its active version.
type NewVersionParams struct {
	Function     string
	ModuleSHA256 string
	Config       record.FunctionConfig
}

// DeploymentApplyParams is a whole deploy of one project, applied in one
// transaction: either everything lands or nothing does.
type DeploymentApplyParams struct {
	Project         string
	NewVersions     []NewVersionParams
	RemoveFunctions []string       // functions of this project to delete (with versions)
	Routes          []record.Route // the project's complete route set after the deploy
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
	CheckRoutes func(others []record.Route) error
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
	Versions []record.Version // one per NewVersions entry, in order
}

// UsageListParams filters usage records. Zero fields do not filter.
type UsageListParams struct {
	Function string
	Since    time.Time
	Limit    int // 0 means no limit
}

// LogListParams selects log lines with ID > AfterID, oldest first.
// Filters left at their zero value do not apply.
type LogListParams struct {
	Function     string
	InvocationID string
	AfterID      int64
	TraceID      string          // lines of invocations in this trace
	Since        time.Time       // lines logged at or after
	Until        time.Time       // lines logged before
	MinLevel     record.LogLevel // lines of this level or above
	Limit        int             // 0 means the backend's default of 1000
	// Tail, when > 0, returns the last Tail matching lines (still oldest
	// first) instead of the first Limit.
	Tail int
}

// Store is everything durable Strata keeps. All methods are safe for
// concurrent use.
type Store interface {
	Events
	Bindings
	Flow
	UsageSeries
	Traces
	Objects
	StateMachines
	Nodes

	// BlobPut stores bytes under their SHA-256 (hex). Storing existing
	// content is a no-op. The backend verifies the digest.
	BlobPut(ctx context.Context, sha256 string, data []byte) error
	BlobGet(ctx context.Context, sha256 string) ([]byte, error)
	BlobExists(ctx context.Context, sha256 string) (bool, error)

	// DeploymentApply applies a project's deploy atomically.
	DeploymentApply(ctx context.Context, p DeploymentApplyParams) (*DeploymentApplyResult, error)

	FunctionGet(ctx context.Context, name string) (*record.Function, error)
	FunctionList(ctx context.Context) ([]record.Function, error)
	// FunctionSetActiveVersion repoints a function (rollback).
	// ErrNotFound if the function or version does not exist.
	FunctionSetActiveVersion(ctx context.Context, name string, version int) error

	VersionGet(ctx context.Context, function string, number int) (*record.Version, error)
	// VersionList returns a function's versions, newest first.
	VersionList(ctx context.Context, function string) ([]record.Version, error)

	// RouteList returns every route of every project.
	RouteList(ctx context.Context) ([]record.Route, error)

	UsageInsert(ctx context.Context, records []record.Usage) error
	UsageList(ctx context.Context, p UsageListParams) ([]record.Usage, error)
	UsageDeleteBefore(ctx context.Context, t time.Time) (int64, error)

	// LogInsert stores lines and assigns their IDs.
	LogInsert(ctx context.Context, lines []record.LogLine) error
	LogList(ctx context.Context, p LogListParams) ([]record.LogLine, error)
	LogDeleteBefore(ctx context.Context, t time.Time) (int64, error)

	// TokenPut records a token by the SHA-256 hash (hex) of its secret
	// value; putting an existing hash renames and re-scopes it.
	TokenPut(ctx context.Context, t record.Token) error
	// TokenGet returns the token with this hash; unknown: ErrNotFound.
	TokenGet(ctx context.Context, hash string) (*record.Token, error)
	// TokenList returns every token (hashes included, never the secret
	// values, which the store does not have), oldest first.
	TokenList(ctx context.Context) ([]record.Token, error)
	// TokenDelete removes the token with this hash (revocation) and
	// reports whether it existed.
	TokenDelete(ctx context.Context, hash string) (bool, error)
	// TokenCount reports how many admin tokens exist.
	TokenCount(ctx context.Context) (int, error)
	// TokenTouch records that the token was used at at (never moving the
	// time back); an unknown hash is no error. Callers throttle it.
	TokenTouch(ctx context.Context, hash string, at time.Time) error

	// SettingClaim stores value under name unless the store holds a
	// value for it already, and returns the value the store holds: the
	// first node's, for every node sharing the store.
	SettingClaim(ctx context.Context, name, value string) (string, error)

	Close() error
}
