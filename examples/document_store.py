"""The seed's document store, made real: Redis microcache, SQL with history, an archive.

Three tiers, each itself a stack of read replicas and a write master, as the design
document that kv grew from describes (with its typos corrected)::

    redis_dict = TieredStorageDict([redis_read_dict, redis_write_dict])    # microcache
    db_dict    = TieredStorageDict([db_read_dict, db_write_dict])          # documents + history
    fs_dict    = ReadOnlyDict(FileSystemDict(archive, scratch))            # the archive
    document_dict = TieredStorageDict([redis_dict, db_dict, fs_dict])

Run it against the services on this machine (Redis on 127.0.0.1:6379 and MariaDB on
127.0.0.1:3306, or the URLs in ``KV_EXAMPLE_REDIS_URL`` / ``KV_EXAMPLE_SQL_URL``)::

    python examples/document_store.py

It writes under a key prefix and a table of its own and removes both at the end.

What a real deployment changes: each application node reads Redis from its local replica
(``redis.Redis('localhost')``) and writes to the master (``redis.Redis('redis-master')``);
the SQL read dicts point at the replicas (``mysql+pymysql://reader@mysql_0/text_db`` ...)
with a user that may only SELECT, the write dict at the master. Replication is
asynchronous in both: a document written or deleted a moment ago may still be missing, or
still present, on a replica for the replication lag. Where a reader must see its own
writes, wait for the replicas after writing (Redis ``WAIT``), or read from the master.
"""

from __future__ import annotations

import os
import tempfile
import uuid
import zlib
from collections.abc import Sequence
from pathlib import Path

import redis
import sqlalchemy

from kv_core import (
    RandomChoiceDict,
    ReadOnlyDict,
    SerializedDict,
    TieredStorageDict,
    WriteOnlyDict,
)
from kv_fs import FileSystemDict
from kv_redis import RedisDict
from kv_sql import GenericSqlDict, MySqlDict

__all__ = ["build_document_store"]


def build_document_store(
    *,
    redis_master: redis.Redis,
    redis_replicas: Sequence[redis.Redis],
    key_prefix: str,
    db_master_url: str,
    db_replica_urls: Sequence[str],
    table: str,
    archive_path: str | Path,
    scratch_path: str | Path,
    cache_seconds: float = 5,
    sql_class: type[GenericSqlDict] = MySqlDict,
    promote_on_read: bool = True,
) -> TieredStorageDict:
    """The seed's three-tier document store.

    :param redis_replicas: Read replicas; reads are spread over them at random and fail over.
    :param cache_seconds: Lifetime of a document in the Redis microcache.
    :param db_replica_urls: SQL read replicas (ideally with a user that may only SELECT).
    :param promote_on_read: Copy a document found in a lower tier into the tiers above it.
    """
    # zlib-compress documents stored in Redis to save memory
    redis_read_dict = RandomChoiceDict(
        [
            ReadOnlyDict(
                SerializedDict(
                    RedisDict(replica, key_prefix=key_prefix),
                    value_deserialize=zlib.decompress,
                )
            )
            for replica in redis_replicas
        ]
    )
    redis_write_dict = WriteOnlyDict(
        SerializedDict(
            RedisDict(redis_master, key_prefix=key_prefix, exp_time=cache_seconds),
            value_serialize=zlib.compress,
        )
    )
    redis_dict = TieredStorageDict([redis_read_dict, redis_write_dict])
    # The master first, so the table exists before the replicas' read-only users look at it.
    db_write_dict = WriteOnlyDict(sql_class(db_master_url, table))
    # Balance reads between the replicas.
    db_read_dict = RandomChoiceDict(
        [ReadOnlyDict(sql_class(url, table)) for url in db_replica_urls]
    )
    db_dict = TieredStorageDict([db_read_dict, db_write_dict])
    # Even though we're not writing, FileSystemDict still needs a scratch directory.
    fs_dict = ReadOnlyDict(FileSystemDict(archive_path, scratch_path))
    return TieredStorageDict([redis_dict, db_dict, fs_dict], promote_on_read=promote_on_read)


def main() -> None:
    """Build the store on local services, use it, and clean up."""
    redis_url = os.environ.get("KV_EXAMPLE_REDIS_URL", "redis://127.0.0.1:6379/0")
    sql_url = os.environ.get("KV_EXAMPLE_SQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
    prefix = f"docs-example-{uuid.uuid4().hex[:8]}:"
    table = f"docs_example_{uuid.uuid4().hex[:8]}"
    master = redis.Redis.from_url(redis_url, socket_timeout=5)
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp, "archive")
        (archive / "1999").mkdir(parents=True)
        (archive / "1999" / "manifesto.txt").write_bytes(b"An old document, archived.")
        documents = build_document_store(
            redis_master=master,
            redis_replicas=[redis.Redis.from_url(redis_url, socket_timeout=5)],
            key_prefix=prefix,
            db_master_url=sql_url,
            db_replica_urls=[sql_url, sql_url],
            table=table,
            archive_path=archive,
            scratch_path=Path(tmp, "scratch"),
        )
        try:
            documents["2026/readme.txt"] = b"Hello from the document store."
            print("read:          ", documents["2026/readme.txt"])
            print("from archive:  ", documents["1999/manifesto.txt"])
            print("all documents: ", sorted(documents))
            print("cached, compressed in Redis:", master.exists(prefix + "2026/readme.txt") == 1)
            del documents["2026/readme.txt"]
            print("after delete:  ", documents.get("2026/readme.txt"))
        finally:
            for key in master.scan_iter(match=f"{prefix}*", count=1000):
                master.unlink(key)
            documents.close()
            engine = sqlalchemy.create_engine(sql_url)
            with engine.begin() as connection:
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
            engine.dispose()


if __name__ == "__main__":
    main()
