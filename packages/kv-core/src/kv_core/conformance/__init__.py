"""The conformance suite every kv store passes (``pip install kv-core[conformance]``).

Subclass :class:`StoreConformance` in a test module (see its docstring), or run it with no
test code at all against any store URL: ``pytest --kv-store memory://``.
"""

from ..capabilities import Capabilities as Capabilities
from ._base import Opener as Opener
from ._base import StoreFactory as StoreFactory
from ._suite import StoreConformance as StoreConformance

__all__ = ["Capabilities", "Opener", "StoreConformance", "StoreFactory"]
