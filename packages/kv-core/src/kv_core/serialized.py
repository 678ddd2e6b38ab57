"""SerializedDict: store keys and values of any type through serializer functions."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Any

from .capabilities import Capabilities
from .errors import InvalidKeyError
from .wrapping import Wrapper, capabilities_of, delete_many_in, get_many_in, keys_in, set_many_in

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
        self._key_serialize = key_serialize
        self._key_deserialize = key_deserialize
        if value_serialize is not None:
            self._encode = value_serialize
        if value_deserialize is not None:
            self._decode = value_deserialize

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
        )

    def _check_key(self, key: Any) -> Any:
        if self._key_serialize is None:
            return key
        stored = self._key_serialize(key)
        if isinstance(stored, str):
            return _STR_TAG + _b64(stored.encode("utf-8", "surrogatepass"))
        if isinstance(stored, bytes | bytearray):
            return _BYTES_TAG + _b64(bytes(stored))
        msg = f"key_serialize must return str or bytes, not {type(stored).__name__}"
        raise TypeError(msg)

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

    def _read(self, key: Any) -> Any:
        return self._store[key]

    def _write(self, key: Any, value: Any) -> None:
        self._store[key] = value

    def _delete(self, key: Any) -> None:
        del self._store[key]

    def _contains(self, key: Any) -> bool:
        return key in self._store

    def _count(self) -> int:
        return len(self._store)

    def _iter_keys(self, prefix: str) -> Iterator[Any]:
        if self._key_serialize is None:
            return keys_in(self._store, prefix)
        loaded = (self._load_key(stored) for stored in keys_in(self._store, ""))
        if not prefix:
            return loaded
        return (k for k in loaded if isinstance(k, str) and k.startswith(prefix))

    def _read_many(self, keys: Sequence[Any]) -> dict[Any, Any]:
        return get_many_in(self._store, keys)

    def _write_many(self, items: Sequence[tuple[Any, Any]]) -> None:
        set_many_in(self._store, items)

    def _delete_many(self, keys: Sequence[Any]) -> None:
        delete_many_in(self._store, keys)

    def _clear(self) -> None:
        self._store.clear()

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
        for stored in keys_in(self._store, ""):
            try:
                value = self._store.pop(stored)
            except KeyError:
                continue
            return self._load_key(stored), self._decode(value)
        msg = "popitem(): store is empty"
        raise KeyError(msg)
