package telemetry

import (
	"context"
	"fmt"
	"net/url"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The OTLP protocols --otlp-protocol accepts (OTEL_EXPORTER_OTLP_PROTOCOL's
// spellings).
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http/protobuf"
)

// newOTLP returns the OTLP exporter cfg asks for. With OTLPEndpoint set it
// names the collector (taking precedence over the environment, as the
// SDK's options do); otherwise the SDK reads the endpoint from
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT. The
// exporter reads headers, timeout, certificates and compression from the
// standard variables itself.
func newOTLP(ctx context.Context, cfg Config) (sdktrace.SpanExporter, error) {
	retry := cfg.OTLPRetry > 0
	switch cfg.OTLPProtocol {
	case ProtocolHTTP:
		opts := []otlptracehttp.Option{otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: retry,
			InitialInterval: defaultInterval, MaxInterval: 5 * defaultInterval, MaxElapsedTime: cfg.OTLPRetry})}
		if cfg.OTLPEndpoint != "" {
			u, err := endpointURL(cfg.OTLPEndpoint)
			if err != nil {
				return nil, err
			}
			if u.Path == "" || u.Path == "/" {
				u.Path = "/v1/traces" // a base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is
			}
			opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
		}
		exp, err := otlptracehttp.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("otlp http exporter: %w", err)
		}
		return exp, nil
	case ProtocolGRPC:
		opts := []otlptracegrpc.Option{otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: retry,
			InitialInterval: defaultInterval, MaxInterval: 5 * defaultInterval, MaxElapsedTime: cfg.OTLPRetry})}
		if cfg.OTLPEndpoint != "" {
			u, err := endpointURL(cfg.OTLPEndpoint)
			if err != nil {
				return nil, err
			}
			opts = append(opts, otlptracegrpc.WithEndpointURL(u.String()))
		}
		exp, err := otlptracegrpc.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("otlp grpc exporter: %w", err)
		}
		return exp, nil
	}
	return nil, fmt.Errorf("otlp protocol %q: want %s or %s", cfg.OTLPProtocol, ProtocolGRPC, ProtocolHTTP)
}

// endpointURL parses --otlp-endpoint: an http or https URL with a host.
func endpointURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("otlp endpoint %q: want http://host:port or https://host:port", s)
	}
	return u, nil
}
