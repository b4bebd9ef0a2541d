// Strata's bindings for Node.js functions, which require('strata') (the
// shim strata.js) and the global strata give. Each call is an HTTP request to the platform on this
// process's private Runtime API socket (STRATA_RUNTIME_SOCKET), under
// /strata/v1, naming the invocation it is made for; the platform decides
// what the function may reach (docs/process.md, "Bindings").
'use strict';
const net = require('net');
const { AsyncLocalStorage } = require('async_hooks');

const socketPath = process.env.STRATA_RUNTIME_SOCKET;
const PREFIX = '/strata/v1';
// Connections to the socket, one per call in flight, kept for the next
// call; at most maxConns open (the platform admits 32 calls at once per
// process), further calls wait for one. A minimal HTTP/1.1 client, as the
// bootstrap's: the platform answers every call with a Content-Length, and
// Node's http module costs more per call than the exchange itself.
const maxConns = 32;
const idle = [];
const queued = [];
let open = 0;

// readResponse reads one whole HTTP/1.1 response from the start of buf
// (the platform always sends a Content-Length): {status, headers (names
// lower-cased), body, next (where the following response starts)}, or
// null while it is incomplete. The bootstrap's Runtime API client reads
// its answers with it too.
function readResponse(buf) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const headers = {};
  for (let i = 1; i < lines.length; i++) {
    const c = lines[i].indexOf(':');
    if (c > 0) headers[lines[i].slice(0, c).trim().toLowerCase()] = lines[i].slice(c + 1).trim();
  }
  const next = end + 4 + Number(headers['content-length'] || 0);
  if (buf.length < next) return null;
  return { status: Number(lines[0].split(' ')[1]), headers, body: buf.subarray(end + 4, next), next };
}

class Conn {
  constructor() {
    this.buf = null;
    this.pending = null; // {resolve, reject} of the call in flight
    this.dead = false;
    this.sock = net.createConnection(socketPath);
    this.sock.setNoDelay(true);
    this.sock.on('data', (d) => { this.buf = this.buf ? Buffer.concat([this.buf, d]) : d; this.parse(); });
    this.sock.on('error', () => {});
    this.sock.on('close', () => {
      this.dead = true;
      const p = this.pending;
      this.pending = null;
      if (p) p.reject(new StrataError('ConnectionClosed', 'strata: the platform closed the connection', 0));
    });
  }
  parse() {
    if (!this.pending) return;
    const r = readResponse(this.buf);
    if (!r) return;
    this.buf = this.buf.length > r.next ? this.buf.subarray(r.next) : null;
    const p = this.pending;
    this.pending = null;
    if (r.headers.connection === 'close') this.dead = true;
    p.resolve(r);
  }
  send(head, body) {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.sock.write(body.length ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : head);
    });
  }
}

function acquire() {
  while (idle.length) {
    const c = idle.pop();
    if (!c.dead) return Promise.resolve(c);
    open--;
  }
  if (open < maxConns) {
    open++;
    return Promise.resolve(new Conn());
  }
  return new Promise((resolve) => queued.push(resolve));
}

function release(c) {
  if (c.dead) {
    c.sock.destroy();
    open--;
    if (queued.length && open < maxConns) {
      open++;
      queued.shift()(new Conn());
    }
    return;
  }
  if (queued.length) queued.shift()(c);
  else idle.push(c);
}

// The invocation a call belongs to follows the handler's async work
// (promises, timers), so code still running from an earlier invocation
// sends that invocation's id and is refused, rather than acting for the
// current one. `fallback` is for code outside any handler's async context
// (an event emitter created at init): the invocation in flight.
//
// Tracking costs every promise of the process something (async hooks), so
// it starts when the function first reaches for the library (require or
// the global), usually as its code loads: functions that never use the
// bindings do not pay for it.
const als = new AsyncLocalStorage();
let fallback = null;
let tracking = false;

// runInvocation runs fn as invocation id (the bootstrap calls it).
function runInvocation(id, fn) {
  fallback = id;
  return tracking ? als.run({ id }, fn) : fn();
}

function enable() {
  tracking = true;
}

function endInvocation() {
  fallback = null;
}

class StrataError extends Error {
  constructor(type, message, status, code) {
    super(message);
    this.name = 'StrataError';
    this.type = type;
    this.status = status;
    if (code !== undefined) this.code = code;
  }
}

