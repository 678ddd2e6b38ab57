"""Which keys FileSystemDict refuses, on every operation, and that refusing creates nothing."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kv_core import InvalidKeyError
from kv_fs import FileSystemDict

Factory = Callable[..., FileSystemDict]


REFUSED = [
    "",
    "/abs",
    "/",
    "..",
    "../escape",
    "../../escape",
    "a/..",
    "a/../b",
    "a/../../escape",
    ".",
    "./a",
    "a/.",
    "a/./b",
    "a//b",
    "//",
    "a/",
    "a\x00b",
    "\x00",
    "a\\b",
    "..\\escape",
    "x" * 256,
    "d/" + "x" * 256,
    "\u00e9" * 128,  # 128 characters, 256 bytes of UTF-8
    "\ud800",
]
VALID = [".hidden", "...", "..a", "a..", "a.b/c.d", "x" * 255, "d/" + "y" * 255, "\u00e9" * 127]


def _operations(key: Any) -> dict[str, Callable[[FileSystemDict], object]]:
    return {
        "getitem": lambda s: s[key],
        "setitem": lambda s: s.__setitem__(key, b"v"),
        "delitem": lambda s: s.__delitem__(key),
        "contains": lambda s: key in s,
        "get": lambda s: s.get(key),
        "pop": lambda s: s.pop(key),
        "pop with default": lambda s: s.pop(key, None),
        "setdefault": lambda s: s.setdefault(key, b"v"),
        "update": lambda s: s.update({key: b"v"}),
        "get_many": lambda s: s.get_many(["ok", key]),
        "set_many": lambda s: s.set_many({"ok": b"v", key: b"v"}),
        "delete_many": lambda s: s.delete_many(["ok", key]),
        "validate_key": lambda s: s.validate_key(key),
    }


def _expect_refused(
    operation: Callable[[FileSystemDict], object], store: FileSystemDict, failure: str
) -> None:
    try:
        operation(store)
    except InvalidKeyError:
        return
    pytest.fail(failure)


def _tree(root: Path) -> dict[str, bytes | None]:
    found: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink() or path.is_dir():
            found[rel] = None
        else:
            found[rel] = path.read_bytes()
    return found


@pytest.mark.parametrize("key", REFUSED, ids=ascii)
def test_refused_key_on_every_operation(make_store: Factory, tmp_path: Path, key: str) -> None:
    """Each refused key form raises InvalidKeyError everywhere and creates nothing anywhere."""
    store = make_store()
    store["existing"] = b"old"
    before = _tree(tmp_path)
    siblings = sorted(os.listdir(tmp_path.parent))
    for name, operation in _operations(key).items():
        _expect_refused(operation, store, f"{name} accepted {key!r}")
    assert _tree(tmp_path) == before
    assert sorted(os.listdir(tmp_path.parent)) == siblings
    assert dict(store.items()) == {"existing": b"old"}


@pytest.mark.parametrize("key", REFUSED, ids=ascii)
def test_refused_before_touching_the_disk(make_store: Factory, key: str) -> None:
    """Keys are refused from their text alone: even a closed store says InvalidKeyError."""
    store = make_store()
    store.close()
    for operation in _operations(key).values():
        with pytest.raises(InvalidKeyError):
            operation(store)


@pytest.mark.parametrize(
    "prefix", ["/abs", "/", "../x", "a/../", "./x", "a/./b", "a//", "a\x00", "a\\b", "x" * 256]
)
def test_refused_prefix(store: FileSystemDict, prefix: str) -> None:
    """Listing by a prefix no valid key can start with raises InvalidKeyError."""
    with pytest.raises(InvalidKeyError):
        store.keys_with_prefix(prefix)


@pytest.mark.parametrize("prefix", ["", ".", "..", "a/.", "a/..", "d/x", "\u00e9"])
def test_accepted_prefix(store: FileSystemDict, prefix: str) -> None:
    """A partial last segment may look like '.' or '..': keys such as '..a' start with it."""
    store.set_many({"..a": b"1", ".b": b"2", "a/..c": b"3", "d/xy": b"4", "\u00e9t\u00e9": b"5"})
    expected = sorted(k for k in store if k.startswith(prefix))
    assert sorted(store.keys_with_prefix(prefix)) == expected


@pytest.mark.parametrize("key", VALID, ids=ascii)
def test_valid_edge_keys(store: FileSystemDict, key: str) -> None:
    """Dots inside names, and names of exactly NAME_MAX bytes, are ordinary keys."""
    store[key] = b"v"
    assert store[key] == b"v"
    assert list(store) == [key]
    assert list(store.keys_with_prefix(key[:3])) == [key]
    del store[key]
    assert list(store) == []


@pytest.fixture
def planted(tmp_path: Path, store: FileSystemDict) -> Path:
    """Symlinks inside the storage directory pointing outside it (and one inside)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    root = Path(store.path)
    (root / "dirlink").symlink_to(outside, target_is_directory=True)
    (root / "filelink").symlink_to(outside / "secret")
    (root / "d").mkdir()
    (root / "d" / "up").symlink_to("../..", target_is_directory=True)
    (root / "real").mkdir()
    (root / "real" / "k").write_bytes(b"inside")
    (root / "alias").symlink_to(root / "real", target_is_directory=True)
    return outside


SYMLINKED = ["dirlink/secret", "dirlink/new", "filelink", "d/up/outside/secret", "alias/k"]


@pytest.mark.parametrize("key", SYMLINKED)
def test_planted_symlinks_are_refused(
    store: FileSystemDict, planted: Path, tmp_path: Path, key: str
) -> None:
    """A key going through a symlink inside storage raises InvalidKeyError; outside is intact."""
    before = _tree(tmp_path)
    operations = _operations(key)
    del operations["validate_key"]  # text only: symlinks are found when the path is opened
    # Batches of this one key only: a batch writes its keys in order, so a valid key
    # before the refused one would already be stored.
    operations["get_many"] = lambda s: s.get_many([key])
    operations["set_many"] = lambda s: s.set_many({key: b"v"})
    operations["delete_many"] = lambda s: s.delete_many([key])
    for name, operation in operations.items():
        _expect_refused(operation, store, f"{name} went through a symlink with {key!r}")
    assert _tree(tmp_path) == before
    assert (planted / "secret").read_bytes() == b"secret"


def test_listing_skips_symlinks(store: FileSystemDict, planted: Path) -> None:
    """Symlinks are never listed or followed when listing; a prefix through one is refused."""
    assert sorted(store) == ["real/k"]
    for prefix in ("dirlink/", "d/up/", "alias/"):
        with pytest.raises(InvalidKeyError):
            store.keys_with_prefix(prefix)
    assert list(store.keys_with_prefix("d/")) == []


def test_symlink_swapped_in_after_a_write(store: FileSystemDict, tmp_path: Path) -> None:
    """A directory replaced by a symlink after keys were written is not followed later."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    store["sub/k"] = b"v"
    root = Path(store.path)
    (root / "sub" / "k").unlink()
    (root / "sub").rmdir()
    (root / "sub").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidKeyError):
        store["sub/k"] = b"w"
    assert list(outside.iterdir()) == []
