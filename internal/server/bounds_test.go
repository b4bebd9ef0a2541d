package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/client"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/deploy"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// logWatch is a slog handler that hands records to waiters, so a test can
// wait for "the bomb is compiling" instead of sleeping.
type logWatch struct {
	mu      sync.Mutex
	records []slog.Record
	changed chan struct{}
}

func newLogWatch() *logWatch { return &logWatch{changed: make(chan struct{})} }

func (w *logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (w *logWatch) WithAttrs([]slog.Attr) slog.Handler       { return w }
func (w *logWatch) WithGroup(string) slog.Handler            { return w }
func (w *logWatch) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.records = append(w.records, r.Clone())
	close(w.changed)
	w.changed = make(chan struct{})
	return nil
}

// wait returns the first record with message msg whose text attributes
// contain every one of want, waiting for it up to a minute.
func (w *logWatch) wait(t *testing.T, msg string, want ...string) slog.Record {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		w.mu.Lock()
		for _, r := range w.records {
			if r.Message != msg {
				continue
			}
			var text strings.Builder
			r.Attrs(func(a slog.Attr) bool { text.WriteString(a.String() + " "); return true })
			ok := true
			for _, s := range want {
				ok = ok && strings.Contains(text.String(), s)
			}
			if ok {
				w.mu.Unlock()
				return r
			}
		}
		changed := w.changed
		w.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no log record %q with %q", msg, want)
		}
	}
}

