package config

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.Addr = "nonsense"
	c.IdleTimeout = time.Millisecond
	c.MaxBody = 0
	c.Store = "mysql://x"
	c.Prices.PerGBSecond = -1
	err := c.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"addr", "idle timeout", "max body", "store", "prices"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestStoreSelection(t *testing.T) {
	c := Default()
	c.DataDir = "/d"
	if c.IsPostgres() || c.SQLitePath() != "/d/strata.db" {
		t.Fatalf("default store: %v %s", c.IsPostgres(), c.SQLitePath())
	}
	c.Store = "postgres://u@h/db"
	if !c.IsPostgres() {
		t.Fatal("postgres URL not recognised")
	}
	c.Store = "sqlite:///var/x.db"
	if c.IsPostgres() || c.SQLitePath() != "/var/x.db" {
		t.Fatalf("sqlite URL: %s", c.SQLitePath())
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("STRATA_ADDR", "127.0.0.1:9")
	t.Setenv("STRATA_STORE", "postgres://x")
	c := Default()
	c.FromEnv()
	if c.Addr != "127.0.0.1:9" || c.Store != "postgres://x" {
		t.Fatalf("%+v", c)
	}
}

func TestOTLPFromEnv(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "")
	c := Default()
	c.FromEnv()
	if c.OTLPFromEnv || c.OTLPProtocol != "" {
		t.Fatalf("no variables: OTLP from env %v, protocol %q", c.OTLPFromEnv, c.OTLPProtocol)
	}

	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	c = Default()
	c.FromEnv()
	if !c.OTLPFromEnv || c.OTLPProtocol != "grpc" {
		t.Fatalf("OTLP from env %v, protocol %q; want true, grpc", c.OTLPFromEnv, c.OTLPProtocol)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf") // the signal's own wins
	c = Default()
	c.FromEnv()
	if c.OTLPProtocol != "http/protobuf" {
		t.Fatalf("protocol %q, want http/protobuf", c.OTLPProtocol)
	}

	c.OTLPProtocol = "thrift"
	c.OTLPEndpoint = "collector:4317"
	c.TraceSample = 1.5
	err := c.Validate()
	for _, want := range []string{"otlp protocol", "otlp endpoint", "trace sample"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v; want it to name %s", err, want)
		}
	}
}
