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
    """Set, get, delete, pop, setdefault, contains, iterate, len, clear and reopen, in any order."""

    @pytest.mark.kv_hypothesis
    def test_random_operations_match_dict(self, store_factory: StoreFactory) -> None:
        """Any sequence of operations leaves the store equal to a dict that did the same."""
        suite = self
        probe = store_factory()
        pool = suite.valid_keys(
            probe, UNICODE_KEYS + CASE_AND_SPACE_KEYS + PATTERN_KEYS + NESTED_PREFIX_KEYS
        )
        keys = st.one_of(
            st.sampled_from(pool),
            _TEXT.filter(lambda k: suite.is_valid_key(probe, k)),
        )
        persistent = self.capabilities.persistent

        class StoreMachine(RuleBasedStateMachine):
            def __init__(self) -> None:
                super().__init__()
                self.store: Store = store_factory()
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

            @rule(key=keys, value=_VALUES)
            def setdefault(self, key: str, value: bytes | str) -> None:
                expected = self.model.setdefault(key, to_bytes(value))
                assert self.store.setdefault(key, value) == expected

            @rule(key=keys)
            def contains(self, key: str) -> None:
                assert (key in self.store) == (key in self.model)

            @rule()
            def iterate(self) -> None:
                listed = Counter(iter(self.store))
                assert all(n == 1 for n in listed.values()), "a key was listed twice"
                assert set(listed) == set(self.model)

            @rule()
            def items(self) -> None:
                assert dict(self.store.items()) == self.model

            @rule()
            def clear(self) -> None:
                self.store.clear()
                self.model.clear()

            @precondition(lambda _: persistent)
            @rule()
            def reopen(self) -> None:
                self.store = suite.reopen(self.store)

            @invariant()
            def length(self) -> None:
                assert len(self.store) == len(self.model)

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
