"""The suite as collected by ``pytest --kv-store URL`` or ``pytest --kv-factory MOD:FN``.

A URL names one storage, so every "new" store is that storage emptied: it must be empty
when the run starts (the suite refuses to run against a store holding data), and it is
emptied again when each test ends. Do not spread such a run over xdist workers: they would
share, and empty, one storage.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import pytest

from ..opener import open_store
from ..store import Store
from ..urls import redact_url
from ._base import StoreFactory, close_quietly
from ._suite import StoreConformance
from .plugin import ACTIVE_CONFIG


def _target(config: pytest.Config) -> tuple[str, Callable[[], Store]]:
    url = config.getoption("kv_store", None)
    if url:
        return redact_url(url), functools.partial(open_store, url)
    spec = config.getoption("kv_factory", None)
    if not spec or ":" not in spec:
        pytest.fail(f"--kv-factory must be MODULE:CALLABLE, not {spec!r}")
    module_name, _, attr = spec.partition(":")
    factory: Callable[[], Store] = getattr(importlib.import_module(module_name), attr)
    return spec, factory


def _capabilities(config: pytest.Config) -> Any:
    name, make = _target(config)
    store = make()
    try:
        if len(store):
            # Checked once, before any test runs: the suite empties the store between
            # tests, and must never do that to data it did not write.
            msg = f"{name} is not empty: the conformance suite needs an empty store"
            raise pytest.UsageError(msg)
        caps = getattr(store, "capabilities", None)
        if caps is None:
            pytest.fail(f"{name} declares no capabilities; subclass StoreConformance instead")
        return caps
    finally:
        close_quietly(store)


class TestCommandLineStore(StoreConformance):
    """The whole suite against the store named on the command line."""

    capabilities = _capabilities(ACTIVE_CONFIG[0])

    @pytest.fixture
    def store_factory(self, request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
        """Open the named store, emptied, for each use; empty it again at the end."""
        _, make = _target(request.config)
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
