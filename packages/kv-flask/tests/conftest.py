"""Fixtures: a recording MemoryDict and live waitress servers on free loopback ports."""

from __future__ import annotations

import dataclasses
import http.client
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from kv_core import MemoryDict
from kv_flask import FlaskKvDict, ServerThread


class RecordingDict(MemoryDict):
    """A MemoryDict that records every call that reaches its storage primitives."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.calls: list[str] = []
        super().__init__(*args, **kwargs)
        self.calls.clear()

    def _read(self, key: str) -> bytes:
        self.calls.append("read")
        return super()._read(key)

    def _write(self, key: str, value: bytes) -> None:
        self.calls.append("write")
        super()._write(key, value)

    def _delete(self, key: str) -> None:
        self.calls.append("delete")
        super()._delete(key)

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        self.calls.append("iter_keys")
        return super()._iter_keys(prefix)

    def _read_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        self.calls.append("read_many")
        return super()._read_many(keys)

    def _write_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        self.calls.append("write_many")
        super()._write_many(items)

    def _delete_many(self, keys: Sequence[str]) -> None:
        self.calls.append("delete_many")
        super()._delete_many(keys)

    def _contains(self, key: str) -> bool:
        self.calls.append("contains")
        return super()._contains(key)

    def _count(self) -> int:
        self.calls.append("count")
        return super()._count()

    def _clear(self) -> None:
        self.calls.append("clear")
        super()._clear()

    def _pop(self, key: str) -> bytes:
        self.calls.append("pop")
        return super()._pop(key)

    def _read_with_version(self, key: str) -> tuple[bytes, str]:
        self.calls.append("read_with_version")
        return super()._read_with_version(key)

    def _write_if(self, key: str, value: bytes, version: str | None) -> str:
        self.calls.append("write_if")
        return super()._write_if(key, value, version)

    def _delete_if(self, key: str, version: str) -> None:
        self.calls.append("delete_if")
        super()._delete_if(key, version)


class DigestRecordingDict(RecordingDict):
    """A RecordingDict that declares no compare-and-set: the server tags values with their
    digest and checks conditions under its own locks."""

    capabilities = dataclasses.replace(MemoryDict.capabilities, compare_and_set=False)


class Raw:
    """Raw HTTP against a live server: http.client never normalises the path it is given."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.port = port
        self.token = token

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        auth: bool = True,
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one request on a fresh connection; return (status, headers, body)."""
        all_headers = dict(headers or {})
        if auth and self.token is not None:
            all_headers.setdefault("Authorization", f"Bearer {self.token}")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            conn.close()

    @staticmethod
    def error(data: bytes) -> dict[str, Any]:
        """Decode an API error body and check its shape."""
        document = json.loads(data)
        assert set(document) == {"error", "message"}
        assert isinstance(document["error"], str)
        assert isinstance(document["message"], str)
        return document  # type: ignore[no-any-return]


@pytest.fixture
def raw_class() -> type[Raw]:
    return Raw


@pytest.fixture
def recording_class() -> type[RecordingDict]:
    return RecordingDict


@pytest.fixture
def digest_class() -> type[DigestRecordingDict]:
    return DigestRecordingDict


@pytest.fixture
def store() -> RecordingDict:
    return RecordingDict()


@pytest.fixture
def server(store: RecordingDict) -> Iterator[ServerThread]:
    with ServerThread(store, threads=4) as running:
        yield running


@pytest.fixture
def raw(server: ServerThread) -> Raw:
    return Raw(server.port)


@pytest.fixture
def client(server: ServerThread) -> Iterator[FlaskKvDict]:
    with FlaskKvDict(server.url, timeout=(2, 10)) as kv:
        yield kv
