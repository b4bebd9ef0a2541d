// Package config holds Strata's one flat server configuration: defaults,
// validation, and reading the values that come from the environment. Flags
// are bound by the CLI onto the same struct; nothing else reads the
// environment for server settings. It also owns the modes of what a server
// keeps on disk (files.go): a private umask and a data directory only the
// server's user can read.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/cluster"
	"github.com/stratahq/strata/internal/meter"
	"github.com/stratahq/strata/internal/wasm"
)

// Config is the whole configuration of a Strata server.
type Config struct {
	Addr string // listen address, host:port
	// AdminAddr, when set, is a second listener that alone serves the
	// admin API (/_strata/api/); the public one then answers 404 there.
	// "": the admin API is served on Addr.
	AdminAddr string
	// MetricsAddr, when set, is a listener serving only GET /metrics
	// (Prometheus) without a token: bind it where only the monitoring
	// system reaches. "": metrics are served on the admin API alone, to a
	// token of every project with read scope (/_strata/api/metrics).
	MetricsAddr string
	// TLSCert and TLSKey are PEM files: when set, both listeners serve
	// HTTPS only.
	TLSCert, TLSKey string
	// SecretKey (base64 of 32 bytes, STRATA_SECRET_KEY) or SecretKeyFile
	// (a file holding that, or the 32 raw bytes) is the key that encrypts
	// secrets. A PostgreSQL store needs one of them (every node must use
	// the same key); with SQLite, unset, the key is a file in DataDir.
	SecretKey      string
	SecretKeyFile  string
	Store          string        // "" or "sqlite" (a file under DataDir), a SQLite file path, or postgres://…
	DataDir        string        // where the embedded store and other local state live
	CacheDir       string        // on-disk compilation cache shared by all projects
	IdleTimeout    time.Duration // idle instances are reclaimed after this (scale to zero)
	MaxConcurrency int           // invocations at once on this node across all functions (0: no cap)
	// ProjectConcurrency is the most invocations one project may run at
	// once on this node, so one project cannot take the whole node (0:
	// 80% of MaxConcurrency; -1: no per-project cap).
	ProjectConcurrency int
	// MemoryBudgetMB is the memory all live instances together may hold,
	// each its function's memory limit (0: three quarters of the
	// machine's memory, or of the cgroup's limit when lower; -1: none).
	// GOMEMLIMIT is set from it unless the environment sets GOMEMLIMIT.
	MemoryBudgetMB int64
	MaxBody        int64         // request body cap in bytes
	HeaderTimeout  time.Duration // request headers must arrive within this (slow clients)
	ReadTimeout    time.Duration // whole-request read deadline against slow clients
	SyncInterval   time.Duration // how often a node re-reads what is deployed (other nodes' deploys)
	LogRetention   time.Duration
	UsageRetention time.Duration
	Prices         apitype.Prices
	Version        string
	// CompileBudget bounds compiling one module at deploy and start-up; a
	// module over it is refused (wasm.DefaultCompileBudget).
	CompileBudget time.Duration
	// InitTimeout bounds a reactor's _initialize when it runs at deploy
	// and start-up to take its snapshot; a module whose _initialize does
	// not return in time is refused (wasm.DefaultInitTimeout).
	InitTimeout time.Duration
	// MaxFunctionBranches refuses, before compiling, a module with a
	// function of more control instructions than this: compile time
	// explodes above some tens of thousands (wasm.DefaultMaxFunctionBranches).
	MaxFunctionBranches int

	// Cluster membership (internal/cluster). NodeID names this node in
	// the store's node list and as the owner of its leases ("": the
	// host's name and the listen port). Advertise is the address others
	// reach it at ("": the listen address, the host's name for an
	// unspecified IP). NodeLease: silent this long, a node is declared
	// gone. DrainTimeout bounds a stop's drain: in-flight requests and
	// invocations get this long to finish.
	NodeID       string
	Advertise    string
	NodeLease    time.Duration
	DrainTimeout time.Duration

	// Tracing (internal/telemetry). TraceSample is the share of new
	// traces recorded, parent-based, errors kept whatever it says; 0
	// turns tracing off. TraceRetention and TraceMaxSpans bound the
	// built-in trace store (TraceMaxSpans 0: no cap). OTLPEndpoint (a
	// base URL) or the standard OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT
	// variable (OTLPFromEnv) also send spans to a collector over
	// OTLPProtocol: "grpc" or "http/protobuf".
	TraceSample    float64
	TraceRetention time.Duration
	TraceMaxSpans  int
	OTLPEndpoint   string
	OTLPProtocol   string
	OTLPFromEnv    bool
}

