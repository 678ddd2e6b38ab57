"""RandomChoiceDict: spread operations over equivalent stores, failing reads over."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Any, TypeVar

from .capabilities import Capabilities
from .codec import to_bytes
from .errors import StoreUnavailable, UnsupportedError
from .store import MISSING, Store
from .wrapping import (
    Link,
    Wrapper,
    delete_if_in,
    encoder_for,
    read_with_version_from,
    write_if_to,
)

__all__ = ["RandomChoiceDict"]

_T = TypeVar("_T")
_DRAWN = 1024


class RandomChoiceDict(Wrapper):
    """Send each operation to one of *stores*, picked at random (replicas of the same data).

    When the picked store raises :class:`~kv_core.StoreUnavailable`, a read (``[]``, ``get``,
    ``in``, ``len``, iteration, ``get_many``) tries the others in random order and raises
    ``StoreUnavailable`` only when none answers. ``KeyError`` is an answer, not a failure:
    it is never retried elsewhere. Writes and deletes go to one store and are not retried,
    since a write that timed out may still have happened.

    Every operation first has every store accept the key, and every write has every store's
    codec accept the value, so a key or value one replica refuses is refused every time, not
    whenever that replica happens to be picked.

    Compare-and-set is declared, and passes through, only over one store: over replicas a
    version read from one would be checked against another, so with several stores
    ``get_with_version``, ``set_if`` and ``delete_if`` raise
    :class:`~kv_core.UnsupportedError`.
    """

    def __init__(self, stores: Sequence[MutableMapping[Any, Any]]) -> None:
        if not stores:
            msg = "RandomChoiceDict needs at least one store"
            raise ValueError(msg)
        super().__init__(stores)
        self._random = random.Random()
        self._picks: Iterator[int] = iter(())
        count = len(self._links)
        fair = 256 - 256 % count
        self._table: bytes | None = (
            bytes(byte % count if byte < fair else 0xFF for byte in range(256))
            if count <= 0xFF
            else None
        )
        self._getters = tuple(link.get for link in self._links)
        self._writers = tuple(link.write for link in self._links)
        self._encode, self._one_codec = encoder_for(self._links)

    @property
    def capabilities(self) -> Capabilities:
        """The weakest of every store's; ``compare_and_set`` only over a single store."""
        combined = super().capabilities
        if len(self._links) == 1:
            return combined
        return dataclasses.replace(combined, compare_and_set=False)

    def _check_key(self, key: Any) -> Any:
        """Check *key* with every reachable store.

        A store that cannot be reached to check (a remote store that learns its rules from
        its server) is skipped here: its own operation will say it is unavailable, and a read
        fails over.
        """
        if self._needs_str and not isinstance(key, str):
            Store._check_key(self, key)  # raises the TypeError every store raises
        for check in self._key_checks:
            try:
                check(key)
            except StoreUnavailable:
                continue
        return key

    def validate_key(self, key: Any) -> Any:
        """Return *key* if every reachable store accepts it."""
        self._check_key(key)
        return key

    def _pick(self) -> int:
        try:
            return next(self._picks)
        except StopIteration:
            return self._draw()

    def _draw(self) -> int:
        # Picks are drawn _DRAWN at a time, in C: random bytes, each mapped to a store's
        # index by a table (bytes past the largest multiple of the store count become 0xFF
        # and are dropped, so every store is equally likely). One Random.choice per call
        # costs about what a whole read of a MemoryDict does. Two threads drawing at once
        # just replace each other's batch.
        picks: Iterator[int]
        if self._table is None:  # more stores than a byte tells apart
            picks = iter(self._random.choices(range(len(self._links)), k=_DRAWN))
        else:
            drawn = self._random.randbytes(_DRAWN).translate(self._table)
            picks = iter(drawn.replace(b"\xff", b""))
        self._picks = picks
        return next(picks, 0)

    def _read_any(self, read: Callable[[Link], _T]) -> _T:
        first = self._pick()
        try:
            return read(self._links[first])
        except StoreUnavailable as exc:
            return self._fail_over(read, first, exc)

    def _fail_over(self, read: Callable[[Link], _T], failed: int, error: StoreUnavailable) -> _T:
        others = [link for index, link in enumerate(self._links) if index != failed]
        for link in self._random.sample(others, len(others)):
            try:
                return read(link)
            except StoreUnavailable as exc:
                error = exc
        raise error

    # The dict API's read and write each pick a store and call its primitive themselves:
    # one Python call for the whole operation.

    def __getitem__(self, key: Any) -> Any:
        # Two parameters exactly: CPython then calls it from store[key] without a slot call.
        if self._checks_keys or type(key) is not str:
            key = self._check_key(key)
        try:
            index = next(self._picks)  # _pick(), inline on the hottest path
        except StopIteration:
            index = self._draw()
        try:
            value = self._getters[index](key, MISSING)
        except StoreUnavailable as exc:
            value = self._get_elsewhere(key, index, exc)
        if value is MISSING:
            raise KeyError(key)
        return value

    def _get(self, key: Any, default: Any) -> Any:
        try:
            index = next(self._picks)
        except StopIteration:
            index = self._draw()
        try:
            value = self._getters[index](key, MISSING)
        except StoreUnavailable as exc:
            value = self._get_elsewhere(key, index, exc)
        return default if value is MISSING else value

    def _get_elsewhere(self, key: Any, failed: int, error: StoreUnavailable) -> Any:
        """Read *key* from the other stores, after store *failed* raised *error*."""
        return self._fail_over(lambda link: link.get(key, MISSING), failed, error)

    def __setitem__(self, key: Any, value: Any) -> None:
        if self._checks_keys or type(key) is not str:
            key = self._check_key(key)
        encode = self._encode
        if encode is not to_bytes or type(value) is not bytes:
            value = encode(value)
        try:
            index = next(self._picks)
        except StopIteration:
            index = self._draw()
        self._writers[index](key, value if self._one_codec else value[index])

    def _contains(self, key: Any) -> bool:
        return self._read_any(lambda link: link.contains(key))

    def _count(self) -> int:
        return self._read_any(lambda link: link.count())

    def _read_many(self, keys: Sequence[Any]) -> dict[Any, Any]:
        return self._read_any(lambda link: link.read_many(keys))

    def _iter_keys(self, prefix: str) -> Iterator[Any]:
        # Fail over until a store has answered with its first key; after that a failure
        # is raised, since switching stores mid-listing could repeat or skip keys.
        last: StoreUnavailable | None = None
        for link in self._random.sample(self._links, len(self._links)):
            try:
                keys = link.keys(prefix)
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

    # Writes take the value encoded for every store (see encoder_for) and give the picked
    # store its own.

    def _write(self, key: Any, value: Any) -> None:
        index = self._pick()
        self._writers[index](key, value if self._one_codec else value[index])

    def _write_many(self, items: Sequence[tuple[Any, Any]]) -> None:
        index = self._pick()
        if not self._one_codec:
            items = [(key, values[index]) for key, values in items]
        self._links[index].write_many(items)

    def _delete(self, key: Any) -> None:
        self._links[self._pick()].delete(key)

    def _delete_many(self, keys: Sequence[Any]) -> None:
        self._links[self._pick()].delete_many(keys)

    def _pop(self, key: Any) -> Any:
        return self._links[self._pick()].pop(key)

    def _clear(self) -> None:
        self._links[self._pick()].clear()

    # -- compare-and-set: over one store only (see the class docstring) ---------------------

    def _only_link(self) -> Link:
        if len(self._links) != 1:
            msg = (
                f"RandomChoiceDict over {len(self._links)} stores has no compare-and-set: a "
                "version read from one replica would be checked against another"
            )
            raise UnsupportedError(msg)
        return self._links[0]

    def _read_with_version(self, key: Any) -> tuple[Any, str]:
        return read_with_version_from(self._only_link(), key)

    def _write_if(self, key: Any, value: Any, version: str | None) -> str:
        return write_if_to(self._only_link(), key, value, version)

    def _delete_if(self, key: Any, version: str) -> None:
        delete_if_in(self._only_link(), key, version)
