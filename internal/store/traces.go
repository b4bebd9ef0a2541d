package store

import (
	"context"
	"time"
)

// Span is one finished span as the built-in trace store keeps it: enough
// for the console's trace search and waterfall without an external
// tracing backend. Spans are written in batches off the request path
// (internal/telemetry) and read back per trace.
type Span struct {
	TraceID  string // 32 lowercase hex
	SpanID   string // 16 lowercase hex
	ParentID string // 16 hex, "" for a root span
	// Project owns the span: the project of the function, queue or
	// workflow it is about; "" for platform spans (an unmatched route).
	// Reads for a project-scoped token filter on it.
	Project  string
	Function string // the function it ran or is about, "" if none
	Name     string // "GET /hello/{name}", "invoke hello", "sql.query" …
	Kind     string // "server", "client", "internal", "producer", "consumer"
	Start    time.Time
	Duration time.Duration
	// Status is "ok", "error" or "" (unset); StatusMessage says why an
	// error span failed.
	Status        string
	StatusMessage string
	// Attributes are the span's attributes as strings (values already
	// truncated by the writer), and Events its timestamped events, both
	// stored as JSON.
	Attributes map[string]string
	Events     []SpanEvent
}

// SpanEvent is a timestamped annotation of a span (an exception, a retry).
type SpanEvent struct {
	Time       time.Time         `json:"time"`
	Name       string            `json:"name"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// TraceListParams searches traces. Zero fields do not filter.
type TraceListParams struct {
	Project     string        // only traces with a span of this project
	Function    string        // only traces with a span of this function
	ErrorsOnly  bool          // only traces with an error span
	MinDuration time.Duration // root span at least this long
	Since       time.Time     // root span started at or after
	Before      time.Time     // root span started before (paging, newest first)
	Limit       int           // 0 means 50
}

// TraceSummary is one row of a trace search: the trace's root span (or
// its earliest span when the root is not stored) and what it contains.
type TraceSummary struct {
	TraceID  string
	Name     string // the root span's name
	Project  string
	Function string
	Start    time.Time
	Duration time.Duration
	Spans    int
	Errors   int
}

// Traces is the built-in trace store.
type Traces interface {
	// SpanInsert stores finished spans; a span already stored (same trace
	// and span id) is left as it is.
	SpanInsert(ctx context.Context, spans []Span) error
	// TraceList returns traces matching p, newest root first.
	TraceList(ctx context.Context, p TraceListParams) ([]TraceSummary, error)
	// TraceGet returns a trace's spans ordered by start time; with project
	// set, only that project's spans (a project-scoped reader never sees
	// another project's spans of a shared trace). Unknown trace:
	// ErrNotFound.
	TraceGet(ctx context.Context, traceID, project string) ([]Span, error)
	// SpanPrune deletes spans that started before before, then the oldest
	// spans beyond maxSpans (0: no cap), and reports how many went.
	SpanPrune(ctx context.Context, before time.Time, maxSpans int) (int64, error)
}
