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

func TestMetricsAddr(t *testing.T) {
	for _, tc := range []struct {
		name, addr, admin, metrics, want string
	}{
		{"unset", "127.0.0.1:8080", "", "", ""},
		{"own port", "127.0.0.1:8080", "", "127.0.0.1:9464", ""},
		{"free ports", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", ""},
		{"no port", "127.0.0.1:8080", "", "localhost", `metrics addr "localhost": want host:port`},
		{"the public address", "127.0.0.1:8080", "", "127.0.0.1:8080", `metrics addr "127.0.0.1:8080": is the public or admin address too`},
		{"the admin address", "127.0.0.1:8080", "127.0.0.1:8081", "127.0.0.1:8081", `metrics addr "127.0.0.1:8081": is the public or admin address too`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Addr, c.AdminAddr, c.MetricsAddr = tc.addr, tc.admin, tc.metrics
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
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
