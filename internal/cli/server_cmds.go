package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/spf13/cobra"

	"github.com/stratahq/strata/internal/client"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/humanlog"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/server"
)

// bindServerFlags binds the settings shared by `server` and `dev`.
func bindServerFlags(cmd *cobra.Command, cfg *config.Config, logLevel *string) {
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (host:port)")
	f.StringVar(&cfg.Store, "store", cfg.Store, "store: sqlite (a file in the data dir), a SQLite file path, or postgres://…")
	f.StringVar(&cfg.CacheDir, "cache-dir", cfg.CacheDir, "on-disk compilation cache")
	f.DurationVar(&cfg.IdleTimeout, "idle-timeout", cfg.IdleTimeout, "reclaim instances idle this long (scale to zero)")
	f.IntVar(&cfg.MaxConcurrency, "max-concurrency", cfg.MaxConcurrency, "invocations at once on this node across all functions; over it: 429 (0: no cap)")
	f.IntVar(&cfg.ProjectConcurrency, "project-concurrency", cfg.ProjectConcurrency, "invocations at once one project may run on this node, so others keep the rest; over it: 429 (0: 80% of --max-concurrency; -1: no per-project cap)")
	f.Int64Var(&cfg.MemoryBudgetMB, "memory-budget", cfg.MemoryBudgetMB, "MB all live instances may hold together, each its function's memory limit; over it: 429 (0: 3/4 of the machine's memory; -1: none); GOMEMLIMIT is set from it unless set")
	f.Int64Var(&cfg.MaxBody, "max-body", cfg.MaxBody, "request body cap in bytes")
	f.DurationVar(&cfg.HeaderTimeout, "header-timeout", cfg.HeaderTimeout, "request headers must arrive within this (slow clients)")
	f.DurationVar(&cfg.ReadTimeout, "read-timeout", cfg.ReadTimeout, "a whole request must arrive within this (slow clients)")
	f.Float64Var(&cfg.Prices.PerMillionRequests, "price-requests", cfg.Prices.PerMillionRequests, "USD per million requests, for cost estimates")
	f.Float64Var(&cfg.Prices.PerGBSecond, "price-gb-second", cfg.Prices.PerGBSecond, "USD per GB-second, for cost estimates")
	f.DurationVar(&cfg.LogRetention, "log-retention", cfg.LogRetention, "delete function logs older than this")
	f.DurationVar(&cfg.UsageRetention, "usage-retention", cfg.UsageRetention, "delete usage records older than this")
	f.DurationVar(&cfg.CompileBudget, "compile-budget", cfg.CompileBudget, "refuse a module whose compilation takes longer than this")
	f.DurationVar(&cfg.InitTimeout, "init-timeout", cfg.InitTimeout, "refuse a module whose _initialize (package init) takes longer than this")
	f.IntVar(&cfg.MaxFunctionBranches, "max-function-branches", cfg.MaxFunctionBranches, "refuse a module with a function of more control instructions than this (compile time explodes above)")
	f.StringVar(logLevel, "log-level", "info", "platform log level: debug, info, warn, error")
	f.StringVar(&cfg.MetricsAddr, "metrics-addr", cfg.MetricsAddr, "serve Prometheus metrics at /metrics on this host:port without a token (default: only at /_strata/api/metrics, to a read token of every project)")
	f.Float64Var(&cfg.TraceSample, "trace-sample", cfg.TraceSample, "share of new traces recorded (a caller's sampled traceparent is followed; errors are kept regardless); 0 turns tracing off")
	f.DurationVar(&cfg.TraceRetention, "trace-retention", cfg.TraceRetention, "delete stored spans older than this")
	f.IntVar(&cfg.TraceMaxSpans, "trace-max-spans", cfg.TraceMaxSpans, "keep at most this many spans in the trace store, evicting the oldest (0: no cap)")
	f.StringVar(&cfg.OTLPEndpoint, "otlp-endpoint", cfg.OTLPEndpoint, "also send spans to this OpenTelemetry collector (http://host:4318, or :4317 with --otlp-protocol grpc); OTEL_EXPORTER_OTLP_* variables are honoured")
	f.StringVar(&cfg.NodeID, "node-id", cfg.NodeID, "this node's id in the cluster and on its leases (default: the host's name and the listen port, e.g. web-1-8080)")
	f.StringVar(&cfg.Advertise, "advertise", cfg.Advertise, "host:port other nodes and balancers reach this node at (default: the listen address, the host's name for 0.0.0.0)")
	f.DurationVar(&cfg.NodeLease, "node-lease", cfg.NodeLease, "a node that does not heartbeat for this long is declared gone (it heartbeats every third of it)")
	f.DurationVar(&cfg.DrainTimeout, "drain-timeout", cfg.DrainTimeout, "on SIGTERM or ctrl-c, how long in-flight requests and invocations get to finish (health answers 503 draining meanwhile)")
	f.StringVar(&cfg.OTLPProtocol, "otlp-protocol", cfg.OTLPProtocol, "OTLP protocol: http/protobuf (default) or grpc (default: OTEL_EXPORTER_OTLP_PROTOCOL)")
}

