package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestObjectsScenario runs the objects scenario with tiny sizes against the
// real binary (and workerd when installed): every counter request must
// succeed, the broadcast must reach every socket every round, and each wake
// sample must be a real wake (the guest says its Go value was fresh).
func TestObjectsScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the strata binary and a Go guest and starts servers; run without -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	jsonPath := filepath.Join(t.TempDir(), "out.json")
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{
		"-only", "objects", "-duration", "200ms", "-warmup", "0", "-connections", "2",
		"-objects-names", "3", "-objects-sockets", "5", "-objects-rounds", "2",
		"-objects-wake-rounds", "1", "-objects-touch", "20",
		"-json", jsonPath,
	}, &stdout, &stderr)
	require.NoError(t, err, "stderr:\n%s\nstdout:\n%s", stderr.String(), stdout.String())
	b, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	var rep report
	require.NoError(t, json.Unmarshal(b, &rep))
	assert.Empty(t, rep.Failures)
	o := rep.Objects
	require.NotNil(t, o)

	_, statErr := os.Stat(filepath.Join("peers", "workerd", "node_modules", ".bin", "workerd"))
	workerd := statErr == nil
	for _, l := range o.Load {
		if l.System == objectsWorkerd && !workerd {
			assert.NotEmpty(t, l.Skipped, "workerd is not installed, so its rows are skipped")
			continue
		}
		assert.Empty(t, l.Error, "%s %d", l.System, l.Objects)
		assert.Empty(t, l.Skipped, "%s %d", l.System, l.Objects)
		assert.Positive(t, l.Requests, "%s %d", l.System, l.Objects)
		assert.Zero(t, l.Non2xx+l.Errors, "%s %d", l.System, l.Objects)
	}
	if workerd {
		assert.Len(t, o.Ratios, 2, "strata/workerd for one object and for many")
	}
	require.NotNil(t, o.Broadcast)
	assert.Empty(t, o.Broadcast.Error)
	assert.Equal(t, 5*2, o.Broadcast.Samples, "every socket got every round's broadcast")
	require.NotNil(t, o.Wake)
	assert.Empty(t, o.Wake.Error)
	assert.Equal(t, 1, o.Wake.Samples)
	require.NotNil(t, o.Memory)
	assert.Empty(t, o.Memory.Error)
	assert.Positive(t, o.Memory.LiveRSSMB)
	assert.Positive(t, o.Memory.EvictedRSSMB)
}

// TestGoLoaderSpreadsPaths: with Paths set, the go loader's requests go to
// every path, not only the URL's.
func TestGoLoaderSpreadsPaths(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path]++
		mu.Unlock()
	}))
	defer srv.Close()
	paths := []string{"/a", "/b", "/c", "/d"}
	// Run until over 400 requests were made, so that a path left out means
	// the loader ignores Paths, not bad luck ((3/4)^400 for a given path).
	var total int64
	for total < 400 {
		res, err := goLoader{}.run(context.Background(), loadSpec{URL: srv.URL + "/a", Paths: paths, Connections: 2, Duration: 100 * time.Millisecond})
		require.NoError(t, err)
		require.Zero(t, res.Errors)
		total += res.Requests
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range paths {
		assert.Positive(t, seen[p], p)
	}
	assert.Len(t, seen, len(paths))
}
