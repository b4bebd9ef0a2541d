// Strata's Node.js runtime: the Lambda Runtime API client loop that loads
// the function's handler (_HANDLER, "file.export") from LAMBDA_TASK_ROOT
// as Lambda's managed nodejs runtime does, over the private socket Strata
// serves this process alone (STRATA_RUNTIME_SOCKET).
'use strict';
const http = require('http');
const path = require('path');
const fs = require('fs');
const url = require('url');

const socketPath = process.env.STRATA_RUNTIME_SOCKET;
const base = '/2018-06-01/runtime';
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function call(method, p, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, agent, method, path: base + p, headers: headers || {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body); else req.end();
  });
}

function errorBody(err) {
  const e = err instanceof Error ? err : new Error(String(err));
  return JSON.stringify({
    errorType: e.name || 'Error',
    errorMessage: e.message || String(err),
    stackTrace: (e.stack || '').split('\n').slice(1).map((s) => s.trim()),
  });
}

async function postError(p, err) {
  const body = errorBody(err);
  await call('POST', p, body, { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': 'Runtime.' + ((err && err.name) || 'Error') });
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
  for (;;) {
    const next = await call('GET', '/invocation/next');
    if (next.status !== 200) {
      console.error(`runtime API: next answered ${next.status}: ${next.body}`);
      process.exit(1);
    }
    const id = next.headers['lambda-runtime-aws-request-id'];
    current = id;
    if (next.headers['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = next.headers['lambda-runtime-trace-id'];
    let event;
    try {
      event = next.body.length ? JSON.parse(next.body.toString('utf8')) : null;
    } catch (e) {
      await postError(`/invocation/${id}/error`, e);
      continue;
    }
    try {
      const result = await invokeHandler(handler, event, next.headers);
      const body = JSON.stringify(result === undefined ? null : result);
      await call('POST', `/invocation/${id}/response`, body, { 'Content-Type': 'application/json' });
    } catch (e) {
      await postError(`/invocation/${id}/error`, e);
    }
    current = null;
  }
}

main();
