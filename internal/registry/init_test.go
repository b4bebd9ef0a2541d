package registry_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/registry"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
	"github.com/stratahq/strata/sdk/go/wire"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func setup(t *testing.T) (*registry.Registry, store.Store, *lockedBuf) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	rt, err := wasm.New(ctx, wasm.Config{CacheDir: wasmtest.SharedCacheDir()})
	require.NoError(t, err)
	logs := &lockedBuf{}
	reg := registry.New(registry.Config{Store: st, Runtime: rt, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	t.Cleanup(func() {
		_ = reg.Close(context.Background())
		_ = rt.Close(context.Background())
		_ = st.Close()
	})
	return reg, st, logs
}

func cfg(mode string) record.FunctionConfig {
	return record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 64, TimeoutMS: 5000, MaxConcurrency: 1,
		Env: map[string]string{"BADINIT": mode}}
}

func sha(bin []byte) string {
	sum := sha256.Sum256(bin)
	return hex.EncodeToString(sum[:])
}

// Prepare, which every deploy runs before writing anything, rejects a
// version whose init panics with the guest's panic, and says what
// preparing a good version took.
func TestPrepareRejectsFailingInit(t *testing.T) {
	reg, _, _ := setup(t)
	ctx := context.Background()
	bin := wasmtest.Guest(t, wasmtest.BadInit)

	_, err := reg.Prepare(ctx, "fn", bin, sha(bin), cfg("panic"))
	var ie *wasm.InitError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, "panic: init failed on purpose: DATABASE_URL is not set", ie.Reason)

	p, err := reg.Prepare(ctx, "fn", bin, sha(bin), cfg("ok"))
	require.NoError(t, err)
	require.Equal(t, record.KindReactor, p.Kind)
	require.True(t, p.Snapshot, "a Go reactor is snapshotted")
	require.False(t, p.Reused)
	require.Positive(t, p.Init, "one instance was initialised")

	again, err := reg.Prepare(ctx, "fn", bin, sha(bin), cfg("ok"))
	require.NoError(t, err)
	require.True(t, again.Reused, "the same code and configuration is prepared once")
}

// A version made active in the store without this node preparing it
// (another node's deploy, or a node restart) whose init fails is not
// activated: the previous version keeps serving, and the log has the
// guest's panic in one record.
func TestSyncKeepsPreviousVersionWhenInitFails(t *testing.T) {
	reg, st, logs := setup(t)
	ctx := context.Background()
	bin := wasmtest.Guest(t, wasmtest.BadInit)
	require.NoError(t, st.BlobPut(ctx, sha(bin), bin))
	apply := func(mode string) {
		_, err := st.DeploymentApply(ctx, store.DeploymentApplyParams{
			Project: "p", NewVersions: []store.NewVersionParams{{Function: "fn", ModuleSHA256: sha(bin), Config: cfg(mode)}}, Routes: []record.Route{},
		})
		require.NoError(t, err)
		require.NoError(t, reg.Sync(ctx))
	}
	apply("ok")
	require.Equal(t, 1, reg.Active("fn"))

	apply("panic")
	require.Equal(t, 1, reg.Active("fn"), "the version whose init panics is not activated")
	d, _, _ := reg.Lookup("fn")
	require.NotNil(t, d)
	resp, _, err := d.Pool.Invoke(ctx, &wire.Request{Method: "GET", Path: "/"}, wasm.Env{})
	require.NoError(t, err, "the previous version still serves")
	require.Equal(t, "ready", string(resp.Body))

	var records []string
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(line, "load function version") {
			records = append(records, line)
		}
	}
	require.Len(t, records, 1, "one log record for the failed version:\n%s", logs.String())
	require.Contains(t, records[0], "init failed: panic: init failed on purpose: DATABASE_URL is not set")
	require.Contains(t, records[0], "goroutine 1 [running]:")
}
