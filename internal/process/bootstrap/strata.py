"""Strata's bindings for Python functions: import strata.

Each call is an HTTP request to the platform on this process's private
Runtime API socket (STRATA_RUNTIME_SOCKET), under /strata/v1, naming the
invocation it is made for; the platform decides what the function may
reach (docs/process.md, "Bindings")."""
import base64
import datetime
import json
import math
import os
import socket
import threading

__all__ = ["db", "kv", "fetch", "send", "publish", "secrets", "StrataError", "Response"]

_SOCKET = os.environ.get("STRATA_RUNTIME_SOCKET", "")
_PREFIX = "/strata/v1"

def quote(s, safe=""):
    """Percent-encodes a path segment (urllib.parse costs the cold start
    more than this)."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "-._~") else "".join("%%%02X" % b for b in c.encode()) for c in s)


# The invocation in flight, set by the bootstrap around each handler call
# (a process runs one invocation at a time).
_current = None


def _begin(rid):
    global _current
    _current = rid


def _end():
    global _current
    _current = None


class StrataError(Exception):
    """A binding call the platform refused or that failed: type is the
    platform's error type (NotPermitted, InvalidRequest, SQLError, ...),
    status its HTTP status, code a database's error code."""

    def __init__(self, type_, message, status=0, code=None):
        super().__init__(message)
        self.type = type_
        self.status = status
        self.code = code


# One connection per thread, reused across calls.
_local = threading.local()


def _connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(_SOCKET)
    _local.sock = s
    _local.buf = b""
    return s


def _read(s):
    buf = _local.buf
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            lines = buf[:end].decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length") or 0)
            if len(buf) >= end + 4 + n:
                _local.buf = buf[end + 4 + n:]
                return int(lines[0].split(" ")[1]), headers, buf[end + 4:end + 4 + n]
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("strata: the platform closed the connection")
        buf += chunk


def _call(method, path, body=b"", headers=None):
    rid = _current
    if not rid:
        raise StrataError("NoInvocation", "strata: binding calls are made while a handler runs")
    head = "%s %s%s HTTP/1.1\r\nHost: strata\r\nContent-Length: %d\r\nLambda-Runtime-Aws-Request-Id: %s\r\n" % (
        method, _PREFIX, path, len(body), rid)
    for k, v in (headers or {}).items():
        head += "%s: %s\r\n" % (k, "".join(c for c in str(v) if " " <= c <= "~"))
    msg = head.encode("latin-1") + b"\r\n" + body
    s = getattr(_local, "sock", None)
    fresh = s is None
    for attempt in range(2):
        if s is None:
            s = _connect()
            fresh = True
        try:
            s.sendall(msg)
            status, hdrs, resp = _read(s)
            break
        except (ConnectionError, OSError):
            s.close()
            _local.sock = s = None
            if fresh or attempt:
                raise
            # A kept connection the platform had closed: once more on a
            # new one (nothing was answered on the old one).
    if status >= 300:
        try:
            e = json.loads(resp)
        except ValueError:
            e = {"errorType": "Error", "errorMessage": resp.decode("utf-8", "replace")}
        raise StrataError(e.get("errorType", "Error"), e.get("errorMessage", ""), status)
    return status, hdrs, resp


def _call_json(path, req):
    _, _, body = _call("POST", path, json.dumps(req).encode(), {"Content-Type": "application/json"})
    return json.loads(body)


def _b64(v):
    if v is None:
        return None
    if isinstance(v, str):
        v = v.encode()
    return base64.b64encode(bytes(v)).decode()


def _unb64(s):
    return base64.b64decode(s or "")


def _sql_value(x):
    if x is None:
        return {"t": "null"}
    if isinstance(x, bool):
        return {"t": "bool", "v": x}
    if isinstance(x, int):
        return {"t": "int", "i": str(x)}
    if isinstance(x, float):
        if math.isnan(x):
            return {"t": "float", "s": "NaN"}
        if math.isinf(x):
            return {"t": "float", "s": "+Inf" if x > 0 else "-Inf"}
        return {"t": "float", "f": x}
    if isinstance(x, str):
        return {"t": "text", "s": x}
    if isinstance(x, (bytes, bytearray, memoryview)):
        return {"t": "bytes", "b": _b64(x)}
    if isinstance(x, datetime.datetime):
        return {"t": "time", "s": x.isoformat()}
    raise TypeError("strata: cannot send %s as an SQL value" % type(x).__name__)


def _py_value(v):
    t = v.get("t")
    if t == "null":
        return None
    if t == "int":
        return int(v.get("i") or 0)
    if t == "float":
        s = v.get("s")
        return float(s.replace("Inf", "inf")) if s else float(v.get("f") or 0)
    if t == "text":
        return v.get("s", "")
    if t == "bytes":
        return _unb64(v.get("b"))
    if t == "bool":
        return bool(v.get("v"))
    if t == "time":
        s = v.get("s", "")
        try:
            return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            return s
    return v.get("s")


