"""The seed's document store, end to end, on real Redis replicas, MariaDB or PostgreSQL,
and a file-system archive: tiers, replicas, failover, history, and HTTP in front of it all.
"""

from __future__ import annotations

import sys
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy

from kv_core import StoreUnavailable, TieredStorageDict, WriteOnlyDict
from kv_core.conformance import MappingTests, StoreFactory
from kv_dev.services import MYSQL, POSTGRES, REDIS, unique_name
from kv_flask import FlaskKvDict, ServerThread
from kv_sql import GenericSqlDict, MySqlDict, PostgresSqlDict

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "examples"))

from docstore.services import (  # noqa: E402
    MYSQL_URL,
    POSTGRES_URL,
    REDIS_URL,
    ReadOnlySqlUser,
    RedisReplica,
    client,
    start_replicas,
    unlink_prefix,
    wait_for_replicas,
)
from document_store import build_document_store  # noqa: E402

DATABASES = {
    "mariadb": (MYSQL_URL, MySqlDict, MYSQL),
    "postgres": (POSTGRES_URL, PostgresSqlDict, POSTGRES),
}


@dataclass
class Stack:
    """The document store and handles on each of its parts, for checking where data went."""

    documents: TieredStorageDict
    master: redis.Redis
    replicas: list[RedisReplica]
    prefix: str
    sql_url: str
    sql_class: type[GenericSqlDict]
    table: str
    archive: Path

    def sql_master(self, **options: Any) -> GenericSqlDict:
        """A store on the SQL master's table (close it after use)."""
        return self.sql_class(self.sql_url, self.table, **options)

    def settle(self) -> None:
        """Wait until every running Redis replica has every write so far."""
        wait_for_replicas(self.master, sum(r.running() for r in self.replicas))


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RedisReplica]]:
    """Two real replicas of the Redis under test, shared by this module's tests."""
    REDIS.require()
    base = tmp_path_factory.mktemp("replicas")
    started = [RedisReplica(REDIS_URL, base / f"replica{i}") for i in range(2)]
    try:
        start_replicas(started)
        yield started
    finally:
        for replica in started:
            replica.stop()


@pytest.fixture
def running_replicas(replicas: list[RedisReplica]) -> list[RedisReplica]:
    """The module's replicas, restarted if an earlier test killed them."""
    start_replicas(replicas)
    return replicas


@pytest.fixture(params=sorted(DATABASES))
def stack(
    request: pytest.FixtureRequest, tmp_path: Path, running_replicas: list[RedisReplica]
) -> Iterator[Stack]:
    """The three-tier store on Redis and two replicas, a SQL database, and a temp archive."""
    sql_url, sql_class, service = DATABASES[request.param]
    service.require()
    master = redis.Redis.from_url(REDIS_URL, socket_timeout=5, socket_connect_timeout=2)
    replicas = running_replicas
    prefix = unique_name("docs") + ":"
    table = unique_name("docs")
    sql_class(sql_url, table).close()  # the master creates the table the readers look at
    readers = [ReadOnlySqlUser(sql_url, table) for _ in range(2)]
    archive = tmp_path / "archive"
    archive.mkdir()
    try:
        documents = build_document_store(
            redis_master=master,
            redis_replicas=[client(r.port) for r in replicas],
            key_prefix=prefix,
            db_master_url=sql_url,
            db_replica_urls=[reader.create() for reader in readers],
            table=table,
            archive_path=archive,
            scratch_path=tmp_path / "scratch",
            sql_class=sql_class,
        )
        yield Stack(documents, master, replicas, prefix, sql_url, sql_class, table, archive)
        documents.close()
    finally:
        unlink_prefix(master, prefix)
        master.close()
        for index, reader in enumerate(readers):
            reader.drop(table_too=index == 0)


def test_documents_round_trip_through_every_tier(stack: Stack) -> None:
    """A written document is read back, cached compressed in Redis with its lifetime, and in SQL."""
    stack.documents["2026/report.txt"] = b"Quarterly numbers."
    assert stack.documents["2026/report.txt"] == b"Quarterly numbers."
    cached = stack.master.get(stack.prefix + "2026/report.txt")
    assert cached is not None
    assert zlib.decompress(cached) == b"Quarterly numbers."
    assert 0 < stack.master.pttl(stack.prefix + "2026/report.txt") <= 5000
    with stack.sql_master() as sql:
        assert sql["2026/report.txt"] == b"Quarterly numbers."
    assert list(stack.archive.iterdir()) == []
    stack.settle()
    for replica in stack.replicas:
        replica_client = client(replica.port)
        assert replica_client.get(stack.prefix + "2026/report.txt") == cached
        replica_client.close()


