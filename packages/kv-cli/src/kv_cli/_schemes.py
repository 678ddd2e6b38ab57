"""The store URL schemes installed here, read without importing ``importlib.metadata``.

``kv --help`` lists them. ``kv_core.registered_schemes`` asks ``importlib.metadata``, whose
import costs more than the rest of the help page together; this module reads the same
``kv.stores`` entry points the way ``importlib.metadata`` finds them: the
``entry_points.txt`` of each ``*.dist-info`` and ``*.egg-info`` folder in the ``sys.path``
entries, in order, the first distribution of each (normalized) name winning over any later
one. Where the environment holds anything this reader does not follow just as
``importlib.metadata`` does (a zip archive or an egg on ``sys.path``, a distribution finder
other than the standard one, an entry point file it cannot parse), it asks
``importlib.metadata`` instead, so the answer is always the same.
"""

from __future__ import annotations

import os
import sys

__all__ = ["installed_schemes", "scheme_list"]

# kv_core.opener.ENTRY_POINT_GROUP, not imported: the module brings difflib with it.
_GROUP = "kv.stores"
_SUFFIXES = (".dist-info", ".egg-info")
# The errors importlib.metadata's Distribution.read_text takes for "no such file".
_ABSENT = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


class _Unsure(Exception):
    """Something only importlib.metadata reads exactly as it does."""


def installed_schemes() -> list[str]:
    """The URL schemes the installed backends can open, sorted: ``registered_schemes()``.

    ``name+*`` stands for every ``name+driver`` scheme, as in :func:`kv_core.open_store`.
    """
    try:
        return _read()
    except _Unsure:
        import kv_core

        return kv_core.registered_schemes()


def scheme_list() -> str:
    """The installed schemes as ``kv --help`` shows them: ``file://, ..., postgresql+DRIVER://``."""
    schemes = [scheme.replace("+*", "+DRIVER") for scheme in installed_schemes()]
    return ", ".join(f"{scheme}://" for scheme in schemes)


def _normalize(name: str) -> str:
    """A distribution name as importlib.metadata compares them (PEP 503, with underscores)."""
    name = name.lower().replace("-", "_").replace(".", "_")
    while "__" in name:
        name = name.replace("__", "_")
    return name


def _read() -> list[str]:
    from importlib.machinery import PathFinder

    # importlib.metadata asks every finder on sys.meta_path that has find_distributions; the
    # standard PathFinder's is the sys.path search below.
    finders = [f for f in sys.meta_path if getattr(f, "find_distributions", None) is not None]
    if finders != [PathFinder]:
        raise _Unsure
    seen: set[str] = set()
    schemes: set[str] = set()
    for entry in sys.path:
        if not isinstance(entry, str) or os.path.basename(entry).lower().endswith(".egg"):
            raise _Unsure
        try:
            children = os.listdir(entry or ".")
        except OSError:
            if os.path.isfile(entry):  # a zip archive, which importlib.metadata opens
                raise _Unsure from None
            continue
        for child in children:
            if not child.lower().endswith(_SUFFIXES):
                continue
            name = _normalize(child.rpartition(".")[0].partition("-")[0])
            if not name or not child.endswith(_SUFFIXES):
                # importlib.metadata then reads the name from the metadata file.
                raise _Unsure
            if name in seen:
                continue
            seen.add(name)
            schemes.update(_entry_point_names(os.path.join(entry, child, "entry_points.txt")))
    return sorted(schemes)


def _entry_point_names(path: str) -> list[str]:
    """The names in the ``kv.stores`` section of one ``entry_points.txt``, parsed the way
    importlib.metadata's ``Sectioned`` parses it."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except _ABSENT:
        return []
    except (OSError, UnicodeDecodeError):
        raise _Unsure from None
    names: list[str] = []
    section: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
            continue
        if section is None:
            continue
        name, equals, _ = line.partition("=")
        if not equals:
            raise _Unsure  # importlib.metadata fails on the line: let it say so
        if section == _GROUP:
            names.append(name.strip())
    return names
