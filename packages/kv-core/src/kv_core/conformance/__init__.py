"""The conformance suite every kv store passes (``pip install kv-core[conformance]``).

Subclass :class:`StoreConformance` in a test module (see its docstring), or run it with no
test code at all against any store URL: ``pytest --kv-store memory://``. Each part of the
suite is also a class of its own (``MappingTests``, ``ErrorContractTests`` ...), for a store
that can only promise part of the contract; ``StoreConformance`` is all of them.
"""

from ..capabilities import Capabilities as Capabilities
from ._base import Opener as Opener
from ._base import StoreFactory as StoreFactory
from ._batch import BatchTests as BatchTests
from ._concurrency import ConcurrencyTests as ConcurrencyTests
from ._errors import ErrorContractTests as ErrorContractTests
from ._keys import KeyTests as KeyTests
from ._mapping import MappingTests as MappingTests
from ._persistence import PersistenceTests as PersistenceTests
from ._stateful import StatefulTests as StatefulTests
from ._suite import StoreConformance as StoreConformance
from ._values import ValueTests as ValueTests

__all__ = [
    "BatchTests",
    "Capabilities",
    "ConcurrencyTests",
    "ErrorContractTests",
    "KeyTests",
    "MappingTests",
    "Opener",
    "PersistenceTests",
    "StatefulTests",
    "StoreConformance",
    "StoreFactory",
    "ValueTests",
]
