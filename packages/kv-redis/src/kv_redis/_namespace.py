"""Key-prefix handling: maps user keys to server keys and back, and builds SCAN patterns."""

from __future__ import annotations

from kv_core import InvalidKeyError

__all__ = ["Namespace", "check_encodable", "escape_glob"]

# Characters with a meaning in Redis glob patterns (stringmatchlen); a backslash before
# any character makes it literal, so escaping these is enough.
_GLOB_SPECIAL = frozenset(b"*?[]\\")


def escape_glob(raw: bytes) -> bytes:
    """Return *raw* with every glob metacharacter escaped, for SCAN ``MATCH``."""
    if not any(byte in _GLOB_SPECIAL for byte in raw):
        return raw
    out = bytearray()
    for byte in raw:
        if byte in _GLOB_SPECIAL:
            out.append(0x5C)  # backslash
        out.append(byte)
    return bytes(out)


def check_encodable(text: str, what: str = "key") -> None:
    """Raise ``InvalidKeyError`` if *text* has no UTF-8 form (a lone surrogate)."""
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        msg = f"{what} {text!r} cannot be stored in Redis: it has no UTF-8 form ({exc.reason})"
        raise InvalidKeyError(msg) from None


class Namespace:
    """Put *prefix* in front of every key on the server, and take it off on the way back.

    Keys are ``str`` for the user and UTF-8 ``bytes`` on the server, whatever encoding the
    redis-py client was configured with.

    :param prefix: Text put before each key, e.g. ``"sessions:"``.
    """

    __slots__ = ("prefix", "raw_prefix")

    def __init__(self, prefix: str = "") -> None:
        check_encodable(prefix, "key_prefix")
        self.prefix = prefix
        self.raw_prefix = prefix.encode("utf-8")

    def server_key(self, key: str) -> bytes:
        """The bytes the server stores *key* under."""
        return self.raw_prefix + key.encode("utf-8")

    def scan_pattern(self, listed: bytes) -> bytes | None:
        """The SCAN ``MATCH`` pattern for keys starting with *listed*; ``None``: match all."""
        if not listed:
            return None
        return escape_glob(listed) + b"*"
