"""``file://`` URLs: open a FileSystemDict by URL through ``kv_core.open_store``."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from kv_core import InvalidStoreURL, parse_bool
from kv_core.urls import read_options

from ._paths import default_scratch
from ._store import FileSystemDict

__all__ = ["open_file_url"]

_OPTIONS = {"deserializer": None, "durable": parse_bool, "scratch": None, "serializer": None}


def open_file_url(url: str, **overrides: Any) -> FileSystemDict:
    """Open ``file:///path/to/storage?scratch=/path/to/scratch&durable=0``.

    Options: ``scratch`` (default: ``<storage>.scratch``, a sibling of the storage
    directory, so normally on the same file system), ``durable`` (default true),
    ``serializer`` and ``deserializer`` (keyword overrides only). Keyword arguments win over
    the URL's options.
    """
    read = read_options(url, overrides, known=_OPTIONS)
    parsed, options = read.url, read.store
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        msg = (
            f"file URLs name a local absolute path, e.g. file:///srv/data, not a host "
            f"{parts.netloc!r}: {parsed.redacted!r}"
        )
        raise InvalidStoreURL(msg)
    storage = unquote(parts.path)
    if not storage.startswith("/"):
        msg = f"file URL without an absolute path (use file:///abs/path): {parsed.redacted!r}"
        raise InvalidStoreURL(msg)
    scratch = options.get("scratch") or default_scratch(storage)
    return FileSystemDict(
        storage,
        scratch,
        durable=options.get("durable", True),
        serializer=options.get("serializer"),
        deserializer=options.get("deserializer"),
    )
