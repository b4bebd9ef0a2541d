package apitype

import (
	"time"

	"github.com/stratahq/strata/internal/record"
)

// RollbackRequest is the body of POST /functions/{name}/rollback.
type RollbackRequest struct {
	Version int `json:"version"`
}

// RollbackResult answers POST /functions/{name}/rollback. (Its fields are
// in name order, as the answer had them when it was a map.)
type RollbackResult struct {
	ActiveVersion int    `json:"active_version"`
	Function      string `json:"function"`
}

// FunctionInfo is one entry of GET /functions.
type FunctionInfo struct {
	Name          string                `json:"name"`
	Project       string                `json:"project"`
	ActiveVersion int                   `json:"active_version"`
	ModuleSHA256  string                `json:"module_sha256"`
	Config        record.FunctionConfig `json:"config"`
	UpdatedAt     time.Time             `json:"updated_at"`
	// Instances is this node's pool of the active version (absent when it
	// has none loaded).
	Instances *InstanceInfo `json:"instances,omitempty"`
}

// InstanceInfo describes a function's warm pool on the node that answered.
type InstanceInfo struct {
	Idle           int    `json:"idle"`
	Busy           int    `json:"busy"`
	Provisioned    int    `json:"provisioned"`
	ColdStarts     uint64 `json:"cold_starts"`
	Invocations    uint64 `json:"invocations"`
	PrewarmedAhead uint64 `json:"prewarmed_ahead"`
	WaitedWarm     uint64 `json:"waited_warm"`
	Discarded      uint64 `json:"discarded"`
	Reaped         uint64 `json:"reaped"`
}

// VersionInfo is one entry of GET /functions/{name}/versions.
type VersionInfo struct {
	Number       int                   `json:"number"`
	ModuleSHA256 string                `json:"module_sha256"`
	Config       record.FunctionConfig `json:"config"`
	CreatedAt    time.Time             `json:"created_at"`
	Active       bool                  `json:"active"`
}

// LogEntry is one line of GET /logs (newline-delimited JSON).
type LogEntry struct {
	ID           int64     `json:"id"`
	Time         time.Time `json:"time"`
	Function     string    `json:"function"`
	Version      int       `json:"version"`
	InvocationID string    `json:"invocation_id"`
	TraceID      string    `json:"trace_id"`
	SpanID       string    `json:"span_id,omitempty"`
	Stream       string    `json:"stream"`
	Level        string    `json:"level"` // debug, info, warn or error
	Line         string    `json:"line"`
}

// Prices turn usage into a cost estimate (meter.DefaultPrices are
// AWS Lambda's, so users can compare like for like).
type Prices struct {
	PerMillionRequests float64 `json:"per_million_requests"`
	PerGBSecond        float64 `json:"per_gb_second"`
}

// UsageLine is the usage of one function (or the total, Function "").
type UsageLine struct {
	Function    string  `json:"function"`
	Invocations int64   `json:"invocations"`
	Errors      int64   `json:"errors"`   // traps, panics, bad responses, over the CPU limit
	Timeouts    int64   `json:"timeouts"` // interrupted at the deadline
	Throttles   int64   `json:"throttles"`
	Canceled    int64   `json:"canceled"` // the caller went away mid-invocation
	ColdStarts  int64   `json:"cold_starts"`
	P50MS       float64 `json:"p50_ms"`
	P99MS       float64 `json:"p99_ms"`
	BilledMS    int64   `json:"billed_ms"`
	GBSeconds   float64 `json:"gb_seconds"`
	CostUSD     float64 `json:"cost_usd"`
}

// UsageReport is the answer to GET /usage, what `strata usage` shows
// (built by invoke.Summarize).
type UsageReport struct {
	Since     time.Time   `json:"since"`
	Prices    Prices      `json:"prices"`
	Functions []UsageLine `json:"functions"`
	Total     UsageLine   `json:"total"`
}
