"""Copying every key of one store into another, in batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import islice

from kv_core import Store

__all__ = ["copy_store"]


def _batches(keys: Iterator[str], size: int) -> Iterator[list[str]]:
    while batch := list(islice(keys, size)):
        yield batch


def copy_store(
    source: Store,
    target: Store,
    *,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Copy every key of *source* into *target*, overwriting; return how many were copied.

    Keys are listed once and read and written in batches (one round trip each where the
    backends allow). A key deleted from *source* while the copy runs is skipped. Copying is
    idempotent, so an interrupted copy is finished by running it again.
    """
    copied = 0
    for batch in _batches(iter(source), batch_size):
        found = source.get_many(batch)
        if found:
            target.set_many(found)
        copied += len(found)
        if progress is not None:
            progress(len(batch))
    return copied
