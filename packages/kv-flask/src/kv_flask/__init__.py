"""kv-flask: a REST server (Flask) for any kv store, and FlaskKvDict, a store over HTTP."""

from .__about__ import __version__ as __version__
from ._client import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
from ._client import FlaskKvDict as FlaskKvDict
from ._errors import PreconditionFailed as PreconditionFailed
from ._extension import FlaskKv as FlaskKv
from ._extension import construct_kv_app as construct_kv_app
from ._keys import MAX_KEY_LENGTH as MAX_KEY_LENGTH
from ._keys import check_key as check_key
from ._keys import quote_key as quote_key
from ._openapi import openapi_document as openapi_document
from ._serve import DEFAULT_CONNECTION_LIMIT as DEFAULT_CONNECTION_LIMIT
from ._serve import DEFAULT_IDLE_TIMEOUT as DEFAULT_IDLE_TIMEOUT
from ._serve import ServerThread as ServerThread
from ._serve import make_server as make_server
from ._serve import serve as serve
from ._state import DEFAULT_CACHE_CONTROL as DEFAULT_CACHE_CONTROL
from ._state import DEFAULT_LIST_LIMIT as DEFAULT_LIST_LIMIT
from ._state import DEFAULT_MAX_CONTENT_LENGTH as DEFAULT_MAX_CONTENT_LENGTH
from ._state import KvState as KvState

__all__ = [
    "DEFAULT_CACHE_CONTROL",
    "DEFAULT_CONNECTION_LIMIT",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_LIST_LIMIT",
    "DEFAULT_MAX_CONTENT_LENGTH",
    "DEFAULT_TIMEOUT",
    "FlaskKv",
    "FlaskKvDict",
    "KvState",
    "MAX_KEY_LENGTH",
    "PreconditionFailed",
    "ServerThread",
    "__version__",
    "check_key",
    "construct_kv_app",
    "make_server",
    "openapi_document",
    "quote_key",
    "serve",
]
