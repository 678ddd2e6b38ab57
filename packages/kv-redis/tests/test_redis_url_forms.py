"""Redis over a Unix socket and over TLS, and servers that refuse: AccessDeniedError."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from kv_core import AccessDeniedError, StoreUnavailable, open_store
from kv_dev.services import service_missing

from .conftest import TIMEOUTS, free_port

QUICK = "socket_connect_timeout=2&socket_timeout=2"


def test_unix_socket_url(private_server: Callable[..., Any], tmp_path: Path) -> None:
    """unix:///path/to/redis.sock?db=…&prefix=… opens a RedisDict over the socket."""
    socket_path = tmp_path / "redis.sock"
    server = private_server("--unixsocket", str(socket_path), "--unixsocketperm", "700")
    with open_store(f"unix://{socket_path}?db=1&prefix=app:&{QUICK}") as store:
        store["k"] = b"over the socket"
        assert store["k"] == b"over the socket"
        assert str(socket_path) in repr(store)
    with redis.Redis(port=server.port, db=1, **TIMEOUTS) as raw:
        assert raw.get("app:k") == b"over the socket"


@pytest.fixture
def tls_port(private_server: Callable[..., Any], tmp_path: Path) -> tuple[int, Path]:
    """A private Redis with a TLS port (a self-signed certificate for 127.0.0.1)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        service_missing("openssl binary", "PATH", "openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    port = free_port()
    private_server(
        "--tls-port", str(port), "--tls-cert-file", str(cert), "--tls-key-file", str(key),
        "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no",
    )  # fmt: skip
    return port, cert


def test_rediss_url_with_a_ca(tls_port: tuple[int, Path]) -> None:
    """rediss:// talks TLS, verifying the server against ssl_ca_certs."""
    port, cert = tls_port
    url = f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={cert}&prefix=tls:&{QUICK}"
    with open_store(url) as store:
        store["k"] = b"encrypted"
        assert store["k"] == b"encrypted"
        assert list(store) == ["k"]
        del store["k"]


def test_rediss_url_refuses_an_unknown_certificate(tls_port: tuple[int, Path]) -> None:
    """Without the CA the certificate is not trusted, and nothing is sent in clear."""
    port, _ = tls_port
    with (
        open_store(f"rediss://127.0.0.1:{port}/0?{QUICK}") as store,
        pytest.raises(StoreUnavailable, match=r"(?i)certificate"),
    ):
        store["k"] = b"v"


def test_unknown_database_number_is_access_denied(redis_url: str) -> None:
    """A database number the server does not have is AccessDeniedError, not unavailable."""
    url = f"{redis_url.rsplit('/', 1)[0]}/9999?{QUICK}"
    with open_store(url) as store, pytest.raises(AccessDeniedError, match="DB index") as caught:
        store["k"]
    assert not isinstance(caught.value, StoreUnavailable)
    assert isinstance(caught.value.__cause__, redis.ResponseError)


def test_unknown_user_is_access_denied(redis_url: str) -> None:
    """A user name and password the server does not know is AccessDeniedError."""
    host = redis_url.split("://", 1)[1]
    url = f"redis://kv_no_such_user:s3cret@{host}?{QUICK}"
    with open_store(url) as store, pytest.raises(AccessDeniedError) as caught:
        store["k"]
    assert "s3cret" not in str(caught.value)
    assert isinstance(caught.value.__cause__, redis.AuthenticationError)


def test_acl_refusal_is_access_denied(private_server: Callable[..., Any]) -> None:
    """An ACL user that may read but not write gets AccessDeniedError on a write."""
    server = private_server()
    with redis.Redis(port=server.port, **TIMEOUTS) as admin:
        admin.set("p:k", b"v")
        admin.acl_setuser(
            "reader", enabled=True, passwords=["+reader-pw"], keys=["*"], commands=["+@read"]
        )
    url = f"redis://reader:reader-pw@127.0.0.1:{server.port}/0?prefix=p:&{QUICK}"
    with open_store(url) as store:
        assert store["k"] == b"v"
        with pytest.raises(AccessDeniedError, match=r"NOPERM|permission"):
            store["k"] = b"w"
        assert store["k"] == b"v"
