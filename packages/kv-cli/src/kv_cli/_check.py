"""``kv check``: run the conformance suite in a fresh pytest, and give a verdict it earned.

For an ``http(s)://`` URL, kv-flask's HTTP protocol checks (:mod:`kv_flask.protocol_checks`)
run first, against the server itself with raw HTTP; their failures are reported as one
more part of the contract (``HttpProtocol``), each with the section of PROTOCOL.md it broke.

Before the suite runs, the store is opened here: a URL that cannot be opened, a store that
holds data and a factory that cannot be imported are usage errors (exit 2), a server that
is down is unavailability (exit 4), each in one line. Only failures of the suite are "does
not conform" (exit 1), summed up by part of the contract; pytest's tracebacks with ``-v``.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kv_core import open_store, redact_url

from ._errors import EXIT_ERROR, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, Exit, exit_for

__all__ = ["REPORT_ENV", "Report", "check_store", "summary"]

#: The variable naming the file the suite's run reports to (see ``_check_report``).
REPORT_ENV = "KV_CHECK_REPORT"

# pytest's exit codes (pytest.ExitCode), without importing pytest here.
_PYTEST_OK, _PYTEST_FAILED, _PYTEST_USAGE, _PYTEST_NO_TESTS = 0, 1, 4, 5
_QUICK = "not kv_slow and not kv_processes"


@dataclass
class Report:
    """What the suite's run wrote through :mod:`kv_cli._check_report`."""

    failures: list[dict[str, Any]] = field(default_factory=list)
    collect_errors: list[str] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> Report:
        """The report in *path* (empty if the run wrote none)."""
        report = cls()
        with suppress(FileNotFoundError), path.open(encoding="utf-8") as file:
            for line in file:
                record = json.loads(line)
                if "failure" in record:
                    report.failures.append(record["failure"])
                elif "collect_error" in record:
                    report.collect_errors.append(record["collect_error"])
                elif "totals" in record:
                    report.totals = record["totals"]
        return report


def _verbose(args: Sequence[str]) -> bool:
    return any(
        arg == "--verbose" or (arg.startswith("-v") and set(arg[1:]) == {"v"}) for arg in args
    )


def _preflight_url(url: str) -> None:
    """Open *url* here first: errors in one line, and a store holding data is refused."""
    try:
        store = open_store(url)
    except Exception as exc:
        raise exit_for(exc) from exc
    try:
        count = len(store)
    except Exception as exc:
        raise exit_for(exc) from exc
    finally:
        with suppress(Exception):
            store.close()
    if count:
        msg = (
            f"{redact_url(url)} holds {count} key{'s' if count != 1 else ''}: kv check needs an "
            "empty store, since the suite empties it between tests (point it at a new table, "
            "prefix or folder)"
        )
        raise Exit(msg, EXIT_USAGE)


def _preflight_factory(spec: str) -> None:
    """Check that ``MODULE:CALLABLE`` names a callable, importing as ``python -m`` would."""
    module_name, colon, attr = spec.partition(":")
    if not colon or not module_name or not attr:
        msg = f"--factory must be MODULE:CALLABLE, not {spec!r}"
        raise Exit(msg, EXIT_USAGE)
    sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        msg = f"cannot import {module_name!r} for --factory: {exc}"
        raise Exit(msg, EXIT_USAGE) from exc
    finally:
        sys.path.pop(0)
    if not callable(getattr(module, attr, None)):
        msg = f"--factory {spec}: {module_name} has no callable {attr!r}"
        raise Exit(msg, EXIT_USAGE)


def _plain(text: str) -> str:
    return text.replace("``", "")


def summary(what: str, report: Report, *, verbose: bool = False) -> list[str]:
    """The lines that say which parts of the contract failed, and why, one test a line."""
    total = sum(report.totals.values())
    failed = report.totals.get("failed", len(report.failures))
    lines = [f"{what} does NOT conform to the kv store contract: {failed} of {total} tests failed"]
    parts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    about: dict[str, str] = {}
    for failure in report.failures:
        parts[failure["part"]].append(failure)
        about[failure["part"]] = _plain(failure["about"])
    for part, failures in parts.items():
        lines.append(f"  {part}: {about[part]}" if about[part] else f"  {part}")
        seen: set[str] = set()
        for failure in failures:
            if failure["test"] in seen:
                continue  # a test failing in its call and in its teardown: once
            seen.add(failure["test"])
            said = f" ({_plain(failure['summary'])})" if failure["summary"] else ""
            lines.append(f"    {failure['test']}{said}")
            if failure["reason"]:
                lines.append(f"      {failure['reason']}")
    if not verbose:
        lines.append("run it again with -v for pytest's full report")
    return lines


#: The part of the contract the HTTP protocol checks report under.
PROTOCOL_PART = "HttpProtocol"
_PROTOCOL_ABOUT = "the kv HTTP protocol (kv-flask's PROTOCOL.md)"


def _is_http(url: str) -> bool:
    return url.partition("://")[0].lower() in {"http", "https"}


@dataclass
class _Protocol:
    """What the HTTP protocol checks found: failures as the report writes them, and counts."""

    failures: list[dict[str, Any]]
    totals: dict[str, int]
    skipped: list[str]


