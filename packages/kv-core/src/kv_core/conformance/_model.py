"""Every public method of a store, in every argument shape, against what a ``dict`` does.

Each test runs the same calls on the store and on a ``dict`` (the model) and then compares
the whole store with the model, so a method that answers right but changes the wrong keys
fails as surely as one that answers wrong.
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import pytest

from ..codec import to_bytes
from ._base import SuiteBase

__all__ = ["ModelTests", "assert_matches_model"]

from ..store import Store

#: Keys already in the store (``P``) and keys never written (``M``), for mixed batches.
_PRESENT = ("p0", "p1", "p2")
_ABSENT = ("m0", "m1")


def assert_matches_model(store: Store, model: dict[str, bytes], step: str = "") -> None:
    """Fail unless *store* holds exactly the items of *model*, seen through every listing."""
    where = f" after {step}" if step else ""
    assert len(store) == len(model), f"len() is {len(store)}, the model has {len(model)}{where}"
    keys = list(store)
    assert len(keys) == len(set(keys)), f"iteration listed a key twice{where}"
    assert set(keys) == set(model), f"iteration disagrees with the model{where}"
    assert dict(store.items()) == model, f"items() disagrees with the model{where}"
    assert sorted(store.values()) == sorted(model.values()), f"values() disagree{where}"


class ModelTests(SuiteBase):
    """Present and missing keys, defaults, overwrites, mixed, duplicate, empty and big batches."""

    #: The largest page or batch the backend uses internally (a listing page, a batch of
    #: keys per round trip). The big-batch test uses more than three of them.
    page_size: ClassVar[int] = 1000

    def _filled(self, store: Store) -> dict[str, bytes]:
        model = {key: f"value of {key}".encode() for key in _PRESENT}
        store.update(model)
        return model

    def test_reads_of_present_and_missing_keys(self, store: Store) -> None:
        """[], get, in, pop and setdefault, with and without defaults, on both kinds of key."""
        model = self._filled(store)
        for key in (*_PRESENT, *_ABSENT):
            present = key in model
            assert (key in store) is present, f"`{key!r} in store`"
            assert store.get(key) == model.get(key), f"get({key!r})"
            assert store.get(key, b"dflt") == model.get(key, b"dflt"), f"get({key!r}, default)"
            assert store.get(key, None) == model.get(key, None), f"get({key!r}, None)"
            if present:
                assert store[key] == model[key], f"store[{key!r}]"
            else:
                with pytest.raises(KeyError):
                    store[key]
        assert_matches_model(store, model, "reads")

    def test_pop_every_shape(self, store: Store) -> None:
        """pop(key) and pop(key, default) of present and missing keys, as dict.pop does."""
        model = self._filled(store)
        assert store.pop("p0") == model.pop("p0")
        assert store.pop("p1", b"dflt") == model.pop("p1", b"dflt")
        assert store.pop("m0", b"dflt") == b"dflt"
        assert store.pop("m0", None) is None
        with pytest.raises(KeyError):
            store.pop("m1")
        with pytest.raises(KeyError):
            store.pop("p0")
        assert_matches_model(store, model, "pop")

    def test_setdefault_every_shape(self, store: Store) -> None:
        """setdefault of present and missing keys, with a bytes, str or no default."""
        model = self._filled(store)
        assert store.setdefault("p0") == model["p0"]
        assert store.setdefault("p1", b"other") == model["p1"]
        assert store.setdefault("m0", b"new") == model.setdefault("m0", b"new")
        assert store.setdefault("m1", "text") == model.setdefault("m1", b"text")
        assert store.setdefault("m1", b"again") == model["m1"]
        # A missing key with no default would store None, which is not a value.
        with pytest.raises(TypeError):
            store.setdefault("m2")
        assert_matches_model(store, model, "setdefault")

    def test_popitem_until_empty(self, store: Store) -> None:
        """popitem returns pairs of the model, each once, then raises KeyError when empty."""
        model = self._filled(store)
        left = dict(model)
        for _ in model:
            key, value = store.popitem()
            assert left.pop(key) == value, f"popitem gave {key!r} twice or a wrong value"
            assert_matches_model(store, left, f"popitem of {key!r}")
        with pytest.raises(KeyError):
            store.popitem()

    def test_overwrites_through_every_write(self, store: Store) -> None:
        """[]=, update, set_many and setdefault overwrite (or keep) a key as a dict would."""
        model = self._filled(store)
        writes: list[tuple[str, Any]] = [
            ("setitem", lambda m: m.__setitem__("p0", b"by setitem")),
            ("update", lambda m: m.update({"p1": b"by update"})),
            ("update pairs", lambda m: m.update([("p2", b"by pairs")])),
            ("update kwargs", lambda m: m.update(p0=b"by kwargs")),
            ("setdefault", lambda m: m.setdefault("p1", b"not written")),
            ("setitem str", lambda m: m.__setitem__("p2", "text")),
            ("setitem empty", lambda m: m.__setitem__("p1", b"")),
        ]
        for name, write in writes:
            write(store)
            write(model)
            model = {key: to_bytes(value) for key, value in model.items()}
            assert_matches_model(store, model, name)
        store.set_many({"p0": b"by set_many", "m0": b"new"})
        model.update({"p0": b"by set_many", "m0": b"new"})
        assert_matches_model(store, model, "set_many")

    def test_mixed_batches_in_every_order(self, store: Store) -> None:
        """get_many and delete_many of present and missing keys agree, whatever the order."""
        model = self._filled(store)
        for order in itertools.permutations(("p0", "m0", "p1", "m1")):
            wanted = list(order)
            expected = {key: model[key] for key in wanted if key in model}
            assert store.get_many(wanted) == expected, f"get_many({wanted!r})"
            assert store.get_many(iter(wanted)) == expected, f"get_many(iter({wanted!r}))"
        for order in itertools.permutations(("p0", "m0", "p1")):
            store.delete_many(list(order))
            left = {key: value for key, value in model.items() if key not in order}
            assert_matches_model(store, left, f"delete_many({list(order)!r})")
            store.update(model)

    def test_batches_with_duplicate_keys(self, store: Store) -> None:
        """A key repeated in a batch counts once; in a write the last value wins."""
        model = self._filled(store)
        assert store.get_many(["p0", "m0", "p0", "p0", "m0"]) == {"p0": model["p0"]}
        store.set_many([("p1", b"first"), ("m0", b"a"), ("p1", b"last"), ("m0", b"b")])
        model.update([("p1", b"first"), ("m0", b"a"), ("p1", b"last"), ("m0", b"b")])
        assert_matches_model(store, model, "set_many with repeated keys")
        store.update([("p2", b"x"), ("p2", b"y")], p2=b"kwarg wins")
        model.update([("p2", b"x"), ("p2", b"y")], p2=b"kwarg wins")
        assert_matches_model(store, model, "update with repeated keys")
        store.delete_many(["p0", "p0", "m1", "p0"])
        del model["p0"]
        assert_matches_model(store, model, "delete_many with repeated keys")

    def test_empty_batches_change_nothing(self, store: Store) -> None:
        """Empty get_many, set_many, delete_many and update are no-ops, in every form."""
        model = self._filled(store)
        assert store.get_many([]) == {}
        assert store.get_many(iter([])) == {}
        assert store.get_many(()) == {}
        store.set_many({})
        store.set_many([])
        store.set_many(iter([]))
        store.delete_many([])
        store.delete_many(iter([]))
        store.update()
        store.update({})
        store.update([])
        assert_matches_model(store, model, "empty batches")
        store.clear()
        store.clear()
        assert_matches_model(store, {}, "clear of an empty store")

    def test_batches_bigger_than_pages(self, store: Store) -> None:
        """Batches and listings over three pages: every key written, read, listed, deleted once."""
        count = 3 * self.page_size + 7
        model = {f"big-{i:06d}": f"{i}".encode() for i in range(count)}
        store.set_many(model)
        assert_matches_model(store, model, f"set_many of {count} keys")
        assert sorted(store.keys_with_prefix("big-00")) == sorted(
            key for key in model if key.startswith("big-00")
        )
        absent = [f"no-{i}" for i in range(count)]
        wanted = [key for pair in zip(model, absent, strict=True) for key in pair]
        assert store.get_many(wanted) == model, f"get_many of {len(wanted)} mixed keys"
        doomed = [key for i, key in enumerate(model) if i % 3 == 0]
        store.delete_many([*doomed, *(f"no-{i}" for i in range(self.page_size))])
        for key in doomed:
            del model[key]
        assert_matches_model(store, model, f"delete_many of {len(doomed)} keys")
        store.clear()
        assert_matches_model(store, {}, f"clear of {len(model)} keys")
