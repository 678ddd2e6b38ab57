"""Helpers for the repository's tests that need a real service (Redis, MariaDB, PostgreSQL).

On a developer's machine without the service, such a test skips with a message naming the
service and the environment variable that points at it. In CI (``CI=true``) it fails
instead: a service CI provides must never be skipped silently.

The services the repository tests against are declared once here (:data:`REDIS`,
:data:`MYSQL`, :data:`POSTGRES`, :data:`FIREBIRD`): their names, the ``KV_TEST_*`` variables
and the local defaults.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

__all__ = [
    "FIREBIRD",
    "MYSQL",
    "POSTGRES",
    "REDIS",
    "Service",
    "in_ci",
    "port_open",
    "service_missing",
    "unique_name",
    "worker_id",
]


def in_ci() -> bool:
    """Whether this run is CI, where service-backed tests must run."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def service_missing(service: str, env_var: str, reason: str) -> NoReturn:
    """Skip the current test (locally) or fail it (in CI) because *service* is unreachable."""
    msg = f"{service} is not reachable ({reason}); set {env_var} to point at one"
    if in_ci():
        pytest.fail(f"{msg}. CI=true: service-backed tests must run, not skip.")
    pytest.skip(msg)


def port_open(url_or_host: str, port: int | None = None, timeout: float = 1.0) -> bool:
    """Whether a TCP connection to the URL's (or host's) port succeeds within *timeout*."""
    host = url_or_host
    if "://" in url_or_host:
        parts = urlsplit(url_or_host)
        host = parts.hostname or "127.0.0.1"
        port = port or parts.port
    if port is None:
        msg = f"no port in {url_or_host!r}"
        raise ValueError(msg)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def worker_id() -> str:
    """The pytest-xdist worker running this test (``gw0`` ...), or ``main`` without xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def unique_name(prefix: str) -> str:
    """A name no other test or worker uses: *prefix*, the worker id and a random suffix.

    Only letters, digits and ``_``, so it is valid as a SQL table name and a Redis prefix.
    """
    return f"{prefix}_{worker_id()}_{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class Service:
    """A service the tests use, found at *default* unless *env_var* names another URL.

    :param name: What messages call it, e.g. ``"Redis"``.
    :param env_var: The environment variable holding its URL, e.g. ``"KV_TEST_REDIS_URL"``.
    :param default: Its URL on a developer's machine and in CI.
    """

    name: str
    env_var: str
    default: str

    @property
    def url(self) -> str:
        """The URL to test against: *env_var*'s value, or *default* (``""``: none)."""
        return os.environ.get(self.env_var) or self.default

    def available(self) -> bool:
        """Whether something listens at :attr:`url`."""
        return bool(self.url) and port_open(self.url)

    def require(self) -> str:
        """:attr:`url`, after skipping (locally) or failing (in CI) when nothing listens there."""
        url = self.url
        if not url:
            service_missing(self.name, self.env_var, f"{self.env_var} is not set")
        if not port_open(url):
            service_missing(self.name, self.env_var, f"nothing answers at {url}")
        return url


REDIS = Service("Redis", "KV_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
MYSQL = Service("MariaDB/MySQL", "KV_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
POSTGRES = Service(
    "PostgreSQL", "KV_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# Debian's firebird3.0-server makes a random SYSDBA password at install, so there is no
# default URL: .ci/run starts the server, creates the database and exports the variable.
FIREBIRD = Service("Firebird", "KV_TEST_FIREBIRD_URL", "")
