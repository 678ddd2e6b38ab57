"""``open_store``: open any installed store from a URL, through the ``kv.stores`` entry points."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from .errors import UnknownStoreError
from .store import Store
from .urls import StoreURL

__all__ = ["ENTRY_POINT_GROUP", "open_store", "registered_schemes"]

ENTRY_POINT_GROUP = "kv.stores"

# Where each well-known scheme comes from, so a missing backend can be named.
_PROVIDERS = {
    "memory": "kv-core",
    "file": "kv-fs",
    "redis": "kv-redis",
    "rediss": "kv-redis",
    "redis+cluster": "kv-redis",
    "sqlite": "kv-sql",
    "mysql": "kv-sql[mysql]",
    "mysql+pymysql": "kv-sql[mysql]",
    "mariadb": "kv-sql[mysql]",
    "mariadb+pymysql": "kv-sql[mysql]",
    "postgresql": "kv-sql[postgres]",
    "postgresql+psycopg": "kv-sql[postgres]",
    "http": "kv-flask",
    "https": "kv-flask",
}


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def registered_schemes() -> list[str]:
    """The URL schemes the installed backends can open."""
    return sorted(_entry_points())


def open_store(url: str, **overrides: Any) -> Store:
    """Open the store that *url* names; keyword arguments override the URL's options.

    ``memory://`` is always there; each backend package adds its own schemes
    (``file://``, ``redis://``, ``sqlite://`` ...) through the ``kv.stores`` entry-point
    group, and a third-party backend plugs in the same way.

    :raises UnknownStoreError: no installed package handles the scheme; the message says
        which package to install.
    :raises InvalidStoreURL: the URL is malformed or has options the backend does not know.
    """
    parsed = StoreURL.parse(url)
    found = _entry_points().get(parsed.scheme)
    if found is None:
        provider = _PROVIDERS.get(parsed.scheme)
        hint = (
            f"install {provider} to open it"
            if provider
            else f"no installed package registers it in the {ENTRY_POINT_GROUP!r} entry points"
        )
        msg = f"no store for scheme {parsed.scheme!r} in {parsed.redacted!r}: {hint}"
        raise UnknownStoreError(msg)
    opener = found.load()
    store: Store = opener(url, **overrides)
    return store
