"""The suite as collected by ``pytest --kv-store URL`` or ``pytest --kv-factory MOD:FN``.

A URL names one storage, so every "new" store is that storage emptied: it must be empty
when the run starts (the suite refuses to run against a store holding data), and it is
emptied again when each test ends. Do not spread such a run over xdist workers: they would
share, and empty, one storage.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import pytest

from ..opener import open_store
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
        """Open the same URL again; a factory gives no way to reopen."""
        url = self._url
        if url is None:
            pytest.skip("--kv-factory gives no way to reopen a store: use --kv-store URL")
        return functools.partial(open_store, url)

    @pytest.fixture(autouse=True)
    def _remember_url(self, request: pytest.FixtureRequest) -> None:
        self._url: str | None = request.config.getoption("kv_store", None)
