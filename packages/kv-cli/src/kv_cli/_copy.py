"""Copying every key of one store into another, in batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from kv_core import InvalidKeyError, KVError, Store, ValueTooLargeError

__all__ = ["CopyRefused", "CopyResult", "copy_store"]

# What a destination may refuse for one key while taking the others.
_REFUSALS = (InvalidKeyError, ValueTooLargeError)


@dataclass
class CopyResult:
    """What a copy did.

    :param copied: Keys written to the target.
    :param kept: Keys the target already held and kept (``overwrite=False``).
    :param refused: ``(key, reason)`` of each key the target refused (``skip_invalid=True``).
    """

    copied: int = 0
    kept: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)


class CopyRefused(KVError, ValueError):
    """The target refused a key, and the copy stopped there (without ``skip_invalid``).

    :param key: The key refused.
    :param copied: How many keys were copied before.
    """

    def __init__(self, key: str, reason: BaseException, copied: int) -> None:
        super().__init__(f"the target refused the key {key!r}: {reason}")
        self.key = key
        self.copied = copied


def _batches(keys: Iterator[str], size: int) -> Iterator[list[str]]:
    while batch := list(islice(keys, size)):
        yield batch


def _refusal(target: Store, key: str) -> InvalidKeyError | None:
    """The error *target* raises for *key*, found without writing anything."""
    try:
        target.validate_key(key)
    except InvalidKeyError as exc:
        return exc
    return None


def copy_store(
    source: Store,
    target: Store,
    *,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
    overwrite: bool = True,
    skip_invalid: bool = False,
) -> CopyResult:
    """Copy every key of *source* into *target*; return what was done.

    Keys are listed once and read and written in batches (one round trip each where the
    backends allow). A key deleted from *source* while the copy runs is skipped. Copying is
    idempotent, so an interrupted copy is finished by running it again.

    :param overwrite: With ``False``, keys *target* already holds are kept as they are (it
        reads each batch from *target* first), so a copy can resume where it stopped.
    :param skip_invalid: Keys *target* refuses (``InvalidKeyError``, ``ValueTooLargeError``)
        are recorded in the result and the copy goes on; without it the first one raises
        :class:`CopyRefused`.
    """
    result = CopyResult()
    for batch in _batches(iter(source), batch_size):
        found = source.get_many(batch)
        if found and not overwrite:
            held = _present(target, list(found))
            result.kept += len(held)
            found = {key: value for key, value in found.items() if key not in held}
        for key in list(found):
            refused = _refusal(target, key)
            if refused is not None:
                _refuse(result, key, refused, skip_invalid)
                del found[key]
        if found:
            _write(target, found, result, skip_invalid)
        if progress is not None:
            progress(len(batch))
    return result


def _present(target: Store, keys: list[str]) -> set[str]:
    return set(target.get_many(keys))


def _refuse(result: CopyResult, key: str, error: BaseException, skip_invalid: bool) -> None:
    if not skip_invalid:
        raise CopyRefused(key, error, result.copied) from error
    result.refused.append((key, str(error)))


def _write(target: Store, items: dict[str, Any], result: CopyResult, skip: bool) -> None:
    try:
        target.set_many(items)
        result.copied += len(items)
        return
    except _REFUSALS:
        pass  # one key (at least) is refused: find which, writing the others one by one
    for key, value in items.items():
        try:
            target[key] = value
        except _REFUSALS as exc:
            _refuse(result, key, exc, skip)
        else:
            result.copied += 1
