"""The API's entity tags, shared by the server (which sends them) and the client."""

from __future__ import annotations

import hashlib

__all__ = ["etag_of", "quoted_etag_of"]


def etag_of(value: bytes) -> str:
    """The strong entity tag of *value*, without quotes: a 128-bit BLAKE2b digest."""
    return hashlib.blake2b(value, digest_size=16).hexdigest()


def quoted_etag_of(value: bytes) -> str:
    """The ``ETag`` header the server sends for *value*: :func:`etag_of` in double quotes."""
    return f'"{etag_of(value)}"'
