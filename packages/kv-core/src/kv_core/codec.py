"""The value rule shared by every store: bytes in, bytes out, str stored as UTF-8."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Deserializer", "Serializer", "ValueCodec", "to_bytes"]

Serializer = Callable[[Any], bytes | str]
Deserializer = Callable[[bytes], Any]


def to_bytes(value: object) -> bytes:
    """Return *value* as ``bytes``: bytes-like objects are copied, ``str`` is UTF-8 encoded.

    :raises TypeError: for anything else.
    """
    if type(value) is bytes:
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    msg = (
        f"values must be bytes or str, not {type(value).__name__}; "
        "give the store a serializer= to keep other types"
    )
    raise TypeError(msg)


def _identity(raw: bytes) -> Any:
    return raw


class ValueCodec:
    """Turn user values into the bytes a backend stores, and back.

    :param serializer: Applied to every value before it is stored; must return bytes or str.
    :param deserializer: Applied to the stored bytes on every read.
    """

    __slots__ = ("decode", "deserializer", "serializer")

    def __init__(
        self, serializer: Serializer | None = None, deserializer: Deserializer | None = None
    ) -> None:
        self.serializer = serializer
        self.deserializer = deserializer
        self.decode: Callable[[bytes], Any] = deserializer or _identity

    def encode(self, value: Any) -> bytes:
        """The bytes to store for *value*."""
        if self.serializer is not None:
            value = self.serializer(value)
        return to_bytes(value)
