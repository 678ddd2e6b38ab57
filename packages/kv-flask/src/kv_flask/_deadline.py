"""A deadline for a whole HTTP exchange, which requests' own timeouts do not give.

requests (urllib3) applies its read timeout to each socket read, so a server that trickles
one byte a second holds a call for as long as it likes. :class:`DeadlineAdapter` is a
requests transport whose connections check one deadline, set by :func:`deadline` for the
calls made inside it, before every read and write: each socket operation gets at most the
time left, and once none is left the call fails with a timeout (``requests.Timeout`` or
``requests.ConnectionError``), which the client reports as ``StoreUnavailable``.
"""

from __future__ import annotations

import contextvars
import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager

__all__ = ["DeadlineAdapter", "deadline"]

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "kv_flask_deadline", default=None
)


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Bound every exchange through a :class:`DeadlineAdapter` inside this block to *seconds*."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _time_left(configured: float | None) -> float | None:
    """The socket timeout for the next operation: the configured one, cut to the deadline."""
    end = _DEADLINE.get()
    if end is None:
        return configured
    left = end - time.monotonic()
    if left <= 0:
        msg = "the call's deadline passed"
        # TimeoutError is socket.timeout, which urllib3 reports as a read timeout.
        raise TimeoutError(msg)
    return left if configured is None else min(configured, left)


class _DeadlineReader(io.RawIOBase):
    """The response side of a socket: every read waits at most until the deadline."""

    def __init__(self, owner: _DeadlineSocket) -> None:
        super().__init__()
        self._owner = owner
        # A real socket file, so the socket stays open for the response after http.client
        # hands it over ("closes" the connection) on Connection: close.
        self._raw = owner.real.makefile("rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        real = self._owner.real
        real.settimeout(_time_left(self._owner.configured))
        try:
            return self._raw.readinto(buffer)  # type: ignore[no-any-return]
        finally:
            real.settimeout(self._owner.configured)

    def fileno(self) -> int:
        return int(self._raw.fileno())

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineSocket:
    """A connected socket whose reads and writes stop at the deadline; the rest is the socket."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.configured: float | None = real.gettimeout()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def settimeout(self, value: float | None) -> None:
        self.configured = value
        self.real.settimeout(value)

    def gettimeout(self) -> float | None:
        return self.configured

    def makefile(self, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if mode != "rb":  # http.client only reads answers as bytes
            return self.real.makefile(mode, *args, **kwargs)
        return io.BufferedReader(_DeadlineReader(self))

    def sendall(self, data: Any, flags: int = 0) -> None:
        # sendall's timeout bounds the whole call (Python 3.5+), so one setting suffices.
        self.real.settimeout(_time_left(self.configured))
        try:
            self.real.sendall(data, flags)
        finally:
            self.real.settimeout(self.configured)

    def send(self, data: Any, flags: int = 0) -> int:
        self.real.settimeout(_time_left(self.configured))
        try:
            return int(self.real.send(data, flags))
        finally:
            self.real.settimeout(self.configured)


class _DeadlineHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        self.sock = _DeadlineSocket(self.sock)


class _DeadlineHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        self.sock = _DeadlineSocket(self.sock)


class _DeadlineHTTPPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


_POOLS = {"http": _DeadlineHTTPPool, "https": _DeadlineHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' HTTP adapter, with connections that honour :func:`deadline`.

    Outside a :func:`deadline` block it behaves exactly as ``HTTPAdapter``.
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        # HTTP(S) proxies only: a SOCKS proxy keeps its own connection classes.
        if isinstance(manager, PoolManager) and (
            manager.pool_classes_by_scheme.get("http") is HTTPConnectionPool
        ):
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager
