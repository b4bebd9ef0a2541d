"""Strata's Python runtime: the Lambda Runtime API client loop that loads
the function's handler (_HANDLER, "module.function") from LAMBDA_TASK_ROOT
as Lambda's managed python runtime does, over the private socket Strata
serves this process alone (STRATA_RUNTIME_SOCKET)."""
import http.client
import importlib
import json
import os
import socket
import sys
import time
import traceback

SOCKET = os.environ.get("STRATA_RUNTIME_SOCKET", "")
BASE = "/2018-06-01/runtime"


class _Conn(http.client.HTTPConnection):
    def __init__(self):
        super().__init__("localhost")

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(SOCKET)
        self.sock = s


_conn = _Conn()


def call(method, path, body=None, headers=None):
    global _conn
    for attempt in (0, 1):
        try:
            _conn.request(method, BASE + path, body=body, headers=headers or {})
            r = _conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            _conn.close()
            _conn = _Conn()
            if attempt:
                raise


def error_body(e):
    return json.dumps({
        "errorMessage": str(e),
        "errorType": type(e).__name__,
        "stackTrace": traceback.format_tb(e.__traceback__),
    }).encode()


def post_error(path, e):
    call("POST", path, error_body(e), {"Content-Type": "application/json",
                                      "Lambda-Runtime-Function-Error-Type": "Runtime." + type(e).__name__})


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
    while True:
        status, headers, body = call("GET", "/invocation/next")
        if status != 200:
            print("runtime API: next answered %d: %r" % (status, body[:200]), file=sys.stderr)
            sys.exit(1)
        rid = headers.get("lambda-runtime-aws-request-id")
        if headers.get("lambda-runtime-trace-id"):
            os.environ["_X_AMZN_TRACE_ID"] = headers["lambda-runtime-trace-id"]
        try:
            event = json.loads(body) if body else None
            result = handler(event, Context(headers))
            out = json.dumps(result).encode()
        except Exception as e:  # noqa: BLE001 - the handler's failure is the invocation's
            traceback.print_exc()
            post_error("/invocation/%s/error" % rid, e)
            continue
        call("POST", "/invocation/%s/response" % rid, out, {"Content-Type": "application/json"})


if __name__ == "__main__":
    main()
