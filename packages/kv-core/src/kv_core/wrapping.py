"""The base of every wrapper, and how a wrapper reaches the mappings it wraps.

A wrapped mapping is usually a kv store, but any ``MutableMapping`` (a plain ``dict``) works.
What is checked and encoded where:

- **Once, at the outermost store.** The dict API of the store the caller holds checks the
  key and encodes the value (see :mod:`kv_core.store`). A wrapper's ``_check_key`` runs the
  key check of every store it wraps, down to the last tier of the last nested wrapper, and
  its ``_encode`` runs the codec of every store a write will reach. So a key or a value that
  any of them refuses fails, with that store's own error, before anything is read or
  written. An unchecked key never reaches a store's primitives.
- **Then the wrapped stores' primitives.** The wrapper calls ``_get``, ``_write``,
  ``_delete_many`` … of the stores it wraps, with the key as checked and the value as that
  store's codec encoded it; the store that held a value decodes it on the way out. Nothing
  is checked or encoded twice, and errors from below (``StoreUnavailable``, an ``OSError``
  with its errno) reach the caller unchanged.
- **A plain mapping** has no key rules and no codec: keys and values reach it as given,
  through its own methods, and it may hold keys that are not ``str``.
- **A store whose key check rewrites the key** (a :class:`~kv_core.SerializedDict` with key
  functions, or any store that overrides ``_check_key``) is checked up front like the
  others, and its check runs again on each call to turn the key into the one its primitives
  take.

:class:`Link` holds that choice for one wrapped mapping, made once when it is wrapped.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Any

from .capabilities import Capabilities, combine
from .codec import to_bytes
from .errors import UnsupportedError
from .memory import MemoryDict
from .store import IDENTITY, MISSING, Store

__all__ = [
    "SUBSCRIPT",
    "Link",
    "Wrapper",
    "accepts_writes",
    "capabilities_of",
    "close_all",
    "delete_if_in",
    "encoder_for",
    "read_with_version_from",
    "serves_reads",
    "write_if_to",
]

# A plain dict promises what the in-memory reference store promises, but has no versions.
_PLAIN_MAPPING = dataclasses.replace(MemoryDict.capabilities, compare_and_set=False)

#: The *default* a wrapper's ``_get`` receives when it also serves as ``__getitem__``
#: (``__getitem__ = _get``): called with the key alone, it checks the key first and raises
#: ``KeyError`` on a miss. One function for both saves a Python call on the hottest path
#: of TieredStorageDict and RandomChoiceDict without writing their read loop twice.
SUBSCRIPT: Any = object()


def capabilities_of(mapping: MutableMapping[Any, Any]) -> Capabilities:
    """The declared capabilities of *mapping*, or those of a plain dict if it declares none."""
    declared = getattr(mapping, "capabilities", None)
    return declared if isinstance(declared, Capabilities) else _PLAIN_MAPPING


def accepts_writes(mapping: MutableMapping[Any, Any]) -> bool:
    """Whether a write to *mapping* can reach storage (a ``ReadOnlyDict`` discards it)."""
    return mapping._accepts_writes() if isinstance(mapping, Wrapper) else True


def serves_reads(mapping: MutableMapping[Any, Any]) -> bool:
    """Whether *mapping* can answer a read (a ``WriteOnlyDict`` never holds a key)."""
    return mapping._serves_reads() if isinstance(mapping, Wrapper) else True


def close_all(mappings: Sequence[MutableMapping[Any, Any]]) -> None:
    """Close every mapping that can be closed, even if one of them fails; re-raise the first."""
    first: BaseException | None = None
    for mapping in mappings:
        close = getattr(mapping, "close", None)
        if callable(close):
            try:
                close()
            except Exception as exc:  # noqa: BLE001 - closing the rest matters more
                first = first or exc
    if first is not None:
        raise first


def _rewrites_keys(store: Store) -> bool:
    if isinstance(store, Wrapper):
        return store._rewrites_keys
    return type(store)._check_key is not Store._check_key


class Link:
    """How a wrapper reaches one mapping it wraps: its checks, its codec and its primitives.

    Each callable takes the key as the wrapper checked it and, for writes, the value as
    :attr:`encode` made it; reads return decoded values, and ``get(key, default)`` returns
    *default* for a missing key instead of raising. For a store that needs nothing in
    between (no deserializer, keys not rewritten) they are the store's own primitives.

    :param mapping: A kv store, a wrapper, or any ``MutableMapping``.
    """

    __slots__ = (
        "check",
        "check_prefix",
        "clear",
        "contains",
        "count",
        "delete",
        "delete_many",
        "encode",
        "get",
        "keys",
        "mapping",
        "needs_str",
        "pop",
        "read",
        "read_many",
        "write",
        "write_many",
    )

    def __init__(self, mapping: MutableMapping[Any, Any]) -> None:
        self.mapping = mapping
        if isinstance(mapping, Store):
            self._reach_store(mapping)
        else:
            self._reach_mapping(mapping)

    def _reach_store(self, store: Store) -> None:
        #: Whether a key must be a ``str`` (the wrapper checks the type for every store).
        self.needs_str: bool = store._needs_str if isinstance(store, Wrapper) else True
        #: The store's key check, or ``None`` if a ``str`` key needs none.
        self.check: Callable[[Any], Any] | None = store._check_key if store._checks_keys else None
        self.check_prefix: Callable[[str], None] | None = store._validate_prefix
        self.encode: Callable[[Any], Any] = store._encode
        self.keys: Callable[[str], Iterator[Any]] = store._iter_keys
        self.count: Callable[[], int] = store._count
        self.clear: Callable[[], None] = store._clear
        decode = store._decode
        rewrite = store._check_key if _rewrites_keys(store) else None
        if rewrite is None and decode is IDENTITY:
            self.read: Callable[[Any], Any] = store._read
            self.get: Callable[[Any, Any], Any] = store._get
            self.contains: Callable[[Any], bool] = store._contains
            self.read_many: Callable[[Sequence[Any]], dict[Any, Any]] = store._read_many
            self.write: Callable[[Any, Any], None] = store._write
            self.write_many: Callable[[Sequence[tuple[Any, Any]]], None] = store._write_many
            self.delete: Callable[[Any], None] = store._delete
            self.delete_many: Callable[[Sequence[Any]], None] = store._delete_many
            self.pop: Callable[[Any], Any] = store._pop
            return

        def stored(key: Any) -> Any:
            return key if rewrite is None else rewrite(key)

        def read(key: Any) -> Any:
            return decode(store._read(stored(key)))

        def get(key: Any, default: Any) -> Any:
            raw = store._get(stored(key), MISSING)
            return default if raw is MISSING else decode(raw)

        def read_many(keys: Sequence[Any]) -> dict[Any, Any]:
            by_stored = {stored(key): key for key in keys}
            found = store._read_many(list(by_stored))
            return {by_stored[key]: decode(raw) for key, raw in found.items()}

        def write_many(items: Sequence[tuple[Any, Any]]) -> None:
            store._write_many([(stored(key), raw) for key, raw in items])

        def delete_many(keys: Sequence[Any]) -> None:
            store._delete_many([stored(key) for key in keys])

        self.read = read
        self.get = get
        self.contains = lambda key: store._contains(stored(key))
        self.read_many = read_many
        self.write = lambda key, raw: store._write(stored(key), raw)
        self.write_many = write_many
        self.delete = lambda key: store._delete(stored(key))
        self.delete_many = delete_many
        self.pop = lambda key: decode(store._pop(stored(key)))

    def _reach_mapping(self, mapping: MutableMapping[Any, Any]) -> None:
        self.needs_str = False
        self.check = None
        self.check_prefix = None
        self.encode = IDENTITY
        self.read = mapping.__getitem__
        self.get = mapping.get
        self.contains = mapping.__contains__
        self.count = mapping.__len__
        self.clear = mapping.clear
        self.write = mapping.__setitem__
        self.write_many = mapping.update
        self.delete = mapping.__delitem__
        self.pop = mapping.pop

        def keys(prefix: str) -> Iterator[Any]:
            listed = list(mapping)
            if not prefix:
                return iter(listed)
            return (k for k in listed if isinstance(k, str) and k.startswith(prefix))

        def read_many(keys: Sequence[Any]) -> dict[Any, Any]:
            found: dict[Any, Any] = {}
            for key in keys:
                with contextlib.suppress(KeyError):
                    found[key] = mapping[key]
            return found

        def delete_many(keys: Sequence[Any]) -> None:
            for key in keys:
                mapping.pop(key, None)

        self.keys = keys
        self.read_many = read_many
        self.delete_many = delete_many


def encoder_for(links: Sequence[Link]) -> tuple[Callable[[Any], Any], bool]:
    """One function that encodes a value for every one of *links*, and whether it is shared.

    Links that share a codec (stores without a serializer all use ``to_bytes``) share the
    call. When all of them share one (``True``), the function is that codec and its result
    is every link's value; otherwise it returns a tuple, one value per link, in order. Either
    way every codec has run before the caller writes to the first link.
    """
    encoders = [link.encode for link in links]
    distinct = list(dict.fromkeys(encoders))
    if len(distinct) <= 1:
        return (distinct[0] if distinct else IDENTITY), True
    slots = [distinct.index(encode) for encode in encoders]

    def encode_for_each(value: Any) -> tuple[Any, ...]:
        done = [encode(value) for encode in distinct]
        return tuple(done[slot] for slot in slots)

    return encode_for_each, False


# -- compare-and-set through a link ----------------------------------------------------------
# Not Link attributes: compare-and-set is rare next to reads and writes, so it costs the
# links nothing at construction, and these reach the store's primitives the way Link does
# (the key as the wrapper checked it, rewritten by a store that rewrites keys; the value
# as that store's codec encoded it; a read decoded by the store that held it).


def _versioned_store(link: Link) -> tuple[Store, Callable[[Any], Any] | None]:
    store = link.mapping
    if not isinstance(store, Store):
        msg = f"{type(store).__name__} is a plain mapping: it has no compare-and-set"
        raise UnsupportedError(msg)
    return store, (store._check_key if _rewrites_keys(store) else None)


def read_with_version_from(link: Link, key: Any) -> tuple[Any, str]:
    """``(value, version)`` of *key* in the mapping of *link*, the value decoded by it."""
    store, rewrite = _versioned_store(link)
    raw, version = store._read_with_version(key if rewrite is None else rewrite(key))
    decode = store._decode
    return (raw if decode is IDENTITY else decode(raw)), version


def write_if_to(link: Link, key: Any, value: Any, version: str | None) -> str:
    """``_write_if`` of the mapping of *link*: *value* as its codec encoded it."""
    store, rewrite = _versioned_store(link)
    return store._write_if(key if rewrite is None else rewrite(key), value, version)


def delete_if_in(link: Link, key: Any, version: str) -> None:
    """``_delete_if`` of the mapping of *link*."""
    store, rewrite = _versioned_store(link)
    store._delete_if(key if rewrite is None else rewrite(key), version)


class Wrapper(Store):
    """A store over other mappings, which checks keys and encodes values for all of them.

    A subclass writes the primitives over :attr:`_links` (one :class:`Link` per wrapped
    mapping). What its primitives receive is set here: keys checked by every wrapped store
    (``_check_key``), values as ``_encode`` prepared them (by default the first wrapped
    store's encoding; a wrapper over several stores sets its own). ``_decode`` stays the
    identity unless the wrapper changes values itself: a wrapped store decodes its own.
    ``close()`` closes the wrapped mappings.
    """

    def __init__(self, inner: Sequence[MutableMapping[Any, Any]]) -> None:
        super().__init__()
        self._inner = list(inner)
        self._links = [Link(mapping) for mapping in self._inner]
        self._key_checks = tuple(link.check for link in self._links if link.check is not None)
        #: Whether keys must be ``str`` (some wrapped mapping is a store).
        self._needs_str = any(link.needs_str for link in self._links)
        #: Whether this wrapper's primitives take another key than its caller's.
        self._rewrites_keys = False
        self._checks_keys = bool(self._key_checks)
        self._encode = self._links[0].encode if self._links else IDENTITY
        self._decode = IDENTITY
        #: What the dict API reads (``_get``) and writes (``_write``) through. A wrapper
        #: that only hands them on to one store sets that store's own (see :meth:`_forward`).
        self._reader: Callable[[Any, Any], Any] = self._get
        self._writer: Callable[[Any, Any], None] = self._write

    def _forward(self, cls: type[Wrapper], *, reads: bool, writes: bool) -> None:
        """Read (``_get``) and/or write (``_write``) straight through the one wrapped store.

        For a wrapper of class *cls* whose ``_get`` or ``_write`` only calls the same
        primitive of its link: the dict API then calls the link's, one Python call less. A
        subclass that overrides the method keeps its override.
        """
        (link,) = self._links
        if reads and type(self)._get is cls._get:
            self._reader = link.get
        if writes and type(self)._write is cls._write:
            self._writer = link.write

    @property
    def capabilities(self) -> Capabilities:
        """What every wrapped store supports (for one store: its own capabilities)."""
        return combine([capabilities_of(m) for m in self._inner])

    def _check_key(self, key: Any) -> Any:
        if self._needs_str and not isinstance(key, str):
            super()._check_key(key)  # raises the TypeError every store raises
        for check in self._key_checks:
            check(key)
        return key

    def _validate_prefix(self, prefix: str) -> None:
        for link in self._links:
            if link.check_prefix is not None:
                link.check_prefix(prefix)

    def validate_key(self, key: Any) -> Any:
        """Return *key* if every wrapped store can hold it; raise what the first refusal raises."""
        self._check_key(key)
        return key

    def _accepts_writes(self) -> bool:
        """Whether writes can reach the storage of a wrapped mapping."""
        return any(accepts_writes(m) for m in self._inner)

    def _serves_reads(self) -> bool:
        """Whether a wrapped mapping can answer reads."""
        return any(serves_reads(m) for m in self._inner)

    # -- the dict API: reads go through _get, so a miss raises no exception below ----------

    def __getitem__(self, key: Any) -> Any:
        checked = self._check_key(key) if self._checks_keys or type(key) is not str else key
        raw = self._reader(checked, MISSING)
        if raw is MISSING:
            raise KeyError(key)
        decode = self._decode
        return raw if decode is IDENTITY else decode(raw)

    def get(self, key: Any, default: Any = None) -> Any:
        """``store[key]``, or *default* if the key is missing."""
        if self._checks_keys or type(key) is not str:
            key = self._check_key(key)
        raw = self._reader(key, MISSING)
        if raw is MISSING:
            return default
        decode = self._decode
        return raw if decode is IDENTITY else decode(raw)

    def __setitem__(self, key: Any, value: Any) -> None:
        if self._checks_keys or type(key) is not str:
            key = self._check_key(key)
        encode = self._encode
        if encode is not to_bytes or type(value) is not bytes:
            value = encode(value)  # to_bytes returns bytes as they are: no call for them
        self._writer(key, value)

    @abc.abstractmethod
    def _get(self, key: Any, default: Any) -> Any:
        """The value of *key* from the wrapped mappings, or *default*: the read primitive."""

    def _read(self, key: Any) -> Any:
        raw = self._get(key, MISSING)
        if raw is MISSING:
            raise KeyError(key)
        return raw

    def setdefault(self, key: Any, default: Any = None) -> Any:
        """``store[key]`` if present; else store *default* and return it as a read would.

        What was stored is known only by reading it back (a ``str`` default comes back as
        the bytes the store below holds); a view that cannot be read back (write-only)
        returns *default* as given.
        """
        checked = self._check_key(key)
        raw = self._get(checked, MISSING)
        if raw is MISSING:
            self._write(checked, self._encode(default))
            raw = self._get(checked, MISSING)
            if raw is MISSING:
                return default
        return self._decode(raw)

    def _close(self) -> None:
        close_all(self._inner)

    def _describe(self) -> str:
        return ", ".join(repr(m) for m in self._inner)
