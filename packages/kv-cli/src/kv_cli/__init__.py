"""kv-cli: the ``kv`` command for any kv store."""

from .__about__ import __version__ as __version__
from ._copy import copy_store as copy_store
from ._main import DEFAULT_URL as DEFAULT_URL
from ._main import cli as cli
from ._main import main as main

__all__ = ["DEFAULT_URL", "__version__", "cli", "copy_store", "main"]
