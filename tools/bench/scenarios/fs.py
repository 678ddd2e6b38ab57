"""FileSystemDict against the same os calls made by hand, minimalkv and diskcache.

Everything lives in a temp dir under /tmp, removed afterwards. Writes overwrite one key
again and again, except "create": each call makes a new key three levels deep (its parent
exists), by hand and by the store, in directories made fresh for this run on tmpfs
(/dev/shm): on the disk here, latency swings (synchronous discards after deletions, journal
commits) are larger than the store's own cost and land on one case or the other. Listing
walks 10,000 keys in two levels of directories (10 x 10 x 100).

The iteration stream targets use 100,000 empty files in 10 directories on tmpfs
(/dev/shm), so that only the walk's own cost shows: "first key of 100,000" times
``next(iter(store))`` against ``next()`` of a bare depth-first ``os.scandir`` walk, and the
peak memory of iterating all of them (tracemalloc) is printed as one ratio before the table.
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import sys
import tempfile
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager

from diskcache import Index
from harness import Case
from minimalkv.fs import FilesystemStore

from kv_fs import FileSystemDict

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


class ByHand:
    """The atomic write done by hand: scratch file, optional fsyncs, os.replace."""

    def __init__(self, root: str, scratch: str, *, durable: bool) -> None:
        self.root = root
        self.scratch = scratch
        self.durable = durable
        self.counter = itertools.count()
        self.dir_fds: dict[str, int] = {}

    def _dir_fd(self, directory: str) -> int:
        fd = self.dir_fds.get(directory)
        if fd is None:
            fd = self.dir_fds[directory] = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        return fd

    def set(self, key: str, value: bytes) -> None:
        tmp = f"{self.scratch}/hand-{next(self.counter)}.tmp"
        fd = os.open(tmp, _FLAGS, 0o666)
        try:
            os.write(fd, value)
            if self.durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        target = f"{self.root}/{key}"
        os.replace(tmp, target)
        if self.durable:
            os.fsync(self._dir_fd(os.path.dirname(target)))

    def get(self, key: str) -> bytes:
        with open(f"{self.root}/{key}", "rb") as file:
            return file.read()

    def close(self) -> None:
        for fd in self.dir_fds.values():
            os.close(fd)


def scandir_walk(root: str) -> list[str]:
    """The raw listing: every file under *root* as a '/'-joined relative path."""
    found: list[str] = []
    stack = [(root, "")]
    while stack:
        path, rel = stack.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, f"{rel}{entry.name}/"))
                else:
                    found.append(rel + entry.name)
    return found


def scandir_stream(root: str) -> Iterator[str]:
    """The raw stream: :func:`scandir_walk` yielding each key as soon as it is read."""
    stack = [(root, "")]
    while stack:
        path, rel = stack.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, f"{rel}{entry.name}/"))
                else:
                    yield rel + entry.name


STREAMED = 100_000


def _make_stream_tree(root: str) -> None:
    """STREAMED empty files in 10 directories, made with bare os calls (fast on tmpfs)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    per_dir = STREAMED // 10
    for d in range(10):
        os.mkdir(f"{root}/d{d}")
        for i in range(per_dir):
            os.close(os.open(f"{root}/d{d}/k{i:06d}", flags, 0o644))


def _peak_bytes(make: Callable[[], Iterable[str]]) -> tuple[int, int]:
    """How many keys iterating ``make()`` yields, and the peak traced memory meanwhile."""
    tracemalloc.start()
    try:
        count = 0
        for _ in make():
            count += 1
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _first(make: Callable[[], Iterator[str]]) -> Callable[[], object]:
    def first() -> object:
        keys = make()
        key = next(keys)
        close = getattr(keys, "close", None)
        if close is not None:
            close()
        return key

    return first


