"""Deliberately broken stores: the conformance suite must fail every one of them.

Each is MemoryDict with one realistic bug. test_suite_catches_broken_stores.py runs the
suite against each, in a separate pytest run, and expects failures.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import unicodedata
from collections.abc import Iterator, Sequence
from typing import Any

from kv_core import (
    ConflictError,
    InvalidKeyError,
    MemoryDict,
    Store,
    StoreUnavailable,
)


class DropsEmptyValues(MemoryDict):
    """Treats an empty value as a delete (a common bug with falsy checks)."""

    def _write(self, key: str, value: bytes) -> None:
        if value:
            super()._write(key, value)
        else:
            self._data.pop(key, None)


class CaseInsensitive(MemoryDict):
    """Merges 'A' and 'a', like a default MySQL collation."""

    def _check_key(self, key: Any) -> str:
        return super()._check_key(key).lower()


class MergesNormalForms(MemoryDict):
    """Normalizes keys to NFC, so 'e' + combining accent and 'é' collide."""

    def _check_key(self, key: Any) -> str:
        return unicodedata.normalize("NFC", super()._check_key(key))


class DelMissingPasses(MemoryDict):
    """Lets del of a missing key pass silently, as the original Redis code did."""

    def _delete(self, key: str) -> None:
        self._data.pop(key, None)


class YieldsKeyTwice(MemoryDict):
    """Repeats a key while listing, as an undeduplicated SCAN can."""

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        keys = list(super()._iter_keys(prefix))
        return iter(keys + keys[:1])


class ReturnsStrForStr(MemoryDict):
    """Hands a str value back as str instead of its UTF-8 bytes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._encode = lambda value: value if isinstance(value, str) else bytes(value)


class AcceptsDeclaredInvalidKey(MemoryDict):
    """Declares keys with NUL invalid, then stores them anyway."""

    capabilities = dataclasses.replace(MemoryDict.capabilities, invalid_keys=("nul\x00key",))


class HoldsDeclaredRefusedCharacter(MemoryDict):
    """Declares backslash refused in keys, then stores keys holding it anyway."""

    capabilities = dataclasses.replace(MemoryDict.capabilities, refused_characters=frozenset("\\"))


class RefusesUndeclaredCharacter(MemoryDict):
    """Refuses keys holding a tab, but declares no refused characters."""

    def _validate_key(self, key: str) -> None:
        if "\t" in key:
            raise InvalidKeyError(key)


class RefusesLateButNotEarly(MemoryDict):
    """Refuses an over-long key on write only, so reads and `in` answer for it."""

    capabilities = dataclasses.replace(MemoryDict.capabilities, max_key_length=16)

    def _write(self, key: str, value: bytes) -> None:
        if len(key) > 16:
            raise InvalidKeyError(key)
        super()._write(key, value)


class LosesThreadWrites(MemoryDict):
    """Drops writes made from any thread but the main one (a per-thread buffer never flushed)."""

    def _write(self, key: str, value: bytes) -> None:
        if threading.current_thread() is threading.main_thread():
            super()._write(key, value)


