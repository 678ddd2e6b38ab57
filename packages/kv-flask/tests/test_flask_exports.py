"""The package's public names."""

from __future__ import annotations

from importlib.metadata import version

import kv_flask


def test_all_is_complete_and_sorted():
    """Every public name is in __all__, and __all__ names only real, sorted members."""
    public = {name for name in dir(kv_flask) if not name.startswith("_")}
    public.add("__version__")
    assert set(kv_flask.__all__) == public
    assert kv_flask.__all__ == sorted(kv_flask.__all__)


def test_version():
    """The version comes from __about__, the installed distribution's."""
    assert kv_flask.__version__ == version("kv-flask")