// Default returns the defaults.
func Default() Config {
	cache := ""
	if d, err := os.UserCacheDir(); err == nil {
		cache = filepath.Join(d, "strata", "compile")
	}
	return Config{
		Addr:           "127.0.0.1:8080",
		DataDir:        "strata-data",
		CacheDir:       cache,
		IdleTimeout:    5 * time.Minute,
		MaxConcurrency: 1000,
		MaxBody:        6 << 20,
		HeaderTimeout:  10 * time.Second,
		ReadTimeout:    60 * time.Second,
		SyncInterval:   2 * time.Second,
		LogRetention:   7 * 24 * time.Hour,
		UsageRetention: 30 * 24 * time.Hour,
		Prices:         meter.DefaultPrices,
		CompileBudget:  wasm.DefaultCompileBudget,
		InitTimeout:    wasm.DefaultInitTimeout,

		MaxFunctionBranches: wasm.DefaultMaxFunctionBranches,

		NodeLease:    cluster.DefaultLease,
		DrainTimeout: 30 * time.Second,

		TraceSample:    0.1,
		TraceRetention: 7 * 24 * time.Hour,
		TraceMaxSpans:  200_000,
	}
}

// FromEnv overlays STRATA_* environment variables onto c.
func (c *Config) FromEnv() {
	if v := os.Getenv("STRATA_ADDR"); v != "" {
		c.Addr = v
	}
	if v := os.Getenv("STRATA_STORE"); v != "" {
		c.Store = v
	}
	if v := os.Getenv("STRATA_DATA_DIR"); v != "" {
		c.DataDir = v
	}
	if v := os.Getenv("STRATA_CACHE_DIR"); v != "" {
		c.CacheDir = v
	}
	if v := os.Getenv("STRATA_SECRET_KEY"); v != "" {
		c.SecretKey = v
	}
	// The OTLP exporter reads the rest of the standard variables (headers,
	// timeout, TLS files) itself; these two decide whether it runs and
	// over which protocol, so they are read here.
	c.OTLPFromEnv = os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if v := os.Getenv(name); v != "" && c.OTLPProtocol == "" {
			c.OTLPProtocol = v
		}
	}
}

// IsPostgres reports whether the store is PostgreSQL.
func (c Config) IsPostgres() bool {
	return strings.HasPrefix(c.Store, "postgres://") || strings.HasPrefix(c.Store, "postgresql://")
}

// SQLitePath is the SQLite file the embedded store uses.
func (c Config) SQLitePath() string {
	if c.Store == "" || c.Store == "sqlite" {
		return filepath.Join(c.DataDir, "strata.db")
	}
	return strings.TrimPrefix(c.Store, "sqlite://")
}