class _DB:
    """The function's SQL bindings (db.Open(binding) in the Go SDK)."""

    def _run(self, op, binding, sql, params):
        res = _call_json("/sql", {"op": op, "binding": binding, "sql": sql, "args": [_sql_value(p) for p in (params or ())]})
        err = res.get("error")
        if err:
            raise StrataError("SQLError", err.get("message", ""), 200, err.get("code"))
        return res

    def query(self, binding, sql, params=()):
        """Runs a query and returns its rows as dicts keyed by column."""
        res = self._run("query", binding, sql, params)
        cols = [c["name"] for c in res.get("columns") or []]
        return [dict(zip(cols, (_py_value(v) for v in row))) for row in res.get("rows") or []]

    def exec(self, binding, sql, params=()):
        """Runs a statement: {"rows_affected": n, "last_insert_id": n}."""
        res = self._run("exec", binding, sql, params)
        return {"rows_affected": int(res.get("rows_affected") or 0), "last_insert_id": int(res.get("last_insert_id") or 0)}


class _KV:
    """The function's KV bindings (kv.Open(binding) in the Go SDK)."""

    def get(self, binding, key):
        """The value (bytes), or None when the key is absent."""
        res = _call_json("/kv", {"op": "get", "binding": binding, "key": key})
        return _unb64(res.get("value")) if res.get("found") else None

    def put(self, binding, key, value, ttl_ms=0):
        req = {"op": "put", "binding": binding, "key": key, "value": _b64(value)}
        if ttl_ms:
            req["ttl_ms"] = int(ttl_ms)
        _call_json("/kv", req)

    def delete(self, binding, key):
        """Whether a live key was removed."""
        return bool(_call_json("/kv", {"op": "delete", "binding": binding, "key": key}).get("found"))

    def list(self, binding, prefix="", after="", limit=0):
        """A page of keys with prefix: ([(key, value, expires_at_ms)], next)."""
        req = {"op": "list", "binding": binding}
        if prefix:
            req["prefix"] = prefix
        if after:
            req["after"] = after
        if limit:
            req["limit"] = int(limit)
        res = _call_json("/kv", req)
        entries = [(e["key"], _unb64(e.get("value")), e.get("expires_at_ms") or 0) for e in res.get("entries") or []]
        return entries, res.get("next") or ""


class _Secrets:
    """The secrets the function declared."""

    def get(self, name):
        return self.bytes(name).decode("utf-8")

    def bytes(self, name):
        return _call("GET", "/secrets/" + quote(name, safe=""))[2]


class Response:
    """An outbound request's answer, after redirects."""

    def __init__(self, status, headers, body, url):
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url

    def text(self):
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.body)


def fetch(url, method=None, headers=None, body=None, timeout_ms=0):
    """Makes an outbound HTTP request through the platform, within the
    function's fetch allow-list."""
    req = {"url": url}
    if method:
        req["method"] = method
    if headers:
        req["headers"] = [{"n": k, "v": v if isinstance(v, list) else [str(v)]} for k, v in headers.items()]
    if body is not None:
        req["body"] = _b64(body)
    if timeout_ms:
        req["timeout_ms"] = int(timeout_ms)
    res = _call_json("/fetch", req)
    hdrs = {}
    for h in res.get("headers") or []:
        vals = h.get("v") or [_unb64(b).decode("latin-1") for b in h.get("b") or []]
        hdrs[h["n"].lower()] = ", ".join(vals)
    return Response(res.get("status", 0), hdrs, _unb64(res.get("body")), res.get("url", url))


def _event(kind, name, body, content_type, type, subject, group_id, dedup_id, delay_ms):
    h = {}
    if isinstance(body, str):
        data, ct = body.encode(), "text/plain; charset=utf-8"
    elif isinstance(body, (bytes, bytearray, memoryview)):
        data, ct = bytes(body), "application/octet-stream"
    else:
        data, ct = json.dumps(body).encode(), "application/json"
    h["Content-Type"] = content_type or ct
    for k, v in (("Strata-Event-Type", type), ("Strata-Event-Subject", subject),
                 ("Strata-Group-Id", group_id), ("Strata-Dedup-Id", dedup_id)):
        if v:
            h[k] = v
    if delay_ms:
        h["Strata-Delay-Ms"] = str(int(delay_ms))
    _, _, resp = _call("POST", "/%s/%s" % (kind, quote(name, safe="")), data, h)
    return json.loads(resp)["id"]


def send(queue, body, content_type=None, type=None, subject=None, group_id=None, dedup_id=None, delay_ms=0):
    """Puts a message on a queue of the function's project (str, bytes,
    or anything else as JSON) and returns the event's id."""
    return _event("queues", queue, body, content_type, type, subject, group_id, dedup_id, delay_ms)


def publish(topic, body, content_type=None, type=None, subject=None, group_id=None, dedup_id=None, delay_ms=0):
    """Publishes to a topic of the function's project."""
    return _event("topics", topic, body, content_type, type, subject, group_id, dedup_id, delay_ms)


db = _DB()
kv = _KV()
secrets = _Secrets()