@contextmanager
def scenario() -> Iterator[list[Case]]:
    """Set (100 B, 10 KB, durable or not), get, and listing 10,000 keys."""
    base = tempfile.mkdtemp(prefix="kv-bench-fs-", dir="/tmp")
    small, medium = b"s" * 100, b"m" * 10_000
    store = FileSystemDict(f"{base}/data", f"{base}/scratch", durable=False)
    durable = FileSystemDict(f"{base}/data", f"{base}/scratch", durable=True)
    hand = ByHand(store.path, store.scratch_path, durable=False)
    hand_durable = ByHand(store.path, store.scratch_path, durable=True)
    peer_root = f"{base}/minimalkv"
    os.mkdir(peer_root)
    peer = FilesystemStore(peer_root)
    index = Index(f"{base}/diskcache")
    stack = ExitStack()
    shm = tempfile.mkdtemp(prefix="kv-bench-fs-stream-", dir="/dev/shm")
    streamed = FileSystemDict(f"{shm}/data", f"{shm}/scratch", durable=False)
    try:
        _make_stream_tree(streamed.path)
        raw_keys, raw_peak = _peak_bytes(lambda: scandir_stream(streamed.path))
        our_keys, our_peak = _peak_bytes(lambda: iter(streamed))
        assert raw_keys == our_keys == STREAMED
        print(
            f"fs: memory iterating {STREAMED:,} keys (tmpfs, tracemalloc peak): "
            f"FileSystemDict {our_peak / 1024:,.1f} KiB / bare scandir walk "
            f"{raw_peak / 1024:,.1f} KiB = {our_peak / raw_peak:.2f}x",
            file=sys.stderr,
        )
        # Creates go to trees of their own, so the listing cases keep their 10,000 keys.
        # On tmpfs, like the stream cases: the disk's latency swings (discards, journal
        # commits) are larger than the store's whole cost and land on one case or the other.
        creator = FileSystemDict(f"{shm}/created", f"{shm}/scratch", durable=False)
        stack.callback(creator.close)
        creator["c1/c2/first"] = small
        hand_creator = ByHand(f"{shm}/hand-created", creator.scratch_path, durable=False)
        stack.callback(hand_creator.close)
        os.makedirs(f"{shm}/hand-created/c1/c2")
        created = itertools.count()
        keys = [f"d{i // 1000}/e{i // 100 % 10}/k{i:04d}" for i in range(10_000)]
        store.set_many(dict.fromkeys(keys, small))
        index.update(dict.fromkeys(keys, small))
        for name, value in (("small", small), ("medium", medium)):
            store[name] = value
            store[f"n1/n2/{name}"] = value
            peer.put(name, value)
            index[name] = value
        root = store.path
        # Flush the setup's 10,000 new files now, not in the middle of the first timed case.
        os.sync()
        yield [
            Case(
                "set 100 B",
                "by hand: write + os.replace",
                lambda: hand.set("small", small),
                baseline=True,
            ),
            Case("set 100 B", "FileSystemDict", lambda: store.__setitem__("small", small)),
            Case(
                "set 100 B",
                "minimalkv FilesystemStore (in place)",
                lambda: peer.put("small", small),
            ),
            Case("set 100 B", "diskcache Index", lambda: index.__setitem__("small", small)),
            Case(
                "set 10 KB",
                "by hand: write + os.replace",
                lambda: hand.set("medium", medium),
                baseline=True,
            ),
            Case("set 10 KB", "FileSystemDict", lambda: store.__setitem__("medium", medium)),
            Case(
                "set 10 KB",
                "minimalkv FilesystemStore (in place)",
                lambda: peer.put("medium", medium),
            ),
            Case("set 10 KB", "diskcache Index", lambda: index.__setitem__("medium", medium)),
            Case(
                "set 100 B, 3-level key",
                "by hand: write + os.replace",
                lambda: hand.set("n1/n2/small", small),
                baseline=True,
            ),
            Case(
                "set 100 B, 3-level key",
                "FileSystemDict",
                lambda: store.__setitem__("n1/n2/small", small),
            ),
            Case(
                "create 100 B, 3-level key (tmpfs)",
                "by hand: write + os.replace",
                lambda: hand_creator.set(f"c1/c2/k{next(created)}", small),
                baseline=True,
            ),
            Case(
                "create 100 B, 3-level key (tmpfs)",
                "FileSystemDict",
                lambda: creator.__setitem__(f"c1/c2/k{next(created)}", small),
            ),
            Case(
                "set 100 B durable",
                "by hand: + fsync file and dir",
                lambda: hand_durable.set("small", small),
                baseline=True,
            ),
            Case(
                "set 100 B durable",
                "FileSystemDict durable",
                lambda: durable.__setitem__("small", small),
            ),
            Case(
                "set 10 KB durable",
                "by hand: + fsync file and dir",
                lambda: hand_durable.set("medium", medium),
                baseline=True,
            ),
            Case(
                "set 10 KB durable",
                "FileSystemDict durable",
                lambda: durable.__setitem__("medium", medium),
            ),
            Case("get 100 B", "open().read()", lambda: hand.get("small"), baseline=True),
            Case("get 100 B", "FileSystemDict", lambda: store["small"]),
            Case("get 100 B", "minimalkv FilesystemStore", lambda: peer.get("small")),
            Case("get 100 B", "diskcache Index", lambda: index["small"]),
            Case("get 10 KB", "open().read()", lambda: hand.get("medium"), baseline=True),
            Case("get 10 KB", "FileSystemDict", lambda: store["medium"]),
            Case("get 10 KB", "minimalkv FilesystemStore", lambda: peer.get("medium")),
            Case("get 10 KB", "diskcache Index", lambda: index["medium"]),
            Case(
                "get 100 B, 3-level key",
                "open().read()",
                lambda: hand.get("n1/n2/small"),
                baseline=True,
            ),
            Case("get 100 B, 3-level key", "FileSystemDict", lambda: store["n1/n2/small"]),
            Case("in", "os.path.isfile", lambda: os.path.isfile(f"{root}/small"), baseline=True),
            Case("in", "FileSystemDict", lambda: "small" in store),
            Case("list 10,000 keys", "os.scandir walk", lambda: scandir_walk(root), baseline=True),
            Case(
                "list 10,000 keys",
                "FileSystemDict: list(iter(store)), as `for key in store`",
                lambda: list(iter(store)),
            ),
            Case(
                "list 10,000 keys",
                "FileSystemDict: list(store), which also calls len()",
                lambda: list(store),
            ),
            Case(
                "list 10,000 keys",
                "minimalkv FilesystemStore.keys() (same dir)",
                lambda: FilesystemStore(root).keys(),
            ),
            Case("list 10,000 keys", "diskcache Index", lambda: list(index)),
            Case(
                f"first key of {STREAMED:,} (tmpfs)",
                "os.scandir walk, streamed",
                _first(lambda: scandir_stream(streamed.path)),
                baseline=True,
            ),
            Case(
                f"first key of {STREAMED:,} (tmpfs)",
                "FileSystemDict: next(iter(store))",
                _first(lambda: iter(streamed)),
            ),
        ]
    finally:
        stack.close()
        streamed.close()
        shutil.rmtree(shm, ignore_errors=True)
        index.cache.close()
        hand.close()
        hand_durable.close()
        durable.close()
        store.close()
        shutil.rmtree(base, ignore_errors=True)


