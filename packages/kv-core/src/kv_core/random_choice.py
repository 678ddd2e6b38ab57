"""RandomChoiceDict: spread operations over equivalent stores, failing reads over."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Any, TypeVar

from .errors import StoreUnavailable
from .wrapping import (
    Wrapper,
    delete_many_in,
    get_many_in,
    keys_in,
    set_many_in,
    validate_in,
)

__all__ = ["RandomChoiceDict"]

_T = TypeVar("_T")


class RandomChoiceDict(Wrapper):
    """Send each operation to one of *stores*, picked at random (replicas of the same data).

    When the picked store raises :class:`~kv_core.StoreUnavailable`, a read (``[]``, ``get``,
    ``in``, ``len``, iteration, ``get_many``) tries the others in random order and raises
    ``StoreUnavailable`` only when none answers. ``KeyError`` is an answer, not a failure:
    it is never retried elsewhere. Writes and deletes go to one store and are not retried,
    since a write that timed out may still have happened.
    """

    def __init__(self, stores: Sequence[MutableMapping[Any, Any]]) -> None:
        if not stores:
            msg = "RandomChoiceDict needs at least one store"
            raise ValueError(msg)
        super().__init__(stores)
        self._random = random.Random()

    def validate_key(self, key: Any) -> Any:
        """Return *key* if every reachable store accepts it.

        A store that cannot be reached to check (a remote store that learns its rules from its
        server) is skipped here: its own operation will say it is unavailable, and the read
        fails over.
        """
        for mapping in self._inner:
            try:
                validate_in(mapping, key)
            except StoreUnavailable:
                continue
        return key

    def _pick(self) -> MutableMapping[Any, Any]:
        return self._random.choice(self._inner)

    def _read_any(self, read: Callable[[MutableMapping[Any, Any]], _T]) -> _T:
        last: StoreUnavailable | None = None
        for mapping in self._random.sample(self._inner, len(self._inner)):
            try:
                return read(mapping)
            except StoreUnavailable as exc:
                last = exc
        assert last is not None
        raise last

    # Every operation first asks every store to accept the key, so a key one replica refuses
    # is refused every time, not whenever that replica happens to be picked.

    def _read(self, key: Any) -> Any:
        self.validate_key(key)
        return self._read_any(lambda m: m[key])

    def _contains(self, key: Any) -> bool:
        self.validate_key(key)
        return self._read_any(lambda m: key in m)

    def _count(self) -> int:
        return self._read_any(len)

    def _read_many(self, keys: Sequence[Any]) -> dict[Any, Any]:
        for key in keys:
            self.validate_key(key)
        return self._read_any(lambda m: get_many_in(m, keys))

    def _iter_keys(self, prefix: str) -> Iterator[Any]:
        # Fail over until a store has answered with its first key; after that a failure
        # is raised, since switching stores mid-listing could repeat or skip keys.
        last: StoreUnavailable | None = None
        for mapping in self._random.sample(self._inner, len(self._inner)):
            try:
                keys = keys_in(mapping, prefix)
                first = next(keys)
            except StopIteration:
                return
            except StoreUnavailable as exc:
                last = exc
                continue
            yield first
            yield from keys
            return
        assert last is not None
        raise last

    def _write(self, key: Any, value: Any) -> None:
        self.validate_key(key)
        self._pick()[key] = value

    def _write_many(self, items: Sequence[tuple[Any, Any]]) -> None:
        for key, _ in items:
            self.validate_key(key)
        set_many_in(self._pick(), items)

    def _delete(self, key: Any) -> None:
        self.validate_key(key)
        del self._pick()[key]

    def _delete_many(self, keys: Sequence[Any]) -> None:
        for key in keys:
            self.validate_key(key)
        delete_many_in(self._pick(), keys)

    def _pop(self, key: Any) -> Any:
        self.validate_key(key)
        return self._pick().pop(key)

    def _clear(self) -> None:
        self._pick().clear()
