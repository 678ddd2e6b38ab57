"""The mapping protocol, operation by operation, against what a ``dict`` does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._base import StoreFactory, SuiteBase

__all__ = ["MappingTests"]

from ..store import Store


class _KeysOnly:
    """A mapping-like object with keys() and [] but no items(): dict.update accepts it."""

    def __init__(self, data: dict[str, bytes]) -> None:
        self._data = data

    def keys(self) -> list[str]:
        return list(self._data)

    def __getitem__(self, key: str) -> bytes:
        return self._data[key]


class MappingTests(SuiteBase):
    """``[]``, ``get``, ``in``, ``del``, ``len``, iteration, views, ``pop`` ... ``==``."""

    def test_set_then_get(self, store: Store) -> None:
        """A value written is read back as the same bytes."""
        store["k"] = b"value"
        assert store["k"] == b"value"

    def test_overwrite_replaces_value(self, store: Store) -> None:
        """Writing a key again replaces the whole value, longer or shorter."""
        store["k"] = b"a much longer first value"
        store["k"] = b"short"
        assert store["k"] == b"short"
        store["k"] = b"longer again than short"
        assert store["k"] == b"longer again than short"

    def test_missing_key_raises_keyerror(self, store: Store) -> None:
        """Reading a key never written raises KeyError."""
        with pytest.raises(KeyError):
            store["missing"]

    def test_get_returns_default_for_missing(self, store: Store) -> None:
        """get() gives None or the default for a missing key, the value otherwise."""
        assert store.get("missing") is None
        assert store.get("missing", b"d") == b"d"
        store["k"] = b"v"
        assert store.get("k") == b"v"
        assert store.get("k", b"d") == b"v"

    def test_contains(self, store: Store) -> None:
        """`in` is True for written keys only, and False again after delete."""
        assert "k" not in store
        store["k"] = b"v"
        assert "k" in store
        del store["k"]
        assert "k" not in store

    def test_delete(self, store: Store) -> None:
        """del removes the key, and only that key."""
        store["a"] = b"1"
        store["b"] = b"2"
        del store["a"]
        assert "a" not in store
        assert store["b"] == b"2"
        with pytest.raises(KeyError):
            store["a"]

    def test_delete_missing_raises_keyerror(self, store: Store) -> None:
        """del of a missing key raises KeyError, also after the key was deleted once."""
        with pytest.raises(KeyError):
            del store["missing"]
        store["k"] = b"v"
        del store["k"]
        with pytest.raises(KeyError):
            del store["k"]

    def test_len(self, store: Store) -> None:
        """len counts distinct live keys through writes, overwrites and deletes."""
        assert len(store) == 0
        store["a"] = b"1"
        store["b"] = b"2"
        store["a"] = b"3"
        assert len(store) == 2
        del store["a"]
        assert len(store) == 1
        del store["b"]
        assert len(store) == 0

    def test_bool_follows_len(self, store: Store) -> None:
        """An empty store is falsy, a non-empty one truthy."""
        assert not store
        store["k"] = b"v"
        assert store

    def test_iteration_lists_keys(self, store: Store) -> None:
        """Iterating gives exactly the live keys."""
        for key in ("a", "b", "c"):
            store[key] = key.encode()
        del store["b"]
        assert sorted(store) == ["a", "c"]

    def test_listings_are_iterators(self, store: Store) -> None:
        """iter(store) and keys_with_prefix() return iterators (what _iter_keys must return)."""
        store["k"] = b"v"
        for name, listing in (
            ("iter(store)", store.__iter__),
            ("keys_with_prefix('')", lambda: store.keys_with_prefix("")),
        ):
            got = listing()
            assert isinstance(got, Iterator), (
                f"{name} on {type(store).__name__} returned a {type(got).__name__}, not an "
                "iterator: _iter_keys must return an iterator (yield the keys, or return "
                "iter(...) of them)"
            )
            assert list(got) == ["k"], name

    def test_views_are_reiterable(self, store: Store) -> None:
        """keys(), values() and items() can be iterated again and agree with each other."""
        expected = {"a": b"1", "b": b"2", "c": b""}
        for key, value in expected.items():
            store[key] = value
        keys, values, items = store.keys(), store.values(), store.items()
        for _ in range(2):
            assert sorted(keys) == sorted(expected)
            assert sorted(values) == sorted(expected.values())
            assert sorted(items) == sorted(expected.items())
        assert len(keys) == len(values) == len(items) == 3
        assert "a" in keys
        assert ("a", b"1") in items
        assert ("a", b"2") not in items
        store["d"] = b"4"
        assert "d" in keys
        assert len(items) == 4

    def test_pop(self, store: Store) -> None:
        """pop returns the value and removes the key."""
        store["k"] = b"v"
        assert store.pop("k") == b"v"
        assert "k" not in store
        assert len(store) == 0

    def test_pop_takes_only_its_key(self, store: Store) -> None:
        """pop removes exactly the key asked for, not keys it prefixes or others."""
        # Under a key that is also a prefix of another; where '/' makes directories, that key
        # cannot also be a leaf, so the nested neighbour lives elsewhere.
        nested = "r/x" if self.capabilities.hierarchical_keys else "p/x"
        store.update({"p": b"1", "pa": b"2", nested: b"3", "q": b"4"})
        assert store.pop("p") == b"1"
        assert dict(store.items()) == {"pa": b"2", nested: b"3", "q": b"4"}

    def test_pop_missing(self, store: Store) -> None:
        """pop of a missing key raises KeyError, or returns the default when given one."""
        with pytest.raises(KeyError):
            store.pop("missing")
        assert store.pop("missing", None) is None
        assert store.pop("missing", b"d") == b"d"

    def test_popitem(self, store: Store) -> None:
        """popitem removes and returns pairs until the store is empty, then KeyError."""
        expected = {"a": b"1", "b": b"2", "c": b"3"}
        store.update(expected)
        seen = {}
        for _ in range(3):
            key, value = store.popitem()
            seen[key] = value
        assert seen == expected
        assert len(store) == 0
        with pytest.raises(KeyError):
            store.popitem()

    def test_setdefault(self, store: Store) -> None:
        """setdefault writes only a missing key and returns the value as a read would."""
        assert store.setdefault("k", b"first") == b"first"
        assert store.setdefault("k", b"second") == b"first"
        assert store.setdefault("k") == b"first"
        assert store["k"] == b"first"
        assert store.setdefault("s", "text") == b"text"
        assert store["s"] == b"text"

    def test_update_forms(self, store: Store) -> None:
        """update takes a dict, pairs, keywords, both, and another store, like dict.update."""
        model: dict[str, bytes] = {}
        store.update({"a": b"1"})
        model.update({"a": b"1"})
        store.update([("b", b"2"), ("c", b"3")])
        model.update([("b", b"2"), ("c", b"3")])
        store.update(d=b"4")
        model.update(d=b"4")
        store.update({"a": b"5"}, e=b"6")
        model.update({"a": b"5"}, e=b"6")
        store.update(((k, v) for k, v in [("f", b"7")]))
        model.update([("f", b"7")])
        store.update(_KeysOnly({"g": b"8"}))
        model.update(_KeysOnly({"g": b"8"}))
        store.update(store)
        assert dict(store.items()) == model

    def test_update_from_other_store(self, store: Store, make_store: StoreFactory) -> None:
        """update accepts another store of the same kind."""
        other = make_store()
        other["x"] = b"1"
        other["y"] = b"2"
        store.update(other)
        assert dict(store.items()) == {"x": b"1", "y": b"2"}

    def test_clear(self, store: Store) -> None:
        """clear removes every key and the store stays usable."""
        store.update({"a": b"1", "b": b"2", "c": b"3"})
        store.clear()
        assert len(store) == 0
        assert list(store) == []
        store["a"] = b"again"
        assert store["a"] == b"again"

    def test_equality_with_dict(self, store: Store) -> None:
        """A store equals a dict with the same items, and only such a dict."""
        assert store == {}
        store.update({"a": b"1", "b": b"2"})
        assert store == {"a": b"1", "b": b"2"}
        assert store != {"a": b"1"}
        assert store != {"a": b"1", "b": b"3"}

    def test_repr_is_text(self, store: Store) -> None:
        """repr works on an open store and says what kind of store it is."""
        text = repr(store)
        assert isinstance(text, str)
        assert text