// Validate reports every invalid setting at once.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: want host:port", c.Addr))
	}
	if c.AdminAddr != "" {
		if _, port, err := net.SplitHostPort(c.AdminAddr); err != nil {
			errs = append(errs, fmt.Errorf("admin addr %q: want host:port", c.AdminAddr))
		} else if c.AdminAddr == c.Addr && port != "0" { // port 0: each gets a free port
			errs = append(errs, fmt.Errorf("admin addr %q: is the public address too; give another port, or leave it unset to serve the admin API on the public address", c.AdminAddr))
		}
	}
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("metrics addr %q: want host:port", c.MetricsAddr))
		} else if port != "0" && (c.MetricsAddr == c.Addr || c.MetricsAddr == c.AdminAddr) {
			errs = append(errs, fmt.Errorf("metrics addr %q: is the public or admin address too; give another port", c.MetricsAddr))
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("tls cert and tls key go together: pass both --tls-cert and --tls-key, or neither"))
	}
	if c.SecretKey != "" && c.SecretKeyFile != "" {
		errs = append(errs, errors.New("secret key: set STRATA_SECRET_KEY or pass --secret-key-file, not both"))
	}
	if c.IsPostgres() && c.SecretKey == "" && c.SecretKeyFile == "" {
		errs = append(errs, errors.New("a PostgreSQL store needs the secret key every node shares: pass --secret-key-file FILE or set STRATA_SECRET_KEY "+
			"(base64 of 32 random bytes; make one with: head -c 32 /dev/urandom | base64)"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data dir must be set"))
	}
	if c.IdleTimeout < time.Second {
		errs = append(errs, fmt.Errorf("idle timeout %s: must be at least 1s", c.IdleTimeout))
	}
	if c.MaxConcurrency < 0 {
		errs = append(errs, fmt.Errorf("max concurrency %d: must be 0 (no cap) or more", c.MaxConcurrency))
	}
	if c.ProjectConcurrency < -1 || c.MaxConcurrency > 0 && c.ProjectConcurrency > c.MaxConcurrency {
		errs = append(errs, fmt.Errorf("project concurrency %d: must be between 1 and max concurrency (%d), 0 (80%% of it) or -1 (no per-project cap)",
			c.ProjectConcurrency, c.MaxConcurrency))
	}
	if c.MemoryBudgetMB < -1 {
		errs = append(errs, fmt.Errorf("memory budget %d MB: must be a number of MB, 0 (derived from the machine's memory) or -1 (none)", c.MemoryBudgetMB))
	}
	if c.MaxBody < 1 {
		errs = append(errs, fmt.Errorf("max body %d: must be positive", c.MaxBody))
	}
	if c.HeaderTimeout <= 0 || c.ReadTimeout <= 0 {
		errs = append(errs, fmt.Errorf("header timeout %s and read timeout %s must be positive", c.HeaderTimeout, c.ReadTimeout))
	}
	if c.SyncInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("sync interval %s: must be at least 100ms", c.SyncInterval))
	}
	if c.LogRetention < time.Minute || c.UsageRetention < time.Minute {
		errs = append(errs, errors.New("log and usage retention must be at least 1m"))
	}
	if c.CompileBudget < 100*time.Millisecond || c.InitTimeout < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("compile budget %s and init timeout %s: must be at least 100ms", c.CompileBudget, c.InitTimeout))
	}
	if c.MaxFunctionBranches < 1 {
		errs = append(errs, fmt.Errorf("max function branches %d: must be positive", c.MaxFunctionBranches))
	}
	if c.NodeID != "" {
		if err := cluster.ValidID(c.NodeID); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Advertise != "" {
		if host, port, err := net.SplitHostPort(c.Advertise); err != nil || host == "" || port == "" || port == "0" {
			errs = append(errs, fmt.Errorf("advertise %q: want the host:port other nodes and balancers reach this node at", c.Advertise))
		}
	}
	if c.NodeLease < time.Second {
		errs = append(errs, fmt.Errorf("node lease %s: must be at least 1s", c.NodeLease))
	}
	if c.DrainTimeout < 0 {
		errs = append(errs, fmt.Errorf("drain timeout %s: must be 0 (stop at once) or more", c.DrainTimeout))
	}
	if c.TraceSample < 0 || c.TraceSample > 1 {
		errs = append(errs, fmt.Errorf("trace sample %g: want a ratio between 0 (tracing off) and 1 (every trace)", c.TraceSample))
	}
	if c.TraceRetention < time.Minute || c.TraceMaxSpans < 0 {
		errs = append(errs, fmt.Errorf("trace retention %s and trace max spans %d: want at least 1m and 0 (no cap) or more", c.TraceRetention, c.TraceMaxSpans))
	}
	if c.OTLPEndpoint != "" {
		if u, err := url.Parse(c.OTLPEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("otlp endpoint %q: want the collector's URL, http://host:port or https://host:port", c.OTLPEndpoint))
		}
	}
	switch c.OTLPProtocol {
	case "", "grpc", "http/protobuf":
	default:
		errs = append(errs, fmt.Errorf("otlp protocol %q: want grpc or http/protobuf", c.OTLPProtocol))
	}
	if c.Prices.PerGBSecond < 0 || c.Prices.PerMillionRequests < 0 {
		errs = append(errs, errors.New("prices must not be negative"))
	}
	if c.Store != "" && c.Store != "sqlite" && !c.IsPostgres() && strings.Contains(c.Store, "://") && !strings.HasPrefix(c.Store, "sqlite://") {
		errs = append(errs, fmt.Errorf("store %q: want sqlite, a file path, sqlite://path or postgres://…", c.Store))
	}
	return errors.Join(errs...)
}