class LenOffAfterDelete(MemoryDict):
    """Keeps a counter for len() and forgets to decrement it on delete."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._writes: set[str] = set()
        super().__init__(*args, **kwargs)

    def _write(self, key: str, value: bytes) -> None:
        self._writes.add(key)
        super()._write(key, value)

    def _write_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        for key, value in items:
            self._write(key, value)

    def _clear(self) -> None:
        self._writes.clear()
        super()._clear()

    def _count(self) -> int:
        return len(self._writes)


class TearsValues(MemoryDict):
    """Writes a value in two steps, so a concurrent reader can see half of each."""

    def _write(self, key: str, value: bytes) -> None:
        old = self._data.get(key, b"")
        half = len(value) // 2
        if len(old) == len(value) and half:
            self._data[key] = value[:half] + old[half:]
            time.sleep(0.0005)
        self._data[key] = value


class TruncatesLargeValues(MemoryDict):
    """Silently keeps only the first 4 MB of a value."""

    def _write(self, key: str, value: bytes) -> None:
        super()._write(key, value[: 4 * 1024 * 1024])


class PrefixIgnored(MemoryDict):
    """Lists every key, whatever prefix it is asked for."""

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        return super()._iter_keys("")


class GlobPrefix(MemoryDict):
    """Matches prefixes as SQL LIKE patterns without escaping, so '_' matches any character."""

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        import re

        pattern = re.compile(re.escape(prefix).replace("_", ".").replace("%", ".*"), re.DOTALL)
        return (k for k in super()._iter_keys("") if pattern.match(k))


class StrKeysCoerced(MemoryDict):
    """Turns any key into a str instead of refusing it."""

    def _check_key(self, key: Any) -> str:
        return str(key)


class GetManyReportsMissing(MemoryDict):
    """get_many returns None for missing keys instead of leaving them out."""

    def _read_many(self, keys: Sequence[str]) -> dict[str, Any]:
        return {key: self._data.get(key) for key in keys}


class ExcusesItsOwnKeys(MemoryDict):
    """Refuses padded, non-NFC and LIKE-character keys through its own validation, undeclared."""

    def _validate_key(self, key: str) -> None:
        if key != key.strip() or key != unicodedata.normalize("NFC", key) or "%" in key:
            raise InvalidKeyError(key)


class PopTakesPrefixedKeys(MemoryDict):
    """pop(k) also removes every key that starts with k."""

    def _pop(self, key: str) -> bytes:
        value = super()._pop(key)
        for other in [k for k in self._data if k.startswith(key)]:
            self._data.pop(other, None)
        return value


class UpdateIgnoresKeysObjects(MemoryDict):
    """update() iterates an object with keys() instead of calling keys()."""

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        if hasattr(other, "keys") and not hasattr(other, "items"):
            other = ()
        super().update(other, **kwargs)


class IteratesLiveDict(MemoryDict):
    """Lists keys straight off its dict, without a copy: other threads' writes break it."""

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        return (key for key in self._data if key.startswith(prefix))


class ListsInsteadOfIterating(MemoryDict):
    """_iter_keys returns a list, not an iterator."""

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        return [key for key in list(self._data) if key.startswith(prefix)]  # type: ignore[return-value]


class SetIfIgnoresVersion(MemoryDict):
    """set_if with a version writes whenever the key exists, whatever its version."""

    def _write_if(self, key: str, value: bytes, version: str | None) -> str:
        if version is None:
            return super()._write_if(key, value, None)
        if key not in self._data:
            raise ConflictError(key)
        self._data[key] = value
        return self._read_with_version(key)[1]


class SetIfNotAtomic(MemoryDict):
    """Compares the version, then writes, without a lock between: racing writers both win."""

    def _write_if(self, key: str, value: bytes, version: str | None) -> str:
        current = None if key not in self._data else self._read_with_version(key)[1]
        if current != version:
            raise ConflictError(key)
        time.sleep(0.001)
        self._data[key] = value
        return self._read_with_version(key)[1]


BROKEN = [
    DropsEmptyValues,
    CaseInsensitive,
    MergesNormalForms,
    DelMissingPasses,
    YieldsKeyTwice,
    ReturnsStrForStr,
    AcceptsDeclaredInvalidKey,
    HoldsDeclaredRefusedCharacter,
    RefusesUndeclaredCharacter,
    RefusesLateButNotEarly,
    LosesThreadWrites,
    LenOffAfterDelete,
    TearsValues,
    TruncatesLargeValues,
    PrefixIgnored,
    GlobPrefix,
    StrKeysCoerced,
    GetManyReportsMissing,
    ExcusesItsOwnKeys,
    PopTakesPrefixedKeys,
    UpdateIgnoresKeysObjects,
    IteratesLiveDict,
    ListsInsteadOfIterating,
    SetIfIgnoresVersion,
    SetIfNotAtomic,
]


class ServerDown(Store):
    """A store whose server is down, done right: every primitive raises StoreUnavailable."""

    capabilities = MemoryDict.capabilities

    def _fail(self) -> Any:
        msg = "127.0.0.1:1 refused the connection"
        raise StoreUnavailable(msg)

    def _read(self, key: str) -> bytes:
        return self._fail()  # type: ignore[no-any-return]

    def _write(self, key: str, value: bytes) -> None:
        self._fail()

    def _delete(self, key: str) -> None:
        self._fail()

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        return self._fail()  # type: ignore[no-any-return]


class DownReadsAsMissing(ServerDown):
    """Turns a failed read into a missing key, so get() answers None with the server down."""

    def _read(self, key: str) -> bytes:
        raise KeyError(key)
