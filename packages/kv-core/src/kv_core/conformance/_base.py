"""The fixtures and helpers every part of the conformance suite builds on."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, ClassVar

import pytest

from ..capabilities import Capabilities
from ..errors import InvalidKeyError
from ..store import Store

__all__ = ["Opener", "StoreFactory", "SuiteBase", "close_quietly", "declared_capabilities"]

StoreFactory = Callable[[], Store]
Opener = Callable[[], Store]


def close_quietly(store: object) -> None:
    """Close *store* if it can be closed, ignoring a failure to do so."""
    close = getattr(store, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):
            close()


def declared_capabilities(cls: type) -> object:
    """What test class *cls* declares as ``capabilities`` (any value), or ``None`` if nothing."""
    value = inspect.getattr_static(cls, "capabilities", None)
    return None if isinstance(value, property) else value


class SuiteBase:
    """What a backend supplies: a ``store_factory`` fixture, an ``opener``, maybe ``capabilities``.

    The suite owns the lifecycle of every store it tests: it makes each one through
    :meth:`make_store` (which calls ``store_factory``), reopens them through :meth:`opener`,
    and closes every store it made or reopened when the test ends, before ``store_factory``'s
    own teardown runs (which then only has to remove what the stores left on their
    servers or disks). Closing twice is harmless (``Store.close()``), so a factory that
    closes its stores itself, as factories written for kv-core 0.4 do, keeps working.

    ``capabilities``, when the test class sets it, is what the suite tests; otherwise the
    suite reads ``capabilities`` from the first store it makes in each test. Set it for a
    plain ``MutableMapping`` (which declares nothing) or to test less than the store
    declares in a part of the suite; :class:`StoreConformance` checks that a declared value
    equals the store's own (``test_declared_capabilities_match_store``).
    """

    #: Examples per Hypothesis test; lower it for slow stores, never to zero.
    stateful_examples: ClassVar[int] = 25
    #: Steps per stateful example.
    stateful_steps: ClassVar[int] = 25

    @property
    def capabilities(self) -> Capabilities:
        """What the stores under test declare: the first store's, unless the class sets it."""
        if "_kv_capabilities" not in self.__dict__:
            # Read before this test made a store (it makes none): make one to ask.
            self._kv_request.getfixturevalue("make_store")()
        found = self.__dict__["_kv_capabilities"]
        assert isinstance(found, Capabilities)
        return found

    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        """Override: a callable making a new, empty store per call (the suite closes them).

        Yield it instead of returning it to remove, after the yield, what the stores left
        behind (tables, key prefixes, servers): the suite has closed them by then.
        """
        pytest.fail(
            f"{type(self).__name__} must define a store_factory fixture that yields a "
            "callable returning a new, empty store on every call"
        )

    @pytest.fixture
    def make_store(self, store_factory: StoreFactory, _kv_suite: None) -> Iterator[StoreFactory]:
        """A new, empty store per call, from ``store_factory``, closed when the test ends."""
        opened = self._kv_opened

        def make() -> Store:
            store = store_factory()
            opened.append(store)
            if "_kv_capabilities" not in self.__dict__:
                self._kv_capabilities = self._read_capabilities(store)
            return store

        yield make
        for store in reversed(opened):
            close_quietly(store)

    def _read_capabilities(self, store: object) -> Capabilities | None:
        if declared_capabilities(type(self)) is not None:
            return None  # the class attribute is what the suite reads
        found = getattr(store, "capabilities", None)
        if not isinstance(found, Capabilities):
            pytest.fail(
                f"{type(self).__name__} declares no capabilities, and its store, a "
                f"{type(store).__name__}, declares none either (its capabilities is "
                f"{found!r}): give the store's class capabilities = Capabilities(...) with "
                f"every field stated, or set capabilities on {type(self).__name__}"
            )
        return found

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

    def can_reopen(self) -> bool:
        """Whether :meth:`opener` can reopen stores; a suite that cannot says ``False``.

        The tests that need an opener are then not run (the command-line suite with a
        ``--kv-factory`` and no opener lists them at the end of the run), and the state
        machine runs without its reopen step.
        """
        return True

    @pytest.fixture(autouse=True)
    def _kv_suite(self, request: pytest.FixtureRequest) -> Iterator[None]:
        self._kv_request = request
        self._kv_opened: list[object] = []
        declared = declared_capabilities(type(self))
        if declared is not None and not isinstance(declared, Capabilities):
            pytest.fail(
                f"{type(self).__name__}.capabilities is {declared!r}: declare "
                "capabilities = Capabilities(...) with every field stated, or leave it out "
                "to use what the store declares"
            )
        yield
        # What make_store did not close: stores reopened in a test whose class overrides
        # the store fixture itself.
        for store in reversed(self._kv_opened):
            close_quietly(store)

    @pytest.fixture
    def store(self, make_store: StoreFactory) -> MutableMapping[Any, Any]:
        """A new, empty store (closed by the suite when the test ends)."""
        return make_store()

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
        """Close *store* and open the same data again through :meth:`opener`.

        The suite closes the store it returns when the test ends.
        """
        opener = self.opener(store)
        close_quietly(store)
        again = opener()
        self._kv_opened.append(again)
        return again

    @property
    def max_value(self) -> int:
        """The largest value the suite writes: 10 MB, or the store's declared limit."""
        limit = self.capabilities.max_value_size
        return 10 * 1024 * 1024 if limit is None else min(limit, 10 * 1024 * 1024)
