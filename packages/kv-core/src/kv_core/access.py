"""ReadOnlyDict and WriteOnlyDict: views that let a tier be skipped on write or on read."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any

from .errors import ReadOnlyError
from .store import IDENTITY, MISSING
from .wrapping import Wrapper, delete_if_in, read_with_version_from, write_if_to

__all__ = ["ReadOnlyDict", "WriteOnlyDict"]


class ReadOnlyDict(Wrapper):
    """Reads pass through to *store*; writes and deletes are silently discarded.

    That is the point: in a :class:`~kv_core.TieredStorageDict` a read replica wrapped in
    ``ReadOnlyDict`` serves reads and is skipped on write. ``del`` of a key the store does not
    hold still raises ``KeyError``, as on a dict; ``pop`` returns the value and keeps it. A
    discarded write still refuses a key the store could never hold; its value is not
    encoded, since nothing is stored.

    ``get_with_version`` passes through. ``set_if`` and ``delete_if`` raise
    :class:`~kv_core.ReadOnlyError` instead of being discarded: they answer whether the
    write happened (and ``set_if`` returns a version), so discarding them would lie.
    """

    def __init__(self, store: MutableMapping[Any, Any]) -> None:
        super().__init__([store])
        self._store = store
        (self._link,) = self._links
        self._encode = IDENTITY
        self._forward(ReadOnlyDict, reads=True, writes=False)

    def _accepts_writes(self) -> bool:
        return False

    def __getitem__(self, key: Any) -> Any:
        # The wrapper's read without its decoding step: the store below decodes its values.
        if self._checks_keys or type(key) is not str:
            key = self._check_key(key)
        value = self._reader(key, MISSING)
        if value is MISSING:
            raise KeyError(key)
        return value

    def _get(self, key: Any, default: Any) -> Any:
        return self._link.get(key, default)

    def _contains(self, key: Any) -> bool:
        return self._link.contains(key)

    def _iter_keys(self, prefix: str) -> Iterator[Any]:
        return self._link.keys(prefix)

    def _count(self) -> int:
        return self._link.count()

    def _read_many(self, keys: Sequence[Any]) -> dict[Any, Any]:
        return self._link.read_many(keys)

    def _write(self, key: Any, value: Any) -> None:
        pass

    def _write_many(self, items: Sequence[tuple[Any, Any]]) -> None:
        pass

    def _delete(self, key: Any) -> None:
        if not self._link.contains(key):
            raise KeyError(key)

    def _delete_many(self, keys: Sequence[Any]) -> None:
        pass

    def _pop(self, key: Any) -> Any:
        return self._link.read(key)

    def _clear(self) -> None:
        pass

    def _read_with_version(self, key: Any) -> tuple[Any, str]:
        return read_with_version_from(self._link, key)

    def _write_if(self, key: Any, value: Any, version: str | None) -> str:
        msg = f"set_if through a ReadOnlyDict: {self._store!r} is not written from here"
        raise ReadOnlyError(msg)

    def _delete_if(self, key: Any, version: str) -> None:
        msg = f"delete_if through a ReadOnlyDict: {self._store!r} is not changed from here"
        raise ReadOnlyError(msg)


class WriteOnlyDict(Wrapper):
    """Writes and deletes pass through to *store*; every read raises ``KeyError``.

    ``len()`` is 0, iteration is empty and ``in`` is ``False``, so in a
    :class:`~kv_core.TieredStorageDict` the wrapped master takes writes but never serves reads.
    Keys are still checked on reads (a non-``str`` key is a ``TypeError``, not a miss).

    ``set_if`` and ``delete_if`` are writes, so they pass through to *store* (a version comes
    from the ``set_if`` that wrote it); ``get_with_version`` is a read and raises
    ``KeyError``.
    """

    def __init__(self, store: MutableMapping[Any, Any]) -> None:
        super().__init__([store])
        self._store = store
        (self._link,) = self._links
        self._forward(WriteOnlyDict, reads=False, writes=True)

    def _serves_reads(self) -> bool:
        return False

    def _get(self, key: Any, default: Any) -> Any:
        return default

    def _contains(self, key: Any) -> bool:
        return False

    def _iter_keys(self, prefix: str) -> Iterator[Any]:
        return iter(())

    def _count(self) -> int:
        return 0

    def _read_many(self, keys: Sequence[Any]) -> dict[Any, Any]:
        return {}

    def _write(self, key: Any, value: Any) -> None:
        self._link.write(key, value)

    def _write_many(self, items: Sequence[tuple[Any, Any]]) -> None:
        self._link.write_many(items)

    def _delete(self, key: Any) -> None:
        self._link.delete(key)

    def _delete_many(self, keys: Sequence[Any]) -> None:
        self._link.delete_many(keys)

    def _clear(self) -> None:
        self._link.clear()

    def _read_with_version(self, key: Any) -> tuple[Any, str]:
        raise KeyError(key)

    def _write_if(self, key: Any, value: Any, version: str | None) -> str:
        return write_if_to(self._link, key, value, version)

    def _delete_if(self, key: Any, version: str) -> None:
        delete_if_in(self._link, key, version)
