"""The suite as collected by ``pytest --kv-store URL`` or ``pytest --kv-factory MOD:FN``.

A URL names one storage, so every "new" store is that storage emptied: it must be empty
when the run starts (the suite refuses to run against a store holding data), and it is
emptied again when each test ends. Do not spread such a run over xdist workers: they would
share, and empty, one storage. A factory's stores are emptied the same way, so a factory may
return a new handle on one storage each time, or a new storage.

The tests that reopen a store (marked ``kv_reopens``) need an opener: the URL itself, or
with ``--kv-factory`` a ``--kv-opener`` or the factory's ``opener`` attribute. Without one
they are deselected, the state machine runs without its reopen step, and the terminal
summary lists what was not tested (:func:`not_tested`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import pytest

from ..store import Store
from ._base import StoreFactory, close_quietly
from ._suite import StoreConformance
from ._target import target
from .plugin import ACTIVE_CONFIG


class TestCommandLineStore(StoreConformance):
    """The whole suite against the store named on the command line."""

    capabilities = target(ACTIVE_CONFIG[0]).capabilities

    @pytest.fixture
    def store_factory(self, request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
        """Open the named store, emptied, for each use; empty it again at the end."""
        make = target(request.config).make
        made: list[Store] = []

        def fresh() -> Store:
            store = make()
            made.append(store)
            store.clear()
            return store

        yield fresh
        for store in made:
            close_quietly(store)
        if made:
            # Through a handle of its own: the test may have closed the ones it used.
            cleanup = make()
            try:
                cleanup.clear()
            finally:
                close_quietly(cleanup)

    def opener(self, store: MutableMapping[Any, Any]) -> Callable[[], Store]:
        """Reopen through the URL, or the opener given with the factory."""
        found = target(self._kv_request.config).opener
        if found is None:
            # The tests that need an opener were deselected: only a test of the suite's own
            # that forgot its kv_reopens marker gets here.
            pytest.fail(f"{type(self).__name__}: no opener was given (see --kv-opener)")
        assert isinstance(store, Store)
        return found(store)

    def can_reopen(self) -> bool:
        """Whether the run was given a way to reopen: --kv-store, --kv-opener, an attribute."""
        return target(self._kv_request.config).opener is not None


def not_tested(config: pytest.Config) -> list[str]:
    """What of the suite this run leaves out for want of an opener, one line per test."""
    found = target(config)
    if found.opener is not None:
        return []
    lines = []
    for name in sorted(dir(TestCommandLineStore)):
        if not name.startswith("test"):
            continue
        for mark in getattr(getattr(TestCommandLineStore, name), "pytestmark", []):
            if mark.name == "kv_reopens" and needs_opener(mark, found.capabilities):
                why = " and ".join(mark.args)
                if mark.kwargs.get("partly"):
                    lines.append(f"{name}: its reopen step (the store declares {why})")
                else:
                    lines.append(f"{name} (the store declares {why})")
    return lines


def needs_opener(mark: pytest.Mark, capabilities: object) -> bool:
    """Whether a ``kv_reopens`` test would run against *capabilities*, given an opener."""
    return all(getattr(capabilities, name) for name in mark.args)