def paired_sets(size: int, rounds: int, base: str | None = None) -> dict[str, float]:
    """Median µs of an overwrite by hand and by FileSystemDict, the two calls alternating.

    The disk's latency drifts a lot within seconds (discards, other jobs), which the
    harness's one-case-after-another timing turns into noisy set ratios; alternating the two
    calls, in both orders, gives both the same disk.
    """
    import statistics
    import time

    base = base or tempfile.mkdtemp(prefix="kv-bench-fs-pair-", dir="/tmp")
    value = b"v" * size
    medians: dict[str, float] = {}
    try:
        for durable in (False, True):
            store = FileSystemDict(f"{base}/data", f"{base}/scratch", durable=durable)
            hand = ByHand(store.path, store.scratch_path, durable=durable)
            calls: list[tuple[str, Callable[[], object]]] = [
                ("by hand", functools.partial(hand.set, "a", value)),
                ("FileSystemDict", functools.partial(store.__setitem__, "b", value)),
            ]
            times: dict[str, list[float]] = {name: [] for name, _ in calls}
            for index in range(rounds):
                for name, call in calls if index % 2 else calls[::-1]:
                    start = time.perf_counter()
                    call()
                    times[name].append(time.perf_counter() - start)
            for name, samples in times.items():
                label = f"{name}{', durable' if durable else ''}"
                medians[label] = statistics.median(samples) * 1e6
            hand.close()
            store.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return medians


if __name__ == "__main__":
    # cd tools/bench && taskset -c 1 ../../.venv/bin/python -m scenarios.fs
    for size in (100, 10_000):
        result = paired_sets(size, 600)
        print(f"{size} B overwrite:", ", ".join(f"{k} {v:,.1f} µs" for k, v in result.items()))
