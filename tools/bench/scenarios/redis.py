"""RedisDict against raw redis-py on one server and client; also minimalkv, redis-dict, pottery.

By default a private ``redis-server`` is started on a free loopback port: it inherits this
process's CPU affinity, so ``taskset -c 1 python tools/bench/run.py redis`` pins client and
server to the same CPU (crossing CPUs triples a round trip here). Set ``KV_BENCH_REDIS_URL``
to measure another server instead; everything is written under one fresh prefix and removed
with SCAN + UNLINK afterwards, never FLUSHDB.

The stream and "fills its database" targets use database 1 of the server, holding only a
store's 100,000 keys: listing them against raw ``SCAN MATCH COUNT 1000``, the first key
against the raw cursor's first, and the peak memory of iterating them all (tracemalloc),
printed as one ratio before the table. Listing and first key are measured once with
redis-py's Python reply parser and, when hiredis is installed, once more with hiredis: each
against raw SCAN on the same parser, in the same run.

Needs ``pip install kv-redis[bench]`` for the other libraries and hiredis; a missing one is
skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import redis
from harness import Case
from redis._parsers import _HiredisParser, _RESP2Parser
from redis.utils import HIREDIS_AVAILABLE

from kv_redis import RedisDict

LISTED = 10_000
TOTAL = 100_000
BATCH = 100


def _escape(raw: bytes) -> bytes:
    return b"".join(b"\\" + bytes([c]) if c in b"*?[]\\" else bytes([c]) for c in raw)


@contextmanager
def _server() -> Iterator[str]:
    url = os.environ.get("KV_BENCH_REDIS_URL")
    if url:
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server not found; set KV_BENCH_REDIS_URL to a server")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as directory:
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                directory,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.kill()
            process.wait()


def _unlink_prefix(client: redis.Redis, prefix: bytes) -> None:
    batch: list[bytes] = []
    for key in client.scan_iter(match=_escape(prefix) + b"*", count=1000):
        if key.startswith(prefix):
            batch.append(key)
        if len(batch) >= 1000:
            client.unlink(*batch)
            batch = []
    if batch:
        client.unlink(*batch)


def _peak_bytes(make: Callable[[], Iterable[object]]) -> tuple[int, int]:
    """How many keys iterating ``make()`` yields, and the peak traced memory meanwhile."""
    tracemalloc.start()
    try:
        count = 0
        for _ in make():
            count += 1
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _parsers() -> list[tuple[str, type[Any]]]:
    """The reply parsers to list with: redis-py's own, and hiredis's when it is installed.

    With hiredis the client's share of a listing shrinks to a fraction, so the store's own
    per-key work shows up much more; both are measured, each against raw SCAN with the same
    parser.
    """
    parsers: list[tuple[str, type[Any]]] = [("Python parser", _RESP2Parser)]
    if HIREDIS_AVAILABLE:
        parsers.insert(0, ("hiredis", _HiredisParser))
    else:
        print("redis: hiredis not installed: listing measured with the Python parser only")
    return parsers


def _full_database_cases(url: str, base: str, stack: ExitStack) -> list[Case]:
    """A store alone in database 1 with TOTAL keys: listing, first key, and memory."""
    client = redis.Redis.from_url(url, db=1)
    stack.callback(client.close)
    prefix = f"{base}A:"
    if client.dbsize():
        print("redis: database 1 is not empty; 'fills its database' is not quite so")
    stack.callback(_unlink_prefix, client, prefix.encode())
    with client.pipeline(transaction=False) as pipe:
        for start in range(0, TOTAL, 1000):
            pipe.mset({f"{prefix}k{i:06d}": b"v" for i in range(start, start + 1000)})
        pipe.execute()
    pattern = _escape(prefix.encode()) + b"*"
    store = RedisDict(client, key_prefix=prefix)

    def cursor() -> Iterator[bytes]:
        return client.scan_iter(match=pattern, count=1000)

    raw_keys, raw_peak = _peak_bytes(cursor)
    our_keys, our_peak = _peak_bytes(lambda: iter(store))
    assert raw_keys == our_keys == TOTAL
    print(
        f"redis: memory iterating {TOTAL:,} keys (tracemalloc peak): RedisDict "
        f"{our_peak / 1024:,.1f} KiB / redis-py scan_iter {raw_peak / 1024:,.1f} KiB "
        f"= {our_peak / raw_peak:.2f}x",
        file=sys.stderr,
    )
    cases = []
    for name, parser in _parsers():
        cases += _listing_cases(url, prefix, pattern, name, parser, stack)
    return cases


def _listing_cases(
    url: str, prefix: str, pattern: bytes, name: str, parser: type[Any], stack: ExitStack
) -> list[Case]:
    """Listing and first key of the full database, store and raw SCAN on one *parser*."""
    client = redis.Redis.from_url(url, db=1, parser_class=parser)
    stack.callback(client.close)
    store = RedisDict(client, key_prefix=prefix)

    def cursor() -> Iterator[bytes]:
        return client.scan_iter(match=pattern, count=1000)

    assert len(list(iter(store))) == TOTAL
    listing = f"list {TOTAL:,} keys, the store fills db 1 ({name})"
    first = f"first key of {TOTAL:,}, the store fills db 1 ({name})"
    return [
        Case(listing, "redis-py scan_iter MATCH COUNT 1000", lambda: list(cursor()), baseline=True),
        Case(listing, "RedisDict list(iter(d))", lambda: list(iter(store))),
        Case(
            first,
            "redis-py next(scan_iter MATCH COUNT 1000)",
            lambda: next(cursor()),
            baseline=True,
        ),
        Case(first, "RedisDict next(iter(d))", lambda: next(iter(store))),
    ]


def _optional_cases(
    raw: redis.Redis, url: str, base: str, small: bytes, large: bytes, stack: ExitStack
) -> list[Case]:
    cases: list[Case] = []
    try:
        from minimalkv.memory.redisstore import RedisStore
    except ImportError:
        print("minimalkv not installed: skipped")
    else:
        mkv = RedisStore(raw)
        mbase = base.replace(":", "_")  # minimalkv refuses ':' in keys
        mkv.put(f"{mbase}m100", small)
        mkv.put(f"{mbase}m10k", large)
        cases += [
            Case("get 100 B", "minimalkv RedisStore", lambda: mkv.get(f"{mbase}m100")),
            Case("set 100 B", "minimalkv RedisStore", lambda: mkv.put(f"{mbase}m100", small)),
            Case("get 10 KB", "minimalkv RedisStore", lambda: mkv.get(f"{mbase}m10k")),
            Case("set 10 KB", "minimalkv RedisStore", lambda: mkv.put(f"{mbase}m10k", large)),
            Case(
                f"list {LISTED:,} of {TOTAL:,} keys",
                "minimalkv RedisStore.keys (KEYS)",
                lambda: mkv.keys(f"{base}L:"),
            ),
        ]
    try:
        from redis_dict import RedisDict as RedisDictLib
    except ImportError:
        print("redis-dict not installed: skipped")
    else:
        text_client = redis.Redis.from_url(url, decode_responses=True)
        stack.callback(text_client.close)
        rd = RedisDictLib(namespace=f"{base}RD", redis=text_client)
        listing = RedisDictLib(namespace=f"{base}L", redis=text_client)
        rd["g100"] = small
        rd["g10k"] = large
        cases += [
            Case("get 100 B", "redis-dict RedisDict", lambda: rd["g100"]),
            Case("set 100 B", "redis-dict RedisDict", lambda: rd.__setitem__("g100", small)),
            Case("get 10 KB", "redis-dict RedisDict", lambda: rd["g10k"]),
            Case("set 10 KB", "redis-dict RedisDict", lambda: rd.__setitem__("g10k", large)),
            Case(
                f"list {LISTED:,} of {TOTAL:,} keys",
                "redis-dict RedisDict.keys",
                lambda: list(listing.keys()),
            ),
        ]
    try:
        from pottery import RedisDict as PotteryDict
    except ImportError:
        print("pottery not installed: skipped")
    else:
        # pottery keeps JSON values in one hash: str values of the same length.
        small_text, large_text = "x" * len(small), "x" * len(large)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pd = PotteryDict(redis=raw, key=f"{base}PD")
            pd["g100"] = small_text
            pd["g10k"] = large_text
        cases += [
            Case("get 100 B", "pottery RedisDict (str)", lambda: pd["g100"]),
            Case(
                "set 100 B", "pottery RedisDict (str)", lambda: pd.__setitem__("g100", small_text)
            ),
            Case("get 10 KB", "pottery RedisDict (str)", lambda: pd["g10k"]),
            Case(
                "set 10 KB", "pottery RedisDict (str)", lambda: pd.__setitem__("g10k", large_text)
            ),
        ]
    return cases


@contextmanager
def scenario() -> Iterator[list[Case]]:
    """Get and set of 100 B and 10 KB, get_many of 100 keys, listing 10,000 of 100,000 keys."""
    small, large = b"s" * 100, b"L" * 10_240
    base = f"kvbench:{uuid.uuid4().hex[:8]}:"
    with _server() as url, ExitStack() as stack:
        raw = redis.Redis.from_url(url)
        stack.callback(raw.close)
        stack.callback(_unlink_prefix, raw, base.encode())
        stack.callback(_unlink_prefix, raw, base.replace(":", "_").encode())
        store = RedisDict(raw, key_prefix=f"{base}G:")
        listed_store = RedisDict(raw, key_prefix=f"{base}L:")

        with raw.pipeline(transaction=False) as pipe:
            for start in range(0, TOTAL, 1000):
                chunk = {}
                for i in range(start, start + 1000):
                    where = "L" if i < LISTED else "F"
                    chunk[f"{base}{where}:k{i:06d}"] = b"v"
                pipe.mset(chunk)
            pipe.execute()
        batch_keys = [f"b{i:03d}" for i in range(BATCH)]
        store.set_many(dict.fromkeys(batch_keys, small))
        raw_batch = [f"{base}G:{key}" for key in batch_keys]
        store["g100"] = small
        store["g10k"] = large
        pattern = _escape(f"{base}L:".encode()) + b"*"
        k100, k10k = f"{base}G:g100", f"{base}G:g10k"
        listing = f"list {LISTED:,} of {TOTAL:,} keys"

        cases = [
            Case("get 100 B", "redis-py get", lambda: raw.get(k100), baseline=True),
            Case("get 100 B", "RedisDict", lambda: store["g100"]),
            Case("set 100 B", "redis-py set", lambda: raw.set(k100, small), baseline=True),
            Case("set 100 B", "RedisDict", lambda: store.__setitem__("g100", small)),
            Case("get 10 KB", "redis-py get", lambda: raw.get(k10k), baseline=True),
            Case("get 10 KB", "RedisDict", lambda: store["g10k"]),
            Case("set 10 KB", "redis-py set", lambda: raw.set(k10k, large), baseline=True),
            Case("set 10 KB", "RedisDict", lambda: store.__setitem__("g10k", large)),
            Case("get 100 keys", "redis-py mget", lambda: raw.mget(raw_batch), baseline=True),
            Case("get 100 keys", "RedisDict.get_many", lambda: store.get_many(batch_keys)),
            Case("get 100 keys", "redis-py 100 x get", lambda: [raw.get(k) for k in raw_batch]),
            Case("get 100 keys", "RedisDict 100 x get", lambda: [store.get(k) for k in batch_keys]),
            Case(
                listing,
                "redis-py scan_iter MATCH COUNT 1000",
                lambda: list(raw.scan_iter(match=pattern, count=1000)),
                baseline=True,
            ),
            Case(listing, "RedisDict list(iter(d))", lambda: list(iter(listed_store))),
            Case(listing, "RedisDict list(d) (len + iter)", lambda: list(listed_store)),
            Case(
                listing,
                "redis-py scan_iter MATCH (COUNT 10)",
                lambda: list(raw.scan_iter(match=pattern)),
            ),
            *_full_database_cases(url, base, stack),
            *_optional_cases(raw, url, base, small, large, stack),
        ]
        # Check the listing cases see what they claim, once, before timing.
        assert len(list(iter(listed_store))) == LISTED
        assert raw.dbsize() >= TOTAL
        yield _ordered(cases)


def _ordered(cases: list[Case]) -> list[Case]:
    """Group the cases by operation, baseline first, so the table reads by operation."""
    order: dict[str, int] = {}
    for case in cases:
        order.setdefault(case.op, len(order))
    return sorted(cases, key=lambda c: (order[c.op], not c.baseline))
