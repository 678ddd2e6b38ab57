"""kv-flask: the client's round trip against raw requests, and the server's handler cost.

- ``GET 100 B over HTTP``: FlaskKvDict[key] against ``requests.Session.get`` of the same URL,
  both talking to one waitress server (``kv_flask.serve``) in a separate process.
- ``PUT 100 B over HTTP``: the same for writes.
- ``get 100 keys over HTTP``: one ``get_many`` request against 100 single GETs.
- ``GET 100 B in-process`` (target <= 1.1x) and ``PUT 100 B in-process`` (target <= 1.15x):
  the API in Flask's ``test_client`` against a bare Flask view making the same store call
  (``store[key]`` / ``store[key] = request.get_data()``) on its own ``MemoryDict``: what the
  API (Host, origin and path checks, ETag, security headers) adds to Flask's own floor.
- ``GET/PUT 100 B, one WSGI call``: the same two apps called as WSGI applications with a
  prepared environ, without the test client's own cost: the stricter view of the same gap.

Requests per second under load (wrk) are measured by hand; see the package README.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import requests
from flask import Flask, Response, request
from harness import Case
from werkzeug.test import EnvironBuilder

from kv_core import MemoryDict
from kv_flask import FlaskKvDict, construct_kv_app

_SERVER = """
import sys
from kv_core import MemoryDict
from kv_flask import serve
store = MemoryDict({f"key:{i:05d}": b"x" * 100 for i in range(1000)})
serve(store, "127.0.0.1", int(sys.argv[1]), threads=4)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def server_process(script: str = _SERVER, *args: str) -> Iterator[str]:
    """The base URL of a kv server run by *script* in a child (its port, then *args*, are
    its arguments), stopped on exit."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(port), *args],
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the kv server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wsgi_call(app: Flask, method: str, body: bytes) -> Callable[[], bytes]:
    """One request of *method* to ``/key:00042`` on *app*, as a WSGI server makes it."""
    builder = EnvironBuilder(
        path="/key:00042", method=method, data=body or None, headers={"Host": "127.0.0.1"}
    )
    template = builder.get_environ()
    builder.close()

    def start_response(status: str, headers: object, exc_info: object = None) -> None:
        return None

    def call() -> bytes:
        environ = dict(template)
        environ["wsgi.input"] = io.BytesIO(body)
        answer = app(environ, start_response)
        try:
            return b"".join(answer)
        finally:
            getattr(answer, "close", lambda: None)()

    return call


def _bare_app(store: MemoryDict) -> Flask:
    """A Flask app whose one view makes the API's store call, and nothing else."""
    bare = Flask("bare")

    @bare.route("/<path:key>", methods=["GET", "PUT"])
    def view(key: str) -> Response:
        if request.method == "PUT":
            store[key] = request.get_data()
            return Response(status=204)
        return Response(store[key], mimetype="application/octet-stream")

    return bare


@contextmanager
def scenario() -> Iterator[list[Case]]:
    """Round trips to a waitress server in another process, and handler cost in-process."""
    value = b"x" * 100
    keys = [f"key:{i:05d}" for i in range(100)]

    bare = _bare_app(MemoryDict({"key:00042": value}))
    kv = construct_kv_app(MemoryDict({"key:00042": value}))
    bare_client = bare.test_client()
    kv_client = kv.test_client()

    with server_process() as url, requests.Session() as session:
        client = FlaskKvDict(url)
        target = f"{url}/key:00042"
        timeout = (3.05, 30)
        yield [
            Case(
                "GET 100 B over HTTP",
                "requests.Session.get",
                lambda: session.get(target, timeout=timeout).content,
                baseline=True,
            ),
            Case("GET 100 B over HTTP", "FlaskKvDict[key]", lambda: client["key:00042"]),
            Case(
                "PUT 100 B over HTTP",
                "requests.Session.put",
                lambda: session.put(target, data=value, timeout=timeout),
                baseline=True,
            ),
            Case(
                "PUT 100 B over HTTP",
                "FlaskKvDict[key] = v",
                lambda: client.__setitem__("key:00042", value),
            ),
            Case(
                "get 100 keys over HTTP",
                "100 x FlaskKvDict[key]",
                lambda: [client[k] for k in keys],
                baseline=True,
                ops_per_call=100,
            ),
            Case(
                "get 100 keys over HTTP",
                "FlaskKvDict.get_many",
                lambda: client.get_many(keys),
                ops_per_call=100,
            ),
            Case(
                "GET 100 B in-process (target <= 1.1x)",
                "bare Flask view, store[key]",
                lambda: bare_client.get("/key:00042").data,
                baseline=True,
            ),
            Case(
                "GET 100 B in-process (target <= 1.1x)",
                "kv app",
                lambda: kv_client.get("/key:00042").data,
            ),
            Case(
                "PUT 100 B in-process (target <= 1.15x)",
                "bare Flask view, store[key] = body",
                lambda: bare_client.put("/key:00042", data=value).data,
                baseline=True,
            ),
            Case(
                "PUT 100 B in-process (target <= 1.15x)",
                "kv app",
                lambda: kv_client.put("/key:00042", data=value).data,
            ),
            Case(
                "GET 100 B, one WSGI call",
                "bare Flask view",
                _wsgi_call(bare, "GET", b""),
                baseline=True,
            ),
            Case("GET 100 B, one WSGI call", "kv app", _wsgi_call(kv, "GET", b"")),
            Case(
                "PUT 100 B, one WSGI call",
                "bare Flask view",
                _wsgi_call(bare, "PUT", value),
                baseline=True,
            ),
            Case("PUT 100 B, one WSGI call", "kv app", _wsgi_call(kv, "PUT", value)),
        ]
        client.close()
