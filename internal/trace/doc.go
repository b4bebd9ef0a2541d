// Package trace is the trace context of Strata's work and the seam to
// OpenTelemetry. It parses and mints W3C traceparent headers (Context,
// New, NewIn), and it wraps the node's OpenTelemetry tracer (Tracer) with
// what every component shares: the attribute keys of Strata's spans in one
// place, a parent taken from a traceparent header (WithParentHeader), the
// header of a span to store in a message or an execution (Header), and an
// invocation's Context built from its span (FromSpan), so the span id on
// its log lines, its usage record and the traceparent returned to its
// caller is its span's.
//
// A nil *Tracer (what NewTracer gives for the no-op provider) records
// nothing, and components skip all tracing work on it: with tracing off
// the request path allocates as before.
//
// It is separate from internal/invoke because more than the invocation
// pipeline traces: the gateway, the events engine, the flow engine and the
// Wasm runtime's host calls. It does not build the provider (sampling,
// exporters: the server's configuration does) and sends nothing itself.
package trace
