"""A Hypothesis state machine: random sequences of operations against a dict model."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ..codec import to_bytes
from ._base import StoreFactory, SuiteBase, close_quietly
from ._keys import CASE_AND_SPACE_KEYS, NESTED_PREFIX_KEYS, PATTERN_KEYS, UNICODE_KEYS

__all__ = ["StatefulTests"]

from ..store import Store

_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="/\\\x00"),
    min_size=1,
    max_size=12,
)
_VALUES = st.one_of(st.binary(max_size=64), st.text(max_size=16))


class StatefulTests(SuiteBase):
    """Every method of the dict API and the batch calls, and reopen, in any order."""

    @pytest.mark.kv_hypothesis
    @pytest.mark.kv_reopens("persistent", partly=True)
    def test_random_operations_match_dict(self, make_store: StoreFactory) -> None:
        """Any sequence of operations answers as a dict does, and leaves the store equal to it."""
        suite = self
        probe = make_store()
        pool = suite.valid_keys(
            probe, UNICODE_KEYS + CASE_AND_SPACE_KEYS + PATTERN_KEYS + NESTED_PREFIX_KEYS
        )
        keys = st.one_of(
            st.sampled_from(pool),
            _TEXT.filter(lambda k: suite.is_valid_key(probe, k)),
        )
        reopens = self.capabilities.persistent and self.can_reopen()

        class StoreMachine(RuleBasedStateMachine):
            def __init__(self) -> None:
                super().__init__()
                self.store: Store = make_store()
                self.model: dict[str, bytes] = {}

            @rule(key=keys, value=_VALUES)
            def set(self, key: str, value: bytes | str) -> None:
                self.store[key] = value
                self.model[key] = to_bytes(value)

            @rule(key=keys)
            def get(self, key: str) -> None:
                if key in self.model:
                    assert self.store[key] == self.model[key]
                else:
                    with pytest.raises(KeyError):
                        self.store[key]

            @rule(key=keys, default=st.one_of(st.none(), st.binary(max_size=8)))
            def get_with_default(self, key: str, default: bytes | None) -> None:
                assert self.store.get(key, default) == self.model.get(key, default)
                assert self.store.get(key) == self.model.get(key)

            @rule(key=keys)
            def delete(self, key: str) -> None:
                if key in self.model:
                    del self.store[key]
                    del self.model[key]
                else:
                    with pytest.raises(KeyError):
                        del self.store[key]

            @rule(key=keys)
            def pop(self, key: str) -> None:
                if key in self.model:
                    assert self.store.pop(key) == self.model.pop(key)
                else:
                    with pytest.raises(KeyError):
                        self.store.pop(key)

            @rule(key=keys, default=st.one_of(st.none(), st.binary(max_size=8)))
            def pop_with_default(self, key: str, default: bytes | None) -> None:
                assert self.store.pop(key, default) == self.model.pop(key, default)

            @rule()
            def popitem(self) -> None:
                if self.model:
                    key, value = self.store.popitem()
                    assert key in self.model, f"popitem gave {key!r}, which is not stored"
                    assert self.model.pop(key) == value
                else:
                    with pytest.raises(KeyError):
                        self.store.popitem()

            @rule(key=keys, value=_VALUES)
            def setdefault(self, key: str, value: bytes | str) -> None:
                expected = self.model.setdefault(key, to_bytes(value))
                assert self.store.setdefault(key, value) == expected

            @precondition(lambda self: bool(self.model))
            @rule(data=st.data())
            def setdefault_present_without_default(self, data: st.DataObject) -> None:
                key = data.draw(st.sampled_from(sorted(self.model)))
                assert self.store.setdefault(key) == self.model[key]

            @rule(key=keys)
            def contains(self, key: str) -> None:
                assert (key in self.store) == (key in self.model)

            @rule(pairs=st.lists(st.tuples(keys, _VALUES), max_size=6), as_dict=st.booleans())
            def set_many(self, pairs: list[tuple[str, bytes | str]], as_dict: bool) -> None:
                self.store.set_many(dict(pairs) if as_dict else pairs)
                self.model.update((key, to_bytes(value)) for key, value in pairs)

            @rule(pairs=st.lists(st.tuples(keys, _VALUES), max_size=6), as_dict=st.booleans())
            def update(self, pairs: list[tuple[str, bytes | str]], as_dict: bool) -> None:
                self.store.update(dict(pairs) if as_dict else pairs)
                self.model.update((key, to_bytes(value)) for key, value in pairs)

            @rule(wanted=st.lists(keys, max_size=8))
            def get_many(self, wanted: list[str]) -> None:
                expected = {key: self.model[key] for key in wanted if key in self.model}
                assert self.store.get_many(wanted) == expected

            @rule(doomed=st.lists(keys, max_size=8))
            def delete_many(self, doomed: list[str]) -> None:
                self.store.delete_many(doomed)
                for key in doomed:
                    self.model.pop(key, None)

            @rule(key=keys, length=st.integers(min_value=0, max_value=3))
            def keys_with_prefix(self, key: str, length: int) -> None:
                prefix = key[:length]
                listed = list(self.store.keys_with_prefix(prefix))
                assert len(listed) == len(set(listed)), f"prefix {prefix!r} listed a key twice"
                assert set(listed) == {k for k in self.model if k.startswith(prefix)}, prefix

            @rule()
            def iterate(self) -> None:
                listed = Counter(iter(self.store))
                assert all(n == 1 for n in listed.values()), "a key was listed twice"
                assert set(listed) == set(self.model)

            @rule()
            def items(self) -> None:
                assert dict(self.store.items()) == self.model

            @rule()
            def values(self) -> None:
                assert sorted(self.store.values()) == sorted(self.model.values())

            @rule()
            def clear(self) -> None:
                self.store.clear()
                self.model.clear()

            @precondition(lambda _: reopens)
            @rule()
            def reopen(self) -> None:
                self.store = suite.reopen(self.store)

            @invariant()
            def matches_model(self) -> None:
                assert len(self.store) == len(self.model)
                assert dict(self.store.items()) == self.model

            def teardown(self) -> None:
                close_quietly(self.store)

        run_state_machine_as_test(
            StoreMachine,
            settings=settings(
                max_examples=self.stateful_examples,
                stateful_step_count=self.stateful_steps,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
