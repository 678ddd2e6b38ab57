"""RandomChoiceDict: spread operations over equivalent stores, failing reads over."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Any, TypeVar

from .errors import StoreUnavailable
from .wrapping import Link, Wrapper, encoder_for

__all__ = ["RandomChoiceDict"]

_T = TypeVar("_T")


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
    """

    def __init__(self, stores: Sequence[MutableMapping[Any, Any]]) -> None:
        if not stores:
            msg = "RandomChoiceDict needs at least one store"
            raise ValueError(msg)
        super().__init__(stores)
        self._random = random.Random()
        self._uniform = self._random.random
        self._encode = encoder_for(self._links)

    def _check_key(self, key: Any) -> Any:
        """Check *key* with every reachable store.

        A store that cannot be reached to check (a remote store that learns its rules from
        its server) is skipped here: its own operation will say it is unavailable, and a read
        fails over.
        """
        if self._needs_str and not isinstance(key, str):
            Wrapper._check_key(self, key)
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
        # random() and a product: a fraction of the cost of Random.choice, same spread.
        return int(self._uniform() * len(self._links))

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

    def _get(self, key: Any, default: Any) -> Any:
        index = self._pick()
        try:
            return self._links[index].get(key, default)
        except StoreUnavailable as exc:
            return self._fail_over(lambda link: link.get(key, default), index, exc)

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

    # Writes take the values encoded for every store (see encoder_for) and give the picked
    # store its own.

    def _write(self, key: Any, value: Any) -> None:
        index = self._pick()
        self._links[index].write(key, value[index])

    def _write_many(self, items: Sequence[tuple[Any, Any]]) -> None:
        index = self._pick()
        self._links[index].write_many([(key, values[index]) for key, values in items])

    def _delete(self, key: Any) -> None:
        self._links[self._pick()].delete(key)

    def _delete_many(self, keys: Sequence[Any]) -> None:
        self._links[self._pick()].delete_many(keys)

    def _pop(self, key: Any) -> Any:
        return self._links[self._pick()].pop(key)

    def _clear(self) -> None:
        self._links[self._pick()].clear()
