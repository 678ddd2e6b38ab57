"""MemoryDict, the reference store: a dict behind a lock."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

from .capabilities import Capabilities
from .codec import Deserializer, Serializer
from .store import Store
from .urls import StoreURL

__all__ = ["MemoryDict", "open_memory_url"]


class MemoryDict(Store):
    """A thread-safe store in this process's memory; the reference every backend is held to.

    Single reads and writes are one ``dict`` operation each, atomic in CPython; operations of
    several steps (``pop``, ``setdefault``, batches, ``clear``) hold a lock.

    Nothing is kept after the process ends. A forked child gets a copy of the data as it was
    at the fork; later writes in either process are not seen by the other.

    :param initial: Pairs to start with, as for ``dict``.
    """

    capabilities = Capabilities(
        persistent=False,
        processes=False,
        ttl=False,
        history=False,
        max_key_length=None,
        max_value_size=None,
        empty_key=True,
        hierarchical_keys=False,
        invalid_keys=(),
    )

    def __init__(
        self,
        initial: Any = (),
        *,
        serializer: Serializer | None = None,
        deserializer: Deserializer | None = None,
    ) -> None:
        super().__init__(serializer=serializer, deserializer=deserializer)
        self._data: dict[str, bytes] = {}
        self._lock = threading.Lock()
        if initial:
            self.update(initial)

    def _read(self, key: str) -> bytes:
        return self._data[key]

    def _write(self, key: str, value: bytes) -> None:
        self._data[key] = value

    def _delete(self, key: str) -> None:
        with self._lock:
            del self._data[key]

    def _pop(self, key: str) -> bytes:
        with self._lock:
            return self._data.pop(key)

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        with self._lock:
            keys = list(self._data)
        if prefix:
            return (key for key in keys if key.startswith(prefix))
        return iter(keys)

    def _setdefault(self, key: str, value: bytes) -> bytes:
        with self._lock:
            return self._data.setdefault(key, value)

    def _read_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        # One dict.get per key: a key deleted meanwhile is simply absent (values are never None).
        get = self._data.get
        return {key: value for key in keys if (value := get(key)) is not None}

    def _write_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        with self._lock:
            self._data.update(items)

    def _delete_many(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def _contains(self, key: str) -> bool:
        return key in self._data

    def _count(self) -> int:
        return len(self._data)

    def _clear(self) -> None:
        with self._lock:
            self._data.clear()

    def _describe(self) -> str:
        return f"{len(self._data)} keys"


def open_memory_url(url: str, **overrides: Any) -> MemoryDict:
    """Open ``memory://``: a new, empty MemoryDict. It takes no options."""
    parsed = StoreURL.parse(url)
    options = parsed.options_with(overrides)
    parsed.refuse_unknown(options, allowed=("serializer", "deserializer"))
    return MemoryDict(
        serializer=options.get("serializer"), deserializer=options.get("deserializer")
    )
