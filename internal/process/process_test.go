package process_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/internal/process"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/sdk/go/wire"
)

// setup returns a runtime over a fresh directory, skipping when this
// machine has no bubblewrap.
func setup(t testing.TB) *process.Runtime {
	t.Helper()
	r, err := process.New(process.Config{Dir: t.TempDir(), InitTimeout: 5 * time.Second, LogBytes: 256 << 10})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// code packs files (name → content; a name ending in "*" is executable)
// as a deploy uploads them.
func code(t testing.TB, files map[string]string) []byte {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		mode := os.FileMode(0o644)
		if name[len(name)-1] == '*' {
			name, mode = name[:len(name)-1], 0o755
		}
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), mode))
	}
	b, err := process.Pack(dir)
	require.NoError(t, err)
	return b
}

func compile(t testing.TB, r *process.Runtime, runtime, handler string, files map[string]string) (*process.Module, error) {
	t.Helper()
	return r.Compile(context.Background(), code(t, files), process.Spec{
		Name: "fn@1", Function: "fn", Version: 1, Runtime: runtime, Handler: handler, MemoryMB: 128,
		Env: map[string]string{"GREETING": "hello"},
	})
}

// invocation is one Handle's logs and answer.
type invocation struct {
	resp   *wire.Response
	err    error
	stdout bytes.Buffer
	stderr bytes.Buffer
}

func invoke(t testing.TB, inst *process.Instance, event string, timeout time.Duration) *invocation {
	t.Helper()
	iv := &invocation{}
	iv.resp, iv.err = inst.Handle(context.Background(),
		&wire.Request{Method: "POST", Path: "/", Body: []byte(event), InvocationID: "0193a5f0-7c1e-7000-8000-000000000001",
			TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		wasm.Env{Stdout: &iv.stdout, Stderr: &iv.stderr, Deadline: time.Now().Add(timeout), Call: &host.Call{Project: "shop"}})
	return iv
}

func start(t testing.TB, m *process.Module) *process.Instance {
	t.Helper()
	inst, err := m.Instantiate(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { _ = inst.Close(context.Background()) })
	return inst
}

const nodeHello = `
exports.handler = async (event, context) => {
  console.log("event", JSON.stringify(event));
  return {
    statusCode: 200,
    body: JSON.stringify({
      hello: event.name, greeting: process.env.GREETING,
      requestId: context.awsRequestId, fn: context.functionName, mem: context.memoryLimitInMB,
      arn: context.invokedFunctionArn, remaining: context.getRemainingTimeInMillis() > 0,
      trace: process.env._X_AMZN_TRACE_ID,
    }),
  };
};
`

func TestNodeHello(t *testing.T) {
	r := setup(t)
	m, err := compile(t, r, record.RuntimeNode, "index.handler", map[string]string{"index.js": nodeHello})
	require.NoError(t, err)
	inst := start(t, m)
	for range 3 { // warm: the same process answers each
		iv := invoke(t, inst, `{"name":"ada"}`, 5*time.Second)
		require.NoError(t, iv.err, iv.stderr.String())
		require.JSONEq(t, `{"statusCode":200,"body":"{\"hello\":\"ada\",\"greeting\":\"hello\",\"requestId\":\"0193a5f0-7c1e-7000-8000-000000000001\",\"fn\":\"fn\",\"mem\":\"128\",\"arn\":\"arn:aws:lambda:strata:shop:function:fn\",\"remaining\":true,\"trace\":\"Root=1-0af76519-16cd43dd8448eb211c80319c;Parent=b7ad6b7169203331;Sampled=1\"}"}`, string(iv.resp.Body))
		require.Equal(t, "event {\"name\":\"ada\"}\n", iv.stdout.String())
	}
	require.False(t, inst.Broken())
}

// TestCodeRemovedWhenUnused: a node keeps a version's unpacked code while
// a module or a live process uses it, and removes it after the last; a
// new runtime sweeps what an earlier run left.
func TestCodeRemovedWhenUnused(t *testing.T) {
	r := setup(t)
	files := map[string]string{"index.js": nodeHello}
	m1, err := compile(t, r, record.RuntimeNode, "index.handler", files)
	require.NoError(t, err)
	m2, err := compile(t, r, record.RuntimeNode, "index.handler", files)
	require.NoError(t, err)
	require.Equal(t, m1.CodeDir(), m2.CodeDir(), "the same code is unpacked once")
	inst, err := m1.Instantiate(context.Background())
	require.NoError(t, err)

	require.NoError(t, m1.Close(context.Background()))
	require.NoError(t, m1.Close(context.Background()), "closing twice releases once")
	require.DirExists(t, m1.CodeDir(), "m2 uses it")
	require.NoError(t, m2.Close(context.Background()))
	require.DirExists(t, m1.CodeDir(), "a live process has it mapped")
	iv := invoke(t, inst, `{"name":"ada"}`, 5*time.Second)
	require.NoError(t, iv.err, iv.stderr.String())
	require.NoError(t, inst.Close(context.Background()))
	require.NoDirExists(t, m1.CodeDir(), "no one uses it")

	// A failed compile keeps nothing either.
	bad, err := compile(t, r, record.RuntimeNode, "index.handler", map[string]string{"index.js": `throw new Error("boom")`})
	require.Error(t, err)
	require.Nil(t, bad)
	codes, err := os.ReadDir(filepath.Join(r.Dir(), "code"))
	require.NoError(t, err)
	require.Empty(t, codes)

	// What an earlier run left is swept at start.
	dir := t.TempDir()
	for _, d := range []string{"code/0123abcd", "code/0123abcd/lib", "code/4567.unpack-89"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o700))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "code/0123abcd/lib/x.js"), []byte("x"), 0o600))
	r2, err := process.New(process.Config{Dir: dir})
	require.NoError(t, err)
	defer r2.Close()
	codes, err = os.ReadDir(filepath.Join(dir, "code"))
	require.NoError(t, err)
	require.Empty(t, codes)
}
