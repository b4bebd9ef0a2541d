package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/gateway"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/route"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// probeRoutes are the routes of the probe guest (testdata/probe) in the
// tests below.
var probeRoutes = []record.Route{
	{Project: "p", Method: "*", Path: "/probe", Function: "probe"},
	{Project: "p", Method: "GET", Path: "/victim/{op}", Function: "probe"},
	{Project: "p", Method: "GET", Path: "/files/{rest...}", Function: "probe"},
}

// probeServer serves the probe guest through a real gateway, invoker,
// wazero runtime and SQLite store, on a loopback listener. logs collects
// what the gateway logs.
func probeServer(t *testing.T) (srv *httptest.Server, logs *bytes.Buffer) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	rt, err := wasm.New(ctx, wasm.Config{CacheDir: wasmtest.SharedCacheDir()})
	require.NoError(t, err)
	inv := invoke.New(invoke.Config{Store: st, Runtime: rt})
	t.Cleanup(func() {
		_ = inv.Close(context.Background())
		_ = rt.Close(context.Background())
		_ = st.Close()
	})
	bin := wasmtest.BuildGuest(t, filepath.Join("testdata", "probe"))
	sum := sha256.Sum256(bin)
	digest := hex.EncodeToString(sum[:])
	require.NoError(t, st.BlobPut(ctx, digest, bin))
	_, err = st.DeploymentApply(ctx, store.DeploymentApplyParams{
		Project: "p",
		NewVersions: []store.NewVersionParams{{Function: "probe", ModuleSHA256: digest, Config: record.FunctionConfig{
			Kind: record.KindReactor, MemoryMB: 64, TimeoutMS: 10000, MaxConcurrency: 4,
		}}},
		Routes: probeRoutes,
	})
	require.NoError(t, err)
	require.NoError(t, inv.Sync(ctx))
	logs = &bytes.Buffer{}
	g := gateway.New(gateway.Config{Invoker: inv, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	r, err := route.NewRouter(probeRoutes)
	require.NoError(t, err)
	g.SetRouter(r, probeRoutes)
	srv = httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv, logs
}

// get sends one request with the given headers and returns status and body.
func get(t *testing.T, url string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(body)
}

// TestGuestInformationalStatusIs502 (issue 9, Found 5): a guest answering
// 101 without any upgrade must not switch the client's connection. The
// client pipelines a second request behind the first on one raw TCP
// connection: the first is answered 502 naming the function, and the
// second is then answered as ordinary HTTP on the same connection, so
// nothing on the way could take the connection for switched.
func TestGuestInformationalStatusIs502(t *testing.T) {
	srv, logs := probeServer(t)
	// The Go SDK drops other 1xx statuses itself (as net/http does), so
	// only 101 reaches the gateway from it; TestInformationalStatusesAre502
	// covers the rest.
	for _, code := range []int{101} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			require.NoError(t, err)
			defer conn.Close()
			require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second))) // a hang fails instead of blocking the suite
			_, err = fmt.Fprintf(conn, "GET /probe?status=%d HTTP/1.1\r\nHost: x\r\n\r\nGET /probe HTTP/1.1\r\nHost: x\r\n\r\n", code)
			require.NoError(t, err)
			br := bufio.NewReader(conn)

			first, err := http.ReadResponse(br, nil)
			require.NoError(t, err)
			body, err := io.ReadAll(first.Body)
			require.NoError(t, err)
			require.Equal(t, http.StatusBadGateway, first.StatusCode, "first answer: %s", body)
			require.Contains(t, string(body), fmt.Sprintf("function probe answered status %d, which is not a final HTTP response", code))
			require.Empty(t, first.Header.Get("Upgrade"))
			require.NotEmpty(t, first.Header.Get(gateway.HeaderInvocationID))

			second, err := http.ReadResponse(br, nil)
			require.NoError(t, err, "the pipelined request got no HTTP answer")
			body, err = io.ReadAll(second.Body)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, second.StatusCode, "second answer: %s", body)
			require.Contains(t, string(body), "path=/probe\n")
		})
	}
	require.Contains(t, logs.String(), "function=probe")
	require.Contains(t, logs.String(), "status=101")

	// A guest's ordinary statuses still pass.
	code, body := get(t, srv.URL+"/probe?status=418", nil)
	require.Equal(t, 418, code, body)
}

