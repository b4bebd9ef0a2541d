// Strata's Node.js runtime: the Lambda Runtime API client loop that loads
// the function's handler (_HANDLER, "file.export") from LAMBDA_TASK_ROOT
// as Lambda's managed nodejs runtime does, over the private socket Strata
// serves this process alone (STRATA_RUNTIME_SOCKET).
'use strict';
const net = require('net');
const path = require('path');
const fs = require('fs');
const url = require('url');

const strata = require(path.join(__dirname, 'strata_lib.js'));

const socketPath = process.env.STRATA_RUNTIME_SOCKET;
const base = '/2018-06-01/runtime';

// A minimal HTTP/1.1 client for the one connection this process keeps to
// its Runtime API. Requests may be pipelined: a handler's answer and the
// request for the next invocation go out in one write, so a warm
// invocation costs one write each way instead of two request/response
// exchanges (Strata answers with Content-Length always).
class Client {
  constructor() { this.connect(); }
  connect() {
    this.buf = Buffer.alloc(0);
    this.waiters = [];
    this.sock = net.createConnection(socketPath);
    this.sock.on('data', (d) => { this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d; this.drain(); });
    this.sock.on('error', () => {});
    this.sock.on('close', () => {
      const w = this.waiters;
      this.waiters = [];
      this.closed = true;
      for (const x of w) x.reject(new Error('runtime API connection closed'));
    });
    this.closed = false;
  }
  drain() {
    while (this.waiters.length) {
      const r = strata._readResponse(this.buf);
      if (!r) return;
      this.buf = this.buf.subarray(r.next);
      this.waiters.shift().resolve(r);
    }
  }
  // send writes reqs ({method, path, body, headers}) at once and returns
  // a promise of each answer, in order.
  send(...reqs) {
    if (this.closed) this.connect();
    const parts = [];
    const answers = [];
    for (const r of reqs) {
      const body = r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body);
      let head = `${r.method} ${base}${r.path} HTTP/1.1\r\nHost: runtime\r\nContent-Length: ${body.length}\r\n`;
      for (const [k, v] of Object.entries(r.headers || {})) head += `${k}: ${String(v).replace(/[^\x20-\x7e]/g, '')}\r\n`;
      parts.push(Buffer.from(head + '\r\n', 'latin1'), body);
      answers.push(new Promise((resolve, reject) => this.waiters.push({ resolve, reject })));
    }
    this.sock.write(Buffer.concat(parts));
    return answers;
  }
}

const client = new Client();
const NEXT = { method: 'GET', path: '/invocation/next' };

function errorBody(err) {
  const e = err instanceof Error ? err : new Error(String(err));
  return JSON.stringify({
    errorType: e.name || 'Error',
    errorMessage: e.message || String(err),
    stackTrace: (e.stack || '').split('\n').slice(1).map((s) => s.trim()),
  });
}

function errorRequest(p, err) {
  return { method: 'POST', path: p, body: errorBody(err), headers: { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': 'Runtime.' + ((err && err.name) || 'Error') } };
}

async function postError(p, err) {
  await client.send(errorRequest(p, err))[0];
}

async function loadHandler() {
  const h = process.env._HANDLER || '';
  const dot = h.lastIndexOf('.');
  if (dot <= 0) throw Object.assign(new Error(`bad handler "${h}": must be file.export`), { name: 'Runtime.MalformedHandlerName' });
  const file = h.slice(0, dot), name = h.slice(dot + 1);
  const root = process.env.LAMBDA_TASK_ROOT || '/var/task';
  let mod;
  for (const ext of ['.js', '.mjs', '.cjs']) {
    const full = path.resolve(root, file + ext);
    if (!full.startsWith(root + '/') || !fs.existsSync(full)) continue;
    if (ext === '.mjs') {
      mod = await import(url.pathToFileURL(full).href);
    } else {
      try {
        mod = require(full);
      } catch (e) {
        if (e && e.code === 'ERR_REQUIRE_ESM') mod = await import(url.pathToFileURL(full).href);
        else throw e;
      }
    }
    break;
  }
  if (mod === undefined) throw Object.assign(new Error(`Cannot find module '${file}' in ${root} (handler "${h}")`), { name: 'Runtime.ImportModuleError' });
  const fn = mod[name] !== undefined ? mod[name] : (mod.default && mod.default[name]);
  if (typeof fn !== 'function') throw Object.assign(new Error(`${file}.${name} is not a function (handler "${h}")`), { name: 'Runtime.HandlerNotFound' });
  return fn;
}

function makeContext(headers, done) {
  const deadline = Number(headers['lambda-runtime-deadline-ms'] || 0);
  const env = process.env;
  return {
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => (deadline ? Math.max(deadline - Date.now(), 0) : 0),
    done: (err, res) => done(err, res),
    succeed: (res) => done(null, res),
    fail: (err) => done(err || new Error('failed')),
  };
}

function invokeHandler(handler, event, headers) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err, res) => {
      if (settled) return;
      settled = true;
      if (err !== null && err !== undefined) reject(err); else resolve(res);
    };
    const context = makeContext(headers, done);
    try {
      const out = handler.length >= 3 ? handler(event, context, done) : handler(event, context);
      if (out && typeof out.then === 'function') out.then((r) => done(null, r), (e) => done(e === undefined || e === null ? new Error('rejected') : e));
      else if (handler.length < 3) done(null, out);
    } catch (e) {
      done(e);
    }
  });
}

async function main() {
  // The bindings, for code that does not require('strata') (ES modules).
  Object.defineProperty(globalThis, 'strata', {
    get() { strata._invocation.enable(); return strata; },
    configurable: true,
  });
  let handler;
  try {
    handler = await loadHandler();
  } catch (e) {
    console.error(e && e.stack ? e.stack : String(e));
    await postError('/init/error', e).catch(() => {});
    process.exit(1);
  }
  let current = null;
  process.on('uncaughtException', async (e) => {
    console.error(e && e.stack ? e.stack : String(e));
    if (current) await postError(`/invocation/${current}/error`, e).catch(() => {});
    process.exit(1);
  });
  process.on('unhandledRejection', (e) => { throw e; });
  let pending = client.send(NEXT)[0];
  for (;;) {
    let next;
    try {
      next = await pending;
    } catch (e) {
      next = await client.send(NEXT)[0]; // the connection dropped: once more on a new one
    }
    if (next.status !== 200) {
      console.error(`runtime API: next answered ${next.status}: ${next.body}`);
      process.exit(1);
    }
    const id = next.headers['lambda-runtime-aws-request-id'];
    current = id;
    if (next.headers['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = next.headers['lambda-runtime-trace-id'];
    let answer;
    try {
      const event = next.body.length ? JSON.parse(next.body.toString('utf8')) : null;
      const result = await strata._invocation.run(id, () => invokeHandler(handler, event, next.headers));
      answer = { method: 'POST', path: `/invocation/${id}/response`, body: JSON.stringify(result === undefined ? null : result), headers: { 'Content-Type': 'application/json' } };
    } catch (e) {
      answer = errorRequest(`/invocation/${id}/error`, e);
    }
    current = null;
    strata._invocation.end();
    const [ack, following] = client.send(answer, NEXT);
    pending = following;
    ack.then((a) => { if (a.status !== 202) console.error(`runtime API: ${answer.path} answered ${a.status}: ${a.body}`); }, () => {});
  }
}

main();
