"""The base of every wrapper: a store whose keys and values pass through to other mappings.

A wrapped mapping is usually a kv store, but any ``MutableMapping`` (a plain ``dict``) works;
the helpers here use a store's batch and prefix methods when it has them, and portable
loops when it does not. Wrappers leave key checks and value encoding to the stores they
wrap, so errors (``InvalidKeyError``, ``TypeError``, an ``OSError`` with its errno) reach
the caller unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any

from .capabilities import Capabilities, combine
from .memory import MemoryDict
from .store import Store

__all__ = ["Wrapper", "accepts_writes", "capabilities_of", "close_all", "serves_reads"]

# A plain dict promises what the in-memory reference store promises.
_PLAIN_MAPPING = MemoryDict.capabilities


def capabilities_of(mapping: MutableMapping[Any, Any]) -> Capabilities:
    """The declared capabilities of *mapping*, or those of a plain dict if it declares none."""
    declared = getattr(mapping, "capabilities", None)
    return declared if isinstance(declared, Capabilities) else _PLAIN_MAPPING


def validate_in(mapping: MutableMapping[Any, Any], key: Any) -> None:
    """Raise what *mapping* raises for a key it cannot hold, without touching its storage."""
    if isinstance(mapping, Store):
        mapping.validate_key(key)


def keys_in(mapping: MutableMapping[Any, Any], prefix: str) -> Iterator[Any]:
    """The keys of *mapping* that start with *prefix*, listed by the backend when it can."""
    if isinstance(mapping, Store):
        return mapping.keys_with_prefix(prefix) if prefix else iter(mapping)
    if not prefix:
        return iter(list(mapping))
    return (k for k in list(mapping) if isinstance(k, str) and k.startswith(prefix))


def get_many_in(mapping: MutableMapping[Any, Any], keys: Sequence[Any]) -> dict[Any, Any]:
    """``{key: value}`` for the *keys* present in *mapping*, in one batch when it can."""
    if isinstance(mapping, Store):
        return mapping.get_many(keys)
    found: dict[Any, Any] = {}
    for key in keys:
        with contextlib.suppress(KeyError):
            found[key] = mapping[key]
    return found


def set_many_in(mapping: MutableMapping[Any, Any], items: Sequence[tuple[Any, Any]]) -> None:
    """Write every pair of *items* into *mapping*, in one batch when it can."""
    if isinstance(mapping, Store):
        mapping.set_many(items)
    else:
        mapping.update(items)


def delete_many_in(mapping: MutableMapping[Any, Any], keys: Sequence[Any]) -> None:
    """Remove those of *keys* present in *mapping*, in one batch when it can."""
    if isinstance(mapping, Store):
        mapping.delete_many(keys)
        return
    for key in keys:
        mapping.pop(key, None)


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


class Wrapper(Store):
    """A store over other mappings: keys and values pass through untouched.

    Subclasses still write the primitives; ``close()`` closes the wrapped mappings.
    """

    def __init__(self, inner: Sequence[MutableMapping[Any, Any]]) -> None:
        super().__init__()
        self._encode = _identity
        self._decode = _identity
        self._inner = list(inner)

    @property
    def capabilities(self) -> Capabilities:
        """What every wrapped store supports (for one store: its own capabilities)."""
        return combine([capabilities_of(m) for m in self._inner])

    def _check_key(self, key: Any) -> Any:
        return key

    def validate_key(self, key: Any) -> Any:
        """Return *key* if every wrapped store can hold it; raise what the first refusal raises."""
        checked = self._check_key(key)
        for mapping in self._inner:
            validate_in(mapping, checked)
        return key

    def _accepts_writes(self) -> bool:
        """Whether writes can reach the storage of a wrapped mapping."""
        return any(accepts_writes(m) for m in self._inner)

    def _serves_reads(self) -> bool:
        """Whether a wrapped mapping can answer reads."""
        return any(serves_reads(m) for m in self._inner)

    def _setdefault(self, key: Any, value: Any) -> Any:
        # Values pass through untouched here, so what was stored is known only by reading it
        # back (a str default comes back as the bytes the store below holds).
        try:
            return self._read(key)
        except KeyError:
            pass
        self._write(key, value)
        try:
            return self._read(key)
        except KeyError:
            return value  # a write-only or read-only view: nothing to read back

    def _close(self) -> None:
        close_all(self._inner)

    def _describe(self) -> str:
        return ", ".join(repr(m) for m in self._inner)


def _identity(value: Any) -> Any:
    return value
