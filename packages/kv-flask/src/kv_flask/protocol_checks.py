"""Protocol checks: hold any server that claims to speak the kv HTTP protocol to its rules.

Each check sends raw HTTP (``http.client``: the path goes out exactly as written, nothing is
normalised or followed) to a live server and raises :class:`ProtocolViolation` naming the
rule of ``PROTOCOL.md`` (in the kv-flask distribution) the server broke. They need nothing
but the standard library and the server, so they certify a server written in any language::

    from kv_flask.protocol_checks import run_checks

    for result in run_checks("http://127.0.0.1:8080"):
        print(result.line())

or ``python -m kv_flask.protocol_checks URL``; ``kv check URL`` runs them before the store
conformance suite. The store behind the server must be empty: the checks write keys, count
them, and clear the store after each check.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kv_core import InvalidStoreURL, StoreUnavailable, StoreURL

from . import _protocol_listing, _protocol_rules
from ._protocol_http import (
    BODY_PROBE_LIMIT,
    REGISTRY,
    Answer,
    CannotCheck,
    Check,
    Http,
    NotApplicable,
    ProtocolViolation,
    expect,
    expect_error,
)

__all__ = [
    "BODY_PROBE_LIMIT",
    "CHECKS",
    "Answer",
    "CannotCheck",
    "Check",
    "CheckResult",
    "Http",
    "NotApplicable",
    "ProtocolViolation",
    "expect",
    "expect_error",
    "main",
    "run_checks",
    "target_of_url",
]

# Importing them registers their checks, in this order.
_MODULES = (_protocol_rules, _protocol_listing)

#: Every check, in the order they run.
CHECKS: tuple[Check, ...] = tuple(REGISTRY)


# -- running them -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """What one check found: ``passed``, ``failed`` or ``skipped``, and why.

    :param unavailable: It failed because the server stopped answering.
    """

    check: Check
    outcome: str
    reason: str = ""
    unavailable: bool = False

    def line(self) -> str:
        """``PASS §5.3 name: title`` (and the reason, for a failure or a skip)."""
        word = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}[self.outcome]
        text = f"{word} §{self.check.section} {self.check.name}: {self.check.title}"
        return f"{text}\n     {self.reason}" if self.reason else text


def _start(http: Http) -> None:
    """Refuse to run against a server that needs a token not given, or a store holding data."""
    answer = http.request("GET", http.path("_kv/count"))
    if answer.status == 401:
        msg = f"{http.path('')} needs a bearer token: give it with token_env=VARIABLE"
        raise CannotCheck(msg)
    if answer.status == 404:
        msg = f"no kv API at {http.path('')} (/_kv/count is 404)"
        raise CannotCheck(msg)
    count = http.count()
    if count:
        msg = (
            f"the store behind {http.path('')} holds {count} keys: the protocol checks need an "
            "empty one, since they clear it"
        )
        raise CannotCheck(msg)


def _cited(check: Check, reason: str) -> str:
    """*reason*, starting with the section it breaks (the check's, unless it names one)."""
    return reason if reason.startswith("§") else f"§{check.section}: {reason}"


def _run_one(http: Http, check: Check) -> CheckResult:
    try:
        check.run(http)
    except NotApplicable as exc:
        return CheckResult(check, "skipped", str(exc))
    except ProtocolViolation as exc:
        return CheckResult(check, "failed", _cited(check, str(exc)))
    except StoreUnavailable as exc:
        return CheckResult(check, "failed", str(exc), unavailable=True)
    except Exception as exc:  # noqa: BLE001 - an answer the check could not read is a failure
        return CheckResult(check, "failed", _cited(check, f"{type(exc).__name__}: {exc}"))
    finally:
        with contextlib.suppress(StoreUnavailable):
            http.request("POST", http.path("_kv/clear"))
    return CheckResult(check, "passed")


def run_checks(
    base_url: str,
    *,
    token: str | None = None,
    timeout: float = 30.0,
    skip: Iterable[str] = (),
    only: Iterable[str] | None = None,
) -> list[CheckResult]:
    """Run the protocol checks against the server at *base_url*, whose store must be empty.

    Each check clears the store when it ends (through ``POST /_kv/clear``).

    :param token: The server's bearer token, if it has one (§9's check needs it).
    :param timeout: Seconds for each request's connect and each read.
    :param skip: Names of checks not to run (they are reported as skipped).
    :param only: Names of the only checks to run.
    :raises CannotCheck: the server needs a token not given, or its store holds data.
    :raises StoreUnavailable: the server does not answer.
    :raises ValueError: a name in *skip* or *only* is no check's.
    """
    names = {check.name for check in CHECKS}
    skipped, chosen = set(skip), set(only) if only is not None else None
    unknown = (skipped | (chosen or set())) - names
    if unknown:
        msg = f"no protocol check is called {', '.join(sorted(unknown))}"
        raise ValueError(msg)
    http = Http(base_url, token=token, timeout=timeout)
    _start(http)
    results: list[CheckResult] = []
    for check in CHECKS:
        if check.name in skipped or (chosen is not None and check.name not in chosen):
            results.append(CheckResult(check, "skipped", "not selected"))
            continue
        results.append(_run_one(http, check))
    return results


def target_of_url(url: str) -> tuple[str, str | None, float]:
    """The base URL, token and timeout a ``kv`` store URL (``http://...?token_env=V``) names.

    The token is read as :class:`~kv_flask.FlaskKvDict` reads it: from the variable named by
    ``token_env``, else from ``KV_TOKEN``.

    :raises InvalidStoreURL: a ``token_env`` that is not set, or a bad ``timeout``.
    """
    parsed = StoreURL.parse(url)
    env = parsed.options.get("token_env")
    if env:
        token = os.environ.get(env)
        if not token:
            msg = f"token_env={env} names an environment variable that is not set"
            raise InvalidStoreURL(msg)
    else:
        token = os.environ.get("KV_TOKEN") or None
    raw = parsed.options.get("timeout", "30")
    try:
        timeout = sum(float(part) for part in raw.split(","))
    except ValueError as exc:
        msg = f"option timeout must be seconds or 'connect,read' seconds, not {raw!r}"
        raise InvalidStoreURL(msg) from exc
    return parsed.without_query(), token, timeout


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kv_flask.protocol_checks URL [--skip-check NAME ...]``: 0 if all pass."""
    args = list(sys.argv[1:] if argv is None else argv)
    skip: list[str] = []
    while "--skip-check" in args:
        at = args.index("--skip-check")
        skip.append(args[at + 1] if at + 1 < len(args) else "")
        del args[at : at + 2]
    if len(args) != 1:
        print("usage: python -m kv_flask.protocol_checks URL [--skip-check NAME ...]")
        return 2
    try:
        base_url, token, timeout = target_of_url(args[0])
        results = run_checks(base_url, token=token, timeout=timeout, skip=skip)
    except (CannotCheck, InvalidStoreURL, ValueError) as exc:
        print(f"cannot check {args[0]}: {exc}", file=sys.stderr)
        return 2
    except StoreUnavailable as exc:
        print(f"{args[0]} is unavailable: {exc}", file=sys.stderr)
        return 4
    for result in results:
        print(result.line())
    failed = sum(result.outcome == "failed" for result in results)
    print(f"{len(results) - failed} of {len(results)} protocol checks passed or were skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
