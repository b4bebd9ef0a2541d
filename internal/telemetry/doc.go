// Package telemetry builds the node's OpenTelemetry TracerProvider from the
// configuration and owns where finished spans go: the built-in trace store
// (store.Traces, batched off the request path) and an OTLP collector over
// HTTP or gRPC. It decides sampling (parent-based ratio, errors always
// kept), bounds span size, prunes the trace store by age and count, and
// counts exported and dropped spans per exporter.
//
// It records no spans itself: components take the provider from the server
// and start their own. Nothing here ever blocks the goroutine that ends a
// span: a full buffer drops the span and counts it.
package telemetry
