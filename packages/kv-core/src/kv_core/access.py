"""ReadOnlyDict and WriteOnlyDict: views that let a tier be skipped on write or on read."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any

from .wrapping import Wrapper, delete_many_in, get_many_in, keys_in, set_many_in

__all__ = ["ReadOnlyDict", "WriteOnlyDict"]


class ReadOnlyDict(Wrapper):
    """Reads pass through to *store*; writes and deletes are silently discarded.

    That is the point: in a :class:`~kv_core.TieredStorageDict` a read replica wrapped in
    ``ReadOnlyDict`` serves reads and is skipped on write. ``del`` of a key the store does not
    hold still raises ``KeyError``, as on a dict; ``pop`` returns the value and keeps it.
    """

    def __init__(self, store: MutableMapping[Any, Any]) -> None:
        super().__init__([store])
        self._store = store

    def _accepts_writes(self) -> bool:
        return False

    def _read(self, key: Any) -> Any:
        return self._store[key]

    def _contains(self, key: Any) -> bool:
        return key in self._store

    def _iter_keys(self, prefix: str) -> Iterator[Any]:
        return keys_in(self._store, prefix)

    def _count(self) -> int:
        return len(self._store)

    def _read_many(self, keys: Sequence[Any]) -> dict[Any, Any]:
        return get_many_in(self._store, keys)

    def _write(self, key: Any, value: Any) -> None:
        self.validate_key(key)

    def _write_many(self, items: Sequence[tuple[Any, Any]]) -> None:
        for key, _ in items:
            self.validate_key(key)

    def _delete(self, key: Any) -> None:
        if key not in self._store:
            raise KeyError(key)

    def _delete_many(self, keys: Sequence[Any]) -> None:
        for key in keys:
            self.validate_key(key)

    def _pop(self, key: Any) -> Any:
        return self._store[key]

    def _clear(self) -> None:
        pass


class WriteOnlyDict(Wrapper):
    """Writes and deletes pass through to *store*; every read raises ``KeyError``.

    ``len()`` is 0, iteration is empty and ``in`` is ``False``, so in a
    :class:`~kv_core.TieredStorageDict` the wrapped master takes writes but never serves reads.
    """

    def __init__(self, store: MutableMapping[Any, Any]) -> None:
        super().__init__([store])
        self._store = store

    def _serves_reads(self) -> bool:
        return False

    def _read(self, key: Any) -> Any:
        self.validate_key(key)
        raise KeyError(key)

    def _contains(self, key: Any) -> bool:
        self.validate_key(key)
        return False

    def _iter_keys(self, prefix: str) -> Iterator[Any]:
        return iter(())

    def _count(self) -> int:
        return 0

    def _read_many(self, keys: Sequence[Any]) -> dict[Any, Any]:
        for key in keys:
            self.validate_key(key)
        return {}

    def _write(self, key: Any, value: Any) -> None:
        self._store[key] = value

    def _write_many(self, items: Sequence[tuple[Any, Any]]) -> None:
        set_many_in(self._store, items)

    def _delete(self, key: Any) -> None:
        del self._store[key]

    def _delete_many(self, keys: Sequence[Any]) -> None:
        delete_many_in(self._store, keys)

    def _clear(self) -> None:
        self._store.clear()
