"""TieredStorageDict: stack stores, fastest first; read the first hit, write them all."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any

from .capabilities import Capabilities
from .codec import to_bytes
from .errors import KVError, StoreUnavailable
from .store import MISSING
from .wrapping import (
    Wrapper,
    accepts_writes,
    capabilities_of,
    delete_if_in,
    encoder_for,
    read_with_version_from,
    serves_reads,
    write_if_to,
)

__all__ = ["TieredStorageDict"]

logger = logging.getLogger(__name__)

#: A tier found unavailable is logged at most once in this many seconds.
LOG_INTERVAL = 60.0


def _none(key: Any, default: Any) -> Any:
    """The read of a stack where no tier serves reads: always a miss."""
    return default


class TieredStorageDict(Wrapper):
    """Layer *stores* from head (fastest, a cache) to tail (the source of truth).

    The lowest tier that takes writes (one not wrapped in :class:`~kv_core.ReadOnlyDict`)
    holds the originals; the writable tiers above it hold copies (caches).

    - Reads go head to tail and return the first hit; ``KeyError`` if no tier has the key.
      A tier that raises ``StoreUnavailable`` is skipped (and logged, at most once a minute
      per tier). A miss is only an answer when every tier holding originals answered (or,
      when none of those serves reads, every tier that does): otherwise the read raises
      ``StoreUnavailable``. With ``promote_on_read=True`` a value found in a lower tier is
      written into every tier above it (tails first); a promotion that fails is skipped, and
      the source is read again after it: if a write changed the value meanwhile, the copies
      just made are taken out again, so a promotion never leaves an old value above a new
      one.
    - Writes first remove the key from every copy, head first, then write the originals'
      tier and the copies from the tail towards the head. A copy that is unavailable fails
      the write with ``StoreUnavailable`` before anything is written, since a copy that
      kept the old value would serve it again when it comes back. A failure later on leaves
      the copies above it without the key. Either way no tier ever holds a value older than
      the tiers below it.
    - Deletes likewise remove the key from the copies first (an unavailable one fails the
      delete before the originals change), then from the other tiers; ``KeyError`` only if no
      tier held the key. ``clear()`` clears the tiers head first.
    - ``len`` and iteration are over the union of the tiers' keys, each key once; an
      unavailable copy is skipped, an unavailable tier of originals raises.
    - Every key is checked by every tier, and every value encoded for every tier a write
      reaches, before any tier is touched: a key or value that one tier refuses (a
      ``TypeError`` from its serializer, an ``InvalidKeyError``) changes nothing anywhere.

    - Compare-and-set is the originals' tier's: ``compare_and_set`` is declared when that
      tier declares it, and ``get_with_version`` reads value and version from it (not from
      a copy, which has no versions). ``set_if`` removes the key from the copies (as a write
      does), applies the condition to the originals' tier and, if it held, writes the copies
      tail towards head; the source's version is then read again, and if another write got
      in meanwhile the copies just written are taken out. A copy that fails to take its
      copy is skipped (it was emptied first), since the write itself was made. ``delete_if``
      removes the key from the copies, then applies the condition to the originals' tier.
      The versions are the originals' tier's.

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
        tiers, links = self._inner, self._links
        writable = [depth for depth, tier in enumerate(tiers) if accepts_writes(tier)]
        self._truth = writable[-1] if writable else len(tiers) - 1
        self._copies = [depth for depth in writable if depth < self._truth]
        readers = [depth for depth, tier in enumerate(tiers) if serves_reads(tier)]
        originals = [depth for depth in readers if depth >= self._truth]
        self._answering = frozenset(originals or readers)
        self._logged: dict[int, float] = {}
        self._writable = frozenset(writable)
        # Reads ask only the tiers that can answer, and writes reach only the tiers that keep
        # them (the originals' tier, then the copies, tail towards head); a tier skipped
        # here would answer nothing or discard the write.
        self._readers = tuple((depth, links[depth]) for depth in readers)
        self._getters = tuple((depth, link.get) for depth, link in self._readers)
        # __getitem__ asks the first tier that serves reads outside its loop (a hit there is
        # the common case), then the rest in turn.
        self._head_depth, self._head_get = self._getters[0] if self._getters else (0, _none)
        self._rest = self._getters[1:]
        order = (*reversed(range(self._truth, len(tiers))), *reversed(self._copies))
        self._written = tuple(links[depth] for depth in order if depth in self._writable)
        self._encode, self._one_codec = encoder_for(self._written)
        self._invalidators = tuple(links[depth].delete for depth in self._copies)
        self._writers = tuple(link.write for link in self._written)

    @property
    def capabilities(self) -> Capabilities:
        """The weakest of every tier's, but ``compare_and_set`` is the originals' tier's.

        An originals' tier that serves no reads (a ``WriteOnlyDict`` master under read
        replicas) gives no versions to set a condition on, so then there is none.
        """
        truth = self._inner[self._truth]
        cas = capabilities_of(truth).compare_and_set and serves_reads(truth)
        return dataclasses.replace(super().capabilities, compare_and_set=cas)

    # -- tiers that are down ---------------------------------------------------------------

    def _skip(self, depth: int, error: StoreUnavailable) -> None:
        """Log, at most once per :data:`LOG_INTERVAL` for each tier, that *depth* was skipped."""
        now = time.monotonic()
        if now - self._logged.get(depth, -LOG_INTERVAL) >= LOG_INTERVAL:
            self._logged[depth] = now
            tier = self._inner[depth]
            logger.warning("tier %d (%r) is unavailable, skipped: %s", depth, tier, error)

    # -- reads -----------------------------------------------------------------------------

    def _promote(self, items: Sequence[tuple[Any, Any]], found_at: int) -> None:
        written = []
        for depth in reversed(range(found_at)):
            if depth not in self._writable:
                continue
            link = self._links[depth]
            try:
                link.write_many([(key, link.encode(value)) for key, value in items])
            except (KVError, OSError) as exc:
                # A read must not fail because a cache refused or missed a copy; it holds no
                # value for these keys older than the one just read, so nothing goes stale.
                logger.debug("promotion into tier %d failed: %r", depth, exc)
                continue
            written.append(depth)
        if written:
            self._recheck(items, found_at, written)

    def _recheck(self, items: Sequence[tuple[Any, Any]], found_at: int, written: list[int]) -> None:
        # A write may have run between the read and the promotion (it removed the copy, so
        # this read missed it), and the value promoted, read before that write, may have
        # overwritten the write's fresh copy. So read the source again: where the value
        # changed, take the copies back out; the next read finds the new value below.
        keys = [key for key, _ in items]
        try:
            now = self._links[found_at].read_many(keys)
        except (KVError, OSError):
            now = {}  # cannot tell: take every copy back out
        changed = [key for key, value in items if key not in now or now[key] != value]
        for depth in written if changed else ():
            try:
                self._links[depth].delete_many(changed)
            except (KVError, OSError) as exc:
                logger.warning(
                    "tier %d may keep a promoted copy of %d keys: %r", depth, len(changed), exc
                )

    # A read asks the tiers in turn, each through its own read primitive (for a MemoryDict,
    # the dict's get): the key was checked once for all of them, and the tier that holds the
    # value decodes it. __getitem__ and _get each run that loop themselves, one Python call
    # for the whole read; a tier that is down sends both to _get_past, which reads on.

    def __getitem__(self, key: Any) -> Any:
        # Two parameters exactly: CPython then calls it from store[key] without a slot call.
        if self._checks_keys or type(key) is not str:
            key = self._check_key(key)
        try:
            value = self._head_get(key, MISSING)
        except StoreUnavailable as exc:
            failed, error = self._head_depth, exc
        else:
            if value is not MISSING:
                if self._head_depth and self.promote_on_read:
                    self._promote([(key, value)], self._head_depth)
                return value
            for depth, get in self._rest:
                try:
                    value = get(key, MISSING)
                except StoreUnavailable as exc:
                    failed, error = depth, exc
                    break
                if value is not MISSING:
                    if self.promote_on_read:
                        self._promote([(key, value)], depth)
                    return value
            else:
                raise KeyError(key)
        value = self._get_past(key, failed, error)
        if value is MISSING:
            raise KeyError(key)
        return value

    def _get(self, key: Any, default: Any) -> Any:
        for depth, get in self._getters:
            try:
                value = get(key, MISSING)
            except StoreUnavailable as exc:
                failed, error = depth, exc
                break
            if value is not MISSING:
                if depth and self.promote_on_read:
                    self._promote([(key, value)], depth)
                return value
        else:
            return default
        value = self._get_past(key, failed, error)
        return default if value is MISSING else value

    def _get_past(self, key: Any, failed: int, error: StoreUnavailable) -> Any:
        """Read on below tier *failed*, which raised *error*; ``MISSING`` if no tier has *key*.

        Every tier that is down is skipped (and logged); a miss is only an answer if every
        tier in ``_answering`` answered, else the last of their errors is raised.
        """
        self._skip(failed, error)
        lost = error if failed in self._answering else None
        for depth, get in self._getters:
            if depth <= failed:
                continue
            try:
                value = get(key, MISSING)
            except StoreUnavailable as exc:
                self._skip(depth, exc)
                if depth in self._answering:
                    lost = exc
                continue
            if value is not MISSING:
                if self.promote_on_read:
                    self._promote([(key, value)], depth)
                return value
        if lost is not None:
            raise lost
        return MISSING

    def _contains(self, key: Any) -> bool:
        lost: StoreUnavailable | None = None
        for depth, link in self._readers:
            try:
                if link.contains(key):
                    return True
            except StoreUnavailable as exc:
                self._skip(depth, exc)
                if depth in self._answering:
                    lost = exc
        if lost is not None:
            raise lost
        return False

    def _read_many(self, keys: Sequence[Any]) -> dict[Any, Any]:
        found: dict[Any, Any] = {}
        missing = list(keys)
        lost: StoreUnavailable | None = None
        for depth, link in self._readers:
            if not missing:
                break
            try:
                hits = link.read_many(missing)
            except StoreUnavailable as exc:
                self._skip(depth, exc)
                if depth in self._answering:
                    lost = exc
                continue
            if hits and depth and self.promote_on_read:
                self._promote(list(hits.items()), depth)
            found.update(hits)
            missing = [key for key in missing if key not in hits]
        if missing and lost is not None:
            raise lost
        return found

    def _iter_keys(self, prefix: str) -> Iterator[Any]:
        seen: set[Any] = set()
        for depth, link in self._readers:
            try:
                for key in link.keys(prefix):
                    if key not in seen:
                        seen.add(key)
                        yield key
            except StoreUnavailable as exc:
                self._skip(depth, exc)
                if depth in self._answering:
                    raise

    def _count(self) -> int:
        return sum(1 for _ in self._iter_keys(""))

    # -- writes ----------------------------------------------------------------------------

    def _invalidate(self, keys: Sequence[Any]) -> None:
        """Remove *keys* from every copy, head first; whatever a copy raises is raised."""
        for depth in self._copies:
            self._links[depth].delete_many(keys)

    # A write's value comes encoded for every tier in self._written (see encoder_for), so
    # every codec has accepted it before the first tier is touched.

    def __setitem__(self, key: Any, value: Any) -> None:
        # _write's steps, inline: one Python call above the tiers' primitives.
        if self._checks_keys or type(key) is not str:
            key = self._check_key(key)
        encode = self._encode
        if encode is not to_bytes or type(value) is not bytes:
            value = encode(value)  # for every tier, before the first is touched
        for delete in self._invalidators:
            try:  # noqa: SIM105 - as in _write
                delete(key)
            except KeyError:
                pass
        if self._one_codec:
            for write in self._writers:
                write(key, value)
        else:
            for write, encoded in zip(self._writers, value, strict=True):
                write(key, encoded)

    def _write(self, key: Any, value: Any) -> None:
        for delete in self._invalidators:
            # One key: _delete, cheaper than a batch where the copy holds it (the usual case).
            try:  # noqa: SIM105 - contextlib.suppress costs two calls on every write
                delete(key)
            except KeyError:
                pass
        if self._one_codec:
            for write in self._writers:
                write(key, value)
        else:
            for write, encoded in zip(self._writers, value, strict=True):
                write(key, encoded)

    def _write_many(self, items: Sequence[tuple[Any, Any]]) -> None:
        self._invalidate([key for key, _ in items])
        for index, link in enumerate(self._written):
            link.write_many(items if self._one_codec else [(k, v[index]) for k, v in items])

    def _delete(self, key: Any) -> None:
        held = False
        for depth in self._copies:
            try:
                self._links[depth].delete(key)
            except KeyError:
                continue
            held = True
        for depth, link in enumerate(self._links):
            if depth in self._copies:
                continue
            try:
                link.delete(key)
            except KeyError:
                continue
            except StoreUnavailable as exc:
                if depth == self._truth:
                    raise
                # A tier that takes no writes (a read replica) is only asked whether it
                # holds the key; it cannot be changed from here anyway.
                self._skip(depth, exc)
                continue
            held = True
        if not held:
            raise KeyError(key)

    def _delete_many(self, keys: Sequence[Any]) -> None:
        self._invalidate(keys)
        for depth in range(self._truth, len(self._links)):
            self._links[depth].delete_many(keys)

    def _clear(self) -> None:
        for link in self._links:
            link.clear()

    # -- compare-and-set: the condition is the originals' tier's ----------------------------

    def _read_with_version(self, key: Any) -> tuple[Any, str]:
        return read_with_version_from(self._links[self._truth], key)

    def _write_if(self, key: Any, value: Any, version: str | None) -> str:
        for delete in self._invalidators:
            try:  # noqa: SIM105 - as in _write
                delete(key)
            except KeyError:
                pass
        # self._written starts with the originals' tier, then the copies tail to head.
        truth, *copies = self._written
        new = write_if_to(truth, key, value if self._one_codec else value[0], version)
        written = []
        for index, link in enumerate(copies, start=1):
            try:
                link.write(key, value if self._one_codec else value[index])
            except (KVError, OSError) as exc:
                logger.debug("copy of a set_if into %r failed: %r", link.mapping, exc)
                continue
            written.append(link)
        if written:
            self._recheck_version(key, new, written)
        return new

    def _recheck_version(self, key: Any, version: str, written: list[Any]) -> None:
        # Another set_if (or write) may have reached the source after this one and written
        # its copies before this one wrote its own: if the source moved on, take this
        # one's copies out again, so no copy is older than the source.
        try:
            _, now = read_with_version_from(self._links[self._truth], key)
        except (KeyError, KVError, OSError):
            now = None
        if now == version:
            return
        for link in written:
            try:
                link.delete(key)
            except KeyError:
                continue
            except (KVError, OSError) as exc:
                logger.warning("%r may keep an old copy of a key: %r", link.mapping, exc)

    def _delete_if(self, key: Any, version: str) -> None:
        for delete in self._invalidators:
            try:  # noqa: SIM105 - as in _write
                delete(key)
            except KeyError:
                pass
        delete_if_in(self._links[self._truth], key, version)