def test_archived_document_is_found_and_promoted(stack: Stack) -> None:
    """A document only in the archive is found, then served by the upper tiers."""
    (stack.archive / "1999").mkdir()
    (stack.archive / "1999" / "old.txt").write_bytes(b"From the archive.")
    assert stack.documents["1999/old.txt"] == b"From the archive."
    with stack.sql_master() as sql:
        assert sql["1999/old.txt"] == b"From the archive."
    assert zlib.decompress(stack.master.get(stack.prefix + "1999/old.txt")) == b"From the archive."
    (stack.archive / "1999" / "old.txt").unlink()
    stack.settle()
    assert stack.documents["1999/old.txt"] == b"From the archive."


def test_deleted_document_never_comes_back(stack: Stack) -> None:
    """A deleted document is gone from every writable tier, and no cache serves it again."""
    stack.documents["doc.txt"] = b"Soon gone."
    stack.settle()
    assert stack.documents["doc.txt"] == b"Soon gone."  # now warm in the replicas
    del stack.documents["doc.txt"]
    stack.settle()
    for _ in range(20):
        with pytest.raises(KeyError):
            stack.documents["doc.txt"]
    assert stack.master.exists(stack.prefix + "doc.txt") == 0
    with stack.sql_master() as sql:
        assert "doc.txt" not in sql
        assert [v.deleted for v in sql.history("doc.txt")] == [False, True]
    with pytest.raises(KeyError):
        del stack.documents["doc.txt"]


def test_expired_cache_entry_falls_through_to_sql(stack: Stack) -> None:
    """When the Redis copy expires, the document is read from SQL (and cached again)."""
    stack.documents["hot.txt"] = b"Served from SQL after expiry."
    key = stack.prefix + "hot.txt"
    assert 0 < stack.master.pttl(key) <= 5000
    stack.master.pexpire(key, 1)
    time.sleep(0.05)
    stack.settle()
    assert stack.master.exists(key) == 0
    assert stack.documents["hot.txt"] == b"Served from SQL after expiry."
    assert stack.master.exists(key) == 1, "promote_on_read caches it again"


def test_reads_fail_over_between_redis_replicas(stack: Stack) -> None:
    """One replica down: reads go on; all down: the Redis tier says StoreUnavailable (not
    KeyError) and the stack reads from SQL instead; restarted: back."""
    stack.documents["a.txt"] = b"A"
    stack.settle()
    stack.replicas[0].kill()
    for _ in range(20):
        assert stack.documents["a.txt"] == b"A"
        with pytest.raises(KeyError):
            stack.documents["missing.txt"]
    stack.replicas[1].kill()
    redis_tier = stack.documents._inner[0]
    for key in ("a.txt", "missing.txt"):
        with pytest.raises(StoreUnavailable):
            redis_tier[key]
    assert stack.documents["a.txt"] == b"A"
    with pytest.raises(KeyError):
        stack.documents["missing.txt"]
    assert stack.documents.get("missing.txt") is None
    start_replicas(stack.replicas)
    stack.settle()
    assert stack.documents["a.txt"] == b"A"
    with pytest.raises(KeyError):
        stack.documents["missing.txt"]


def test_sql_tier_keeps_history_and_time_travels(stack: Stack) -> None:
    """Each revision is kept; a snapshot of the SQL tier as of yesterday shows yesterday's text."""
    stack.documents["essay.txt"] = b"Yesterday's draft."
    with stack.sql_master() as sql:
        engine = sql.engine
        yesterday = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=1)
        with engine.begin() as connection:
            # Age the first revision by a day: the test cannot wait for yesterday.
            connection.execute(
                sqlalchemy.text(f"UPDATE {stack.table} SET created = :when WHERE label = :label"),
                {"when": yesterday, "label": "essay.txt"},
            )
    stack.documents["essay.txt"] = b"Today's final text."
    assert stack.documents["essay.txt"] == b"Today's final text."
    with stack.sql_master(snapshot_time=yesterday + timedelta(hours=1)) as snapshot:
        assert snapshot["essay.txt"] == b"Yesterday's draft."
    with stack.sql_master() as sql:
        history = sql.history("essay.txt")
        assert [v.value for v in history] == [b"Yesterday's draft.", b"Today's final text."]


