"""The conformance suite against FlaskKvDict, over a live waitress server backed by MemoryDict."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

import pytest

from kv_core import Capabilities, MemoryDict
from kv_core.capabilities import LONE_SURROGATES
from kv_core.conformance import StoreConformance, closed_port, silent_port
from kv_flask import DEFAULT_MAX_CONTENT_LENGTH, FlaskKvDict, ServerThread

INVALID_KEYS = ("", "/a", "a/", "a//b", "a/../b", "./a", "a\x00b", "_kv/x")


class TestFlaskKvDictOverMemory(StoreConformance):
    """Each store is a client of its own server: a fresh MemoryDict behind a fresh port."""

    # persistent and processes: a client opened again on the same live server, from this
    # process or a spawned one, sees the same data (see FlaskKvDict.capabilities).
    capabilities = Capabilities(
        persistent=True,
        processes=True,
        ttl=False,
        history=False,
        max_key_length=4096,
        max_value_size=DEFAULT_MAX_CONTENT_LENGTH,
        empty_key=False,
        hierarchical_keys=False,
        invalid_keys=INVALID_KEYS,
        refused_characters=frozenset("\x00\ufffd") | LONE_SURROGATES,
        compare_and_set=True,
    )
    stateful_examples = 15

    @pytest.fixture(params=["refused", "silent"])
    def kv_unavailable_store(self, request: pytest.FixtureRequest) -> Iterator[FlaskKvDict]:
        """A client of a server that is down: its port is closed, or it never answers."""
        with contextlib.ExitStack() as stack:
            if request.param == "refused":
                port = closed_port()
            else:
                port = stack.enter_context(silent_port())
            with FlaskKvDict(f"http://127.0.0.1:{port}/", timeout=(0.5, 0.5)) as client:
                yield client

    @pytest.fixture
    def store_factory(self) -> Iterator[Any]:
        servers: list[ServerThread] = []
        clients: list[FlaskKvDict] = []

        def make() -> FlaskKvDict:
            server = ServerThread(MemoryDict(), threads=6).start()
            servers.append(server)
            clients.append(FlaskKvDict(server.url, timeout=(3.05, 60)))
            return clients[-1]

        yield make
        for client in clients:
            client.close()
        for server in servers:
            server.stop()

    def opener(self, store: Any) -> Any:
        return functools.partial(FlaskKvDict, store.base_url)


class TestFlaskKvDictWithTokenAndPrefix(TestFlaskKvDictOverMemory):
    """The same suite through a mounted prefix, with bearer-token auth on every request."""

    token = "conformance-token"

    @pytest.fixture
    def store_factory(self) -> Iterator[Any]:
        servers: list[ServerThread] = []
        clients: list[FlaskKvDict] = []

        def make() -> FlaskKvDict:
            server = ServerThread(
                MemoryDict(), threads=6, token=self.token, url_prefix="/api/kv"
            ).start()
            servers.append(server)
            clients.append(FlaskKvDict(server.url, token=self.token, timeout=(3.05, 60)))
            return clients[-1]

        yield make
        for client in clients:
            client.close()
        for server in servers:
            server.stop()

    def opener(self, store: Any) -> Any:
        return functools.partial(FlaskKvDict, store.base_url, token=self.token)
