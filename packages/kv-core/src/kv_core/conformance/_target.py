"""The store named by ``--kv-store URL`` or ``--kv-factory MODULE:CALLABLE``, checked once.

With ``--kv-factory``, what reopens a store's data (for the persistence and process tests)
is ``--kv-opener MODULE:CALLABLE`` or else the factory's ``opener`` attribute: called with
a store, it returns a picklable zero-argument callable opening the same data again, as
``SuiteBase.opener`` does. Without either, those tests are not run, and the end of the run
says so.

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
from typing import Any

import pytest

from ..capabilities import Capabilities
from ..opener import open_store
from ..store import Store
from ..urls import redact_url
from ._base import close_quietly

__all__ = ["Reopener", "Target", "target"]

_KEY = pytest.StashKey["Target"]()


#: Called with a store, returns a picklable callable that opens the same data again.
Reopener = Callable[[Store], Callable[[], Store]]


@dataclass(frozen=True)
class Target:
    """What the run tests: a name to show, a way to open it, what it declares.

    :param opener: How to reopen a store's data; ``None`` when the run was given none.
    """

    name: str
    make: Callable[[], Store]
    capabilities: Capabilities
    opener: Reopener | None


def _load(option: str, spec: str | None) -> Any:
    if not spec or ":" not in spec:
        msg = f"{option} must be MODULE:CALLABLE, not {spec!r}"
        raise pytest.UsageError(msg)
    module_name, _, attr = spec.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        msg = f"{option} {spec}: cannot load it: {exc}"
        raise pytest.UsageError(msg) from exc
    if not callable(found):
        msg = f"{option} {spec} is a {type(found).__name__}, not a callable"
        raise pytest.UsageError(msg)
    return found


def _url_opener(url: str, store: Store) -> Callable[[], Store]:
    return functools.partial(open_store, url)


def _maker(config: pytest.Config) -> tuple[str, Callable[[], Store], Reopener | None]:
    url = config.getoption("kv_store", None)
    if url:
        return (
            redact_url(url),
            functools.partial(open_store, url),
            functools.partial(_url_opener, url),
        )
    spec = config.getoption("kv_factory", None)
    factory: Callable[[], Store] = _load("--kv-factory", spec)
    opener_spec = config.getoption("kv_opener", None)
    opener: Reopener | None
    if opener_spec:
        opener = _load("--kv-opener", opener_spec)
    else:
        opener = getattr(factory, "opener", None)
        if opener is not None and not callable(opener):
            msg = f"--kv-factory {spec}: its opener attribute is {opener!r}, not a callable"
            raise pytest.UsageError(msg)
    return spec, factory, opener


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
        name, make, opener = _maker(config)
        store = _open(name, make)
        try:
            found = Target(name, make, _check(name, store), opener)
        finally:
            close_quietly(store)
        config.stash[_KEY] = found
    return found
