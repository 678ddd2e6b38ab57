"""``import kv_core`` stays cheap: its names, and what they need, are imported on first use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Modules whose import costs more than the interpreter's start, or that belong to backends.
HEAVY = ("importlib.metadata", "sqlalchemy", "redis", "flask", "waitress", "requests")

# Run in a fresh interpreter: this test session has imported all of them already.
IMPORTS = """
import json, sys
{code}
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(code: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS.format(code=code)],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(done.stdout))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m in HEAVY or m.split(".")[0] in HEAVY[1:])


def test_import_kv_core_imports_no_metadata_and_no_backend() -> None:
    """``import kv_core`` loads neither importlib.metadata nor any backend's driver."""
    modules = _modules_after("import kv_core")
    assert _heavy(modules) == []
    assert "kv_core.store" not in modules  # not even the store protocol, until asked for


@pytest.mark.parametrize(
    "names", ["open_store, registered_schemes", "MemoryDict, TieredStorageDict", "StoreURL"]
)
def test_importing_names_defers_importlib_metadata(names: str) -> None:
    """Importing open_store (or anything else) waits for its first call to read entry points."""
    assert _heavy(_modules_after(f"from kv_core import {names}")) == []


def test_the_first_registered_schemes_call_reads_entry_points() -> None:
    """registered_schemes() works from a fresh import: the deferred import is in place."""
    modules = _modules_after(
        "import kv_core\nassert 'memory' in kv_core.registered_schemes(), 'no memory://'"
    )
    assert "importlib.metadata" in modules


def test_lazy_names_resolve_to_their_modules() -> None:
    """Each name of kv_core is the object its module defines, and unknown names raise."""
    import kv_core

    for name, where in kv_core._EXPORTS.items():
        module = sys.modules.get(f"kv_core{where}") or __import__(f"kv_core{where}", fromlist=["x"])
        assert getattr(kv_core, name) is getattr(module, name), name
    assert set(kv_core._EXPORTS) | {"__version__"} == set(kv_core.__all__)
    with pytest.raises(AttributeError, match="no_such_name"):
        kv_core.no_such_name  # noqa: B018
