"""Serving the API with waitress, a production WSGI server: in the foreground or in a thread."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, MutableMapping
from types import TracebackType
from typing import Any, Self

from waitress import wasyncore
from waitress.server import create_server

from ._extension import construct_kv_app
from ._state import DEFAULT_MAX_CONTENT_LENGTH

__all__ = [
    "DEFAULT_CONNECTION_LIMIT",
    "DEFAULT_IDLE_TIMEOUT",
    "ServerThread",
    "make_server",
    "serve",
    "server_url",
]

logger = logging.getLogger("kv_flask.serve")

#: Most connections open at once unless configured (or the process's file limit is lower).
DEFAULT_CONNECTION_LIMIT = 1000
#: Seconds a connection may stay silent before the server closes it, unless configured.
DEFAULT_IDLE_TIMEOUT = 30
_MIN_CONNECTION_LIMIT = 100
_SPARE_DESCRIPTORS = 128


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


def _default_connection_limit() -> int:
    # Each connection holds a descriptor: stay well inside the process's limit, keeping room
    # for the store's own files and sockets and for spooled request bodies.
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, ValueError, OSError):
        return DEFAULT_CONNECTION_LIMIT
    if soft == resource.RLIM_INFINITY:
        return DEFAULT_CONNECTION_LIMIT
    return max(_MIN_CONNECTION_LIMIT, min(DEFAULT_CONNECTION_LIMIT, soft - _SPARE_DESCRIPTORS))


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
    allowed_hosts: str | Iterable[str] | None = None,
    allowed_origins: str | Iterable[str] | None = None,
    cache_control: str | None = None,
    log_keys: bool | None = None,
    ui: bool | None = None,
    connection_limit: int | None = None,
    idle_timeout: int = DEFAULT_IDLE_TIMEOUT,
) -> Any:
    """A bound, not yet running, waitress server for *store* (``port=0``: a free port).

    The app's options are those of :func:`~kv_flask.construct_kv_app`; the server answers
    to its bound address (and ``localhost``, ``127.0.0.1``, ``[::1]``) on its port, plus
    *allowed_hosts*.

    Waitress reads every request body in full (spooling large ones to a temporary file)
    before the app sees it; its own cap is set a little above the app's, so bodies between
    the two get the API's JSON 413 and larger ones waitress's plain 413.

    :param connection_limit: Most connections open at once, idle ones included (default:
        1000, or less if the process may not open that many files); past it, new
        connections wait. Waitress's own default, 100, lets 100 idle sockets lock every
        other client out.
    :param idle_timeout: Seconds a connection may stay silent (idle between requests, or
        stalled inside one) before the server closes it (waitress's ``channel_timeout``,
        120 s by default there).
    :raises ValueError: a limit is not positive, or an allowed host or origin is malformed.

    The server's ``flask_app`` attribute is the Flask app; ``flask_app.blueprints["kv"]`` is
    its :class:`~kv_flask.FlaskKv`, which takes hooks.
    """
    limit = max_content_length or DEFAULT_MAX_CONTENT_LENGTH
    connections = _default_connection_limit() if connection_limit is None else connection_limit
    if connections < 1:
        msg = f"connection_limit must be at least 1, not {connections}"
        raise ValueError(msg)
    if idle_timeout < 1:
        msg = f"idle_timeout must be at least 1 second, not {idle_timeout}"
        raise ValueError(msg)
    if threads < 1:
        msg = f"threads must be at least 1, not {threads}"
        raise ValueError(msg)
    app = construct_kv_app(
        store,
        url_prefix=url_prefix,
        token=token,
        max_content_length=limit,
        list_limit=list_limit,
        allowed_hosts=allowed_hosts,
        allowed_origins=allowed_origins,
        cache_control=cache_control,
        log_keys=log_keys,
        ui=ui,
    )
    server = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="kv",
        expose_tracebacks=False,
        max_request_body_size=2 * limit + 1024 * 1024,
        clear_untrusted_proxy_headers=True,
        # Waitress counts its listening socket and its trigger among the connections.
        connection_limit=connections + 2,
        channel_timeout=idle_timeout,
        # How often idle connections are looked for: a closed one is gone within
        # idle_timeout plus this.
        cleanup_interval=max(1, min(10, idle_timeout // 3)),
        # poll(), not select(): select() fails once any descriptor of the process is over
        # 1023, which a process holding many stores and connections reaches.
        asyncore_use_poll=True,
    )
    for state in app.extensions["kv"].values():
        state.bind(host, int(server.effective_port))
    server.flask_app = app  # waitress wraps the app it serves; this is the app itself
    return server


def server_url(server: Any, url_prefix: str = "") -> str:
    """The ``http://host:port/prefix`` a bound server answers on."""
    host = str(server.effective_host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    prefix = url_prefix.rstrip("/")
    if prefix and not prefix.startswith("/"):
        prefix = "/" + prefix
    return f"http://{host}:{server.effective_port}{prefix}/"


def serve(
    store: MutableMapping[str, Any],
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    ready: Callable[[str], None] | None = None,
    **options: Any,
) -> None:
    """Serve *store* with waitress until interrupted (what ``kv serve`` calls); debug is off.

    Binds first: if the port cannot be had, this raises ``OSError`` before anything is said
    or served. Options are those of :func:`make_server` (``token``: ``None`` serves without
    auth, so bind to loopback only then; ``threads``: requests handled at once).

    :param ready: Called with the server's URL once the socket is bound, before serving.
    """
    server = make_server(store, host, port, **options)
    url = server_url(server, options.get("url_prefix", ""))
    logger.info(
        "serving %s on %s (auth: %s)",
        type(store).__name__,
        url,
        "bearer token" if options.get("token") else "none",
    )
    try:
        if ready is not None:
            ready(url)
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
        #: The Flask app served (``app.blueprints["kv"]`` takes hooks).
        self.app = self._server.flask_app
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