// startWatched starts a node whose platform log goes to the returned watch.
func startWatched(t *testing.T, adjust func(*config.Config)) (*node, *logWatch) {
	t.Helper()
	watch := newLogWatch()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.CacheDir = wasmtest.SharedCacheDir()
	adjust(&cfg)
	srv, err := New(cfg, slog.New(watch))
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Stop(sctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	n := &node{srv: srv, url: srv.URL()}
	if tok, err := srv.EnsureAdminToken(context.Background()); err == nil && tok != "" {
		n.c = client.New(n.url, tok)
	}
	return n, watch
}

func requireAPIError(t *testing.T, err error, status int, contains ...string) {
	t.Helper()
	var ae *client.APIError
	require.True(t, errors.As(err, &ae), "want an API error, got %v", err)
	require.Equal(t, status, ae.Status, "%v", err)
	for _, s := range contains {
		require.ErrorContains(t, err, s)
	}
}

// Found item 4: a compile bomb was compiled for minutes and accepted; it
// is now refused, by its shape at once or by the compile budget, with a
// 400 naming the cause, and the version that was active stays active.
func TestCompileBombsRefusedAtDeploy(t *testing.T) {
	n, _ := startWatched(t, func(c *config.Config) {
		c.CompileBudget = 3 * time.Second
		c.InitTimeout = time.Second
	})
	// The victim's active version is a tiny reactor: a Go guest may not
	// compile within the short budget on a busy machine.
	require.NoError(t, n.deploy(t, "victim", fn{"api", wasmtest.InitLoop(10), cfgOf(record.KindReactor), routes("GET /api")}))
	before, _, _ := get(t, n.url+"/api", nil)
	for name, tc := range map[string]struct {
		wasm []byte
		want string
	}{
		"shape": {wasmtest.CompileBomb(12000, false), "function 0 has 24000 control instructions"},
		// 12,000 loops take 5.5 s on an idle 2-core machine; its SIMD
		// instruction hides its shape.
		"budget":     {wasmtest.CompileBomb(12000, true), "compilation exceeded the 3s compile budget"},
		"initialize": {wasmtest.InitLoop(-1), "_initialize did not return within the 1s init timeout"},
	} {
		err := n.deploy(t, "victim", fn{"api", tc.wasm, cfgOf(""), routes("GET /api")})
		requireAPIError(t, err, 400, "function api", tc.want)
		t.Logf("%s: %v", name, err)
		code, _, body := get(t, n.url+"/api", nil)
		require.Equal(t, before, code, "%s: the active version still answers as before: %s", name, body)
		fns, err := n.c.Functions(context.Background())
		require.NoError(t, err)
		require.Len(t, fns, 1)
		require.Equal(t, 1, fns[0].ActiveVersion, name)
	}
}

// Found item 4: the node-wide deploy lock was held while a module
// compiled, so a compile bomb in one project held up every deploy of
// every project. Now another project's deploy completes while the bomb
// still compiles, and the bomb's deploy stops when its client goes away.
func TestSlowCompileDoesNotBlockOtherProjects(t *testing.T) {
	n, watch := startWatched(t, func(c *config.Config) { c.CompileBudget = time.Hour })
	hello := wasmtest.Guest(t, wasmtest.Hello)
	// The bomb can only be stopped by its budget or its client: its SIMD
	// instruction hides its shape. Compile time grows with the square of
	// its loops: 12,000 took 5.5 s idle, close to a Go guest's deploy
	// under load, so it could finish first; 30,000 take about 40 s.
	bomb := wasmtest.CompileBomb(30000, true)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bombDone := make(chan error, 1)
	spec := specOf(t, n, "attacker", fn{"bomb", bomb, cfgOf(""), nil})
	go func() {
		_, err := n.c.Deploy(ctx, spec, false)
		bombDone <- err
	}()
	watch.wait(t, "compiling module", "module=bomb")

	require.NoError(t, n.deploy(t, "bystander", fn{"api", hello, cfgOf(record.KindReactor), routes("GET /api")}),
		"another project deploys while the bomb compiles")
	code, _, body := get(t, n.url+"/api", nil)
	require.Equal(t, 200, code, body)
	select {
	case err := <-bombDone:
		t.Fatalf("the bomb's deploy ended before the bystander's: %v", err)
	default:
	}

	cancel()
	require.ErrorIs(t, <-bombDone, context.Canceled)
	watch.wait(t, "compile abandoned; it runs on until wazero finishes, holding a compile slot",
		"module=bomb", "compilation stopped: context canceled")
}

// specOf uploads fns' modules and returns the deploy spec.
func specOf(t *testing.T, n *node, project string, fns ...fn) deploy.Spec {
	t.Helper()
	spec := deploy.Spec{Project: project}
	for _, f := range fns {
		sum := sha256.Sum256(f.wasm)
		sha := hex.EncodeToString(sum[:])
		_, err := n.c.UploadBlob(context.Background(), sha, f.wasm)
		require.NoError(t, err)
		spec.Functions = append(spec.Functions, deploy.FunctionSpec{Name: f.name, ModuleSHA256: sha, Config: f.config, Routes: f.routes})
	}
	return spec
}

// Found item 4: every server start ran each slow _initialize again, one
// function after another, and the node listened only once all were done.
// A function whose _initialize never returns (written to the store
// without a deploy's checks, as by an older node) now holds up only its
// own route: the node serves at once, the other function answers 200 as
// soon as it is loaded, the hanging one's route answers 503 with
// Retry-After while it loads, readiness is 503 until it is refused after
// the init timeout, and then its route answers 404 as for any function
// that failed to load.
func TestStartServesOthersWhenAModuleHangs(t *testing.T) {
	dir := t.TempDir()
	first, _ := startWatched(t, func(c *config.Config) { c.DataDir = dir })
	hello := wasmtest.Guest(t, wasmtest.Hello)
	require.NoError(t, first.deploy(t, "fine", fn{"api", hello, cfgOf(record.KindReactor), routes("GET /api")}))
	storeHanging(t, first.srv.Store(), "hang", "hang")
	require.NoError(t, first.srv.Stop(context.Background()))

	// The init timeout is long enough that the hanging function is
	// still loading while the fine one is checked.
	second, watch := startWatched(t, func(c *config.Config) {
		c.DataDir = dir
		c.InitTimeout = 20 * time.Second
	})
	code, h, body := get(t, second.url+"/hang", nil)
	require.Equal(t, 503, code, body)
	require.Equal(t, "5", h.Get("Retry-After"))
	require.Contains(t, body, "function hang@1 is still loading on this node")
	code, _, body = get(t, second.url+"/_strata/ready", nil)
	require.Equal(t, 503, code, body)
	require.Contains(t, body, `"hang@1"`)
	code, _, body = get(t, second.url+"/_strata/health", nil)
	require.Equal(t, 200, code, "health is liveness: 200 while loading")
	require.Contains(t, body, `"ready":false`)

	watch.wait(t, "function version active", "function=api")
	code, _, body = get(t, second.url+"/api", nil)
	require.Equal(t, 200, code, body)
	code, _, body = get(t, second.url+"/hang", nil)
	require.Equal(t, 503, code, "the hanging function is still loading while the other serves: %s", body)
	// A deploy made meanwhile does not wait for the hanging module (Sync
	// leaves it to the loader) and serves at once.
	tok := NewToken()
	require.NoError(t, second.srv.AddToken(context.Background(), tok, "test"))
	second.c = client.New(second.url, tok)
	require.NoError(t, second.deploy(t, "late", fn{"late", hello, cfgOf(record.KindReactor), routes("GET /late")}))
	code, _, body = get(t, second.url+"/late", nil)
	require.Equal(t, 200, code, body)
	code, _, body = get(t, second.url+"/hang", nil)
	require.Equal(t, 503, code, "the deploy did not settle the loading function: %s", body)

	watch.wait(t, "load function version; its routes answer 404 until a deploy fixes it",
		"function=hang", "_initialize did not return within the 20s init timeout")
	select {
	case <-second.srv.Loaded():
	case <-time.After(2 * time.Minute):
		t.Fatal("loading did not finish after the hanging function was refused")
	}
	code, _, body = get(t, second.url+"/_strata/ready", nil)
	require.Equal(t, 200, code, body)
	code, _, body = get(t, second.url+"/hang", nil)
	require.Equal(t, 404, code, body)
	code, _, body = get(t, second.url+"/api", nil)
	require.Equal(t, 200, code, body)
	code, _, body = get(t, second.url+"/late", nil)
	require.Equal(t, 200, code, body)
}

// storeHanging writes a version whose _initialize never returns straight
// into the store, past the checks of a deploy.
func storeHanging(t *testing.T, st store.Store, project, function string) {
	t.Helper()
	ctx := context.Background()
	wasm := wasmtest.InitLoop(-1)
	sum := sha256.Sum256(wasm)
	sha := hex.EncodeToString(sum[:])
	require.NoError(t, st.BlobPut(ctx, sha, wasm))
	_, err := st.DeploymentApply(ctx, store.DeploymentApplyParams{
		Project:     project,
		NewVersions: []store.NewVersionParams{{Function: function, ModuleSHA256: sha, Config: cfgOf(record.KindReactor)}},
		Routes:      []record.Route{{Project: project, Method: "GET", Path: "/" + function, Function: function}},
	})
	require.NoError(t, err)
}
