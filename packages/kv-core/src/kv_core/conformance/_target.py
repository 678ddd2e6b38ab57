"""The store named by ``--kv-store URL`` or ``--kv-factory MODULE:CALLABLE``, checked once.

Imported by the plugin at the start of a run that asked for the suite, and by the
command-line target at collection, so a store the suite cannot run against (one that is
not empty, one that declares no capabilities, an abstract class) stops the run with a usage
error saying so, before any test is collected.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from ..capabilities import Capabilities
from ..opener import open_store
from ..store import Store
from ..urls import redact_url
from ._base import close_quietly

__all__ = ["Target", "target"]

_KEY = pytest.StashKey["Target"]()


@dataclass(frozen=True)
class Target:
    """What the run tests: a name to show, a way to open it, what it declares."""

    name: str
    make: Callable[[], Store]
    capabilities: Capabilities


def _maker(config: pytest.Config) -> tuple[str, Callable[[], Store]]:
    url = config.getoption("kv_store", None)
    if url:
        return redact_url(url), functools.partial(open_store, url)
    spec = config.getoption("kv_factory", None)
    if not spec or ":" not in spec:
        msg = f"--kv-factory must be MODULE:CALLABLE, not {spec!r}"
        raise pytest.UsageError(msg)
    module_name, _, attr = spec.partition(":")
    try:
        factory: Callable[[], Store] = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        msg = f"--kv-factory {spec}: cannot load it: {exc}"
        raise pytest.UsageError(msg) from exc
    return spec, factory


def _abstract_message(name: str, cls: type) -> str:
    missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
    return (
        f"{name} cannot make a store: {cls.__name__} is abstract (it does not define "
        f"{missing}); a Store subclass declares capabilities = Capabilities(...) and "
        "implements _read, _write, _delete and _iter_keys"
    )


def _open(name: str, make: Callable[[], Store]) -> Store:
    if inspect.isclass(make) and inspect.isabstract(make):
        raise pytest.UsageError(_abstract_message(name, make))
    try:
        return make()
    except TypeError as exc:
        if "abstract" not in str(exc):
            raise
        msg = f"{name} cannot make a store: {exc}; a Store subclass must declare capabilities"
        raise pytest.UsageError(msg) from exc


def _check(name: str, store: Store) -> Capabilities:
    caps = getattr(store, "capabilities", None)
    if not isinstance(caps, Capabilities):
        msg = (
            f"{name} makes a {type(store).__name__}, which declares no capabilities "
            f"(its capabilities is {caps!r}): give its class capabilities = "
            "Capabilities(...) with every field stated, or subclass StoreConformance in a "
            "test module and declare them there"
        )
        raise pytest.UsageError(msg)
    count = len(store)
    if count:
        # Checked once, before any test runs: the suite empties the store between tests,
        # and must never do that to data it did not write.
        example = next(iter(store), None)
        msg = (
            f"{name} is not empty: it holds {count} key(s), such as {example!r}. The "
            "conformance suite empties the store between tests, so it only runs against an "
            "empty one: point it at a new table, key prefix, directory or database"
        )
        raise pytest.UsageError(msg)
    return caps


def target(config: pytest.Config) -> Target:
    """The store this run tests, opened and checked on the first call of the run."""
    found = config.stash.get(_KEY, None)
    if found is None:
        name, make = _maker(config)
        store = _open(name, make)
        try:
            found = Target(name, make, _check(name, store))
        finally:
            close_quietly(store)
        config.stash[_KEY] = found
    return found
