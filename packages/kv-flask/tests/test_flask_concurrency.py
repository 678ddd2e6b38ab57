"""Compare-and-swap under contention, and a client carried across fork."""

from __future__ import annotations

import multiprocessing
import sys
import threading
import warnings

import pytest

from kv_flask import FlaskKvDict, PreconditionFailed


def test_compare_and_swap_counter_loses_no_increment(server, store):
    """Threads incrementing one counter with get_with_version/set_if lose no update."""
    threads, increments = 4, 25
    with FlaskKvDict(server.url) as kv:
        kv.set_if("counter", b"0", version=None)
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(increments):
                    while True:
                        value, version = kv.get_with_version("counter")
                        try:
                            kv.set_if("counter", str(int(value) + 1).encode(), version=version)
                            break
                        except PreconditionFailed:
                            continue
            except BaseException as exc:
                errors.append(exc)

        running = [threading.Thread(target=work) for _ in range(threads)]
        for thread in running:
            thread.start()
        for thread in running:
            thread.join(timeout=60)
        assert errors == []
        assert kv["counter"] == str(threads * increments).encode()


def test_concurrent_pops_hand_each_value_out_once(server, store):
    """Threads popping the same keys never both get one value."""
    keys = [f"k{i}" for i in range(40)]
    store.update(dict.fromkeys(keys, b"v"))
    got: list[str] = []
    lock = threading.Lock()
    with FlaskKvDict(server.url) as kv:

        def work() -> None:
            for key in keys:
                if kv.pop(key, None) is not None:
                    with lock:
                        got.append(key)

        running = [threading.Thread(target=work) for _ in range(4)]
        for thread in running:
            thread.start()
        for thread in running:
            thread.join(timeout=60)
    assert sorted(got) == sorted(keys)
    assert store._data == {}


def _child_write(kv: FlaskKvDict) -> None:
    kv["from-child"] = b"forked"
    kv.close()


@pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX only")
def test_client_works_in_a_forked_child(server, store):
    """A forked child opens its own session instead of sharing the parent's sockets."""
    with FlaskKvDict(server.url) as kv:
        kv["from-parent"] = b"x"
        with warnings.catch_warnings():
            # Python 3.12+ warns about fork() in a process with threads (the server's).
            warnings.simplefilter("ignore", DeprecationWarning)
            child = multiprocessing.get_context("fork").Process(target=_child_write, args=(kv,))
            child.start()
        child.join(timeout=30)
        assert child.exitcode == 0
        assert kv["from-child"] == b"forked"
        assert kv["from-parent"] == b"x"
