package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProcessBindings deploys, through the real binary, a Node.js process
// function that keeps notes in a KV namespace and sends jobs to a queue
// through its bindings (require('strata')), served by routes: what it
// writes is read back through another invocation, the job lands on the
// project's queue, and a binding it did not declare and Strata's internal
// queues are refused.
func TestProcessBindings(t *testing.T) {
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
	write("strata.yaml", `project: notes
kv:
  notes: {}
queues:
  jobs: {}
functions:
  api:
    source: ./api
    kind: process
    runtime: nodejs
    handler: index.handler
    timeout: 5s
    bindings: { cache: notes }
    routes: ["PUT /notes/{key}", "GET /notes/{key}", "POST /jobs", "GET /undeclared", "POST /internal"]
`)
	write("api/index.js", `
const strata = require('strata');
exports.handler = async (event) => {
  const route = event.routeKey;
  const key = event.pathParameters && event.pathParameters.key;
  try {
    if (route === 'PUT /notes/{key}') {
      await strata.kv.put('cache', key, event.body);
      return { statusCode: 204 };
    }
    if (route === 'GET /notes/{key}') {
      const v = await strata.kv.get('cache', key);
      return v === null ? { statusCode: 404, body: 'no note ' + key } : { statusCode: 200, body: v.toString() };
    }
    if (route === 'POST /jobs') {
      const id = await strata.send('jobs', JSON.parse(event.body));
      return { statusCode: 202, body: id };
    }
    if (route === 'POST /internal') {
      await strata.send('_async.api', 'forged');
      return { statusCode: 200, body: 'sent' };
    }
    await strata.kv.get('elsewhere', 'x');
    return { statusCode: 200, body: 'allowed' };
  } catch (e) {
    return { statusCode: e.status || 500, body: e.type + ': ' + e.message };
  }
};
`)
	d := startDevIn(t, dir)
	if r := do(t, "PUT", d.url+"/notes/greeting", []byte("hello from a process"), nil); r.status != 204 {
		t.Fatalf("put: %d %q", r.status, r.body)
	}
	if r := do(t, "GET", d.url+"/notes/greeting", nil, nil); r.status != 200 || string(r.body) != "hello from a process" {
		t.Fatalf("get: %d %q", r.status, r.body)
	}
	if r := do(t, "GET", d.url+"/notes/missing", nil, nil); r.status != 404 {
		t.Fatalf("get a missing note: %d %q", r.status, r.body)
	}
	r := do(t, "POST", d.url+"/jobs", []byte(`{"job":"resize","id":7}`), map[string]string{"Content-Type": "application/json"})
	if r.status != 202 || len(r.body) == 0 {
		t.Fatalf("send a job: %d %q", r.status, r.body)
	}
	if out := mustRun(t, dir, "queue", "peek", "jobs"); !strings.Contains(out, `"job":"resize"`) {
		t.Fatalf("the job is not on the queue:\n%s", out)
	}
	r = do(t, "GET", d.url+"/undeclared", nil, nil)
	if r.status != 403 || !strings.Contains(string(r.body), `NotPermitted: function api@1 has no kv binding "elsewhere"`) {
		t.Fatalf("an undeclared binding: %d %q", r.status, r.body)
	}
	r = do(t, "POST", d.url+"/internal", nil, nil)
	if r.status != 400 || !strings.Contains(string(r.body), "SendFailed: queue _async.api is internal to Strata") {
		t.Fatalf("a send to an internal queue: %d %q", r.status, r.body)
	}
}
