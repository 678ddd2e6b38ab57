"""The API's entity tags, shared by the server (which sends them) and the client.

Two kinds, one per server, chosen by its store:

- A store with ``Capabilities.compare_and_set``: the tag *is* the store's version of the
  key (:func:`version_tag`), so ``If-Match`` becomes ``set_if(..., version=...)`` on the
  store and holds across server processes and hosts. A version made only of characters
  that need no care in a header list is sent as it is; any other is sent base64url-encoded
  behind ``!`` (a character no plain tag holds), so every version has one tag and back.
- Any other store: the value's digest (:func:`etag_of`), checked under the server's
  per-process locks.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

__all__ = ["PLAIN_VERSION", "etag_of", "quoted_etag_of", "version_of_tag", "version_tag"]

#: Characters of a version sent as is: no quote, comma, space or backslash (which would
# change how a list of tags is read), nothing outside visible ASCII.
PLAIN_VERSION = re.compile(r"[A-Za-z0-9._~:+/=-]+")
_ENCODED = "!"


def etag_of(value: bytes) -> str:
    """The strong entity tag of *value*, without quotes: a 128-bit BLAKE2b digest."""
    return hashlib.blake2b(value, digest_size=16).hexdigest()


def quoted_etag_of(value: bytes) -> str:
    """The ``ETag`` header the server sends for *value*: :func:`etag_of` in double quotes."""
    return f'"{etag_of(value)}"'


def version_tag(version: str) -> str:
    """The entity tag (without quotes) of a store's *version* of a key."""
    if PLAIN_VERSION.fullmatch(version):
        return version
    raw = version.encode("utf-8", "surrogatepass")
    return _ENCODED + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def version_of_tag(tag: str | None) -> str | None:
    """The version :func:`version_tag` made *tag* from; ``None`` if it made no such tag.

    *tag* ``None`` or ``""`` is what Werkzeug makes of an empty tag, ``If-Match: ""``.
    """
    if not tag:
        return None
    if PLAIN_VERSION.fullmatch(tag):
        return tag
    if not tag.startswith(_ENCODED):
        return None
    encoded = tag[len(_ENCODED) :]
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        version = raw.decode("utf-8", "surrogatepass")
    except (binascii.Error, ValueError):
        return None
    return version if version_tag(version) == tag else None
