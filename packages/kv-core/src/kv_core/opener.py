"""``open_store``: open any installed store from a URL, through the ``kv.stores`` entry points."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from .errors import UnknownStoreError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from .store import Store

__all__ = ["ANY_DRIVER", "ENTRY_POINT_GROUP", "open_store", "registered_schemes"]

ENTRY_POINT_GROUP = "kv.stores"
#: Registered after a name (``postgresql+*``): opens every ``name+driver`` scheme.
ANY_DRIVER = "+*"

# Where each well-known scheme comes from, so a missing backend can be named.
_PROVIDERS = {
    "memory": "kv-core",
    "file": "kv-fs",
    "redis": "kv-redis",
    "rediss": "kv-redis",
    "redis+cluster": "kv-redis",
    "unix": "kv-redis",
    "sqlite": "kv-sql",
    "mysql": "kv-sql[mysql]",
    "mysql+pymysql": "kv-sql[mysql]",
    "mariadb": "kv-sql[mysql]",
    "mariadb+pymysql": "kv-sql[mysql]",
    "postgresql": "kv-sql[postgres]",
    "postgresql+psycopg": "kv-sql[postgres]",
    "postgres": "kv-sql[postgres]",
    "duckdb": "kv-sql[duckdb]",
    "firebird": "kv-sql[firebird]",
    "http": "kv-flask",
    "https": "kv-flask",
}


def _entry_points() -> dict[str, EntryPoint]:
    # Imported here, not with the module: importlib.metadata costs more than the rest of
    # kv-core together, and only opening a URL or listing the schemes needs it.
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def registered_schemes() -> list[str]:
    """The URL schemes the installed backends can open, sorted.

    ``name+*`` stands for every ``name+driver`` scheme (see :func:`open_store`).
    """
    return sorted(_entry_points())


def _family(scheme: str) -> str:
    """``postgresql`` for ``postgresql+psycopg2``: the part before a ``+driver``."""
    return scheme.split("+", 1)[0]


def _unknown_scheme(scheme: str, shown: str, installed: dict[str, EntryPoint]) -> str:
    """The message for a scheme no installed package opens: what to install, or what is."""
    provider = _PROVIDERS.get(scheme)
    if provider is None and _family(scheme) not in installed:
        provider = _PROVIDERS.get(_family(scheme))
    if provider:
        return f"no store for scheme {scheme!r} in {shown!r}: install {provider} to open it"
    known = sorted(installed)
    candidates = sorted({name for name in known if not name.endswith(ANY_DRIVER)} | set(_PROVIDERS))
    nearest = difflib.get_close_matches(scheme, candidates, n=1, cutoff=0.6)
    hint = ""
    if nearest:
        found = nearest[0]
        missing = "" if found in installed else f" (install {_PROVIDERS[found]})"
        hint = f"did you mean {found}://{missing}? "
    return (
        f"no store for scheme {scheme!r} in {shown!r}: {hint}installed schemes: "
        f"{', '.join(known)}; a package adds one through the {ENTRY_POINT_GROUP!r} entry points"
    )


def open_store(url: str, **overrides: Any) -> Store:
    """Open the store that *url* names; keyword arguments override the URL's options.

    ``memory://`` is always there; each backend package adds its own schemes
    (``file://``, ``redis://``, ``sqlite://`` ...) through the ``kv.stores`` entry-point
    group, and a third-party backend plugs in the same way. A package that registers the
    name ``name+*`` opens every ``name+driver`` scheme no package registers by itself
    (kv-sql opens SQLAlchemy's ``postgresql+psycopg2`` so, or says what to install).

    :raises UnknownStoreError: no installed package handles the scheme, or its driver is not
        installed; the message says what to install, or lists the installed schemes and
        suggests the nearest.
    :raises InvalidStoreURL: the URL is malformed or has options the backend does not know.
    """
    # Imported here, like importlib.metadata: ``kv --help`` lists the schemes without them.
    from .urls import StoreURL

    parsed = StoreURL.parse(url)
    installed = _entry_points()
    found = installed.get(parsed.scheme)
    if found is None and "+" in parsed.scheme:
        found = installed.get(_family(parsed.scheme) + ANY_DRIVER)
    if found is None:
        raise UnknownStoreError(_unknown_scheme(parsed.scheme, parsed.redacted, installed))
    opener = found.load()
    store: Store = opener(url, **overrides)
    return store