def test_load_every_acknowledged_write_is_readable(stack: Stack) -> None:
    """Threads reading and writing through the stack lose no acknowledged write."""
    acknowledged: dict[str, bytes] = {}
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(number: int) -> None:
        try:
            for index in range(60):
                key = f"load/{number}/{index % 20}"
                value = f"{number}:{index}".encode()
                stack.documents[key] = value
                with lock:
                    acknowledged[key] = value
                stack.documents.get(f"load/{(number + 1) % 4}/{index % 20}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    stack.settle()
    assert stack.documents.get_many(list(acknowledged)) == acknowledged


class _ReplicatedWrites(WriteOnlyDict):
    """The Redis write side, waiting after each write until the replicas have it.

    This is how a reader sees its own writes through asynchronously replicated caches.
    """

    def __init__(self, store: Any, master: redis.Redis, replicas: int) -> None:
        super().__init__(store)
        self._master = master
        self._replicas = replicas

    def _after(self) -> None:
        wait_for_replicas(self._master, self._replicas)

    def _write(self, key: Any, value: Any) -> None:
        super()._write(key, value)
        self._after()

    def _write_many(self, items: Any) -> None:
        super()._write_many(items)
        self._after()

    def _delete(self, key: Any) -> None:
        try:
            super()._delete(key)
        finally:
            self._after()

    def _delete_many(self, keys: Any) -> None:
        super()._delete_many(keys)
        self._after()

    def _clear(self) -> None:
        super()._clear()
        self._after()


class TestDocumentStoreOverHttp(MappingTests):
    """The whole document store, served by kv-flask, passes the suite's mapping tests.

    Against what the client declares: the three tiers' rules combined, inside the HTTP API's.
    """

    @pytest.fixture
    def store_factory(
        self, tmp_path: Path, running_replicas: list[RedisReplica]
    ) -> Iterator[StoreFactory]:
        MYSQL.require()
        master = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
        opened: list[Any] = []
        prefixes: list[str] = []
        readers: list[ReadOnlySqlUser] = []
        replicas = running_replicas

        def make() -> FlaskKvDict:
            prefix = unique_name("docs") + ":"
            table = unique_name("docs")
            prefixes.append(prefix)
            MySqlDict(MYSQL_URL, table).close()
            pair = [ReadOnlySqlUser(MYSQL_URL, table) for _ in range(2)]
            readers.extend(pair)
            documents = build_document_store(
                redis_master=master,
                redis_replicas=[client(r.port) for r in replicas],
                key_prefix=prefix,
                db_master_url=MYSQL_URL,
                db_replica_urls=[reader.create() for reader in pair],
                table=table,
                archive_path=tmp_path / f"archive-{len(prefixes)}",
                scratch_path=tmp_path / f"scratch-{len(prefixes)}",
            )
            redis_tier = documents._inner[0]
            assert isinstance(redis_tier, TieredStorageDict)
            redis_tier._inner[1] = _ReplicatedWrites(
                redis_tier._inner[1]._store, master, len(replicas)
            )
            (tmp_path / f"archive-{len(prefixes)}").mkdir(exist_ok=True)
            server = ServerThread(documents).start()
            remote = FlaskKvDict(server.url)
            opened.append((remote, server, documents))
            return remote

        yield make
        for _remote, server, documents in opened:  # the suite has closed the clients
            server.stop()
            documents.close()
        for prefix in prefixes:
            unlink_prefix(master, prefix)
        master.close()
        for index, reader in enumerate(readers):
            reader.drop(table_too=index % 2 == 0)


def test_example_script_names_no_typos() -> None:
    """The example uses the real class and argument names (the seed had typos)."""
    source = (HERE.parent / "examples" / "document_store.py").read_text()
    assert "TieredStorage(" not in source
    assert "value_serializer" not in source
    assert "value_deserializer" not in source
