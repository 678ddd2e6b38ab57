"""The conformance suite every kv store passes (``pip install kv-core[conformance]``).

Subclass :class:`StoreConformance` in a test module (see its docstring), or run it with no
test code at all against any store URL: ``pytest --kv-store memory://``. Each part of the
suite is also a class of its own (``MappingTests``, ``ErrorContractTests`` ...), for a store
that can only promise part of the contract; ``StoreConformance`` is all of them.

The names below are imported on first use, not with this package: its pytest plugin
(``kv_core.conformance.plugin``) lives here and is imported by every pytest run of every
project that has kv-core installed, which must not need Hypothesis. Without the extra, the
first use says what to install.
"""

from __future__ import annotations

import importlib
import typing

if typing.TYPE_CHECKING:
    from ..capabilities import Capabilities as Capabilities
    from ._base import Opener as Opener
    from ._base import StoreFactory as StoreFactory
    from ._batch import BatchTests as BatchTests
    from ._cas import CompareAndSetTests as CompareAndSetTests
    from ._concurrency import ConcurrencyTests as ConcurrencyTests
    from ._errors import ErrorContractTests as ErrorContractTests
    from ._keys import KeyTests as KeyTests
    from ._mapping import MappingTests as MappingTests
    from ._model import ModelTests as ModelTests
    from ._persistence import PersistenceTests as PersistenceTests
    from ._stateful import StatefulTests as StatefulTests
    from ._suite import StoreConformance as StoreConformance
    from ._unavailable import UnavailabilityTests as UnavailabilityTests
    from ._unavailable import closed_port as closed_port
    from ._unavailable import silent_port as silent_port
    from ._values import ValueTests as ValueTests

# Where each public name lives, relative to this package.
_EXPORTS = {
    "BatchTests": "._batch",
    "Capabilities": "..capabilities",
    "CompareAndSetTests": "._cas",
    "ConcurrencyTests": "._concurrency",
    "ErrorContractTests": "._errors",
    "KeyTests": "._keys",
    "MappingTests": "._mapping",
    "ModelTests": "._model",
    "Opener": "._base",
    "PersistenceTests": "._persistence",
    "StatefulTests": "._stateful",
    "StoreConformance": "._suite",
    "StoreFactory": "._base",
    "UnavailabilityTests": "._unavailable",
    "ValueTests": "._values",
    "closed_port": "._unavailable",
    "silent_port": "._unavailable",
}

# What the suite itself needs (the plugin needs only pytest).
_NEEDS = ("pytest", "hypothesis")

__all__ = [
    "BatchTests",
    "Capabilities",
    "CompareAndSetTests",
    "ConcurrencyTests",
    "ErrorContractTests",
    "KeyTests",
    "MappingTests",
    "ModelTests",
    "Opener",
    "PersistenceTests",
    "StatefulTests",
    "StoreConformance",
    "StoreFactory",
    "UnavailabilityTests",
    "ValueTests",
    "closed_port",
    "silent_port",
]


def __getattr__(name: str) -> typing.Any:
    where = _EXPORTS.get(name)
    if where is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    try:
        module = importlib.import_module(where, __name__)
    except ModuleNotFoundError as exc:
        if exc.name not in _NEEDS:
            raise
        msg = (
            f"the kv conformance suite needs {exc.name}, which is not installed: "
            "pip install 'kv-core[conformance]'"
        )
        raise ModuleNotFoundError(msg, name=exc.name) from exc
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