func newServerCmd(stdio IO) *cobra.Command {
	cfg := config.Default()
	cfg.FromEnv()
	var logs logSettings
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a Strata server (the same runtime as strata dev)",
		Long: `Run a long-lived Strata node. State lives in the embedded SQLite store under
--data-dir, or in PostgreSQL with --store postgres://… (several nodes may share
one database). On first start an admin token is created and printed once; only
its hash is stored. Deploy to it with:

  strata deploy --server HOST:PORT --token TOKEN

One port serves functions and the admin API (/_strata/api/) unless
--admin-addr gives the admin API a listener of its own (e.g. 127.0.0.1:8081,
reachable only from the machine); the public port then answers 404 there.
--tls-cert and --tls-key (PEM files) make both listeners HTTPS.

The secret key encrypts secrets and signs workflow status links. With SQLite
it is a file in --data-dir, created on first start. With PostgreSQL every node
must use the same key: pass --secret-key-file FILE or set STRATA_SECRET_KEY
(base64 of 32 random bytes: head -c 32 /dev/urandom | base64); the first node
records the key's fingerprint in the database, and a node with another key
refuses to start.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			logger, err := newLogger(stdio, logs)
			if err != nil {
				return err
			}
			cfg.Version = version()
			if err := cfg.SecureFiles(logger); err != nil {
				return err
			}
			srv, err := server.New(cfg, logger)
			if err != nil {
				return usageError{err}
			}
			ctx := cmd.Context()
			if err := srv.Start(ctx); err != nil {
				return err
			}
			tok, err := srv.EnsureAdminToken(ctx)
			if err != nil {
				_ = srv.Stop(context.Background())
				return err
			}
			// It serves already; "serving on" waits until everything
			// deployed is loaded (GET /_strata/ready says the same).
			fmt.Fprintf(stdio.Out, "strata server (version %s) listening on %s, loading deployed functions\n", cfg.Version, srv.URL())
			if srv.AdminURL() != srv.URL() {
				fmt.Fprintf(stdio.Out, "admin API on %s (not on %s)\n", srv.AdminURL(), srv.URL())
			}
			fmt.Fprintf(stdio.Out, "console on %s/_strata/console/ (log in with a token)\n", srv.AdminURL())
			if u := srv.MetricsURL(); u != "" {
				fmt.Fprintf(stdio.Out, "Prometheus metrics on %s\n", u)
			}
			if tok != "" {
				fmt.Fprintf(stdio.Out, "admin token (shown once, store it now): %s\n", tok)
			}
			select {
			case <-srv.Loaded():
				fmt.Fprintf(stdio.Out, "strata server (version %s) serving on %s\n", cfg.Version, srv.URL())
			case <-ctx.Done():
			}
			<-ctx.Done()
			fmt.Fprintf(stdio.Err, "draining (up to %s)…\n", cfg.DrainTimeout)
			if err := stopServer(srv, cfg.DrainTimeout); err != nil {
				return err
			}
			fmt.Fprintln(stdio.Err, "stopped")
			return nil
		},
	}
	bindServerFlags(cmd, &cfg, &logs.level)
	logs.bindFormat(cmd, logText)
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory for the embedded store and local state")
	f.StringVar(&cfg.AdminAddr, "admin-addr", "", "serve the admin API (/_strata/api/) only on this host:port, not on --addr (default: on --addr)")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate (chain) file: serve HTTPS (with --tls-key)")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key file of --tls-cert")
	f.StringVar(&cfg.SecretKeyFile, "secret-key-file", "", "file holding the secret key (base64 of 32 bytes); required with a PostgreSQL store unless STRATA_SECRET_KEY is set")
	return cmd
}

// stopTimeout bounds Stop after a drain: flushing usage, logs and spans,
// releasing leases and closing the store.
const stopTimeout = 30 * time.Second

// stopServer drains srv (what is in flight gets up to drain to finish;
// see Server.Drain), then stops it.
func stopServer(srv *server.Server, drain time.Duration) error {
	dctx, cancel := context.WithTimeout(context.Background(), drain)
	srv.Drain(dctx)
	cancel()
	sctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	return srv.Stop(sctx)
}

func newDevCmd(stdio IO) *cobra.Command {
	cfg := config.Default()
	cfg.FromEnv() // the data dir is then set to the project's .strata
	var logs logSettings
	var file string
	var noWatch bool
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Build, deploy and serve the project here; rebuild on save",
		Long: `Run the project in the current directory on a local Strata server: the same
runtime as production, with state in .strata/ (embedded SQLite). Functions are
built and deployed, function logs stream to this terminal (each line prefixed
by function@version and the invocation id), and saving a source file or
strata.yaml rebuilds and swaps in a new version without dropping requests.
Other commands run in this project (invoke, logs, usage, versions, rollback,
deploy) reach this server with no flags.

One strata dev runs per project: a second one is refused and names the
process that holds the project. Output is compact lines, coloured on a
terminal (NO_COLOR turns colour off); --log-format json makes every platform
record and function log line one JSON object on stderr.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := loadManifest(file)
			if err != nil {
				return err
			}
			logger, err := newLogger(stdio, logs)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			cfg.DataDir = filepath.Join(m.Dir, ".strata")
			cfg.Version = version()
			// Before anything opens the project's store: two servers on one
			// SQLite file would each believe they own it.
			lock, err := lockDev(cfg.DataDir)
			if err != nil {
				return err
			}
			defer lock.release()
			var outMu sync.Mutex
			printer := devLogPrinter{human: logs.format == logHuman, color: humanlog.Colorful(stdio.Out), logger: logger}
			tap := func(l record.LogLine) {
				if !printer.human {
					printer.log(l)
					return
				}
				line := printer.format(l)
				outMu.Lock()
				io.WriteString(stdio.Out, line)
				outMu.Unlock()
			}
			if err := cfg.SecureFiles(logger); err != nil {
				return err
			}
			srv, err := server.New(cfg, logger, server.WithLogTap(tap))
			if err != nil {
				return usageError{err}
			}
			if err := srv.Start(ctx); err != nil {
				return err
			}
			defer func() { _ = stopServer(srv, cfg.DrainTimeout) }()
			lock.serving(srv.URL())
			if u := srv.MetricsURL(); u != "" {
				logger.Info("Prometheus metrics served", "url", u)
			}
			// Reuse the project's dev token across restarts, so a shell
			// that read it keeps working.
			tok := ""
			if st, err := readDevState(m.Dir); err == nil && st.Token != "" {
				tok = st.Token
			} else {
				tok = server.NewToken()
			}
			if err := srv.AddToken(ctx, tok, "dev"); err != nil {
				return err
			}
			if err := writeDevState(m.Dir, devState{Server: srv.URL(), Token: tok, PID: os.Getpid()}); err != nil {
				return fmt.Errorf("write .strata/%s: %w", devStateFile, err)
			}
			// Only this process removes it: the lock says dev.json is ours
			// (a refused second strata dev never reaches here).
			defer removeDevState(m.Dir, os.Getpid())

			// The first deploy waits for what is deployed to load, so its
			// answer and the first requests see the project as it is.
			select {
			case <-srv.Loaded():
			case <-ctx.Done():
				return nil
			}
			c := client.New(srv.URL(), tok)
			d := &devLoop{stdio: stdio, client: c, file: m.Path, mu: &outMu}
			if err := d.deploy(ctx); err != nil {
				// A broken project still gets a server: fix and save.
				d.printf("deploy failed: %v\n", err)
			}
			d.printf("serving %s on %s (ctrl-c to stop)\n", m.Project, srv.URL())
			d.printf("console: %s/_strata/console/ (log in with the token in .strata/dev.json)\n", srv.AdminURL())
			d.printRoutes(ctx)
			if noWatch {
				<-ctx.Done()
				return nil
			}
			return d.watch(ctx, m.Dir)
		},
	}
	bindServerFlags(cmd, &cfg, &logs.level)
	logs.bindFormat(cmd, logHuman)
	cmd.Flags().StringVarP(&file, "file", "f", "", "path of strata.yaml (default: the project containing the working directory)")
	cmd.Flags().BoolVar(&noWatch, "no-watch", false, "do not rebuild when files change")
	return cmd
}

