"""kv-core: the dict-like store protocol, its errors, the wrappers and the URL opener."""

from .__about__ import __version__ as __version__
from .access import ReadOnlyDict as ReadOnlyDict
from .access import WriteOnlyDict as WriteOnlyDict
from .capabilities import Capabilities as Capabilities
from .codec import ValueCodec as ValueCodec
from .codec import to_bytes as to_bytes
from .errors import AccessDeniedError as AccessDeniedError
from .errors import ConflictError as ConflictError
from .errors import InvalidKeyError as InvalidKeyError
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
from .urls import InvalidStoreURL as InvalidStoreURL
from .urls import StoreURL as StoreURL
from .urls import parse_bool as parse_bool
from .urls import redact_url as redact_url

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