function currentId() {
  const s = als.getStore();
  return s ? s.id : fallback;
}

// call sends one binding call and resolves to {status, headers, body}.
async function call(method, path, body, headers) {
  const id = currentId();
  if (!id) throw new StrataError('NoInvocation', 'strata: binding calls are made while a handler runs', 0);
  const buf = body === undefined || body === null ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body);
  let head = `${method} ${PREFIX}${path} HTTP/1.1\r\nHost: strata\r\nContent-Length: ${buf.length}\r\nLambda-Runtime-Aws-Request-Id: ${id}\r\n`;
  for (const [k, v] of Object.entries(headers || {})) head += `${k}: ${String(v).replace(/[^\x20-\x7e]/g, '')}\r\n`;
  head += '\r\n';
  const c = await acquire();
  let res;
  try {
    res = await c.send(head, buf);
  } finally {
    release(c);
  }
  if (res.status >= 300) {
    let e;
    try { e = JSON.parse(res.body.toString('utf8')); } catch (_) { e = { errorType: 'Error', errorMessage: res.body.toString('utf8') }; }
    throw new StrataError(e.errorType, e.errorMessage, res.status);
  }
  return res;
}

async function callJSON(path, req) {
  const res = await call('POST', path, JSON.stringify(req), { 'Content-Type': 'application/json' });
  return JSON.parse(res.body.toString('utf8'));
}

function toBase64(v) {
  if (v === undefined || v === null) return undefined;
  return (Buffer.isBuffer(v) || v instanceof Uint8Array ? Buffer.from(v) : Buffer.from(String(v))).toString('base64');
}

function fromBase64(s) {
  return Buffer.from(s || '', 'base64');
}

// SQL values travel typed (wire.SQLValue): {t, i, f, s, b, v}.
function sqlValue(x) {
  if (x === null || x === undefined) return { t: 'null' };
  if (typeof x === 'bigint') return { t: 'int', i: x.toString() };
  if (typeof x === 'number') {
    if (Number.isInteger(x)) return { t: 'int', i: String(x) };
    if (Number.isNaN(x)) return { t: 'float', s: 'NaN' };
    if (!Number.isFinite(x)) return { t: 'float', s: x > 0 ? '+Inf' : '-Inf' };
    return { t: 'float', f: x };
  }
  if (typeof x === 'string') return { t: 'text', s: x };
  if (typeof x === 'boolean') return { t: 'bool', v: x };
  if (x instanceof Date) return { t: 'time', s: x.toISOString() };
  if (Buffer.isBuffer(x) || x instanceof Uint8Array) return { t: 'bytes', b: Buffer.from(x).toString('base64') };
  throw new TypeError(`strata: cannot send ${typeof x} as an SQL value`);
}

function jsValue(v) {
  switch (v.t) {
    case 'null': return null;
    case 'int': { const n = BigInt(v.i || '0'); return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n; }
    case 'float': return v.s ? Number(v.s.replace('Inf', 'Infinity')) : (v.f || 0);
    case 'text': return v.s || '';
    case 'bytes': return fromBase64(v.b);
    case 'bool': return !!v.v;
    case 'time': return new Date(v.s);
    default: return v.s !== undefined ? v.s : null;
  }
}

async function sql(op, binding, query, params) {
  const res = await callJSON('/sql', { op, binding, sql: query, args: (params || []).map(sqlValue) });
  if (res.error) throw new StrataError('SQLError', res.error.message, 200, res.error.code);
  return res;
}

// db: the function's SQL bindings (db.Open(binding) in the Go SDK).
const db = {
  // query returns the rows as objects keyed by column name.
  async query(binding, query, params) {
    const res = await sql('query', binding, query, params);
    const cols = (res.columns || []).map((c) => c.name);
    return (res.rows || []).map((r) => {
      const o = {};
      cols.forEach((c, i) => { o[c] = jsValue(r[i]); });
      return o;
    });
  },
  // exec runs a statement: {rowsAffected, lastInsertId}.
  async exec(binding, query, params) {
    const res = await sql('exec', binding, query, params);
    return { rowsAffected: Number(res.rows_affected || 0), lastInsertId: Number(res.last_insert_id || 0) };
  },
};

