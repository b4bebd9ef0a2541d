package process_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/process"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/wasm"
)

// probeJS tries, from inside the sandbox, everything a function must not
// reach, and answers what happened to each attempt.
const probeJS = `
const fs = require('fs');
const net = require('net');
function tryRead(p) { try { fs.readFileSync(p); return 'read'; } catch (e) { return e.code; } }
function tryWrite(p) { try { fs.writeFileSync(p, 'x'); return 'wrote'; } catch (e) { return e.code; } }
function tryList(p) { try { return fs.readdirSync(p).sort().join(','); } catch (e) { return e.code; } }
function tryConnect(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: 2000 });
    s.on('connect', () => { s.destroy(); resolve('connected'); });
    s.on('timeout', () => { s.destroy(); resolve('timeout'); });
    s.on('error', (e) => resolve(e.code));
  });
}
exports.handler = async (event) => {
  const out = {};
  out.shadow = tryRead('/etc/shadow');
  out.passwd = tryRead('/etc/passwd');
  for (const [k, p] of Object.entries(event.paths)) out[k] = tryRead(p);
  out.listRoot = tryList('/');
  out.listRun = tryList('/run/strata');
  out.writeCode = tryWrite('/var/task/x');
  out.writeUsr = tryWrite('/usr/x');
  out.writeTmp = tryWrite('/tmp/x');
  out.procs = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).length;
  out.loopback = await tryConnect('127.0.0.1', event.port);
  out.outside = await tryConnect(event.outside, 80);
  out.env = Object.keys(process.env).sort();
  out.uid = process.getuid();
  return out;
};
`

// TestSandboxConfines proves what a process function cannot reach: host
// files (shadow, the node's data directory, another function's code and
// socket), writable code or runtime, the network (the host's loopback,
// where the admin API listens, or anything outside), the host's processes
// and environment.
func TestSandboxConfines(t *testing.T) {
	t.Setenv("STRATA_TEST_HOST_SECRET", "must-not-leak")
	r := setup(t)
	other, err := compile(t, r, record.RuntimeNode, "other.handler", map[string]string{"other.js": `exports.handler = async () => "secret code"`})
	require.NoError(t, err)
	otherInst := start(t, other)
	m, err := compile(t, r, record.RuntimeNode, "index.handler", map[string]string{"index.js": probeJS})
	require.NoError(t, err)
	inst := start(t, m)

	// A stand-in for the admin API on the host's loopback.
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("admin")) }))
	defer admin.Close()
	_, port, _ := net.SplitHostPort(admin.Listener.Addr().String())

	dataDir := r.Dir()
	otherCode := filepath.Join(other.CodeDir(), "other.js")
	otherSock := filepath.Join(otherInst.RunDir(), "runtime.sock")
	require.FileExists(t, otherCode)
	event, _ := json.Marshal(map[string]any{
		"paths": map[string]string{
			"dataDir": dataDir, "otherCode": otherCode, "otherSocket": otherSock,
			"hostProcEnv": fmt.Sprintf("/proc/%d/environ", os.Getpid()),
		},
		"port": port, "outside": "192.0.2.1",
	})
	iv := invoke(t, inst, string(event), 10*time.Second)
	require.NoError(t, iv.err, iv.stderr.String())
	var got struct {
		Shadow, Passwd, DataDir, OtherCode, OtherSocket, HostProcEnv string
		ListRoot, ListRun, WriteCode, WriteUsr, WriteTmp             string
		Procs                                                        int
		Loopback, Outside                                            string
		Env                                                          []string
		UID                                                          int
	}
	require.NoError(t, json.Unmarshal(iv.resp.Body, &got), string(iv.resp.Body))
	assert.Equal(t, "ENOENT", got.Shadow, "no /etc at all")
	assert.Equal(t, "ENOENT", got.Passwd)
	assert.Equal(t, "ENOENT", got.DataDir, "the node's data directory is not in the sandbox")
	assert.Equal(t, "ENOENT", got.OtherCode, "another function's code is not in the sandbox")
	assert.Equal(t, "ENOENT", got.OtherSocket, "another process's Runtime API is not in the sandbox")
	assert.Equal(t, "ENOENT", got.HostProcEnv, "the host's processes are not visible")
	for _, name := range strings.Split(got.ListRoot, ",") {
		assert.Contains(t, []string{"bin", "sbin", "lib", "lib32", "lib64", "libx32", "dev", "opt", "proc", "run", "tmp", "usr", "var"}, name,
			"only the runtime's own tree at the root (no etc, home, root, srv, the data directory)")
	}
	assert.Equal(t, "runtime.sock", got.ListRun, "only its own Runtime API socket")
	assert.Equal(t, "EROFS", got.WriteCode, "code is read-only")
	assert.Equal(t, "EROFS", got.WriteUsr, "the runtime is read-only")
	assert.Equal(t, "wrote", got.WriteTmp, "/tmp is private and writable")
	assert.LessOrEqual(t, got.Procs, 3, "its own PID namespace: bwrap's init, prlimit-exec'd node")
	assert.Equal(t, "ECONNREFUSED", got.Loopback, "the host's loopback (the admin API) is another network")
	assert.Equal(t, "ENETUNREACH", got.Outside, "no route out")
	assert.NotContains(t, got.Env, "STRATA_TEST_HOST_SECRET", "the host's environment does not leak")
	assert.Contains(t, got.Env, "GREETING", "the manifest's environment is there")
	assert.Contains(t, got.Env, "AWS_LAMBDA_FUNCTION_NAME")
	assert.Equal(t, 993, got.UID)
}

