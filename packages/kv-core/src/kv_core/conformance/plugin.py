"""The pytest plugin of the conformance suite, registered through the ``pytest11`` entry point.

It registers the suite's markers, prints which store is tested and with what versions, and
lets the suite run with no test code at all::

    pytest --kv-store 'sqlite:///tmp/kv.db?table=check'     # any URL open_store knows
    pytest --kv-factory mypackage.stores:make_store          # a callable making empty stores
    pytest --kv-factory mypackage.stores:make_store --kv-opener mypackage.stores:reopener

A factory gives no way to open a store's data again, which the persistence and process
tests need: ``--kv-opener`` (or an ``opener`` attribute of the factory) gives one. Without
it those tests are not run, and the terminal summary lists them.

Every project with kv-core installed loads this plugin, so until ``--kv-store`` or
``--kv-factory`` is given it imports nothing beyond pytest and the standard library (and the
stdlib-only ``kv_core`` package it lives in), prints nothing, and needs no Hypothesis; asked
for without the suite's extra, it stops with a usage error saying what to install.
"""

from __future__ import annotations

import importlib.util
import inspect
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

MARKERS = {
    "kv_slow": "a conformance test with large values (10 MB)",
    "kv_processes": "a conformance test that spawns processes",
    "kv_hypothesis": "a conformance test driven by Hypothesis",
    "kv_reopens(*capabilities, partly=False)": (
        "a conformance test that reopens the store through its opener where the store "
        "declares these capabilities (partly: only some of its steps do)"
    ),
}

_HOW = (
    "give --kv-opener MODULE:CALLABLE, or an opener attribute on the factory: called with "
    "a store, it returns a picklable zero-argument callable that opens the same data again "
    "(functools.partial(MyStore, store.path)); or use --kv-store URL"
)

_TARGET = Path(__file__).with_name("command_line.py")
_NEEDS = ("hypothesis",)

#: The configuration of the running session, read by the command-line target at collection.
ACTIVE_CONFIG: list[pytest.Config] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kv", "kv conformance suite")
    group.addoption(
        "--kv-store",
        metavar="URL",
        default=None,
        help="run the kv conformance suite against the store at URL (it must be empty)",
    )
    group.addoption(
        "--kv-factory",
        metavar="MODULE:CALLABLE",
        default=None,
        help="run the kv conformance suite against stores made by this callable",
    )
    group.addoption(
        "--kv-opener",
        metavar="MODULE:CALLABLE",
        default=None,
        help="with --kv-factory: CALLABLE(store) returns a picklable callable that opens "
        "the same data again (for the persistence and process tests)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    if config.getoption("kv_opener", None) and not config.getoption("kv_factory", None):
        msg = (
            "--kv-opener reopens the stores of --kv-factory: give both (--kv-store URL "
            "reopens the URL)"
        )
        raise pytest.UsageError(msg)
    if config.getoption("kv_store", None) or config.getoption("kv_factory", None):
        missing = [name for name in _NEEDS if importlib.util.find_spec(name) is None]
        if missing:
            msg = (
                f"--kv-store and --kv-factory run the kv conformance suite, which needs "
                f"{' and '.join(missing)}: pip install 'kv-core[conformance]'"
            )
            raise pytest.UsageError(msg)
        # Collect the suite itself instead of the paths given (or the configured testpaths).
        config.args[:] = [str(_TARGET)]
        ACTIVE_CONFIG[:] = [config]


def pytest_sessionstart(session: pytest.Session) -> None:
    if ACTIVE_CONFIG and ACTIVE_CONFIG[0] is session.config:
        # Open and check the store now, so that one the suite cannot run against stops the
        # run with a usage error rather than a collection traceback.
        from ._target import target

        target(session.config)


def _running(config: pytest.Config) -> bool:
    return bool(ACTIVE_CONFIG) and ACTIVE_CONFIG[0] is config


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _running(config):
        return
    from ._target import target
    from .command_line import needs_opener

    found = target(config)
    if found.opener is not None:
        return
    dropped = []
    for item in items:
        mark = item.get_closest_marker("kv_reopens")
        if mark and not mark.kwargs.get("partly") and needs_opener(mark, found.capabilities):
            dropped.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    if not _running(config):
        return
    from .command_line import not_tested

    lines = not_tested(config)
    if lines:
        terminalreporter.section("kv conformance: not tested without an opener", sep="-")
        for line in lines:
            terminalreporter.line(f"  {line}")
        terminalreporter.line(f"To test them, {_HOW}.")


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def _versions() -> str:
    return f"kv conformance: kv-core {_version('kv-core')}, hypothesis {_version('hypothesis')}"


def pytest_report_header(config: pytest.Config) -> list[str]:
    url = config.getoption("kv_store", None)
    factory = config.getoption("kv_factory", None)
    if url:
        from ..urls import redact_url

        return [_versions(), f"kv store under test: {redact_url(url)}"]
    if factory:
        return [_versions(), f"kv store under test: made by {factory}"]
    return []


def pytest_report_collectionfinish(
    config: pytest.Config, start_path: Path, items: list[pytest.Item]
) -> list[str]:
    seen: dict[str, str] = {}
    for item in items:
        cls = getattr(item, "cls", None)
        if cls is not None and hasattr(cls, "store_factory"):
            # The suite's classes only: a plain attribute lookup, not an import of the suite.
            caps = inspect.getattr_static(cls, "capabilities", None)
            if isinstance(caps, property):
                seen.setdefault(cls.__qualname__, "capabilities read from its stores")
            elif caps is not None:
                seen.setdefault(cls.__qualname__, repr(caps))
    if not seen:
        return []
    asked = config.getoption("kv_store", None) or config.getoption("kv_factory", None)
    versions = [] if asked else [_versions()]  # with the options, the header said it
    return [*versions, *(f"kv store {name}: {caps}" for name, caps in seen.items())]
