"""TieredStorageDict: stack stores, fastest first; read the first hit, write them all."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any

from .wrapping import Wrapper, delete_many_in, get_many_in, keys_in, set_many_in

__all__ = ["TieredStorageDict"]


class TieredStorageDict(Wrapper):
    """Layer *stores* from head (fastest, a cache) to tail (the source of truth).

    - Reads go head to tail and return the first hit; ``KeyError`` if no tier has the key.
      With ``promote_on_read=True`` a value found in a lower tier is written into every tier
      above it (tails first), so the next read is served from the head.
    - Writes go to every tier, from the tail towards the head, after every tier has accepted
      the key: a key one tier refuses is refused before anything is written. If a tier fails
      part way (a value too large for the cache, a server down), the key is dropped from that
      tier and those above it, so none of them goes on serving the old value; the error is
      raised.
    - Deletes go to every tier, tail first; ``KeyError`` only if no tier held the key.
    - ``len`` and iteration are over the union of the tiers' keys, each key once.

    Wrap a tier in :class:`~kv_core.ReadOnlyDict` to skip it on write, or in
    :class:`~kv_core.WriteOnlyDict` to skip it on read.
    """

    def __init__(
        self, stores: Sequence[MutableMapping[Any, Any]], *, promote_on_read: bool = False
    ) -> None:
        if not stores:
            msg = "TieredStorageDict needs at least one store"
            raise ValueError(msg)
        super().__init__(stores)
        self.promote_on_read = promote_on_read

    def _promote(self, items: Sequence[tuple[Any, Any]], found_at: int) -> None:
        for upper in reversed(self._inner[:found_at]):
            set_many_in(upper, items)

    def _read(self, key: Any) -> Any:
        self.validate_key(key)
        for depth, tier in enumerate(self._inner):
            try:
                value = tier[key]
            except KeyError:
                continue
            if depth and self.promote_on_read:
                self._promote([(key, value)], depth)
            return value
        raise KeyError(key)

    def _contains(self, key: Any) -> bool:
        self.validate_key(key)
        return any(key in tier for tier in self._inner)

    def _read_many(self, keys: Sequence[Any]) -> dict[Any, Any]:
        for key in keys:
            self.validate_key(key)
        found: dict[Any, Any] = {}
        missing = list(keys)
        for depth, tier in enumerate(self._inner):
            if not missing:
                break
            hits = get_many_in(tier, missing)
            if hits and depth and self.promote_on_read:
                self._promote(list(hits.items()), depth)
            found.update(hits)
            missing = [key for key in missing if key not in hits]
        return found

    def _iter_keys(self, prefix: str) -> Iterator[Any]:
        seen: set[Any] = set()
        for tier in self._inner:
            for key in keys_in(tier, prefix):
                if key not in seen:
                    seen.add(key)
                    yield key

    def _count(self) -> int:
        return sum(1 for _ in self._iter_keys(""))

    def _forget_above(self, keys: Sequence[Any], failed: int) -> None:
        # A write reached the tiers below *failed* but not it: drop the keys from it and the
        # tiers above, so no upper tier keeps serving the value the write replaced. When the
        # tail itself failed, nothing was written and nothing is dropped.
        if failed == len(self._inner) - 1:
            return
        for tier in self._inner[: failed + 1]:
            with contextlib.suppress(Exception):
                delete_many_in(tier, keys)

    def _write(self, key: Any, value: Any) -> None:
        self.validate_key(key)
        for depth in reversed(range(len(self._inner))):
            try:
                self._inner[depth][key] = value
            except BaseException:
                self._forget_above([key], depth)
                raise

    def _write_many(self, items: Sequence[tuple[Any, Any]]) -> None:
        for key, _ in items:
            self.validate_key(key)
        for depth in reversed(range(len(self._inner))):
            try:
                set_many_in(self._inner[depth], items)
            except BaseException:
                self._forget_above([key for key, _ in items], depth)
                raise

    def _delete(self, key: Any) -> None:
        self.validate_key(key)
        held = False
        for tier in reversed(self._inner):
            try:
                del tier[key]
            except KeyError:
                continue
            held = True
        if not held:
            raise KeyError(key)

    def _delete_many(self, keys: Sequence[Any]) -> None:
        for key in keys:
            self.validate_key(key)
        for tier in reversed(self._inner):
            delete_many_in(tier, keys)

    def _clear(self) -> None:
        for tier in reversed(self._inner):
            tier.clear()
