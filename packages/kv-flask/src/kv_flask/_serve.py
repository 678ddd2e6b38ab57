"""Serving the API with waitress, a production WSGI server: in the foreground or in a thread."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import MutableMapping
from types import TracebackType
from typing import Any, Self

from waitress import wasyncore
from waitress.server import create_server

from ._server import DEFAULT_MAX_CONTENT_LENGTH, construct_kv_app

__all__ = ["ServerThread", "make_server", "serve"]

logger = logging.getLogger(__name__)


def _socket_map(server: Any) -> dict[int, Any]:
    # A single-socket server keeps its map in _map; a multi-socket one in map.
    found: dict[int, Any] = server._map if hasattr(server, "_map") else server.map
    return found


def _close_everything(server: Any) -> None:
    """Stop the worker threads, then close every socket and every spooled buffer.

    ``wasyncore.close_all`` closes sockets only: a channel's response buffers and a request
    body spooled to a temporary file would be left to the garbage collector.
    """
    server.task_dispatcher.shutdown(timeout=5)
    socket_map = _socket_map(server)
    for dispatcher in list(socket_map.values()):
        with contextlib.suppress(Exception):
            pending = [getattr(dispatcher, "request", None), *getattr(dispatcher, "requests", [])]
            for request in pending:
                if request is not None:
                    request.close()
        with contextlib.suppress(OSError):
            if hasattr(dispatcher, "outbufs"):
                dispatcher.handle_close()  # a channel: also closes its output buffers
            else:
                dispatcher.close()
    wasyncore.close_all(socket_map)


def make_server(
    store: MutableMapping[str, Any],
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    token: str | None = None,
    threads: int = 8,
    url_prefix: str = "",
    max_content_length: int | None = None,
    list_limit: int | None = None,
) -> Any:
    """A bound, not yet running, waitress server for *store* (``port=0``: a free port).

    Waitress reads every request body in full (spooling large ones to a temporary file)
    before the app sees it; its own cap is set a little above the app's, so bodies between
    the two get the API's JSON 413 and larger ones waitress's plain 413.
    """
    limit = max_content_length or DEFAULT_MAX_CONTENT_LENGTH
    app = construct_kv_app(
        store,
        url_prefix=url_prefix,
        token=token,
        max_content_length=limit,
        list_limit=list_limit,
    )
    return create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="kv",
        expose_tracebacks=False,
        max_request_body_size=2 * limit + 1024 * 1024,
        clear_untrusted_proxy_headers=True,
        # poll(), not select(): select() fails once any descriptor of the process is over
        # 1023, which a process holding many stores and connections reaches.
        asyncore_use_poll=True,
    )


def serve(
    store: MutableMapping[str, Any],
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    token: str | None = None,
    threads: int = 8,
    url_prefix: str = "",
    max_content_length: int | None = None,
    list_limit: int | None = None,
) -> None:
    """Serve *store* with waitress until interrupted (what ``kv serve`` calls); debug is off.

    :param token: Bearer token every request must carry; ``None`` serves without auth
        (bind to loopback only, then).
    :param threads: Worker threads: the number of requests handled at once.
    """
    server = make_server(
        store,
        host,
        port,
        token=token,
        threads=threads,
        url_prefix=url_prefix,
        max_content_length=max_content_length,
        list_limit=list_limit,
    )
    logger.info(
        "serving %s on http://%s:%s%s (auth: %s)",
        type(store).__name__,
        server.effective_host,
        server.effective_port,
        url_prefix,
        "bearer token" if token else "none",
    )
    try:
        server.run()
    finally:
        _close_everything(server)


class ServerThread:
    """Run the API for *store* on a waitress server in a background thread.

    For tests, tools and embedding: ``with ServerThread(store) as server: server.url``.
    The default port 0 picks a free one. Other options are those of :func:`make_server`.
    """

    def __init__(
        self,
        store: MutableMapping[str, Any],
        host: str = "127.0.0.1",
        port: int = 0,
        **options: Any,
    ) -> None:
        self._server = make_server(store, host, port, **options)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kv-waitress", daemon=True)
        self._started = False
        prefix = (options.get("url_prefix") or "").rstrip("/")
        if prefix and not prefix.startswith("/"):
            prefix = "/" + prefix
        self.host = host
        self.port: int = int(self._server.effective_port)
        self.url = f"http://{host}:{self.port}{prefix}"

    def _run(self) -> None:
        server = self._server
        try:
            # One poll at a time, so stop() can end the loop from another thread.
            while not self._stopping.is_set():
                wasyncore.loop(
                    timeout=0.5,
                    map=_socket_map(server),
                    use_poll=server.adj.asyncore_use_poll,
                    count=1,
                )
        finally:
            _close_everything(server)

    def start(self) -> Self:
        """Start serving; returns self."""
        if not self._started:
            self._started = True
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every socket; safe to call twice."""
        self._stopping.set()
        if self._started:
            with contextlib.suppress(OSError, ValueError):
                # Wakes the poll at once; the thread may already have closed the trigger.
                self._server.pull_trigger()
            self._thread.join(timeout=10)
        else:
            _close_everything(self._server)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
