package process_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/process"
	"github.com/stratahq/strata/internal/record"
)

// lambdaGoBootstrap builds examples/lambda-go's aws-lambda-go handler as
// Lambda's provided runtimes take it: a static Linux executable.
func lambdaGoBootstrap(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "bootstrap"), ".")
	build.Dir = filepath.Join("..", "..", "examples", "lambda-go", "handler")
	build.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOPROXY=off")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build the bootstrap: %s", out)
	bin, err := os.ReadFile(filepath.Join(dir, "bootstrap"))
	require.NoError(t, err)
	return string(bin)
}

// An aws-lambda-go bootstrap reaches the Runtime API at
// AWS_LAMBDA_RUNTIME_API (127.0.0.1:9001) in its sandbox both ways a node
// provides it: the node's own listener opened inside the sandbox's network
// namespace (as root here), and the forwarder a node without that
// privilege runs. Each instance answers several invocations, and a second
// instance of the same module runs beside the first (each sandbox has its
// own port 9001).
func TestProvidedRuntimeAPI(t *testing.T) {
	bin := lambdaGoBootstrap(t)
	for _, mode := range []string{"direct", "forwarder"} {
		t.Run(mode, func(t *testing.T) {
			r := setup(t)
			if mode == "forwarder" {
				r.UseForwarder()
			}
			m, err := compile(t, r, record.RuntimeProvided, "", map[string]string{"bootstrap*": bin})
			require.NoError(t, err)
			insts := []*process.Instance{start(t, m), start(t, m)}
			for _, inst := range insts {
				for range 2 {
					iv := invoke(t, inst, `{"version":"2.0","rawPath":"/hello/ada","pathParameters":{"name":"ada"}}`, 10*time.Second)
					require.NoError(t, iv.err)
					var res struct {
						StatusCode int    `json:"statusCode"`
						Body       string `json:"body"`
					}
					require.NoError(t, json.Unmarshal(iv.resp.Body, &res), "%s", iv.resp.Body)
					require.Equal(t, 200, res.StatusCode)
					require.Equal(t, "Hello, ada! (fn, deadline in the future: true)", res.Body)
					require.Contains(t, iv.stdout.String(), "greeting ada (request 0193a5f0-7c1e-7000-8000-000000000001)")
				}
			}
			// A root node listens inside the sandbox; one without
			// the privilege falls back to the forwarder.
			require.Equal(t, mode == "forwarder" || os.Geteuid() != 0, r.ForwardOnly())
		})
	}
}

// A sandbox that dies before bwrap reports its child (here a "bwrap" that
// exits at once) fails the start with an error instead of waiting for
// ever on the report.
func TestProvidedSandboxDiesBeforeReport(t *testing.T) {
	r, err := process.New(process.Config{Dir: t.TempDir(), InitTimeout: 5 * time.Second, LogBytes: 256 << 10, Bwrap: "/bin/false"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	// Compiling a module starts a sandbox once (its init), so the
	// failure shows there.
	pkg := code(t, map[string]string{"bootstrap*": "#!/bin/sh\nexit 0\n"})
	done := make(chan error, 1)
	go func() {
		_, err := r.Compile(context.Background(), pkg, process.Spec{Name: "fn@1", Function: "fn", Version: 1, Runtime: record.RuntimeProvided, MemoryMB: 128})
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorContains(t, err, "bwrap's sandbox info: EOF")
	case <-time.After(30 * time.Second):
		t.Fatal("the start still waits for a sandbox that is gone")
	}
}
