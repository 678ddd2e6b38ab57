"""A pytest plugin ``kv check`` loads into the suite's run: what failed, and in which part.

It writes one JSON object per line to the file named by ``KV_CHECK_REPORT``: each failed
test (its part of the contract, the test's own summary, a one-line reason, and whether it
failed because the store became unavailable), each collection error, and the totals.
Under pytest-xdist only the controller writes; the workers attach what it needs to their
reports.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Generator
from typing import Any

import pytest

from kv_core import StoreUnavailable

from ._check import REPORT_ENV

__all__ = ["REPORT_PROPERTY"]

REPORT_PROPERTY = "kv_check"


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n", 1)[0].strip()


def _part(item: pytest.Item) -> tuple[str, str]:
    """The class of the suite that defines the test, and the first line of its docstring."""
    cls = getattr(item, "cls", None)
    name = getattr(item, "originalname", item.name)
    for klass in getattr(cls, "__mro__", ()):
        if name in vars(klass):
            return klass.__name__, _first_line(klass.__doc__)
    return (cls.__name__ if cls else item.path.stem), ""


def _reason(call: pytest.CallInfo[Any]) -> str:
    excinfo = call.excinfo
    if excinfo is None:
        return ""
    message = _first_line(str(excinfo.value))
    return f"{excinfo.typename}: {message}" if message else excinfo.typename


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[Any]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        part, about = _part(item)
        test = getattr(item, "function", None)
        details = {
            "nodeid": report.nodeid,
            "part": part,
            "about": about,
            "test": item.name,
            "summary": _first_line(getattr(test, "__doc__", None)),
            "reason": _reason(call),
            "unavailable": call.excinfo is not None
            and call.excinfo.errisinstance(StoreUnavailable),
        }
        report.user_properties.append((REPORT_PROPERTY, json.dumps(details)))
    return report


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    path = os.environ.get(REPORT_ENV)
    if path and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_Recorder(path), "kv-check-recorder")


class _Recorder:
    """Writes the report, in the process that sees every test's outcome."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._outcomes: dict[str, str] = {}

    def _write(self, record: dict[str, Any]) -> None:
        with open(self._path, "a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self._outcomes[report.nodeid] = "failed"
            for name, value in report.user_properties:
                if name == REPORT_PROPERTY:
                    self._write({"failure": json.loads(str(value))})
        elif report.when == "call" or report.skipped:
            self._outcomes.setdefault(report.nodeid, report.outcome)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            lines = str(report.longreprtext).strip().splitlines()
            self._write({"collect_error": lines[-1] if lines else report.nodeid})

    def pytest_sessionfinish(self) -> None:
        self._write({"totals": dict(Counter(self._outcomes.values()))})
