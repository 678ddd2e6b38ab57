"""The shared conformance suite on SQLite (file and memory), MariaDB and PostgreSQL."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import psycopg
import pymysql
import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from kv_core import Capabilities
from kv_core.capabilities import LONE_SURROGATES
from kv_core.conformance import StoreConformance, closed_port
from kv_sql import GenericSqlDict


def _down_after_open(backend: Any) -> GenericSqlDict:
    """A store opened on the live server, whose server then goes away (a closed port).

    A store checks its table when it is made, so it is made first; then every connection
    it holds is dropped and every new one goes, through the real driver, to a closed port.
    """
    parts = make_url(backend.url)
    port = [parts.port]

    def connect() -> Any:
        if parts.get_backend_name() == "postgresql":
            return psycopg.connect(
                host=parts.host,
                port=port[0],
                user=parts.username,
                dbname=parts.database,
                password=parts.password,
                connect_timeout=5,
            )
        return pymysql.connect(
            host=parts.host,
            port=port[0],
            user=parts.username,
            database=parts.database,
            password=parts.password or "",
            connect_timeout=5,
        )

    engine = create_engine(parts, creator=connect)
    store: GenericSqlDict = backend.store(url_or_engine=engine)
    port[0] = closed_port()
    engine.dispose()
    return store


def _capabilities(
    *,
    persistent: bool = True,
    processes: bool | None = None,
    invalid: tuple[str, ...] = (),
    refused: str = "",
    compare_and_set: bool = True,
) -> Capabilities:
    """What a SQL store declares; *processes* defaults to *persistent*."""
    return Capabilities(
        persistent=persistent,
        processes=persistent if processes is None else processes,
        ttl=False,
        history=True,
        max_key_length=255,
        max_value_size=None,
        empty_key=True,
        hierarchical_keys=False,
        invalid_keys=("k" * 256, "\ud800", *invalid),
        refused_characters=frozenset(refused) | LONE_SURROGATES,
        compare_and_set=compare_and_set,
    )


class _SqlSuite(StoreConformance):
    backend_name: ClassVar[str]
    prune: ClassVar[bool] = False
    stateful_examples = 10

    @pytest.fixture
    def store_factory(
        self, tmp_path: Path, request: pytest.FixtureRequest
    ) -> Iterator[Callable[[], Any]]:
        backend = request.getfixturevalue(f"{self.backend_name}_backend")

        def make() -> GenericSqlDict:
            return backend.store(prune_on_write=self.prune)

        return make

    def opener(self, store: Any) -> Callable[[], GenericSqlDict]:
        return functools.partial(
            type(store),
            store.engine.url.render_as_string(hide_password=False),
            store.table_name,
            prune_on_write=store.prune_on_write,
        )


class TestSqliteFile(_SqlSuite):
    backend_name = "sqlite"
    capabilities = _capabilities()


class TestSqliteFilePrune(TestSqliteFile):
    prune = True


class TestSqliteMemory(_SqlSuite):
    backend_name = "memory"
    capabilities = _capabilities(persistent=False)


class TestMariaDB(_SqlSuite):
    backend_name = "mariadb"
    capabilities = _capabilities()

    @pytest.fixture
    def kv_unavailable_store(self, mariadb_backend: Any) -> Iterator[GenericSqlDict]:
        """A store whose MariaDB went away after it was opened."""
        store = _down_after_open(mariadb_backend)
        yield store
        store.engine.dispose()


class TestMariaDBPrune(TestMariaDB):
    prune = True


class TestPostgres(_SqlSuite):
    backend_name = "postgres"
    capabilities = _capabilities(invalid=("a\x00b",), refused="\x00")

    @pytest.fixture
    def kv_unavailable_store(self, postgres_backend: Any) -> Iterator[GenericSqlDict]:
        """A store whose PostgreSQL went away after it was opened."""
        store = _down_after_open(postgres_backend)
        yield store
        store.engine.dispose()


class TestPostgresPrune(TestPostgres):
    prune = True
