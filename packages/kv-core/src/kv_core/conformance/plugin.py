"""The pytest plugin of the conformance suite, registered through the ``pytest11`` entry point.

It registers the suite's markers, prints which store is tested and with what versions, and
lets the suite run with no test code at all::

    pytest --kv-store 'sqlite:///tmp/kv.db?table=check'     # any URL open_store knows
    pytest --kv-factory mypackage.stores:make_store          # a callable making empty stores

This module imports only pytest, so it costs nothing in projects that do not use the suite.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

MARKERS = {
    "kv_slow": "a conformance test with large values (10 MB)",
    "kv_processes": "a conformance test that spawns processes",
    "kv_hypothesis": "a conformance test driven by Hypothesis",
}

_TARGET = Path(__file__).with_name("command_line.py")

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


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    if config.getoption("kv_store", None) or config.getoption("kv_factory", None):
        # Collect the suite itself instead of the paths given (or the configured testpaths).
        config.args[:] = [str(_TARGET)]
        ACTIVE_CONFIG[:] = [config]


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"kv conformance: kv-core {_version('kv-core')}, hypothesis {_version('hypothesis')}"]
    url = config.getoption("kv_store", None)
    factory = config.getoption("kv_factory", None)
    if url:
        from ..urls import redact_url

        lines.append(f"kv store under test: {redact_url(url)}")
    elif factory:
        lines.append(f"kv store under test: made by {factory}")
    return lines


def pytest_report_collectionfinish(
    config: pytest.Config, start_path: Path, items: list[pytest.Item]
) -> list[str]:
    seen: dict[str, str] = {}
    for item in items:
        cls = getattr(item, "cls", None)
        caps = getattr(cls, "capabilities", None)
        if cls is not None and caps is not None and hasattr(cls, "store_factory"):
            seen.setdefault(cls.__qualname__, repr(caps))
    return [f"kv store {name}: {caps}" for name, caps in seen.items()]
