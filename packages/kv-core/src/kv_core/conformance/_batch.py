"""Batch calls and prefix listing agree with the single-key operations."""

from __future__ import annotations

from ._base import SuiteBase

__all__ = ["BatchTests"]

from ..store import Store


class BatchTests(SuiteBase):
    """``get_many``, ``set_many``, ``delete_many`` and ``keys_with_prefix``."""

    def test_set_many_then_singles(self, store: Store) -> None:
        """What set_many writes, single reads see."""
        items = {f"k{i}": f"v{i}".encode() for i in range(50)}
        store.set_many(items)
        assert len(store) == 50
        for key, value in items.items():
            assert store[key] == value

    def test_set_many_takes_pairs(self, store: Store) -> None:
        """set_many takes an iterable of pairs; the last value of a repeated key wins."""
        store.set_many([("a", b"1"), ("b", b"2"), ("a", b"3")])
        assert dict(store.items()) == {"a": b"3", "b": b"2"}

    def test_get_many_matches_singles(self, store: Store) -> None:
        """get_many returns the present keys with their values, and omits missing ones."""
        for i in range(20):
            store[f"k{i}"] = f"v{i}".encode()
        wanted = [f"k{i}" for i in range(0, 30, 3)] + ["k3", "missing"]
        expected = {k: store[k] for k in wanted if k in store}
        assert store.get_many(wanted) == expected
        assert store.get_many([]) == {}
        assert store.get_many(iter(["k1"])) == {"k1": b"v1"}

    def test_delete_many(self, store: Store) -> None:
        """delete_many removes the given keys, ignores missing ones, keeps the rest."""
        store.set_many({f"k{i}": b"v" for i in range(10)})
        store.delete_many(["k1", "k3", "missing", "k3"])
        assert sorted(store) == sorted(f"k{i}" for i in range(10) if i not in (1, 3))
        store.delete_many([])
        assert len(store) == 8

    def test_prefix_listing_matches_filter(self, store: Store) -> None:
        """keys_with_prefix gives what filtering the full listing gives."""
        keys = ["app", "apple", "apricot", "banana", "b", "", "ap", "APP"]
        keys = self.valid_keys(store, keys)
        for key in keys:
            store[key] = b"v"
        for prefix in ("", "a", "ap", "app", "apple", "b", "z", "A"):
            expected = sorted(k for k in keys if k.startswith(prefix))
            assert sorted(store.keys_with_prefix(prefix)) == expected, prefix

    def test_prefix_listing_of_nested_keys(self, store: Store) -> None:
        """Keys holding '/' are listed by a prefix ending in '/' or mid-segment."""
        keys = ["dir/a", "dir/b", "dir/sub/c", "dirt", "other/x"]
        for key in keys:
            store[key] = b"v"
        assert sorted(store.keys_with_prefix("dir/")) == ["dir/a", "dir/b", "dir/sub/c"]
        assert sorted(store.keys_with_prefix("dir")) == ["dir/a", "dir/b", "dir/sub/c", "dirt"]
        assert sorted(store.keys_with_prefix("dir/s")) == ["dir/sub/c"]
        assert sorted(store) == sorted(keys)
