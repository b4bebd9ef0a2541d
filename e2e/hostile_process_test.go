package e2e

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostileProcessFunction deploys, through the real binary, a Node.js
// process function that attacks what a sandbox must keep from it (the
// admin API and gateway on the host's loopback, the server's data
// directory and secret key) and one that never answers: the attacks fail,
// the hung invocation times out (504) and its process is replaced, and a
// function that throws while loading is refused at deploy.
func TestHostileProcessFunction(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("strata.yaml", `project: hostile
functions:
  probe:
    source: ./probe
    kind: process
    runtime: nodejs
    handler: index.handler
    timeout: 1s
    routes: ["GET /probe", "GET /hang"]
`)
	write("probe/index.js", `
const fs = require('fs');
const net = require('net');
function tryConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, timeout: 2000 });
    s.on('connect', () => { s.destroy(); resolve('connected'); });
    s.on('timeout', () => { s.destroy(); resolve('timeout'); });
    s.on('error', (e) => resolve(e.code));
  });
}
function tryRead(p) { try { fs.readFileSync(p); return 'read'; } catch (e) { return e.code; } }
let calls = 0;
exports.handler = async (event) => {
  calls++;
  if (event.rawPath === '/hang') return new Promise(() => setInterval(() => {}, 1000));
  const q = event.queryStringParameters;
  return { statusCode: 200, body: [await tryConnect(Number(q.port)), tryRead(q.key), tryRead(q.db), 'calls=' + calls].join(' ') };
};
`)
	d := startDevIn(t, dir)
	u, err := url.Parse(d.url)
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, ".strata", "secret.key")
	db := filepath.Join(dir, ".strata", "strata.db")
	if _, err := os.Stat(key); err != nil {
		t.Fatalf("the dev server's secret key is not where this test attacks it: %v", err)
	}
	probe := d.url + "/probe?port=" + u.Port() + "&key=" + url.QueryEscape(key) + "&db=" + url.QueryEscape(db)
	r := do(t, "GET", probe, nil, nil)
	if r.status != 200 || string(r.body) != "ECONNREFUSED ENOENT ENOENT calls=1" {
		t.Fatalf("probe: %d %q, want the admin API unreachable and the data directory invisible", r.status, r.body)
	}
	if r := do(t, "GET", d.url+"/hang", nil, nil); r.status != 504 {
		t.Fatalf("hang: %d %q, want 504", r.status, r.body)
	}
	// The hung process was killed; a fresh one (its count back to 1)
	// answers.
	if r := do(t, "GET", probe, nil, nil); r.status != 200 || !strings.HasSuffix(string(r.body), "calls=1") {
		t.Fatalf("after the timeout: %d %q, want a fresh process", r.status, r.body)
	}

	write("probe/index.js", `throw new Error("missing configuration");`)
	out, errOut, code := run(t, dir, nil, "deploy")
	if code == 0 || !strings.Contains(out+errOut, "init failed") || !strings.Contains(out+errOut, "Error: missing configuration") {
		t.Fatalf("deploy of a handler that throws while loading: exit %d\n%s\n%s", code, out, errOut)
	}
	if r := do(t, "GET", probe, nil, nil); r.status != 200 {
		t.Fatalf("the refused deploy changed the live version: %d %q", r.status, r.body)
	}
}