func TestInitErrorRefused(t *testing.T) {
	r := setup(t)
	for name, tc := range map[string]struct {
		runtime, handler string
		files            map[string]string
		want             []string
	}{
		"node throws": {record.RuntimeNode, "index.handler", map[string]string{"index.js": `throw new TypeError("no config");`},
			[]string{"init failed (fn@1): TypeError: no config", "index.js:1"}},
		"node missing export": {record.RuntimeNode, "index.nope", map[string]string{"index.js": `exports.handler = () => 1;`},
			[]string{"Runtime.HandlerNotFound: index.nope is not a function"}},
		"node missing file": {record.RuntimeNode, "main.handler", map[string]string{"index.js": ``},
			[]string{"Runtime.ImportModuleError: Cannot find module 'main'"}},
		"python raises": {record.RuntimePython, "app.handler", map[string]string{"app.py": "raise RuntimeError('bad import')\n"},
			[]string{"init failed (fn@1): RuntimeError: bad import"}},
		"python syntax": {record.RuntimePython, "app.handler", map[string]string{"app.py": "def handler(:\n"},
			[]string{"SyntaxError"}},
		"provided exits": {record.RuntimeProvided, "", map[string]string{"bootstrap*": "#!/bin/sh\necho starting; exit 3\n"},
			[]string{"exited before asking for an invocation: exit status 3", "starting"}},
		"provided without bootstrap": {record.RuntimeProvided, "", map[string]string{"main.sh": ""},
			[]string{"needs an executable file named bootstrap"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := compile(t, r, tc.runtime, tc.handler, tc.files)
			require.Error(t, err)
			var ie *process.InitError
			require.ErrorAs(t, err, &ie)
			require.ErrorIs(t, err, wasm.ErrInvalidModule, "a deploy refuses it (400)")
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestHandlerNeverAnswersIsKilledAndReplaced(t *testing.T) {
	r := setup(t)
	m, err := compile(t, r, record.RuntimeNode, "index.handler", map[string]string{"index.js": `
exports.handler = (event) => event.hang ? new Promise(() => setInterval(() => {}, 1000)) : "ok";`})
	require.NoError(t, err)
	inst := start(t, m)
	iv := invoke(t, inst, `{"hang":true}`, 300*time.Millisecond)
	require.ErrorIs(t, iv.err, wasm.ErrTimeout)
	require.True(t, inst.Broken(), "the pool replaces it")
	<-inst.Exited()
	iv = invoke(t, inst, `{}`, time.Second)
	require.ErrorIs(t, iv.err, wasm.ErrInstanceBroken)
	fresh := start(t, m)
	iv = invoke(t, fresh, `{}`, 5*time.Second)
	require.NoError(t, iv.err)
	require.Equal(t, `"ok"`, string(iv.resp.Body))
}

func TestHandlerErrorKeepsTheProcess(t *testing.T) {
	r := setup(t)
	m, err := compile(t, r, record.RuntimeNode, "index.handler", map[string]string{"index.js": `
let n = 0;
exports.handler = async (event) => { n++; if (event.fail) throw new RangeError("bad " + n); return n; };`})
	require.NoError(t, err)
	inst := start(t, m)
	iv := invoke(t, inst, `{"fail":true}`, 5*time.Second)
	var trap *wasm.TrapError
	require.ErrorAs(t, iv.err, &trap)
	assert.Contains(t, trap.Message, "the handler failed: RangeError: bad 1")
	require.False(t, inst.Broken())
	iv = invoke(t, inst, `{}`, 5*time.Second)
	require.NoError(t, iv.err)
	assert.Equal(t, "2", string(iv.resp.Body), "the same process, its state kept")
}

func TestCallbackStyleHandler(t *testing.T) {
	r := setup(t)
	m, err := compile(t, r, record.RuntimeNode, "index.handler", map[string]string{"index.js": `
exports.handler = function (event, context, callback) {
  setTimeout(() => event.fail ? callback(new Error("nope")) : callback(null, { id: context.awsRequestId }), 5);
};`})
	require.NoError(t, err)
	inst := start(t, m)
	iv := invoke(t, inst, `{}`, 5*time.Second)
	require.NoError(t, iv.err)
	assert.JSONEq(t, `{"id":"0193a5f0-7c1e-7000-8000-000000000001"}`, string(iv.resp.Body))
	iv = invoke(t, inst, `{"fail":true}`, 5*time.Second)
	require.ErrorContains(t, iv.err, "Error: nope")
}

func TestPythonHandler(t *testing.T) {
	r := setup(t)
	m, err := compile(t, r, record.RuntimePython, "pkg/app.handler", map[string]string{
		"pkg/__init__.py": "",
		"pkg/app.py": `import os
calls = 0
def handler(event, context):
    global calls
    calls += 1
    print("got", event["name"])
    return {"hello": event["name"], "calls": calls, "id": context.aws_request_id, "fn": context.function_name,
            "mem": context.memory_limit_in_mb, "arn": context.invoked_function_arn,
            "remaining": context.get_remaining_time_in_millis() > 0, "greeting": os.environ["GREETING"]}
`})
	require.NoError(t, err)
	inst := start(t, m)
	for n := 1; n <= 2; n++ {
		iv := invoke(t, inst, `{"name":"ada"}`, 5*time.Second)
		require.NoError(t, iv.err, iv.stderr.String())
		assert.JSONEq(t, fmt.Sprintf(`{"hello":"ada","calls":%d,"id":"0193a5f0-7c1e-7000-8000-000000000001","fn":"fn","mem":"128",
			"arn":"arn:aws:lambda:strata:shop:function:fn","remaining":true,"greeting":"hello"}`, n), string(iv.resp.Body))
		assert.Equal(t, "got ada\n", iv.stdout.String())
	}
	iv := invoke(t, inst, `{}`, 5*time.Second)
	require.ErrorContains(t, iv.err, "the handler failed: KeyError: 'name'")
	assert.Contains(t, iv.stderr.String(), "Traceback")
}

func TestForkBombIsLimited(t *testing.T) {
	r, err := process.New(process.Config{Dir: t.TempDir(), MaxProcs: 16})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	m, err := compile(t, r, record.RuntimePython, "bomb.handler", map[string]string{"bomb.py": `import os, time
def handler(event, context):
    n = 0
    err = ""
    for _ in range(500):
        try:
            pid = os.fork()
        except OSError as e:
            err = e.strerror
            break
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        n += 1
    return {"forked": n, "error": err}
`})
	require.NoError(t, err)
	inst := start(t, m)
	iv := invoke(t, inst, `{}`, 10*time.Second)
	require.NoError(t, iv.err, iv.stderr.String())
	var got struct {
		Forked int
		Error  string
	}
	require.NoError(t, json.Unmarshal(iv.resp.Body, &got))
	assert.Less(t, got.Forked, 16+8, "no more processes than the sandbox's limit")
	assert.Equal(t, "Resource temporarily unavailable", got.Error)
}

func TestTmpIsCapped(t *testing.T) {
	r, err := process.New(process.Config{Dir: t.TempDir(), TmpMB: 4})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	m, err := compile(t, r, record.RuntimeNode, "index.handler", map[string]string{"index.js": `
const fs = require('fs');
exports.handler = async () => {
  const chunk = Buffer.alloc(256 << 10, 120);
  let written = 0;
  try { for (;;) { fs.appendFileSync('/tmp/fill', chunk); written += chunk.length; } }
  catch (e) { return { written, code: e.code }; }
};`})
	require.NoError(t, err)
	inst := start(t, m)
	iv := invoke(t, inst, `{}`, 10*time.Second)
	require.NoError(t, iv.err, iv.stderr.String())
	var got struct {
		Written int
		Code    string
	}
	require.NoError(t, json.Unmarshal(iv.resp.Body, &got))
	assert.Equal(t, "ENOSPC", got.Code)
	assert.LessOrEqual(t, got.Written, 4<<20)
}

func TestEndlessOutputIsCutAndKilled(t *testing.T) {
	r := setup(t) // LogBytes 256 KiB
	m, err := compile(t, r, record.RuntimeNode, "index.handler", map[string]string{"index.js": `
exports.handler = async () => {
  const line = "x".repeat(1023) + "\n";
  for (let i = 1; ; i++) {
    process.stdout.write(line);
    if (i % 64 === 0) await new Promise((r) => setImmediate(r)); // let the pipe drain
  }
};`})
	require.NoError(t, err)
	inst := start(t, m)
	iv := invoke(t, inst, `{}`, 10*time.Second)
	var trap *wasm.TrapError
	require.ErrorAs(t, iv.err, &trap)
	assert.Contains(t, trap.Message, "wrote more than 262144 bytes of output in one invocation and was killed")
	assert.True(t, inst.Broken())
	assert.LessOrEqual(t, iv.stdout.Len(), 256<<10, "the logs got no more than the cap")
	<-inst.Exited()
}

func TestResponseOver6MiB(t *testing.T) {
	r := setup(t)
	m, err := compile(t, r, record.RuntimeNode, "index.handler", map[string]string{"index.js": `
exports.handler = async (event) => "x".repeat(event.n);`})
	require.NoError(t, err)
	inst := start(t, m)
	iv := invoke(t, inst, `{"n":7340032}`, 10*time.Second)
	require.ErrorIs(t, iv.err, wasm.ErrResponseTooLarge)
	require.False(t, inst.Broken(), "the runtime is told (413) and asks for the next invocation")
	iv = invoke(t, inst, `{"n":3}`, 10*time.Second)
	require.NoError(t, iv.err)
	assert.Equal(t, `"xxx"`, string(iv.resp.Body))
}

// TestMalformedRuntimeAPICalls: a runtime that answers the wrong
// invocation, calls what does not exist, reports an init error late, or
// sends bytes that are not HTTP gets a clear error and no effect; its real
// answer still counts.
func TestMalformedRuntimeAPICalls(t *testing.T) {
	r := setup(t)
	m, err := compile(t, r, record.RuntimeNode, "index.handler", map[string]string{"index.js": `
const http = require('http');
const net = require('net');
const socketPath = process.env.STRATA_RUNTIME_SOCKET;
function call(method, path, body) {
  return new Promise((resolve) => {
    const req = http.request({ socketPath, method, path }, (res) => {
      let b = ''; res.on('data', (c) => b += c); res.on('end', () => resolve(res.statusCode + ' ' + b.trim()));
    });
    req.on('error', (e) => resolve(e.code));
    req.end(body);
  });
}
function garbage() {
  return new Promise((resolve) => {
    const s = net.connect(socketPath, () => s.write('\x00\x01 not http\r\n\r\n'));
    let b = ''; s.on('data', (c) => b += c); s.on('end', () => resolve(b.split('\r\n')[0])); s.on('error', (e) => resolve(e.code));
  });
}
exports.handler = async (event, context) => ({
  wrongID: await call('POST', '/2018-06-01/runtime/invocation/not-this-one/response', '"hijack"'),
  unknown: await call('GET', '/2018-06-01/runtime/secrets', ''),
  lateInit: await call('POST', '/2018-06-01/runtime/init/error', '{}'),
  badMethod: await call('DELETE', '/2018-06-01/runtime/invocation/next', ''),
  garbage: await garbage(),
});`})
	require.NoError(t, err)
	inst := start(t, m)
	iv := invoke(t, inst, `{}`, 10*time.Second)
	require.NoError(t, iv.err, iv.stderr.String())
	var got map[string]string
	require.NoError(t, json.Unmarshal(iv.resp.Body, &got), string(iv.resp.Body))
	assert.True(t, strings.HasPrefix(got["wrongID"], `400 {"errorMessage":"no invocation \"not-this-one\" in flight`), got["wrongID"])
	assert.True(t, strings.HasPrefix(got["unknown"], "404 "), got["unknown"])
	assert.Contains(t, got["unknown"], "is not part of the Runtime API")
	assert.True(t, strings.HasPrefix(got["lateInit"], "403 "), got["lateInit"])
	assert.True(t, strings.HasPrefix(got["badMethod"], "404 "), got["badMethod"])
	assert.Contains(t, got["badMethod"], "DELETE /2018-06-01/runtime/invocation/next is not part of the Runtime API")
	assert.Equal(t, "HTTP/1.1 400 Bad Request", got["garbage"])
	assert.False(t, inst.Broken())
}

func TestUnpackRefusesEscapes(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Symlink("/etc", filepath.Join(dir, "etc")))
	_, err := process.Pack(dir)
	require.ErrorIs(t, err, process.ErrBadArchive)
	require.ErrorIs(t, process.Unpack([]byte("not gzip"), filepath.Join(t.TempDir(), "x")), process.ErrBadArchive)
	_ = context.Background
}

// TestMemoryIsLimited: a handler that takes far more than its function's
// memory fails: killed by its memory cgroup where the node has one, a
// MemoryError under the address-space rlimit otherwise.
func TestMemoryIsLimited(t *testing.T) {
	r := setup(t)
	m, err := compile(t, r, record.RuntimePython, "hog.handler", map[string]string{"hog.py": `
def handler(event, context):
    chunks = []
    for _ in range(64):
        chunks.append(bytearray(16 << 20))
        for i in range(0, len(chunks[-1]), 4096):
            chunks[-1][i] = 1
    return len(chunks)
`})
	require.NoError(t, err)
	inst := start(t, m)
	iv := invoke(t, inst, `{}`, 20*time.Second)
	require.Error(t, iv.err, "1 GiB in a 128 MB function")
	msg := iv.err.Error() + iv.stderr.String()
	assert.True(t, strings.Contains(msg, "memory limit") || strings.Contains(msg, "MemoryError"), msg)
}
