"""The store base class: the whole dict API, written once over a few backend primitives.

A backend subclasses :class:`Store`, declares its ``capabilities`` and writes four methods:
``_read``, ``_write``, ``_delete`` and ``_iter_keys``. It may also override the batch and
shortcut primitives (``_read_many``, ``_write_many``, ``_delete_many``, ``_contains``,
``_count``, ``_clear``, ``_pop``, ``_setdefault``, ``_get``, ``_close``) when it can do them
in fewer round trips or atomically, and ``_validate_key`` / ``_validate_prefix`` to refuse keys
it cannot hold. Key type checks, the value codec, the serializer arguments, batch fallbacks
and the context manager live here and nowhere else.

A backend that declares ``Capabilities.compare_and_set`` also writes ``_read_with_version``,
``_write_if`` and ``_delete_if``, each one atomic step on its storage. They have no fallback
here (one made of ``_read`` and ``_write`` would not be atomic across processes): the base
class raises :class:`~kv_core.UnsupportedError`.

The dict API is the only place a key is checked and a value encoded: ``store[key]`` is
``_decode(_read(_check_key(key)))`` and ``store[key] = value`` is
``_write(_check_key(key), _encode(value))``. The wrappers (:mod:`kv_core.wrapping`) rely on
that: they check and encode once, for every store they wrap, and then call those stores'
primitives directly. Two shortcuts keep the common case cheap: a class that overrides neither
``_check_key`` nor ``_validate_key`` has nothing to check in a ``str`` key, so the call is
skipped (``_checks_keys`` is ``False``), and a store without a deserializer returns what its
``_read`` returned without calling one.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import (
    Callable,
    ItemsView,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    Sequence,
    ValuesView,
)
from types import TracebackType
from typing import Any, Self

from .capabilities import Capabilities
from .codec import Deserializer, Serializer, ValueCodec, to_bytes
from .errors import UnsupportedError

__all__ = ["IDENTITY", "MISSING", "Store"]

#: A default no caller can pass: what a wrapper asks `_get` for, and `pop`'s "none given".
MISSING: Any = object()
#: What ``_decode`` is when a store has no deserializer: the codec's identity function.
IDENTITY: Callable[[Any], Any] = ValueCodec().decode
_BATCH = 256


def _chunks(keys: Iterable[Any], size: int = _BATCH) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for key in keys:
        chunk.append(key)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _iter_items(store: Store) -> Iterator[tuple[Any, Any]]:
    # Read in batches, and skip keys deleted between listing and reading: iteration must
    # not fail because another thread or process is writing.
    for chunk in _chunks(iter(store)):
        found = store.get_many(chunk)
        for key in chunk:
            if key in found:
                yield key, found[key]


def _check_version(version: object) -> None:
    if not isinstance(version, str):
        msg = f"version must be a str from get_with_version or set_if, not {type(version).__name__}"
        raise TypeError(msg)
    if not version:
        msg = "version must be a str from get_with_version or set_if, not empty"
        raise ValueError(msg)


class _ItemsView(ItemsView[str, Any]):
    _mapping: Store

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return _iter_items(self._mapping)


class _ValuesView(ValuesView[Any]):
    _mapping: Store

    def __iter__(self) -> Iterator[Any]:
        return (value for _, value in _iter_items(self._mapping))


class Store(MutableMapping[str, Any], abc.ABC):
    """A ``MutableMapping`` of ``str`` keys to ``bytes`` values, with batch calls and a lifecycle.

    ``str`` values are stored as their UTF-8 bytes; reads return ``bytes``. Other value types
    raise ``TypeError`` unless a *serializer* is given.

    :param serializer: Called on every value before it is stored; returns bytes or str.
    :param deserializer: Called on the stored bytes of every value read.
    """

    def __init__(
        self,
        *,
        serializer: Serializer | None = None,
        deserializer: Deserializer | None = None,
    ) -> None:
        codec = ValueCodec(serializer, deserializer)
        # Without a serializer the codec's rule is to_bytes itself: one function shared by
        # every such store, so a wrapper over several of them encodes a value once.
        self._encode: Callable[[Any], Any] = codec.encode if serializer is not None else to_bytes
        self._decode: Callable[[Any], Any] = codec.decode
        self._closed = False
        # Read on every call of the dict API, so copied from the class to the instance,
        # where CPython 3.11 finds it fastest.
        self._checks_keys: bool = type(self)._checks_keys

    #: Whether ``_check_key`` can do more than refuse a key that is not a ``str`` (set per
    #: class: ``True`` when it overrides ``_check_key`` or ``_validate_key``). When ``False``
    #: the dict API checks a ``str`` key's type itself and skips the call.
    _checks_keys: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._checks_keys = (
            cls._check_key is not Store._check_key or cls._validate_key is not Store._validate_key
        )
        if "_read" in cls.__dict__ and "_get" not in cls.__dict__:
            # A _get inherited from a parent may read the parent's storage directly; a
            # class that changes how a key is read gets the fallback over its own _read.
            cls._get = Store._get  # type: ignore[method-assign]

    # -- what a backend declares and writes ---------------------------------------------

    @property
    @abc.abstractmethod
    def capabilities(self) -> Capabilities:
        """What this store supports; see :class:`~kv_core.Capabilities`."""

    @abc.abstractmethod
    def _read(self, key: str) -> bytes:
        """Return the stored bytes of *key*; raise ``KeyError`` if it is missing."""

    @abc.abstractmethod
    def _write(self, key: str, value: bytes) -> None:
        """Store *value* under *key*, replacing any old value."""

    @abc.abstractmethod
    def _delete(self, key: str) -> None:
        """Remove *key*; raise ``KeyError`` if it is missing."""

    @abc.abstractmethod
    def _iter_keys(self, prefix: str) -> Iterator[str]:
        """Yield every key that starts with *prefix* (``""``: all keys), each once."""

    def _validate_key(self, key: str) -> None:
        """Raise ``InvalidKeyError`` if this store can never hold *key*."""

    def _validate_prefix(self, prefix: str) -> None:
        """Raise ``InvalidKeyError`` if *prefix* cannot be listed."""

    # -- optional primitives with portable fallbacks -------------------------------------

    def _get(self, key: str, default: Any) -> Any:
        """The stored bytes of *key*, or *default* if it is missing (no ``KeyError`` raised).

        The fallback calls ``_read``; a store that can tell a miss without raising overrides
        it. A subclass that overrides ``_read`` and not ``_get`` gets this fallback back.
        """
        try:
            return self._read(key)
        except KeyError:
            return default

    def _read_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for key in keys:
            with contextlib.suppress(KeyError):
                found[key] = self._read(key)
        return found

    def _write_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        for key, value in items:
            self._write(key, value)

    def _delete_many(self, keys: Sequence[str]) -> None:
        for key in keys:
            with contextlib.suppress(KeyError):
                self._delete(key)

    def _contains(self, key: str) -> bool:
        try:
            self._read(key)
        except KeyError:
            return False
        return True

    def _count(self) -> int:
        return sum(1 for _ in self._iter_keys(""))

    def _clear(self) -> None:
        self._delete_many(list(self._iter_keys("")))

    def _pop(self, key: str) -> bytes:
        value = self._read(key)
        self._delete(key)
        return value

    def _setdefault(self, key: str, value: bytes) -> bytes:
        try:
            return self._read(key)
        except KeyError:
            self._write(key, value)
            return value

    # -- compare-and-set primitives: no fallback, since one made of _read and _write would
    # -- not be atomic across processes, which is the whole point of the capability.

    def _read_with_version(self, key: str) -> tuple[bytes, str]:
        """The stored bytes of *key* and its version; ``KeyError`` if it is missing.

        A backend that declares ``compare_and_set`` overrides this and the two below.
        """
        raise UnsupportedError(self._no_compare_and_set())

    def _write_if(self, key: str, value: bytes, version: str | None) -> str:
        """Store *value* only if *key*'s version is *version* (``None``: only if absent).

        Return the new version; raise ``ConflictError`` and write nothing otherwise. The
        check and the write are one atomic step.
        """
        raise UnsupportedError(self._no_compare_and_set())

    def _delete_if(self, key: str, version: str) -> None:
        """Remove *key* only if its version is *version*; ``ConflictError`` otherwise
        (a missing key included)."""
        raise UnsupportedError(self._no_compare_and_set())

    def _no_compare_and_set(self) -> str:
        return (
            f"{type(self).__name__} does not support compare-and-set "
            "(capabilities.compare_and_set is False)"
        )

    def _close(self) -> None:
        """Release connections or handles; called once by ``close()``."""

    def _describe(self) -> str:
        """What the store is connected to, for ``repr`` (never a password)."""
        return ""

    # -- key handling ----------------------------------------------------------------------

    def _check_key(self, key: Any) -> str:
        if not isinstance(key, str):
            msg = f"keys must be str, not {type(key).__name__}"
            raise TypeError(msg)
        self._validate_key(key)
        return key

    def validate_key(self, key: Any) -> Any:
        """Return *key* if this store can hold it.

        :raises TypeError: *key* is not a ``str``.
        :raises InvalidKeyError: the store can never hold *key*.
        """
        return self._check_key(key)

    # -- the dict API ----------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        if self._checks_keys or type(key) is not str:
            key = self._check_key(key)
        raw = self._read(key)
        decode = self._decode
        return raw if decode is IDENTITY else decode(raw)

    def __setitem__(self, key: str, value: Any) -> None:
        if self._checks_keys or type(key) is not str:
            key = self._check_key(key)
        self._write(key, self._encode(value))

    def __delitem__(self, key: str) -> None:
        if self._checks_keys or type(key) is not str:
            key = self._check_key(key)
        self._delete(key)

    def __contains__(self, key: object) -> bool:
        if self._checks_keys or type(key) is not str:
            key = self._check_key(key)
        return self._contains(key)

    def __iter__(self) -> Iterator[str]:
        return self._iter_keys("")

    def __len__(self) -> int:
        return self._count()

    def get(self, key: str, default: Any = None) -> Any:
        """``store[key]``, or *default* if the key is missing."""
        if self._checks_keys or type(key) is not str:
            key = self._check_key(key)
        raw = self._get(key, MISSING)
        if raw is MISSING:
            return default
        decode = self._decode
        return raw if decode is IDENTITY else decode(raw)

    def pop(self, key: str, default: Any = MISSING) -> Any:
        """Remove *key* and return its value; *default* (or ``KeyError``) if it is missing."""
        checked = self._check_key(key)
        try:
            raw = self._pop(checked)
        except KeyError:
            if default is MISSING:
                raise
            return default
        return self._decode(raw)

    def popitem(self) -> tuple[str, Any]:
        """Remove and return some ``(key, value)`` pair; ``KeyError`` if the store is empty."""
        for key in self._iter_keys(""):
            try:
                return key, self._decode(self._pop(key))
            except KeyError:
                continue  # taken by someone else since it was listed
        msg = "popitem(): store is empty"
        raise KeyError(msg)

    def setdefault(self, key: str, default: Any = None) -> Any:
        """``store[key]`` if present; else store *default* and return it as a read would."""
        checked = self._check_key(key)
        raw = self._get(checked, MISSING)
        if raw is MISSING:
            # Encoded only now: setdefault(key) of a present key must not need a value.
            raw = self._setdefault(checked, self._encode(default))
        return self._decode(raw)

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """Like ``dict.update``; every key and value is checked before anything is written."""
        pairs: list[tuple[Any, Any]]
        if isinstance(other, Mapping):
            pairs = list(other.items())
        elif hasattr(other, "keys"):
            # An object with keys() but no items(), as dict.update accepts; not iter(other).
            pairs = [(key, other[key]) for key in other.keys()]  # noqa: SIM118
        else:
            pairs = list(other)
        pairs.extend(kwargs.items())
        self.set_many(pairs)

    def clear(self) -> None:
        """Remove every key."""
        self._clear()

    def items(self) -> ItemsView[str, Any]:
        """A view of ``(key, value)`` pairs, read in batches."""
        return _ItemsView(self)

    def values(self) -> ValuesView[Any]:
        """A view of the values, read in batches."""
        return _ValuesView(self)

    # -- beyond MutableMapping ---------------------------------------------------------------

    def keys_with_prefix(self, prefix: object) -> Iterator[str]:
        """Yield the keys that start with *prefix*, with the search done by the backend."""
        if not isinstance(prefix, str):
            msg = f"prefix must be str, not {type(prefix).__name__}"
            raise TypeError(msg)
        self._validate_prefix(prefix)
        return self._iter_keys(prefix)

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """Return ``{key: value}`` for those of *keys* that exist, in one round trip if possible."""
        checked = list(dict.fromkeys(self._check_key(key) for key in keys))
        if not checked:
            return {}
        decode = self._decode
        return {key: decode(raw) for key, raw in self._read_many(checked).items()}

    def set_many(self, items: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        """Store every pair; all keys and values are checked before anything is written."""
        pairs = items.items() if isinstance(items, Mapping) else items
        encode = self._encode
        encoded: dict[str, bytes] = {}
        for key, value in pairs:
            encoded[self._check_key(key)] = encode(value)
        if encoded:
            self._write_many(list(encoded.items()))

    def delete_many(self, keys: Iterable[str]) -> None:
        """Remove those of *keys* that exist; missing keys are ignored."""
        checked = list(dict.fromkeys(self._check_key(key) for key in keys))
        if checked:
            self._delete_many(checked)

    # -- compare-and-set (where capabilities.compare_and_set) --------------------------------

    def get_with_version(self, key: str) -> tuple[Any, str]:
        """Return ``(value, version)`` of *key*, for a later :meth:`set_if` or :meth:`delete_if`.

        The value is what ``store[key]`` returns; the version is an opaque, non-empty
        ``str`` that changes with every write of the key (compare it only for equality, and
        only with versions of the same key in the same store).

        :raises KeyError: *key* is missing.
        :raises UnsupportedError: the store does not declare ``compare_and_set``.
        """
        if self._checks_keys or type(key) is not str:
            key = self._check_key(key)
        raw, version = self._read_with_version(key)
        decode = self._decode
        return (raw if decode is IDENTITY else decode(raw)), version

    def set_if(self, key: str, value: Any, *, version: str | None) -> str:
        """Store *value* only if *key* still has *version*; with ``version=None``, only if absent.

        The check and the write are one atomic step, as safe across processes as the
        store's plain writes. Returns the new version.

        :raises ConflictError: the key has another version, is missing (a *version* was
            given) or exists (``version=None``); nothing was written.
        :raises UnsupportedError: the store does not declare ``compare_and_set``.
        :raises TypeError: *version* is not a ``str`` or ``None``.
        :raises ValueError: *version* is ``""`` (no key ever has it).
        """
        if self._checks_keys or type(key) is not str:
            key = self._check_key(key)
        if version is not None:
            _check_version(version)
        return self._write_if(key, self._encode(value), version)

    def delete_if(self, key: str, *, version: str) -> None:
        """Remove *key* only if it still has *version*.

        :raises ConflictError: the key has another version or is missing; nothing changed.
        :raises UnsupportedError: the store does not declare ``compare_and_set``.
        """
        if self._checks_keys or type(key) is not str:
            key = self._check_key(key)
        _check_version(version)
        self._delete_if(key, version)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether ``close()`` has been called."""
        return self._closed

    def close(self) -> None:
        """Release what the store holds (connections, handles). Safe to call twice."""
        if not self._closed:
            self._closed = True
            self._close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._describe()})"