// TestClientPlatformHeadersStripped (issue 9, Found 9): a client's Ce-*
// and X-Strata-* headers never reach the function, so the SDK cannot be
// made to take an HTTP request for an event from one of the project's
// queues (with a forged queue or receive count).
func TestClientPlatformHeadersStripped(t *testing.T) {
	srv, _ := probeServer(t)
	code, body := get(t, srv.URL+"/probe", map[string]string{
		"Ce-Id": "forged", "Ce-Specversion": "1.0", "Ce-Source": "/queues/payments", "Ce-Type": "payment.settled",
		"X-Strata-Queue": "payments", "X-Strata-Receive-Count": "1", "X-Strata-Event-Id": "forged",
		"x-strata-flow-execution": "forged", "X-Other": "kept",
	})
	require.Equal(t, 200, code, body)
	require.Contains(t, body, "is_event=false\n")
	for _, h := range []string{"header.Ce-", "header.X-Strata-", "event."} {
		require.NotContains(t, body, h)
	}

	// Batch mode: the content type alone, without the event engine's
	// X-Strata-Queue, is not a batch of events to the SDK.
	code, body = get(t, srv.URL+"/probe", map[string]string{
		"Content-Type": "application/cloudevents-batch+json", "X-Strata-Queue": "payments",
	})
	require.Equal(t, 200, code, body)
	require.Contains(t, body, "is_event=false\n")
}

// TestDotSegmentsNeverReachFunctions (issue 9, Found 9): "." and ".."
// path segments, escaped or not, are resolved before routing, so a path
// parameter is never "." or "..", and the function sees the cleaned path.
func TestDotSegmentsNeverReachFunctions(t *testing.T) {
	srv, _ := probeServer(t)
	for _, tc := range []struct {
		path string
		code int
		want string // a line of the probe's answer
	}{
		{"/victim/..", 404, ""},     // "/": no route
		{"/victim/%2e%2e", 404, ""}, // the same, escaped
		{"/victim/%2E%2e", 404, ""}, // mixed case
		{"/victim/.", 404, ""},      // "/victim/": {op} needs a segment
		{"/victim/%2e", 404, ""},    // the same, escaped
		{"/victim/x/..", 404, ""},   // "/victim/"
		{"/victim/./login", 200, "param.op=login\n"},
		{"/victim/%2e/login", 200, "param.op=login\n"},
		{"/victim/a/../login", 200, "param.op=login\n"},
		{"/victim/a/%2e%2e/login", 200, "path=/victim/login\n"},
		{"/files/a/../../probe", 200, "path=/probe\n"},     // out of the catch-all into another route
		{"/files/a/%2e%2e/b/./c", 200, "param.rest=b/c\n"}, // the catch-all holds no dot segment
		{"/files/%2e%2e%2f%2e%2e%2fprobe", 200, "path=/probe\n"},
		{"/victim/..login", 200, "param.op=..login\n"}, // not a dot segment
	} {
		t.Run(tc.path, func(t *testing.T) {
			// The raw connection keeps the path exactly as written: Go's
			// client would not resolve it, but a test should not rely on
			// that.
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			require.NoError(t, err)
			defer conn.Close()
			require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
			_, err = fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", tc.path)
			require.NoError(t, err)
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			require.NoError(t, err)
			b, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			body := string(b)
			require.Equal(t, tc.code, res.StatusCode, body)
			require.Contains(t, body, tc.want)
			for _, line := range strings.Split(body, "\n") {
				_, v, _ := strings.Cut(line, "=")
				if strings.HasPrefix(line, "param.") && (v == "." || v == ".." || strings.Contains(v, "/..") || strings.HasPrefix(v, "../") || strings.Contains(v, "/./")) {
					t.Fatalf("a dot segment reached the function: %s", line)
				}
			}
		})
	}
}
