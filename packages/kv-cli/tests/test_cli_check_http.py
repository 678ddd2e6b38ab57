"""kv check of an http:// URL: the HTTP protocol checks, then the suite through the client."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from kv_core import open_store
from kv_dev.services import MYSQL, POSTGRES, unique_name
from kv_flask import ServerThread
from kv_flask.protocol_checks import run_checks

from .conftest import Run

# The suite through FlaskKvDict is tested elsewhere: here, a few of its tests are enough.
FEW = ("-k", "test_set_then_get or test_missing_key_raises_keyerror")

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _drop_table(url: str, table: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            quoted = engine.dialect.identifier_preparer.quote(table)
            conn.execute(text(f"DROP TABLE IF EXISTS {quoted}"))
    finally:
        engine.dispose()


@pytest.fixture(params=["memory", "fs", "sqlite", "redis", "postgres", "mariadb"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty store of each backend, as a URL; SQL tables are dropped afterwards."""
    name = request.param
    if name == "memory":
        yield "memory://"
    elif name == "fs":
        yield f"file://{tmp_path}/store?durable=0"
    elif name == "sqlite":
        yield f"sqlite:///{tmp_path / 'kv.db'}?table=kv"
    elif name == "redis":
        yield request.getfixturevalue("redis_url")
    else:
        server = POSTGRES if name == "postgres" else MYSQL
        base = server.require()
        table = unique_name("kvcheck")
        try:
            yield f"{base}?table={table}"
        finally:
            _drop_table(base, table)


def test_the_server_passes_the_protocol_checks_on_every_backend(backend_url: str) -> None:
    """kv-flask serving memory, files, SQLite, Redis, PostgreSQL and MariaDB passes every check."""
    store = open_store(backend_url)
    try:
        with ServerThread(store, threads=8, token="check-token") as server:
            results = run_checks(server.url, token="check-token")
    finally:
        store.close()
    failed = {r.check.name: r.reason for r in results if r.outcome == "failed"}
    assert failed == {}
    assert all(result.outcome == "passed" for result in results)


@pytest.fixture
def memory_server() -> Iterator[ServerThread]:
    """kv-flask over a MemoryDict, in this process, on a free port."""
    with ServerThread(open_store("memory://"), threads=8) as server:
        yield server


def test_kv_check_certifies_a_good_server(run_kv: Run, memory_server: ServerThread) -> None:
    """Exit 0: conforms to the contract and the protocol; skipped checks are named."""
    url = memory_server.url
    result = run_kv("check", url, "--skip-check", "body_limit", "--quick", *FEW)
    assert result.returncode == 0, result.stderr
    err = result.stderr.decode()
    assert "conforms to the kv store contract and the kv HTTP protocol" in err
    assert "HTTP protocol checks passed" in err
    assert "skipped: token_is_required (no token was given" in err
    assert "skipped: body_limit (not selected)" in err


def test_kv_check_uses_the_token_of_token_env(run_kv: Run) -> None:
    """With token_env=, the protocol checks send the token and run §9's check too."""
    with ServerThread(open_store("memory://"), threads=8, token="cli-token") as server:
        url = f"{server.url}?token_env=CHECK_TOKEN"
        result = run_kv("check", url, "--quick", *FEW, env={"CHECK_TOKEN": "cli-token"})
    assert result.returncode == 0, result.stderr
    assert b"skipped" not in result.stderr


def _ignoring_if_match(app: Wsgi) -> Wsgi:
    """A server that writes as if If-Match had not been sent (the lost update)."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ.pop("HTTP_IF_MATCH", None)
        return app(environ, start_response)

    return middleware


def test_kv_check_fails_a_server_that_ignores_if_match(run_kv: Run) -> None:
    """Exit 1, the protocol part with the failed checks and the section each broke."""
    with ServerThread(open_store("memory://"), threads=8) as server:
        server._server.application = _ignoring_if_match(server._server.application)
        result = run_kv("check", server.url, "--quick", *FEW)
    assert result.returncode == 1, result.stderr
    err = result.stderr.decode()
    assert "does NOT conform" in err
    assert "HttpProtocol: the kv HTTP protocol (kv-flask's PROTOCOL.md)" in err
    assert "stale_if_match_is_refused (§5.3:" in err
    assert "PUT /m -> 204, expected 412" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "reason"),
    [(("memory://", "--skip-check", "etags"), "needs an http:// or https:// URL"),
     (("--skip-check", "no_such_check"), "no protocol check is called no_such_check")],
)  # fmt: skip
def test_skip_check_misuse_is_a_usage_error(
    run_kv: Run, memory_server: ServerThread, args: tuple[str, ...], reason: str
) -> None:
    """--skip-check on a URL that is not HTTP, or naming no check: exit 2, one line."""
    target = () if args[0] == "memory://" else (memory_server.url,)
    result = run_kv("check", *target, *args, "--quick")
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert reason in lines[0]


def test_protocol_checks_leave_the_store_empty(memory_server: ServerThread) -> None:
    """After the checks the store is empty again, so the suite can run on it."""
    run_checks(memory_server.url)
    with contextlib.closing(open_store(memory_server.url)) as client:
        assert len(client) == 0
