"""kv-cli: the ``kv`` command for any kv store.

The names below are imported on first use, so that ``kv --help`` loads only what it shows.
"""

from __future__ import annotations

import importlib

from .__about__ import __version__ as __version__

# Not typing.TYPE_CHECKING: importing typing would cost ``kv --help`` a third more.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ._copy import copy_store as copy_store
    from ._entry import main as main
    from ._main import DEFAULT_URL as DEFAULT_URL
    from ._main import cli as cli

# Where each public name lives, relative to this package.
_EXPORTS = {
    "DEFAULT_URL": "._main",
    "cli": "._main",
    "copy_store": "._copy",
    "main": "._entry",
}

__all__ = ["DEFAULT_URL", "__version__", "cli", "copy_store", "main"]


def __getattr__(name: str) -> Any:
    where = _EXPORTS.get(name)
    if where is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
