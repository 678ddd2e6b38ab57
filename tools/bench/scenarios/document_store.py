"""The seed's document store on local Redis and MariaDB: what the stack costs per operation.

Redis on 127.0.0.1:6379 serves as master and replica at once (this measures the stack, not
replication); MariaDB on 127.0.0.1:3306 as master and read replica; the archive is a temp
folder. The load case runs 4 threads for 400 mixed operations per call: its ops/s column is
the throughput of the whole stack under concurrency.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
import sqlalchemy
from harness import Case

from kv_sql import MySqlDict

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "examples"))

from document_store import build_document_store

REDIS_URL = "redis://127.0.0.1:6379/0"
SQL_URL = "mysql+pymysql://root@127.0.0.1:3306/test"


@contextmanager
def scenario() -> Iterator[list[Case]]:
    """Read (cache hit and SQL hit), write, and a threaded mixed load, on 2 KB documents."""
    prefix = f"bench-docs-{uuid.uuid4().hex[:8]}:"
    table = f"bench_docs_{uuid.uuid4().hex[:8]}"
    master = redis.Redis.from_url(REDIS_URL)
    document = b"lorem ipsum " * 170
    with tempfile.TemporaryDirectory() as tmp:
        documents = build_document_store(
            redis_master=master,
            redis_replicas=[redis.Redis.from_url(REDIS_URL)],
            key_prefix=prefix,
            db_master_url=SQL_URL,
            db_replica_urls=[SQL_URL],
            table=table,
            archive_path=Path(tmp, "archive"),
            scratch_path=Path(tmp, "scratch"),
            cache_seconds=600,
        )
        sql = MySqlDict(SQL_URL, table)
        documents["hot"] = document
        sql["cold"] = document
        counter = iter(range(10**9))

        def read_cold() -> None:
            master.delete(prefix + "cold")  # make every read miss the cache
            assert documents["cold"] == document

        def mixed_load() -> None:
            def work(number: int) -> None:
                for index in range(100):
                    key = f"load/{number}/{index % 10}"
                    if index % 4 == 0:
                        documents[key] = document
                    else:
                        documents.get(key)

            threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        try:
            yield [
                Case(
                    "read, cache hit",
                    "raw redis GET + zlib",
                    lambda: zlib.decompress(master.get(prefix + "hot") or b""),
                    baseline=True,
                ),
                Case("read, cache hit", "document store", lambda: documents["hot"]),
                Case("read, from SQL", "MySqlDict read", lambda: sql["cold"], baseline=True),
                Case("read, from SQL", "document store (cache miss)", read_cold),
                Case(
                    "write",
                    "MySqlDict write",
                    lambda: sql.__setitem__(f"w{next(counter) % 50}", document),
                    baseline=True,
                ),
                Case(
                    "write",
                    "document store",
                    lambda: documents.__setitem__(f"w{next(counter) % 50}", document),
                ),
                Case("mixed load, 4 threads", "document store", mixed_load, ops_per_call=400),
            ]
        finally:
            documents.close()
            sql.close()
            for key in master.scan_iter(match=f"{prefix}*", count=1000):
                master.unlink(key)
            master.close()
            engine = sqlalchemy.create_engine(SQL_URL)
            with engine.begin() as connection:
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
            engine.dispose()
