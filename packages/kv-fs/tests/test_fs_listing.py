"""Listing keys: the depth-first scandir walk streams, lists each key once, and copes with
directories that change under it."""

from __future__ import annotations

import os
import shutil
import threading
from collections import Counter
from pathlib import Path

import pytest

from kv_fs import FileSystemDict
from kv_fs._tree import _CHUNK

# Enough keys per directory to fill several of the walk's lists, over three levels.
_KEYS = [
    *(f"top{i:03d}" for i in range(3 * _CHUNK + 5)),
    *(f"a/k{i:03d}" for i in range(2 * _CHUNK + 1)),
    *(f"a/b/c/k{i:03d}" for i in range(_CHUNK)),
    *(f"a/b/d{i}/leaf" for i in range(7)),
    *(f"ab/k{i}" for i in range(3)),
    "z/y/x/w/v",
]


def _fill(store: FileSystemDict) -> None:
    store.set_many(dict.fromkeys(_KEYS, b""))


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_every_key_of_a_deep_tree_is_listed_once(store: FileSystemDict) -> None:
    """A tree of several levels and more keys than one list holds is listed once per key."""
    _fill(store)
    listed = Counter(iter(store))
    assert [key for key, times in listed.items() if times > 1] == []
    assert set(listed) == set(_KEYS)
    assert len(store) == len(_KEYS)


@pytest.mark.parametrize(
    "prefix", ["", "a", "a/", "a/b", "a/b/", "a/b/c/", "a/b/d", "ab", "t", "z/y/x/"]
)
def test_prefix_listings_of_a_deep_tree(store: FileSystemDict, prefix: str) -> None:
    """Listing by a prefix, at any depth and ending mid-name or at a '/', matches a filter."""
    _fill(store)
    listed = list(store.keys_with_prefix(prefix))
    assert sorted(listed) == sorted(key for key in _KEYS if key.startswith(prefix))


def test_first_key_comes_before_the_directory_is_read(store: FileSystemDict) -> None:
    """The first key is handed out with at most one short list read, not a whole directory."""
    _fill(store)
    keys = iter(store)
    next(keys)
    assert 0 < len(keys._dir.chunk) <= _CHUNK  # type: ignore[attr-defined]
    keys.close()  # type: ignore[attr-defined]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_close_in_the_middle_of_a_deep_walk_gives_every_directory_back(
    store: FileSystemDict,
) -> None:
    """Stopped three levels down, the walk closes each directory it holds open."""
    store.set_many({f"a/b/c/k{i:03d}": b"" for i in range(3 * _CHUNK)})
    before = _open_fds()
    keys = iter(store)
    assert next(keys).startswith("a/b/c/")
    assert _open_fds() > before + 1  # the walk is inside a/b/c
    keys.close()  # type: ignore[attr-defined]
    assert _open_fds() == before
    walk = iter(store)
    next(walk)
    del walk
    assert _open_fds() == before


def test_a_directory_removed_or_replaced_during_the_walk_is_skipped(
    store: FileSystemDict, tmp_path: Path
) -> None:
    """Subtrees deleted, or swapped for a symlink, after the walk started are not listed."""
    names = [f"d{i:02d}" for i in range(20)]
    store.set_many({f"{name}/k{j}": b"" for name in names for j in range(_CHUNK)})
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"x")
    keys = iter(store)
    first = next(keys)
    started = first.split("/")[0]
    for name in names:
        if name != started:
            shutil.rmtree(Path(store.path) / name)
            if name.endswith("3"):
                os.symlink(outside, Path(store.path) / name)
    rest = [first, *keys]
    assert {key.split("/")[0] for key in rest} == {started}
    assert len(rest) == len(set(rest)) == _CHUNK


def test_listing_while_keys_come_and_go(store: FileSystemDict) -> None:
    """Keys nobody touches are each listed once while another thread adds and removes keys."""
    stable = {f"s{i % 7}/k{i:04d}": b"" for i in range(400)}
    store.set_many(stable)
    done = threading.Event()
    errors: list[BaseException] = []

    def churn() -> None:
        index = 0
        try:
            while not done.is_set():
                store[f"s{index % 7}/churn/c{index % 40}"] = b"x"
                store[f"churn{index % 5}/deep/c{index % 40}"] = b"y"
                if index % 3:
                    store.pop(f"s{(index - 1) % 7}/churn/c{(index - 1) % 40}", None)
                    store.pop(f"churn{(index - 1) % 5}/deep/c{(index - 1) % 40}", None)
                index += 1
        except BaseException as exc:  # pragma: no cover - reported by the assert below
            errors.append(exc)

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        for _ in range(20):
            listed = Counter(iter(store))
            assert {key: listed[key] for key in stable} == dict.fromkeys(stable, 1)
            assert all("churn" in key for key in listed if key not in stable)
            assert len(list(store.keys_with_prefix("s3/"))) >= 400 // 7
    finally:
        done.set()
        worker.join()
    assert errors == []