// devLoop rebuilds and redeploys the project when its files change.
type devLoop struct {
	stdio  IO
	client *client.Client
	file   string
	mu     *sync.Mutex // serialises terminal output with the log tap
}

// lockedWriter serialises writes with dev's other terminal output.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (d *devLoop) printf(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.stdio.Out, format, args...)
}

func (d *devLoop) deploy(ctx context.Context) error {
	m, err := loadManifest(d.file)
	if err != nil {
		return err
	}
	// Progress goes with dev's other human lines to stdout, so stderr
	// holds only platform records (one JSON object a line with
	// --log-format json).
	progress := lockedWriter{d.mu, d.stdio.Out}
	bp, err := buildProject(ctx, m, progress)
	if err != nil {
		return err
	}
	res, err := deployProject(ctx, d.client, bp, false, progress)
	if err != nil {
		return err
	}
	if res.applied {
		d.printf("%s", res.planText)
		d.printf("deployed %s: %d new version(s)\n", m.Project, res.versions)
	} else {
		d.printf("no changes\n")
	}
	return nil
}

func (d *devLoop) printRoutes(ctx context.Context) {
	resp, err := d.client.Functions(ctx)
	if err != nil {
		return
	}
	var names []string
	for _, f := range resp {
		names = append(names, fmt.Sprintf("%s@%d", f.Name, f.ActiveVersion))
	}
	if len(names) > 0 {
		d.printf("functions: %s\n", strings.Join(names, ", "))
	}
}

