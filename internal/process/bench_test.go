package process_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/process"
	"github.com/stratahq/strata/internal/record"
)

// percentiles reports the p50 and p99 of ds, in the unit given.
func percentiles(b *testing.B, ds []time.Duration, unit time.Duration, name string) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2])/float64(unit), "p50-"+name)
	b.ReportMetric(float64(ds[len(ds)*99/100])/float64(unit), "p99-"+name)
}

var benchHandlers = map[string]struct {
	runtime, handler string
	files            map[string]string
}{
	"node":   {record.RuntimeNode, "index.handler", map[string]string{"index.js": `exports.handler = async (event) => ({ statusCode: 200, body: "hello " + event.name });`}},
	"python": {record.RuntimePython, "app.handler", map[string]string{"app.py": "def handler(event, context):\n    return {'statusCode': 200, 'body': 'hello ' + event['name']}\n"}},
}

// benchModule returns a runtime's hello: for "provided", the aws-lambda-go
// example built as Lambda's provided runtimes take it.
func benchModule(b *testing.B, r *process.Runtime, name string) *process.Module {
	b.Helper()
	var m *process.Module
	var err error
	if name == "provided" {
		dir := b.TempDir()
		build := exec.Command("go", "build", "-o", filepath.Join(dir, "bootstrap"), ".")
		build.Dir = filepath.Join("..", "..", "examples", "lambda-go", "handler")
		build.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOPROXY=off")
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("build the bootstrap: %v\n%s", err, out)
		}
		bin, err := os.ReadFile(filepath.Join(dir, "bootstrap"))
		if err != nil {
			b.Fatal(err)
		}
		m, err = compile(b, r, record.RuntimeProvided, "", map[string]string{"bootstrap*": string(bin)})
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	h := benchHandlers[name]
	m, err = compile(b, r, h.runtime, h.handler, h.files)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkWarm is one warm invocation of a hello handler through the
// Runtime API: Handle hands the event to the waiting /next, the bootstrap
// calls the handler and posts /response. The handler does next to
// nothing, so this is the round trip's overhead (plus the runtime's own
// JSON work).
func BenchmarkWarm(b *testing.B) {
	for _, name := range []string{"node", "python", "provided"} {
		b.Run(name, func(b *testing.B) {
			r := setup(b)
			m := benchModule(b, r, name)
			inst := start(b, m)
			ds := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				iv := invoke(b, inst, `{"name":"ada"}`, 10*time.Second)
				ds = append(ds, time.Since(t0))
				if iv.err != nil {
					b.Fatal(iv.err)
				}
			}
			b.StopTimer()
			percentiles(b, ds, time.Microsecond, "µs")
		})
	}
}

// BenchmarkColdStart is a new sandboxed process to its first answer:
// bwrap's namespaces and mounts, the interpreter's start, loading the
// handler, the first invocation.
func BenchmarkColdStart(b *testing.B) {
	for _, name := range []string{"node", "python", "provided"} {
		b.Run(name, func(b *testing.B) {
			r := setup(b)
			m := benchModule(b, r, name)
			ds := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				inst, err := m.Instantiate(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				iv := invoke(b, inst, `{"name":"ada"}`, 10*time.Second)
				ds = append(ds, time.Since(t0))
				if iv.err != nil {
					b.Fatal(iv.err)
				}
				b.StopTimer()
				_ = inst.Close(context.Background())
				b.StartTimer()
			}
			b.StopTimer()
			percentiles(b, ds, time.Millisecond, "ms")
		})
	}
}

// BenchmarkBareNode is the same hello handler behind a bare Node.js
// http server on a unix socket, without sandbox or Runtime API: one
// request and answer per call. BenchmarkWarm/node minus this is what the
// Runtime API round trip costs on top of Node.js doing the same work.
func BenchmarkBareNode(b *testing.B) {
	node, err := exec.LookPath("node")
	if err != nil {
		b.Skip("no node")
	}
	dir := b.TempDir()
	sock := filepath.Join(dir, "s")
	script := filepath.Join(dir, "server.js")
	if err := os.WriteFile(script, []byte(`
const http = require('http');
const handler = async (event) => ({ statusCode: 200, body: "hello " + event.name });
http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const out = JSON.stringify(await handler(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(out) });
    res.end(out);
  });
}).listen(process.argv[2]);
`), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(node, script, sock)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	for i := 0; i < 500; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		resp, err := c.Post("http://node/", "application/json", strings.NewReader(`{"name":"ada"}`))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		ds = append(ds, time.Since(t0))
	}
	b.StopTimer()
	percentiles(b, ds, time.Microsecond, "µs")
}

// BenchmarkBindingCall is one KV get from a handler through its client
// library: the request on the process's Runtime API socket, the platform
// checking the invocation and running the real KV binding (over an
// in-memory store, so the storage's own time is out), the answer decoded
// back into the language. Each call is timed inside the process; p50 is
// what a binding call adds to a handler.
func BenchmarkBindingCall(b *testing.B) {
	handlers := map[string]struct {
		runtime, handler string
		files            map[string]string
	}{
		"node": {record.RuntimeNode, "index.handler", map[string]string{"index.js": `
const strata = require('strata');
exports.handler = async (event) => {
  const ds = [];
  for (let i = 0; i < event.n; i++) {
    const t0 = process.hrtime.bigint();
    const v = await strata.kv.get('cache', 'k');
    ds.push(Number(process.hrtime.bigint() - t0));
    if (v === null) throw new Error('no value');
  }
  return ds;
};`}},
		"python": {record.RuntimePython, "app.handler", map[string]string{"app.py": `
import time
import strata

def handler(event, context):
    ds = []
    for _ in range(event["n"]):
        t0 = time.perf_counter_ns()
        v = strata.kv.get("cache", "k")
        ds.append(time.perf_counter_ns() - t0)
        if v is None:
            raise ValueError("no value")
    return ds
`}},
	}
	for _, name := range []string{"node", "python"} {
		b.Run(name, func(b *testing.B) {
			f := setupBindings(b)
			f.st.kv["shop-cache\x00k"] = []byte("hello")
			h := handlers[name]
			inst := start(b, f.compile(b, h.runtime, h.handler, h.files))
			// Warm the connections and the interpreter's paths.
			if iv := f.invoke(b, inst, map[string]int{"n": 50}); iv.err != nil {
				b.Fatal(iv.err, iv.stderr.String())
			}
			ds := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for left := b.N; left > 0; {
				n := min(left, 1000)
				left -= n
				iv := f.invoke(b, inst, map[string]int{"n": n})
				if iv.err != nil {
					b.Fatal(iv.err, iv.stderr.String())
				}
				var ns []int64
				if err := json.Unmarshal(iv.resp.Body, &ns); err != nil {
					b.Fatal(err)
				}
				for _, d := range ns {
					ds = append(ds, time.Duration(d))
				}
			}
			b.StopTimer()
			percentiles(b, ds, time.Microsecond, "µs")
		})
	}
}
