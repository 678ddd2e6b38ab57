"""The conformance suite through kv-flask over each real backend: FileSystemDict, SqlDict
(SQLite and PostgreSQL) and RedisDict, each behind a live waitress server on loopback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy

from kv_core import InvalidKeyError, Store
from kv_core.conformance import StoreConformance, StoreFactory
from kv_dev.services import POSTGRES, REDIS, unique_name
from kv_flask import FlaskKvDict, ServerThread
from kv_fs import FileSystemDict
from kv_redis import RedisDict
from kv_sql import GenericSqlDict, PostgresSqlDict

REDIS_URL = REDIS.url
POSTGRES_URL = POSTGRES.url


class _ServedConformance(StoreConformance):
    """Each store is a client of its own server over a fresh backend store.

    What the suite tests is what each client declares: the served store's rules inside the
    HTTP API's, read from the server's ``/_kv/info``.
    """

    stateful_examples = 15

    def backend(self, request: pytest.FixtureRequest, index: int) -> Store:
        """A new, empty backend store (the subclass knows how)."""
        raise NotImplementedError

    def cleanup(self) -> None:
        """Remove what the backends left on their servers."""

    @pytest.fixture
    def store_factory(self, request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
        opened: list[tuple[FlaskKvDict, ServerThread, Store]] = []

        def make() -> FlaskKvDict:
            backend = self.backend(request, len(opened))
            server = ServerThread(backend, threads=6).start()
            client = FlaskKvDict(server.url, timeout=(3.05, 60))
            opened.append((client, server, backend))
            return client

        yield make
        # The suite has closed the clients by now.
        for _client, server, backend in opened:
            server.stop()
            backend.close()
        self.cleanup()

    def opener(self, store: Any) -> Callable[[], FlaskKvDict]:
        return functools.partial(FlaskKvDict, store.base_url)


class TestFlaskOverFileSystem(_ServedConformance):
    def backend(self, request: pytest.FixtureRequest, index: int) -> Store:
        base: Path = request.getfixturevalue("tmp_path")
        return FileSystemDict(base / f"data{index}", base / f"scratch{index}", durable=False)


class TestFlaskOverSqlite(_ServedConformance):
    def backend(self, request: pytest.FixtureRequest, index: int) -> Store:
        base: Path = request.getfixturevalue("tmp_path")
        return GenericSqlDict(f"sqlite:///{base}/kv{index}.sqlite3", "kv")


class TestFlaskOverPostgres(_ServedConformance):
    # A test keeps each of its stores' servers until it ends, and a server over PostgreSQL
    # holds about six connections: 15 examples took ~100, the server's max_connections.
    stateful_examples = 6
    tables: list[str]

    def backend(self, request: pytest.FixtureRequest, index: int) -> Store:
        POSTGRES.require()
        if index == 0:
            type(self).tables = []
        table = unique_name("flaskpg")
        self.tables.append(table)
        return PostgresSqlDict(POSTGRES_URL, table)

    def cleanup(self) -> None:
        engine = sqlalchemy.create_engine(POSTGRES_URL)
        with engine.begin() as connection:
            for table in getattr(self, "tables", []):
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        engine.dispose()


class TestFlaskOverRedis(_ServedConformance):
    prefixes: list[str]

    def backend(self, request: pytest.FixtureRequest, index: int) -> Store:
        REDIS.require()
        if index == 0:
            type(self).prefixes = []
        prefix = unique_name("flaskredis") + ":"
        self.prefixes.append(prefix)
        return RedisDict(redis.Redis.from_url(REDIS_URL), key_prefix=prefix)

    def cleanup(self) -> None:
        client = redis.Redis.from_url(REDIS_URL)
        try:
            for prefix in getattr(self, "prefixes", []):
                keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
                for start in range(0, len(keys), 500):
                    client.unlink(*keys[start : start + 500])
        finally:
            client.close()


def test_openapi_over_sqlite_publishes_its_255_character_keys(tmp_path: Path) -> None:
    """Served from a SqlDict, /openapi.json says keys hold 255 characters, as the store does."""
    import http.client
    import json

    with (
        GenericSqlDict(f"sqlite:///{tmp_path}/kv.db", unique_name("openapi")) as backend,
        ServerThread(backend, threads=2) as server,
    ):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/openapi.json")
        document = json.loads(conn.getresponse().read())
        conn.close()
        with FlaskKvDict(server.url) as kv:
            kv["k" * 255] = b"v"
            with pytest.raises(InvalidKeyError):
                kv["k" * 256] = b"v"
    schema = document["paths"]["/{key}"]["parameters"][0]["schema"]
    assert schema["maxLength"] == 255
    assert (
        document["paths"]["/_kv/set"]["post"]["requestBody"]["content"]["application/json"][
            "schema"
        ]["properties"]["items"]["propertyNames"]
        == schema
    )
