package record

import (
	"strings"
	"time"
)

// Module kinds.
const (
	KindReactor = "reactor" // built with the Go SDK, instance reused
	KindCommand = "command" // WASI _start, CGI style, fresh instance per request
	KindProcess = "process" // a sandboxed process speaking AWS Lambda's Runtime API (internal/process)
)

// Runtimes of a process function (FunctionConfig.Runtime).
const (
	RuntimeNode     = "nodejs"   // Strata's Node.js bootstrap loads Handler
	RuntimePython   = "python"   // Strata's Python bootstrap loads Handler
	RuntimeProvided = "provided" // the function's own executable "bootstrap"
)

// Event shapes a function takes (FunctionConfig.Events): how its triggers
// hand it requests, queue messages and schedule fires.
const (
	EventsCloudEvents = ""       // the default: HTTP as is, events as CloudEvents
	EventsLambda      = "lambda" // AWS Lambda's event shapes (package lambda)
)

// Invocation outcomes recorded in usage.
const (
	OutcomeOK       = "ok"        // the guest answered (any HTTP status)
	OutcomeError    = "error"     // trap, panic, bad response
	OutcomeTimeout  = "timeout"   // deadline reached, guest interrupted
	OutcomeLimited  = "limited"   // rejected before running (concurrency, size)
	OutcomeCanceled = "canceled"  // the caller went away; the guest was stopped
	OutcomeCPULimit = "cpu_limit" // over its CPU time per request (cpu_ms), guest interrupted
)

// FunctionConfig is the part of a function version that is not code.
// Two versions with equal ModuleSHA256 and equal FunctionConfig are the same.
type FunctionConfig struct {
	Kind      string `json:"kind"`
	MemoryMB  int    `json:"memory_mb"`
	TimeoutMS int64  `json:"timeout_ms"`
	// CPUMS bounds the on-CPU time of one invocation in milliseconds,
	// below TimeoutMS (0: no limit; only the timeout applies).
	CPUMS          int64             `json:"cpu_ms,omitempty"`
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
	// Objects are the durable object classes this function's code defines
	// (objects: in strata.yaml), sorted by name.
	Objects []ObjectClass `json:"objects,omitempty"`
	// Events is the event shape the function takes: EventsCloudEvents
	// (empty) or EventsLambda (events: lambda in strata.yaml).
	Events string `json:"events,omitempty"`
	// Runtime and Handler are a process function's (Kind KindProcess):
	// what runs its code, and the handler it loads ("index.handler":
	// file index, export handler), as Lambda's settings of those names.
	Runtime string `json:"runtime,omitempty"`
	Handler string `json:"handler,omitempty"`
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
	// Object, when set, forwards the route to the durable object of this
	// class (defined by Function) whose id derives from the path
	// parameter ObjectParam (idFromName of its value).
	Object      string
	ObjectParam string
	// WebSocket routes upgrade the request and invoke Function once per
	// connection event ($connect, each message, $disconnect).
	WebSocket bool
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

// LogLine is one line a guest wrote to stdout or stderr, or a platform line
// about an invocation (Stream "platform").
type LogLine struct {
	ID           int64 // assigned by the store, increasing; used to follow
	InvocationID string
	Function     string
	Version      int
	TraceID      string
	SpanID       string // 16 hex: the invocation's span, which the line was written in
	Time         time.Time
	Stream       string // stdout, stderr, platform
	Level        LogLevel
	Line         string
}

// LogLevel is a log line's severity, so `strata logs --level warn` can
// filter. Guests print text, so the level is read from the line when it
// says one (see invoke's lineLevel); the zero value means "not known" and
// is stored as info.
type LogLevel int

// Levels, in increasing severity (the store compares them as integers).
const (
	LevelDebug LogLevel = iota + 1
	LevelInfo
	LevelWarn
	LevelError
)

var levelNames = [...]string{LevelDebug: "debug", LevelInfo: "info", LevelWarn: "warn", LevelError: "error"}

// String is the level's lower-case name ("info" for the zero value).
func (l LogLevel) String() string {
	if l < LevelDebug || l > LevelError {
		return "info"
	}
	return levelNames[l]
}

// ParseLogLevel reads debug, info, warn (or warning) or error, in any case.
func ParseLogLevel(s string) (LogLevel, bool) {
	switch strings.ToLower(s) {
	case "debug":
		return LevelDebug, true
	case "info":
		return LevelInfo, true
	case "warn", "warning":
		return LevelWarn, true
	case "error":
		return LevelError, true
	}
	return 0, false
}

// Token is an API token as the store keeps it: the SHA-256 of the secret
// value, never the value.
type Token struct {
	Hash string // hex SHA-256 of the token
	Name string // what the operator called it; not unique
	// Project limits the token to one project's functions, deploys,
	// secrets and databases; "" is an admin token (every project).
	Project string
	// Scope is what the token may do: ScopeAdmin, ScopeDeploy or
	// ScopeRead (package api decides what each allows).
	Scope     string
	CreatedAt time.Time
	// LastUsedAt is when the token was last presented, to within a
	// minute (nodes write it at most once a minute); zero: never.
	LastUsedAt time.Time
}

// Token scopes, from most to least power.
const (
	ScopeAdmin  = "admin"
	ScopeDeploy = "deploy"
	ScopeRead   = "read"
)
