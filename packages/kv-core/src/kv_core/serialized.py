"""SerializedDict: store keys and values of any type through serializer functions."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Any

from .capabilities import Capabilities
from .errors import InvalidKeyError
from .store import IDENTITY
from .wrapping import (
    Wrapper,
    capabilities_of,
    delete_if_in,
    read_with_version_from,
    write_if_to,
)

__all__ = ["SerializedDict"]

# A serialized key is stored as a tag saying how to read it back ("s:" for a key serializer
# that returned str, "b:" for bytes) and the result as unpadded URL-safe base64 (of its
# UTF-8 for str): letters, digits, "-", "_" and ":" only, so it is a valid key on every
# backend (no NUL, no "/", no "..", no case or space tricks), within the backend's length.
_STR_TAG = "s:"
_BYTES_TAG = "b:"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class SerializedDict(Wrapper):
    """A view of *store* that serializes keys and values on the way in and out.

    Every function is optional, but the key functions come as a pair. Without them, keys pass
    through unchanged (so two SerializedDicts over one store see the same keys), and without
    a value serializer values do. A key serializer may return ``str`` or ``bytes``
    (``pickle.dumps``); either way the stored key is ``s:`` or ``b:`` and base64 text that
    every backend accepts, read back exactly. It is a third longer than the serialized key,
    and a backend's key length limit (SQL ``key_length``) applies to it::

        d = SerializedDict(MemoryDict(), key_serialize=pickle.dumps,
                           key_deserialize=pickle.loads, value_serialize=zlib.compress,
                           value_deserialize=zlib.decompress)
        d[("user", 42)] = b"..."

    Keys with a serializer are opaque to the wrapped store, so listing by prefix filters
    the deserialized ``str`` keys here instead of asking the store.

    Compare-and-set passes through to the wrapped store (with the key and value serialized),
    where it declares ``compare_and_set``; versions are the wrapped store's.
    """

    def __init__(
        self,
        store: MutableMapping[Any, Any],
        *,
        key_serialize: Callable[[Any], Any] | None = None,
        key_deserialize: Callable[[Any], Any] | None = None,
        value_serialize: Callable[[Any], Any] | None = None,
        value_deserialize: Callable[[Any], Any] | None = None,
    ) -> None:
        if (key_serialize is None) != (key_deserialize is None):
            msg = "give both key_serialize and key_deserialize, or neither"
            raise ValueError(msg)
        super().__init__([store])
        self._store = store
        (self._link,) = self._links
        self._key_serialize = key_serialize
        self._key_deserialize = key_deserialize
        if key_serialize is not None:
            # Any key that serializes is valid here; its stored form is checked below.
            self._needs_str = False
            self._rewrites_keys = True
            self._checks_keys = True
        inner_encode = self._link.encode
        if value_serialize is not None:
            if inner_encode is IDENTITY:
                self._encode = value_serialize
            else:
                self._encode = lambda value: inner_encode(value_serialize(value))
        if value_deserialize is not None:
            self._decode = value_deserialize
        self._forward(SerializedDict, reads=True, writes=True)

    @property
    def capabilities(self) -> Capabilities:
        """The wrapped store's; with a key serializer, any key that serializes is valid.

        ``max_key_length`` is then ``None``: keys are not text, and the limit that remains is
        the wrapped store's, on the encoded form (see the class docstring).
        """
        inner = capabilities_of(self._store)
        if self._key_serialize is None:
            return inner
        return Capabilities(
            persistent=inner.persistent,
            processes=inner.processes,
            ttl=inner.ttl,
            history=inner.history,
            max_key_length=None,
            max_value_size=inner.max_value_size,
            empty_key=True,
            hierarchical_keys=False,
            invalid_keys=(),
            refused_characters=frozenset(),
            compare_and_set=inner.compare_and_set,
        )

    def _check_key(self, key: Any) -> Any:
        if self._key_serialize is None:
            return super()._check_key(key)
        serialized = self._key_serialize(key)
        if isinstance(serialized, str):
            stored = _STR_TAG + _b64(serialized.encode("utf-8", "surrogatepass"))
        elif isinstance(serialized, bytes | bytearray):
            stored = _BYTES_TAG + _b64(bytes(serialized))
        else:
            msg = f"key_serialize must return str or bytes, not {type(serialized).__name__}"
            raise TypeError(msg)
        return super()._check_key(stored)

    def _load_key(self, stored: Any) -> Any:
        if self._key_serialize is None:
            return stored
        if not isinstance(stored, str) or stored[:2] not in (_STR_TAG, _BYTES_TAG):
            msg = f"{stored!r} was not written by a SerializedDict with a key serializer"
            raise InvalidKeyError(msg)
        encoded = stored[2:]
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            body: str | bytes = (
                raw.decode("utf-8", "surrogatepass") if stored.startswith(_STR_TAG) else raw
            )
        except (binascii.Error, ValueError) as exc:
            msg = f"{stored!r} is not a serialized key"
            raise InvalidKeyError(msg) from exc
        assert self._key_deserialize is not None
        return self._key_deserialize(body)

    def _get(self, key: Any, default: Any) -> Any:
        return self._link.get(key, default)

    def _write(self, key: Any, value: Any) -> None:
        self._link.write(key, value)

    def _delete(self, key: Any) -> None:
        self._link.delete(key)

    def _contains(self, key: Any) -> bool:
        return self._link.contains(key)

    def _count(self) -> int:
        return self._link.count()

    def _iter_keys(self, prefix: str) -> Iterator[Any]:
        if self._key_serialize is None:
            return self._link.keys(prefix)
        loaded = (self._load_key(stored) for stored in self._link.keys(""))
        if not prefix:
            return loaded
        return (k for k in loaded if isinstance(k, str) and k.startswith(prefix))

    def _validate_prefix(self, prefix: str) -> None:
        if self._key_serialize is None:
            super()._validate_prefix(prefix)
        # With key functions the prefix is matched here, on the loaded keys.

    def _read_many(self, keys: Sequence[Any]) -> dict[Any, Any]:
        return self._link.read_many(keys)

    def _write_many(self, items: Sequence[tuple[Any, Any]]) -> None:
        self._link.write_many(items)

    def _delete_many(self, keys: Sequence[Any]) -> None:
        self._link.delete_many(keys)

    def _pop(self, key: Any) -> Any:
        return self._link.pop(key)

    def _clear(self) -> None:
        self._link.clear()

    def _read_with_version(self, key: Any) -> tuple[Any, str]:
        return read_with_version_from(self._link, key)

    def _write_if(self, key: Any, value: Any, version: str | None) -> str:
        return write_if_to(self._link, key, value, version)

    def _delete_if(self, key: Any, version: str) -> None:
        delete_if_in(self._link, key, version)

    def get_many(self, keys: Any) -> dict[Any, Any]:
        """``{key: value}`` for the *keys* present, keyed by the caller's own keys."""
        by_stored = {self._check_key(key): key for key in keys}
        if not by_stored:
            return {}
        found = self._read_many(list(by_stored))
        decode = self._decode
        return {by_stored[stored]: decode(raw) for stored, raw in found.items()}

    def popitem(self) -> tuple[Any, Any]:
        """Remove and return some ``(key, value)`` pair; ``KeyError`` if the store is empty."""
        for stored in self._link.keys(""):
            try:
                value = self._link.pop(stored)
            except KeyError:
                continue
            return self._load_key(stored), self._decode(value)
        msg = "popitem(): store is empty"
        raise KeyError(msg)
