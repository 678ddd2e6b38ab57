"""kv-core: the dict-like store protocol, its errors, the wrappers and the URL opener.

The names below are imported on first use, not with this package: ``import kv_core`` (which
every backend, the ``kv`` command and the pytest plugin of every project with kv-core
installed pay for) stays as cheap as the interpreter starting, and ``importlib.metadata``,
which only ``open_store`` and ``registered_schemes`` need, is imported when they are called.
"""

from __future__ import annotations

import importlib

from .__about__ import __version__ as __version__

# Not typing.TYPE_CHECKING: importing typing would double what ``import kv_core`` costs.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .access import ReadOnlyDict as ReadOnlyDict
    from .access import WriteOnlyDict as WriteOnlyDict
    from .capabilities import Capabilities as Capabilities
    from .codec import ValueCodec as ValueCodec
    from .codec import to_bytes as to_bytes
    from .errors import AccessDeniedError as AccessDeniedError
    from .errors import ConflictError as ConflictError
    from .errors import InvalidKeyError as InvalidKeyError
    from .errors import InvalidStoreURL as InvalidStoreURL
    from .errors import KeyConflictError as KeyConflictError
    from .errors import KVError as KVError
    from .errors import OutOfSpaceError as OutOfSpaceError
    from .errors import PreconditionFailed as PreconditionFailed
    from .errors import ProtocolError as ProtocolError
    from .errors import ReadOnlyError as ReadOnlyError
    from .errors import StoreUnavailable as StoreUnavailable
    from .errors import UnknownStoreError as UnknownStoreError
    from .errors import UnsupportedError as UnsupportedError
    from .errors import ValueTooLargeError as ValueTooLargeError
    from .memory import MemoryDict as MemoryDict
    from .opener import open_store as open_store
    from .opener import registered_schemes as registered_schemes
    from .random_choice import RandomChoiceDict as RandomChoiceDict
    from .serialized import SerializedDict as SerializedDict
    from .store import Store as Store
    from .tiered import TieredStorageDict as TieredStorageDict
    from .urls import StoreURL as StoreURL
    from .urls import parse_bool as parse_bool
    from .urls import redact_url as redact_url

# Where each public name lives, relative to this package.
_EXPORTS = {
    "AccessDeniedError": ".errors",
    "Capabilities": ".capabilities",
    "ConflictError": ".errors",
    "InvalidKeyError": ".errors",
    "InvalidStoreURL": ".errors",
    "KVError": ".errors",
    "KeyConflictError": ".errors",
    "MemoryDict": ".memory",
    "OutOfSpaceError": ".errors",
    "PreconditionFailed": ".errors",
    "ProtocolError": ".errors",
    "RandomChoiceDict": ".random_choice",
    "ReadOnlyDict": ".access",
    "ReadOnlyError": ".errors",
    "SerializedDict": ".serialized",
    "Store": ".store",
    "StoreURL": ".urls",
    "StoreUnavailable": ".errors",
    "TieredStorageDict": ".tiered",
    "UnknownStoreError": ".errors",
    "UnsupportedError": ".errors",
    "ValueCodec": ".codec",
    "ValueTooLargeError": ".errors",
    "WriteOnlyDict": ".access",
    "open_store": ".opener",
    "parse_bool": ".urls",
    "redact_url": ".urls",
    "registered_schemes": ".opener",
    "to_bytes": ".codec",
}

__all__ = [
    "AccessDeniedError",
    "Capabilities",
    "ConflictError",
    "InvalidKeyError",
    "InvalidStoreURL",
    "KVError",
    "KeyConflictError",
    "MemoryDict",
    "OutOfSpaceError",
    "PreconditionFailed",
    "ProtocolError",
    "RandomChoiceDict",
    "ReadOnlyDict",
    "ReadOnlyError",
    "SerializedDict",
    "Store",
    "StoreURL",
    "StoreUnavailable",
    "TieredStorageDict",
    "UnknownStoreError",
    "UnsupportedError",
    "ValueCodec",
    "ValueTooLargeError",
    "WriteOnlyDict",
    "__version__",
    "open_store",
    "parse_bool",
    "redact_url",
    "registered_schemes",
    "to_bytes",
]


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
