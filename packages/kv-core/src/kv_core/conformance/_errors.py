"""The error contract: KeyError, TypeError and InvalidKeyError, on every operation."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest

from ..capabilities import Capabilities
from ..errors import InvalidKeyError, KeyConflictError
from ._base import SuiteBase

__all__ = ["ErrorContractTests"]

from ..store import Store

_NOT_STR_KEYS: list[Any] = [1, 1.5, b"k", None, ("t",)]
_NOT_BYTES_VALUES: list[Any] = [1, 1.5, None, ["x"], {"a": 1}, object()]

# Characters tried inside a key: every ASCII one, and non-ASCII ones that text handling
# tends to trip on (line and paragraph separators, NEL, a BOM, the replacement character,
# combining marks, astral planes, lone surrogates).
_SAMPLE_CHARACTERS = [
    *map(chr, range(128)),
    "\x80", "\x85", "\xa0", "\xe9", "\xff", "\u0301", "\u2028", "\u2029", "\u200b",
    "\ufeff", "\ufffd", "\uffff", "\ud800", "\udc80", "\udfff", "\U0001f600", "\U0010ffff",
]  # fmt: skip


def _char_operations(key: str) -> dict[str, Callable[[Store], object]]:
    """The single-key operations a refused character must fail on."""
    return {
        "getitem": lambda s: s[key],
        "get": lambda s: s.get(key),
        "setitem": lambda s: s.__setitem__(key, b"v"),
        "delitem": lambda s: s.__delitem__(key),
        "contains": lambda s: key in s,
    }


def _key_operations(key: Any) -> dict[str, Callable[[Store], object]]:
    """Every store operation applied to *key*."""
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
        "get_many": lambda s: s.get_many([key]),
        "set_many": lambda s: s.set_many({key: b"v"}),
        "delete_many": lambda s: s.delete_many([key]),
    }


def _expect(error: type[BaseException], what: str, operation: Callable[[], object]) -> None:
    """Fail unless *operation* raises *error* (a different exception propagates)."""
    try:
        operation()
    except error:
        return
    pytest.fail(f"{what} did not raise {error.__name__}")


class ErrorContractTests(SuiteBase):
    """Wrong types and refused keys raise the documented error and change nothing."""

    @pytest.mark.parametrize("key", _NOT_STR_KEYS, ids=repr)
    def test_non_str_key_raises_typeerror(self, store: Store, key: Any) -> None:
        """A key that is not str raises TypeError on every operation; nothing is written."""
        store["existing"] = b"old"
        for name, operation in _key_operations(key).items():
            _expect(TypeError, f"{name} with key {key!r}", functools.partial(operation, store))
        assert dict(store.items()) == {"existing": b"old"}

    def test_non_str_prefix_raises_typeerror(self, store: Store) -> None:
        """Listing by a prefix that is not str raises TypeError."""
        with pytest.raises(TypeError):
            list(store.keys_with_prefix(b"a"))

    @pytest.mark.parametrize("value", _NOT_BYTES_VALUES, ids=lambda v: type(v).__name__)
    def test_non_bytes_value_raises_typeerror(self, store: Store, value: Any) -> None:
        """A value that is neither bytes nor str raises TypeError and keeps the old value."""
        store["k"] = b"old"
        writes: dict[str, Callable[[], object]] = {
            "setitem": lambda: store.__setitem__("k", value),
            "setitem new": lambda: store.__setitem__("new", value),
            "update": lambda: store.update({"k": value}),
            "set_many": lambda: store.set_many({"k": value}),
            "setdefault": lambda: store.setdefault("new", value),
        }
        for name, write in writes.items():
            _expect(TypeError, f"{name} of a {type(value).__name__} value", write)
        assert dict(store.items()) == {"k": b"old"}

    def test_batch_write_with_one_bad_value_writes_nothing(self, store: Store) -> None:
        """set_many and update check every pair before writing any."""
        with pytest.raises(TypeError):
            store.set_many([("a", b"1"), ("b", 2), ("c", b"3")])
        with pytest.raises(TypeError):
            store.update([("a", b"1"), (3, b"2")])
        assert len(store) == 0

    def test_declared_invalid_keys_are_refused_everywhere(self, store: Store) -> None:
        """Every key the store declares invalid raises InvalidKeyError on every operation."""
        store["existing"] = b"old"
        for key in self.capabilities.invalid_keys:
            for name, operation in _key_operations(key).items():
                _expect(InvalidKeyError, f"{name} of {key!r}", functools.partial(operation, store))
        assert dict(store.items()) == {"existing": b"old"}

    def test_refused_characters_are_refused_everywhere(self, store: Store) -> None:
        """A key holding any declared refused character raises InvalidKeyError on every call."""
        refused = _declared_refused(self.capabilities)
        store["existing"] = b"old"
        for char in sorted(refused):
            key = f"k{char}k"
            for name, operation in _char_operations(key).items():
                _expect(InvalidKeyError, f"{name} of {key!r}", functools.partial(operation, store))
        assert dict(store.items()) == {"existing": b"old"}

    def test_characters_not_declared_refused_are_held(self, store: Store) -> None:
        """Every sampled character the store does not declare refused is held in a key."""
        caps = self.capabilities
        refused = _declared_refused(caps)
        chars = [
            char
            for char in _SAMPLE_CHARACTERS
            if char not in refused and not (char == "/" and caps.hierarchical_keys)
        ]
        keys = [f"k{char}k" for char in chars]
        for index, key in enumerate(keys):
            store[key] = f"v{index}".encode()
        assert sorted(store) == sorted(keys)
        for index, key in enumerate(keys):
            assert store[key] == f"v{index}".encode(), key
            assert key in store, key
        for key in keys:
            del store[key]
        assert len(store) == 0

    def test_empty_key(self, store: Store) -> None:
        """The empty key works if declared valid, and raises InvalidKeyError if not."""
        if self.capabilities.empty_key:
            store[""] = b"empty"
            assert store[""] == b"empty"
            assert list(store) == [""]
            del store[""]
            assert "" not in store
        else:
            for name, operation in _key_operations("").items():
                _expect(InvalidKeyError, f"{name} of ''", functools.partial(operation, store))
            assert len(store) == 0

    def test_longest_key(self, store: Store) -> None:
        """The longest declared key works; one character more raises InvalidKeyError."""
        limit = self.capabilities.max_key_length
        longest = "k" * (limit if limit is not None else 4096)
        store[longest] = b"long"
        assert store[longest] == b"long"
        assert list(store) == [longest]
        del store[longest]
        if limit is not None:
            too_long = "k" * (limit + 1)
            for name, operation in _key_operations(too_long).items():
                _expect(
                    InvalidKeyError,
                    f"{name} of a key of {limit + 1} characters",
                    functools.partial(operation, store),
                )
        assert len(store) == 0

    def test_missing_key_errors_are_keyerror(self, store: Store) -> None:
        """Reads and deletes of a missing key raise KeyError, not a backend error."""
        with pytest.raises(KeyError):
            store["nope"]
        with pytest.raises(KeyError):
            store.pop("nope")
        with pytest.raises(KeyError):
            del store["nope"]

    def test_leaf_and_parent_conflict(self, store: Store) -> None:
        """With hierarchical keys, a key cannot be both a value and a parent; else both work."""
        store["h/a"] = b"child"
        store["g"] = b"leaf"
        if self.capabilities.hierarchical_keys:
            with pytest.raises(KeyConflictError):
                store["h"] = b"parent"
            with pytest.raises(KeyConflictError):
                store["g/b"] = b"child of a leaf"
            assert dict(store.items()) == {"h/a": b"child", "g": b"leaf"}
            del store["h/a"]
            store["h"] = b"now a leaf"
            assert store["h"] == b"now a leaf"
        else:
            store["h"] = b"parent"
            store["g/b"] = b"child of a leaf"
            assert len(store) == 4


def _declared_refused(caps: Capabilities) -> frozenset[str]:
    """The store's declared refused characters; skips the test where it declares none."""
    if caps.refused_characters is None:
        pytest.skip(
            "the store does not declare capabilities.refused_characters (None): "
            "declare the characters it refuses in keys (frozenset() for none)"
        )
    return caps.refused_characters
