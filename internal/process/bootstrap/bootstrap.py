"""Strata's Python runtime: the Lambda Runtime API client loop that loads
the function's handler (_HANDLER, "module.function") from LAMBDA_TASK_ROOT
as Lambda's managed python runtime does, over the private socket Strata
serves this process alone (STRATA_RUNTIME_SOCKET)."""
import importlib
import json
import os
import socket
import sys
import time
import traceback

import strata  # beside this file: the bindings (import strata in a handler finds this one)

SOCKET = os.environ.get("STRATA_RUNTIME_SOCKET", "")
BASE = "/2018-06-01/runtime"


class Client:
    """A minimal HTTP/1.1 client for the one connection this process keeps
    to its Runtime API. Requests may be pipelined: a handler's answer and
    the request for the next invocation go out in one write (Strata
    answers with Content-Length always)."""

    def __init__(self):
        self.sock = None
        self.buf = b""

    def connect(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(SOCKET)
        self.buf = b""

    def send(self, *reqs):
        if self.sock is None:
            self.connect()
        out = []
        for method, path, body, headers in reqs:
            body = body or b""
            head = "%s %s%s HTTP/1.1\r\nHost: runtime\r\nContent-Length: %d\r\n" % (method, BASE, path, len(body))
            for k, v in (headers or {}).items():
                head += "%s: %s\r\n" % (k, "".join(c for c in str(v) if " " <= c <= "~"))
            out.append(head.encode("latin-1") + b"\r\n" + body)
        self.sock.sendall(b"".join(out))

    def read(self):
        """Reads the next answer: (status, headers, body)."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                lines = self.buf[:end].decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
                n = int(headers.get("content-length") or 0)
                if len(self.buf) >= end + 4 + n:
                    body = self.buf[end + 4:end + 4 + n]
                    self.buf = self.buf[end + 4 + n:]
                    return int(lines[0].split(" ")[1]), headers, body
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("runtime API connection closed")
            self.buf += chunk


client = Client()
NEXT = ("GET", "/invocation/next", None, None)


def call(method, path, body=None, headers=None):
    client.send((method, path, body, headers))
    return client.read()


def error_body(e):
    return json.dumps({
        "errorMessage": str(e),
        "errorType": type(e).__name__,
        "stackTrace": traceback.format_tb(e.__traceback__),
    }).encode()


def error_request(path, e):
    return ("POST", path, error_body(e), {"Content-Type": "application/json",
                                         "Lambda-Runtime-Function-Error-Type": "Runtime." + type(e).__name__})


def post_error(path, e):
    client.send(error_request(path, e))
    return client.read()


class Context:
    def __init__(self, headers):
        env = os.environ
        self.aws_request_id = headers.get("lambda-runtime-aws-request-id")
        self.invoked_function_arn = headers.get("lambda-runtime-invoked-function-arn")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self.client_context = None
        self._deadline = int(headers.get("lambda-runtime-deadline-ms") or 0)

    def get_remaining_time_in_millis(self):
        if not self._deadline:
            return 0
        return max(self._deadline - int(time.time() * 1000), 0)


def load_handler():
    h = os.environ.get("_HANDLER", "")
    mod_name, _, fn_name = h.rpartition(".")
    if not mod_name or not fn_name or ".." in mod_name or mod_name.startswith("/"):
        raise ValueError("bad handler %r: must be module.function" % h)
    root = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
    sys.path.insert(0, root)
    mod = importlib.import_module(mod_name.replace("/", "."))
    fn = getattr(mod, fn_name, None)
    if not callable(fn):
        raise AttributeError("handler %r: %s has no function %s" % (h, mod_name, fn_name))
    return fn


def main():
    try:
        handler = load_handler()
    except Exception as e:  # noqa: BLE001 - every init failure is reported
        traceback.print_exc()
        try:
            post_error("/init/error", e)
        finally:
            sys.exit(1)
    client.send(NEXT)
    while True:
        try:
            status, headers, body = client.read()
        except (ConnectionError, OSError):
            client.connect()  # the connection dropped: once more on a new one
            status, headers, body = call(*NEXT)
        if status != 200:
            print("runtime API: next answered %d: %r" % (status, body[:200]), file=sys.stderr)
            sys.exit(1)
        rid = headers.get("lambda-runtime-aws-request-id")
        if headers.get("lambda-runtime-trace-id"):
            os.environ["_X_AMZN_TRACE_ID"] = headers["lambda-runtime-trace-id"]
        try:
            event = json.loads(body) if body else None
            strata._begin(rid)
            try:
                result = handler(event, Context(headers))
            finally:
                strata._end()
            answer = ("POST", "/invocation/%s/response" % rid, json.dumps(result).encode(), {"Content-Type": "application/json"})
        except Exception as e:  # noqa: BLE001 - the handler's failure is the invocation's
            traceback.print_exc()
            answer = error_request("/invocation/%s/error" % rid, e)
        client.send(answer, NEXT)
        try:
            status, _, body = client.read()
        except (ConnectionError, OSError):
            client.connect()
            client.send(NEXT)
            continue
        if status != 202:
            print("runtime API: %s answered %d: %r" % (answer[1], status, body[:200]), file=sys.stderr)


if __name__ == "__main__":
    main()