def _protocol_checks(url: str, skip: Sequence[str]) -> _Protocol:
    """Run kv-flask's protocol checks against the server at *url* (its store is empty)."""
    from kv_core import InvalidStoreURL, StoreUnavailable
    from kv_flask.protocol_checks import CannotCheck, run_checks, target_of_url

    try:
        base_url, token, timeout = target_of_url(url)
        results = run_checks(base_url, token=token, timeout=timeout, skip=skip)
    except (CannotCheck, InvalidStoreURL, ValueError) as exc:
        msg = f"cannot check {redact_url(url)}: {exc}"
        raise Exit(msg, EXIT_USAGE) from exc
    except StoreUnavailable as exc:
        msg = f"{redact_url(url)} is unavailable: {exc}"
        raise Exit(msg, EXIT_UNAVAILABLE) from exc
    failures = [
        {
            "part": PROTOCOL_PART,
            "about": _PROTOCOL_ABOUT,
            "test": result.check.name,
            "summary": f"§{result.check.section}: {result.check.title}",
            "reason": result.reason,
            "unavailable": result.unavailable,
        }
        for result in results
        if result.outcome == "failed"
    ]
    totals: dict[str, int] = defaultdict(int)
    for result in results:
        totals[result.outcome] += 1
    skipped = [f"{r.check.name} ({r.reason})" for r in results if r.outcome == "skipped"]
    return _Protocol(failures, dict(totals), skipped)


def check_store(
    url: str | None,
    factory: str | None,
    *,
    quick: bool,
    pytest_args: Sequence[str],
    skip_checks: Sequence[str] = (),
) -> tuple[int, list[str]]:
    """Run the suite against *url* (or the stores *factory* makes): exit code and verdict.

    For an ``http(s)://`` URL, kv-flask's HTTP protocol checks run first, against the server
    itself (raw HTTP), then the suite through ``FlaskKvDict``; the server conforms when both
    pass. *skip_checks* names protocol checks not to run.

    :raises Exit: the suite is not installed, or the store cannot be checked (see above).
    """
    missing = [name for name in ("pytest", "hypothesis") if importlib.util.find_spec(name) is None]
    if missing:
        msg = f"kv check needs the suite ({', '.join(missing)}): pip install 'kv-core[conformance]'"
        raise Exit(msg, EXIT_ERROR)
    protocol: _Protocol | None = None
    if skip_checks and (factory or not url or not _is_http(url)):
        msg = "--skip-check names HTTP protocol checks: it needs an http:// or https:// URL"
        raise Exit(msg, EXIT_USAGE)
    if factory:
        _preflight_factory(factory)
        target, what = ["--kv-factory", factory], factory
    else:
        assert url is not None
        _preflight_url(url)
        if _is_http(url):
            protocol = _protocol_checks(url, skip_checks)
        target, what = ["--kv-store", url], redact_url(url)
    verbose = _verbose(pytest_args)
    args = [*target, "-q", "-p", "no:cacheprovider", "-p", "kv_cli._check_report"]
    if not verbose:
        args += ["-rN"]
        if not any(arg.startswith("--tb") for arg in pytest_args):
            args += ["--tb=no"]
    if quick:
        args += ["-m", _QUICK]
    with tempfile.TemporaryDirectory(prefix="kv-check-") as scratch:
        path = Path(scratch) / "report.jsonl"
        # A fresh interpreter, so pytest can rewrite the suite's asserts (this one imported it).
        code = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "pytest", *args, *pytest_args],
            check=False,
            env={**os.environ, REPORT_ENV: str(path)},
        ).returncode
        report = Report.read(path)
    if protocol is None:
        return _verdict(what, code, report, verbose=verbose)
    report.failures[:0] = protocol.failures
    for outcome, count in protocol.totals.items():
        report.totals[outcome] = report.totals.get(outcome, 0) + count
    if protocol.failures and code == _PYTEST_OK:
        code = _PYTEST_FAILED
    code, lines = _verdict(what, code, report, verbose=verbose)
    if code == EXIT_OK:
        passed = protocol.totals.get("passed", 0)
        lines = [f"{what} conforms to the kv store contract and the kv HTTP protocol"]
        lines.append(f"  {passed} HTTP protocol checks passed (kv-flask's PROTOCOL.md)")
        lines += [f"  skipped: {name}" for name in protocol.skipped]
    return code, lines


def _verdict(what: str, code: int, report: Report, *, verbose: bool) -> tuple[int, list[str]]:
    if code == _PYTEST_OK:
        return EXIT_OK, [f"{what} conforms to the kv store contract"]
    if report.collect_errors:
        reasons = "; ".join(report.collect_errors)
        return EXIT_ERROR, [f"the conformance suite could not start for {what}: {reasons}"]
    if code == _PYTEST_FAILED and report.failures:
        if all(failure["unavailable"] for failure in report.failures):
            reason = report.failures[0]["reason"]
            return EXIT_UNAVAILABLE, [f"{what} became unavailable during the check: {reason}"]
        return EXIT_ERROR, summary(what, report, verbose=verbose)
    if code == _PYTEST_USAGE:
        return EXIT_USAGE, [f"pytest refused the arguments for checking {what} (see above)"]
    if code == _PYTEST_NO_TESTS:
        return EXIT_USAGE, [f"no test of the suite was selected for {what}"]
    return EXIT_ERROR, [f"the conformance suite did not finish for {what} (pytest exit {code})"]
