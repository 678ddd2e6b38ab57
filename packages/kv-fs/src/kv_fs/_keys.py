"""Which keys and prefixes a FileSystemDict can hold, decided from the text alone.

These checks never touch the disk, so they run before every operation. What they cannot see
from the text (a symlink planted inside the storage directory) is refused when the key's
directories are opened, one segment at a time, without following symlinks.
"""

from __future__ import annotations

from kv_core import InvalidKeyError
from kv_core.capabilities import LONE_SURROGATES

__all__ = ["REFUSED_CHARACTERS", "KeyRules"]

# Characters a key may never contain: NUL ends a C path, and a backslash is a separator on
# Windows, so a key holding one would mean different files on different systems.
_FORBIDDEN = ("\x00", "\\")

#: What the store declares: those, and lone surrogates (a file name is UTF-8).
REFUSED_CHARACTERS = frozenset(_FORBIDDEN) | LONE_SURROGATES


def _utf8_length(text: str, what: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        msg = f"{what} {text!r} is not valid Unicode text (it holds a lone surrogate)"
        raise InvalidKeyError(msg) from None


class KeyRules:
    """Check keys and prefixes against the path rules of one storage directory.

    :param name_max: The longest file name the file system takes, in bytes (``NAME_MAX``).
    """

    __slots__ = ("name_max",)

    def __init__(self, name_max: int) -> None:
        self.name_max = name_max

    def check_key(self, key: str) -> None:
        """Raise ``InvalidKeyError`` unless *key* names a file inside the storage directory."""
        if not key:
            msg = "the empty key cannot be a file name"
            raise InvalidKeyError(msg)
        if key[0] == "/":
            msg = f"key {key!r} starts with '/': keys are relative to the storage directory"
            raise InvalidKeyError(msg)
        if key[-1] == "/":
            msg = f"key {key!r} ends with '/': a key names a file, not a directory"
            raise InvalidKeyError(msg)
        self._check_text(key, "key")
        if "//" in key:
            msg = f"key {key!r} has an empty segment ('//')"
            raise InvalidKeyError(msg)
        if "." in key:
            self._check_dots(key, f"/{key}/", "key")
        size = len(key) if key.isascii() else _utf8_length(key, "key")
        if size > self.name_max:
            self._check_lengths(key, "key")

    def check_prefix(self, prefix: str) -> None:
        """Raise ``InvalidKeyError`` unless some valid key could start with *prefix*.

        Every segment before the last ``/`` must be a valid directory name; the text after it
        is a partial file or directory name and may be anything a name may start with.
        """
        if not prefix:
            return
        if prefix[0] == "/":
            msg = f"prefix {prefix!r} starts with '/': keys are relative to the storage directory"
            raise InvalidKeyError(msg)
        self._check_text(prefix, "prefix")
        if "//" in prefix:
            msg = f"prefix {prefix!r} has an empty segment ('//')"
            raise InvalidKeyError(msg)
        directories, _, _ = prefix.rpartition("/")
        if directories and "." in directories:
            self._check_dots(directories, f"/{directories}/", "prefix")
        size = len(prefix) if prefix.isascii() else _utf8_length(prefix, "prefix")
        if size > self.name_max:
            self._check_lengths(prefix, "prefix")

    @staticmethod
    def _check_text(text: str, what: str) -> None:
        for char in _FORBIDDEN:
            if char in text:
                msg = f"{what} {text!r} contains {char!r}, which no file name may hold"
                raise InvalidKeyError(msg)

    @staticmethod
    def _check_dots(text: str, framed: str, what: str) -> None:
        if "/../" in framed or "/./" in framed:
            msg = f"{what} {text!r} has a '.' or '..' segment (directory traversal)"
            raise InvalidKeyError(msg)

    def _check_lengths(self, text: str, what: str) -> None:
        for segment in text.split("/"):
            if len(segment.encode("utf-8")) > self.name_max:
                msg = (
                    f"{what} {text!r} has a segment of more than {self.name_max} bytes "
                    "(UTF-8), the longest file name this file system allows"
                )
                raise InvalidKeyError(msg)
