"""How long a SQL store waits for a database server: the defaults, and how they are applied.

A store made from a URL bounds every wait on a server: :data:`CONNECT_TIMEOUT` seconds to
connect and :data:`READ_TIMEOUT` seconds for each answer (and each write of a request).
Past either, the call raises ``StoreUnavailable``. The URL's query string or
``engine_kwargs={"connect_args": {...}}`` override them, by the driver's names:

- PyMySQL (and mysqlclient): ``connect_timeout``, ``read_timeout``, ``write_timeout``, the
  driver's own socket timeouts.
- psycopg 3: ``connect_timeout`` is libpq's; ``read_timeout`` is kv-sql's, since neither
  libpq nor psycopg has one: it bounds each wait of a statement on the server (psycopg's
  ``Connection.wait`` deadline; a psycopg without one logs a warning). A frozen server, a
  dead host and a network that drops packets look the same from the client: no answer in
  time.

- pg8000: ``timeout`` (its socket timeout, for connecting and for each answer), 30 s;
  ``read_timeout`` sets it too.
- psycopg2: libpq's ``connect_timeout``; psycopg2 has no deadline for an answer.

Other drivers (DuckDB is embedded; firebird-driver) keep their own defaults.
``None`` in ``connect_args`` turns a bound off. An ``Engine`` passed to a store keeps its
own settings.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine

from kv_core import InvalidStoreURL

__all__ = ["CONNECT_TIMEOUT", "READ_TIMEOUT", "apply_deadlines", "timed_out"]

logger = logging.getLogger(__name__)

#: Seconds to wait for a connection to a database server (TCP, TLS and login).
CONNECT_TIMEOUT = 10
#: Seconds to wait for each answer of a database server, or to send it each request.
READ_TIMEOUT = 30

_MYSQL_DRIVERS = frozenset({"pymysql", "mysqldb"})
# psycopg's names for a wait that ran out of time (private, so matched by name).
_TIMEOUT_ERRORS = frozenset({"_WaitTimeout", "ConnectionTimeout"})


def timed_out(error: BaseException) -> bool:
    """Whether *error* means a deadline passed: the server did not answer in time."""
    seen: BaseException | None = error
    for _ in range(8):  # the cause chain of a driver error is short; never loop on a cycle
        if seen is None:
            return False
        if isinstance(seen, TimeoutError) or type(seen).__name__ in _TIMEOUT_ERRORS:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _seconds(name: str, value: Any) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not seconds > 0:
        msg = f"{name} must be a positive number of seconds (or None), not {value!r}"
        raise InvalidStoreURL(msg)
    return seconds


def apply_deadlines(url: URL, connect_args: dict[str, Any]) -> tuple[URL, Any]:
    """Add the default deadlines to *connect_args* where neither it nor *url* sets them.

    Returns the URL to give SQLAlchemy (without kv-sql's own options) and a function to
    call with the new engine, which installs what cannot go through ``connect_args``.
    """
    backend, driver = url.get_backend_name(), url.get_driver_name()
    given = set(url.query) | set(connect_args)
    if backend in ("mysql", "mariadb") and driver in _MYSQL_DRIVERS:
        for name, seconds in (
            ("connect_timeout", CONNECT_TIMEOUT),
            ("read_timeout", READ_TIMEOUT),
            ("write_timeout", READ_TIMEOUT),
        ):
            if name not in given:
                connect_args[name] = seconds
        return url, None
    if backend == "postgresql" and driver == "pg8000":
        # pg8000's one socket timeout bounds connecting and every answer alike; kv-sql's
        # read_timeout, where given, is that timeout.
        if "read_timeout" in url.query:
            limit = _seconds("read_timeout", url.query["read_timeout"])
            connect_args.setdefault("timeout", limit)
            url = url.difference_update_query(["read_timeout"])
        if "read_timeout" in connect_args:
            connect_args.setdefault("timeout", connect_args.pop("read_timeout"))
        if "timeout" not in given and "timeout" not in connect_args:
            connect_args["timeout"] = READ_TIMEOUT
        return url, None
    if backend == "postgresql" and driver == "psycopg2":
        # libpq's connect timeout; psycopg2 has no deadline for an answer.
        if "connect_timeout" not in given and not os.environ.get("PGCONNECT_TIMEOUT"):
            connect_args["connect_timeout"] = CONNECT_TIMEOUT
        return url, None
    if backend != "postgresql" or driver != "psycopg":
        return url, None
    if "connect_timeout" not in given and not os.environ.get("PGCONNECT_TIMEOUT"):
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
    if "read_timeout" in connect_args:
        read_timeout = _seconds("read_timeout", connect_args.pop("read_timeout"))
    elif "read_timeout" in url.query:
        read_timeout = _seconds("read_timeout", url.query["read_timeout"])
    else:
        read_timeout = READ_TIMEOUT
    url = url.difference_update_query(["read_timeout"])
    return url, functools.partial(_install_psycopg_deadline, read_timeout=read_timeout)


@functools.cache
def _psycopg_connection_class() -> Any:
    """A psycopg ``Connection`` whose every wait on the server has a deadline, or None."""
    import psycopg

    parameters = inspect.signature(psycopg.Connection.wait).parameters
    if "timeout" not in parameters:
        logger.warning(
            "psycopg %s takes no deadline for its waits: a frozen PostgreSQL server "
            "blocks a store until it answers (kv-sql's read_timeout needs a newer psycopg)",
            psycopg.__version__,
        )
        return None
    interval = parameters["interval"].default

    class DeadlineConnection(psycopg.Connection):
        """Each wait for the server gives up after ``read_timeout`` seconds."""

        read_timeout: float | None = READ_TIMEOUT

        def wait(self, gen: Any, interval: float = interval, timeout: float | None = None) -> Any:
            if timeout is None:
                timeout = self.read_timeout
            return super().wait(gen, interval, timeout)

    return DeadlineConnection


def _install_psycopg_deadline(engine: Engine, *, read_timeout: float | None) -> None:
    connection_class = _psycopg_connection_class() if read_timeout is not None else None
    if connection_class is None:
        return

    @event.listens_for(engine, "do_connect")
    def connect(dialect: Any, record: Any, cargs: Any, cparams: Any) -> Any:
        connection = connection_class.connect(*cargs, **cparams)
        connection.read_timeout = read_timeout
        return connection