// kv: the function's KV bindings (kv.Open(binding) in the Go SDK).
const kv = {
  // get resolves to the value (a Buffer), or null when the key is absent.
  async get(binding, key) {
    const res = await callJSON('/kv', { op: 'get', binding, key });
    return res.found ? fromBase64(res.value) : null;
  },
  // put stores a string or Buffer; opts.ttlMs expires it.
  async put(binding, key, value, opts) {
    await callJSON('/kv', { op: 'put', binding, key, value: toBase64(value), ttl_ms: (opts && opts.ttlMs) || undefined });
  },
  // delete resolves to whether a live key was removed.
  async delete(binding, key) {
    const res = await callJSON('/kv', { op: 'delete', binding, key });
    return !!res.found;
  },
  // list pages through keys with a prefix: {entries: [{key, value, expiresAtMs}], next}.
  async list(binding, prefix, opts) {
    const o = opts || {};
    const res = await callJSON('/kv', { op: 'list', binding, prefix: prefix || undefined, after: o.after, limit: o.limit });
    return {
      entries: (res.entries || []).map((e) => ({ key: e.key, value: fromBase64(e.value), expiresAtMs: e.expires_at_ms || 0 })),
      next: res.next || '',
    };
  },
};

// fetch makes an outbound HTTP request through the platform, within the
// function's fetch allow-list: {status, headers, body (a Buffer), url,
// text(), json()}.
async function fetch(url, opts) {
  const o = opts || {};
  const headers = Object.entries(o.headers || {}).map(([n, v]) => ({ n, v: Array.isArray(v) ? v.map(String) : [String(v)] }));
  const res = await callJSON('/fetch', { method: o.method, url, headers, body: toBase64(o.body), timeout_ms: o.timeoutMs });
  const h = {};
  for (const x of res.headers || []) {
    const vals = x.v || (x.b || []).map((b) => fromBase64(b).toString('latin1'));
    h[x.n.toLowerCase()] = vals.join(', ');
  }
  const body = fromBase64(res.body);
  return { status: res.status, headers: h, body, url: res.url, text: () => body.toString('utf8'), json: () => JSON.parse(body.toString('utf8')) };
}

function eventHeaders(body, opts) {
  const o = opts || {};
  const h = {};
  let data = body;
  if (typeof body === 'string') h['Content-Type'] = o.contentType || 'text/plain; charset=utf-8';
  else if (Buffer.isBuffer(body) || body instanceof Uint8Array) { h['Content-Type'] = o.contentType || 'application/octet-stream'; data = Buffer.from(body); }
  else { h['Content-Type'] = o.contentType || 'application/json'; data = JSON.stringify(body); }
  if (o.type) h['Strata-Event-Type'] = o.type;
  if (o.subject) h['Strata-Event-Subject'] = o.subject;
  if (o.groupId) h['Strata-Group-Id'] = o.groupId;
  if (o.dedupId) h['Strata-Dedup-Id'] = o.dedupId;
  if (o.delayMs) h['Strata-Delay-Ms'] = String(o.delayMs);
  return [data, h];
}

// send puts a message on a queue of the function's project; a string,
// Buffer, or anything else as JSON. Resolves to the event's id.
async function send(queue, body, opts) {
  const [data, h] = eventHeaders(body, opts);
  const res = await call('POST', '/queues/' + encodeURIComponent(queue), data, h);
  return JSON.parse(res.body.toString('utf8')).id;
}

// publish publishes to a topic of the function's project.
async function publish(topic, body, opts) {
  const [data, h] = eventHeaders(body, opts);
  const res = await call('POST', '/topics/' + encodeURIComponent(topic), data, h);
  return JSON.parse(res.body.toString('utf8')).id;
}

// secrets: the secrets the function declared.
const secrets = {
  async get(name) { return (await call('GET', '/secrets/' + encodeURIComponent(name))).body.toString('utf8'); },
  async bytes(name) { return (await call('GET', '/secrets/' + encodeURIComponent(name))).body; },
};

module.exports = { db, kv, fetch, send, publish, secrets, StrataError };
// For the bootstrap only.
Object.defineProperty(module.exports, '_readResponse', { value: readResponse, enumerable: false });
Object.defineProperty(module.exports, '_invocation', { value: { run: runInvocation, end: endInvocation, enable }, enumerable: false });
