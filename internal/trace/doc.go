// Package trace is the W3C trace context (traceparent) of an invocation:
// it continues the trace a caller sent or starts a new one, and gives the
// invocation its own span id, which travels to the guest, onto its log
// lines and usage record, and into the events and workflows it starts.
//
// It is separate from internal/invoke because more than the invocation
// pipeline creates trace contexts: the flow engine gives each workflow
// execution one when it starts (before any invocation runs), and what
// exports spans (OTLP, planned in internal/telemetry) will build on it
// without depending on how invocations run. It owns parsing and minting
// ids only; it records nothing and sends nothing.
package trace