// watch redeploys after files that make up the project change. Changes are
// debounced so an editor's save burst makes one rebuild; the server keeps
// serving the old version until the new one is compiled and swapped in.
func (d *devLoop) watch(ctx context.Context, dir string) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch project: %w", err)
	}
	defer w.Close()
	addTree := func(root string) {
		_ = filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
			if err != nil || !e.IsDir() {
				return nil
			}
			if p != root && (strings.HasPrefix(e.Name(), ".") || e.Name() == "node_modules") {
				return filepath.SkipDir
			}
			_ = w.Add(p)
			return nil
		})
	}
	addTree(dir)
	var timer *time.Timer
	fire := make(chan struct{}, 1)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Has(fsnotify.Create) {
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
					addTree(ev.Name)
				}
			}
			if !relevant(ev.Name) {
				continue
			}
			if timer != nil {
				timer.Stop()
			}
			timer = time.AfterFunc(300*time.Millisecond, func() {
				select {
				case fire <- struct{}{}:
				default:
				}
			})
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			d.printf("watch: %v\n", err)
		case <-fire:
			d.printf("change detected, rebuilding…\n")
			if err := d.deploy(ctx); err != nil {
				d.printf("deploy failed (still serving the previous version): %v\n", err)
			}
		}
	}
}

func relevant(name string) bool {
	base := filepath.Base(name)
	if strings.HasPrefix(base, ".") || strings.HasSuffix(base, "~") {
		return false
	}
	if base == "bootstrap" {
		return true // a provided process function's executable
	}
	switch filepath.Ext(base) {
	case ".go", ".wasm", ".yaml", ".yml", ".mod", ".sum":
		return true
	case ".js", ".mjs", ".cjs", ".py":
		// The code of process functions (kind: process), packed as it is.
		return true
	case ".json":
		// State machine definitions (state_machines: in strata.yaml) are
		// often JSON; other JSON files cost a rebuild whose plan is empty.
		return true
	}
	return false
}
