"""The fixtures and helpers every part of the conformance suite builds on."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, MutableMapping
from typing import Any, ClassVar

import pytest

from ..capabilities import Capabilities
from ..errors import InvalidKeyError
from ..store import Store

__all__ = ["Opener", "StoreFactory", "SuiteBase", "close_quietly"]

StoreFactory = Callable[[], Store]
Opener = Callable[[], Store]


def close_quietly(store: object) -> None:
    """Close *store* if it can be closed, ignoring a failure to do so."""
    close = getattr(store, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):
            close()


class SuiteBase:
    """What a backend supplies: its capabilities, a ``store_factory`` fixture, an ``opener``.

    :cvar capabilities: Every field stated; the suite tests what is declared.
    """

    capabilities: ClassVar[Capabilities]
    #: Examples per Hypothesis test; lower it for slow stores, never to zero.
    stateful_examples: ClassVar[int] = 25
    #: Steps per stateful example.
    stateful_steps: ClassVar[int] = 25

    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        """Override: yield a callable making a new, empty store per call; clean them all up."""
        pytest.fail(
            f"{type(self).__name__} must define a store_factory fixture that yields a "
            "callable returning a new, empty store on every call"
        )

    def opener(self, store: MutableMapping[Any, Any]) -> Opener:
        """Override when ``persistent`` or ``processes`` is declared.

        Return a picklable zero-argument callable (``functools.partial(MyStore, path)``) that
        opens another handle on the same data as *store*: the suite calls it after
        ``close()`` to test persistence, and in spawned processes to test concurrency.
        """
        msg = (
            f"{type(self).__name__} declares persistent or processes, so it must override "
            "opener(store) to return a picklable callable that reopens the same data"
        )
        raise NotImplementedError(msg)

    @pytest.fixture(autouse=True)
    def _capabilities_declared(self) -> None:
        declared = getattr(type(self), "capabilities", None)
        if not isinstance(declared, Capabilities):
            pytest.fail(
                f"{type(self).__name__} must declare capabilities = Capabilities(...) with "
                "every field stated"
            )

    @pytest.fixture
    def store(self, store_factory: StoreFactory) -> MutableMapping[Any, Any]:
        """A new, empty store (closed and cleaned up by ``store_factory``)."""
        return store_factory()

    # -- helpers for the tests --------------------------------------------------------------

    def is_valid_key(self, store: MutableMapping[Any, Any], key: str) -> bool:
        """Whether *store* accepts *key*, by its own validation and declared limits."""
        caps = self.capabilities
        if key in caps.invalid_keys or (key == "" and not caps.empty_key):
            return False
        if caps.refused_characters is not None and not caps.refused_characters.isdisjoint(key):
            return False
        if caps.max_key_length is not None and len(key) > caps.max_key_length:
            return False
        if caps.hierarchical_keys and "/" in key:
            return False
        validate = getattr(store, "validate_key", None)
        if callable(validate):
            try:
                validate(key)
            except InvalidKeyError:
                return False
        return True

    def valid_keys(self, store: MutableMapping[Any, Any], keys: list[str]) -> list[str]:
        """Those of *keys* the store accepts; fails if that leaves fewer than half."""
        kept = [key for key in keys if self.is_valid_key(store, key)]
        assert len(kept) * 2 >= len(keys), f"the store refuses most of {keys!r}"
        return kept

    def reopen(self, store: MutableMapping[Any, Any]) -> Store:
        """Close *store* and open the same data again through :meth:`opener`."""
        opener = self.opener(store)
        close_quietly(store)
        return opener()

    @property
    def max_value(self) -> int:
        """The largest value the suite writes: 10 MB, or the store's declared limit."""
        limit = self.capabilities.max_value_size
        return 10 * 1024 * 1024 if limit is None else min(limit, 10 * 1024 * 1024)
