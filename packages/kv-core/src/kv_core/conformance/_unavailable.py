"""Unavailability: with its server down, every operation of a store raises StoreUnavailable.

A backend opts in by overriding the fixture ``kv_unavailable_store`` in its test class (it
may be parametrized) to return or yield a store whose server cannot be reached: pointed at
a closed port (:func:`closed_port`), or at one that accepts connections and never answers
(:func:`silent_port`), with a short timeout. Without the override the test is skipped,
saying how to provide it. The helpers here need only the standard library.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest

from ..errors import StoreUnavailable
from ._base import SuiteBase

__all__ = ["UnavailabilityTests", "closed_port", "silent_port", "unavailable_operations"]

FIXTURE = "kv_unavailable_store"


def closed_port() -> int:
    """A loopback TCP port nothing listens on: bound, then closed, so connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A loopback port that takes connections (the kernel's backlog) and never answers.

    A client connects, sends its request and waits for a reply that never comes, so only
    its own timeout ends the call.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()


def unavailable_operations() -> dict[str, Callable[[Any], object]]:
    """Every operation of the store API, each a call on a store, keyed by a readable name."""
    return {
        "store[key]": lambda s: s["k"],
        "store[key] = value": lambda s: s.__setitem__("k", b"v"),
        "del store[key]": lambda s: s.__delitem__("k"),
        "key in store": lambda s: "k" in s,
        "get(key)": lambda s: s.get("k"),
        "get(key, default)": lambda s: s.get("k", b"d"),
        "pop(key)": lambda s: s.pop("k"),
        "pop(key, default)": lambda s: s.pop("k", None),
        "popitem()": lambda s: s.popitem(),
        "setdefault(key, value)": lambda s: s.setdefault("k", b"v"),
        "update(mapping)": lambda s: s.update({"a": b"1", "b": b"2"}),
        "clear()": lambda s: s.clear(),
        "len(store)": len,
        "list(store)": list,
        "list(keys_with_prefix)": lambda s: list(s.keys_with_prefix("a")),
        "list(items())": lambda s: list(s.items()),
        "list(values())": lambda s: list(s.values()),
        "get_many(keys)": lambda s: s.get_many(["a", "b"]),
        "set_many(mapping)": lambda s: s.set_many({"a": b"1", "b": b"2"}),
        "delete_many(keys)": lambda s: s.delete_many(["a", "b"]),
    }


def _outcome(store: Any, operation: Callable[[Any], object], bound: float) -> str | None:
    """None if *operation* raised StoreUnavailable within *bound* seconds, else what it did."""
    result: list[str | None] = []

    def run() -> None:
        try:
            operation(store)
        except StoreUnavailable:
            result.append(None)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            result.append(f"raised {type(exc).__name__}: {exc}")
        else:
            result.append("returned without an error")

    # A daemon thread: a store that hangs must not keep the test run from ending.
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(bound)
    if not result:
        return f"did not return within {bound:g} s"
    return result[0]


class UnavailabilityTests(SuiteBase):
    """A store whose server is down, from the optional ``kv_unavailable_store`` fixture."""

    #: Seconds one operation may take, with the server down, before the suite calls it a
    #: hang. Generous: it catches a call with no deadline, not a slow one.
    unavailable_bound: ClassVar[float] = 60.0

    @pytest.fixture
    def kv_unavailable_store(self) -> Any:
        """Override: a store whose server is down (a closed port, or one that never answers)."""
        pytest.skip(
            f"{type(self).__name__} gives no {FIXTURE} fixture: override it to return a store "
            "whose server is down (kv_core.conformance.closed_port) to test unavailability"
        )

    def test_every_operation_raises_store_unavailable(self, kv_unavailable_store: Any) -> None:
        """With the server down, every operation raises StoreUnavailable: no KeyError, no hang."""
        store = kv_unavailable_store
        wrong = {
            name: outcome
            for name, operation in unavailable_operations().items()
            if (outcome := _outcome(store, operation, self.unavailable_bound)) is not None
        }
        assert wrong == {}, f"with the server down, these did not raise StoreUnavailable: {wrong}"
