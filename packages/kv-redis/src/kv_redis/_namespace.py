"""Key-prefix handling: maps user keys to server keys and back, and builds SCAN patterns."""

from __future__ import annotations

__all__ = ["KEY_ERRORS", "Namespace", "escape_glob"]

#: The codec error handler for keys: UTF-8, with lone surrogates (which have no UTF-8 form)
#: passed through as their 3-byte encoding, so every ``str`` is a valid key and comes back
#: unchanged from listing. Other keys are plain UTF-8 on the server.
KEY_ERRORS = "surrogatepass"

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


class Namespace:
    """Put *prefix* in front of every key on the server, and take it off on the way back.

    Keys are ``str`` for the user and UTF-8 ``bytes`` on the server, whatever encoding the
    redis-py client was configured with.

    :param prefix: Text put before each key, e.g. ``"sessions:"``.
    """

    __slots__ = ("prefix", "raw_prefix")

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.raw_prefix = prefix.encode("utf-8", KEY_ERRORS)

    def server_key(self, key: str) -> bytes:
        """The bytes the server stores *key* under."""
        return self.raw_prefix + key.encode("utf-8", KEY_ERRORS)

    def scan_pattern(self, listed: bytes) -> bytes | None:
        """The SCAN ``MATCH`` pattern for keys starting with *listed*; ``None``: match all."""
        if not listed:
            return None
        return escape_glob(listed) + b"*"
