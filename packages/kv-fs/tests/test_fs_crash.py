"""Crash safety and races between processes, with real processes and real SIGKILLs.

The children are forked (fast, and they inherit nothing they use but the paths) and always
leave through ``os._exit``, so no pytest machinery runs in them.
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from kv_fs import FileSystemDict

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

KEYS = ["k0", "k1", "d/k2", "d/e/k3"]
CHURN = "z/churn/c"
SIZES = [0, 1, 100, 10_000, 300_000, 3_000_000]


def _value(key: str, seq: int) -> bytes:
    """The one value that write number *seq* of *key* stores; b'' for some of them."""
    size = SIZES[seq % len(SIZES)]
    if size == 0:
        return b""
    header = f"{key}|{seq}|".encode()
    block = hashlib.sha256(header).digest()
    return header + (block * (size // len(block) + 1))[:size]


def _is_whole(key: str, value: bytes) -> bool:
    """Whether *value* is exactly some value written for *key*."""
    if value == b"":
        return True
    seq = int(value.split(b"|", 2)[1])
    return value == _value(key, seq)


def _fork(body: Callable[[], None]) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            body()
        except BaseException:
            traceback.print_exc(file=sys.stderr)
            code = 1
        finally:
            os._exit(code)
    return pid


def _writer(
    storage: Path, scratch: Path, start: dict[str, int], ack_fd: int, durable: bool
) -> None:
    store = FileSystemDict(storage, scratch, durable=durable)
    seqs = dict(start)
    for index in range(1_000_000):
        key = KEYS[index % len(KEYS)]
        store[key] = _value(key, seqs[key])
        os.write(ack_fd, f"{key} {seqs[key]}\n".encode())
        seqs[key] += 1
        if index % 2:
            store[CHURN] = _value(CHURN, index)
        else:
            store.pop(CHURN, None)


def _kill_rounds(tmp_path: Path, rounds: int) -> None:
    storage, scratch = tmp_path / "data", tmp_path / "scratch"
    acked: dict[str, int] = {}
    rng = random.Random(os.getpid() ^ time.time_ns())
    with FileSystemDict(storage, scratch, durable=False) as store:
        for round_ in range(rounds):
            start = {key: acked.get(key, -1) + 1 for key in KEYS}
            read_fd, write_fd = os.pipe()
            durable = round_ % 5 == 0
            pid = _fork(functools.partial(_writer, storage, scratch, start, write_fd, durable))
            os.close(write_fd)
            time.sleep(rng.uniform(0.0, 0.03))
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            assert os.WIFSIGNALED(status), "the writer stopped by itself"
            with os.fdopen(read_fd, "rb") as acks:
                for line in acks.read().decode().splitlines():
                    key, seq = line.split()
                    acked[key] = int(seq)
            listed = set(store)
            assert listed <= {*KEYS, CHURN}, f"unexpected keys {listed - {*KEYS, CHURN}}"
            for key in KEYS:
                if key not in acked:
                    continue  # killed before the first write of this key was acknowledged
                value = store[key]
                allowed = {_value(key, acked[key]), _value(key, acked[key] + 1)}
                assert value in allowed, f"{key}: not the acknowledged value or the next one"
            if CHURN in listed:
                assert _is_whole(CHURN, store[CHURN])
        assert acked, "no write was ever acknowledged"
        store.remove_stale_scratch(older_than=0)
        assert os.listdir(scratch) == []
        assert set(store) <= {*KEYS, CHURN}


def test_sigkill_leaves_whole_values(tmp_path: Path) -> None:
    """A writer killed at random moments 50 times never leaves a torn or lost value."""
    _kill_rounds(tmp_path, 50)


@pytest.mark.slow
def test_sigkill_leaves_whole_values_long(tmp_path: Path) -> None:
    """The same, 1,000 times."""
    _kill_rounds(tmp_path, 1000)


def _wait_ok(pid: int) -> None:
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status), "the child died"
    assert os.WEXITSTATUS(status) == 0, "the child failed (its traceback is on stderr)"


def test_reader_sees_whole_4mb_values(tmp_path: Path) -> None:
    """A reader racing a process rewriting a 4 MB value sees only a whole old or new value."""
    size = 4 * 1024 * 1024
    versions = [bytes([65 + n]) * size for n in range(3)]
    storage, scratch = tmp_path / "data", tmp_path / "scratch"
    with FileSystemDict(storage, scratch, durable=False) as store:
        store["big"] = versions[0]

        def rewrite() -> None:
            with FileSystemDict(storage, scratch, durable=False) as writer:
                for n in range(40):
                    writer["big"] = versions[n % 3]

        pid = _fork(rewrite)
        reads = 0
        seen = set()
        try:
            while True:
                value = store["big"]
                assert len(value) == size, "short read"
                assert value in versions, "torn read"
                seen.add(value[0])
                reads += 1
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done:
                    pid = 0
                    break
        finally:
            if pid:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        assert reads > 1
        assert store["big"] == versions[39 % 3]


def test_pruning_races_a_writer_in_the_same_directory(tmp_path: Path) -> None:
    """One process writes and deletes a/x (pruning a/), another writes a/y: no error escapes."""
    storage, scratch = tmp_path / "data", tmp_path / "scratch"
    rounds = 300

    def churn_x() -> None:
        with FileSystemDict(storage, scratch, durable=False) as store:
            for n in range(rounds):
                store["a/x"] = b"x%d" % n
                del store["a/x"]

    with FileSystemDict(storage, scratch, durable=False) as store:
        pid = _fork(churn_x)
        try:
            for n in range(rounds):
                value = b"y%d" % n
                store["a/y"] = value
                assert store["a/y"] == value
                del store["a/y"]
        except BaseException:
            os.kill(pid, signal.SIGKILL)
            raise
        finally:
            _wait_ok(pid)
        assert list(store) == []
        assert os.listdir(storage) == []
        assert os.listdir(scratch) == []
