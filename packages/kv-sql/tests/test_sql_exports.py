"""The public names of kv_sql."""

from __future__ import annotations

from importlib.metadata import version

import kv_sql


def test_all_is_complete_and_sorted() -> None:
    """__all__ lists every public name the package exports, sorted."""
    public = {name for name in dir(kv_sql) if not name.startswith("_")} | {"__version__"}
    assert set(kv_sql.__all__) == public
    assert list(kv_sql.__all__) == sorted(kv_sql.__all__)


def test_version() -> None:
    """The version is the installed distribution's."""
    assert kv_sql.__version__ == version("kv-sql")
