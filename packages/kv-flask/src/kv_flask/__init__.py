"""kv-flask: a REST server (Flask) for any kv store, and FlaskKvDict, a store over HTTP."""

from .__about__ import __version__ as __version__
from ._client import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
from ._client import FlaskKvDict as FlaskKvDict
from ._errors import PreconditionFailed as PreconditionFailed
from ._keys import MAX_KEY_LENGTH as MAX_KEY_LENGTH
from ._keys import check_key as check_key
from ._keys import quote_key as quote_key
from ._openapi import openapi_document as openapi_document
from ._serve import ServerThread as ServerThread
from ._serve import make_server as make_server
from ._serve import serve as serve
from ._server import DEFAULT_LIST_LIMIT as DEFAULT_LIST_LIMIT
from ._server import DEFAULT_MAX_CONTENT_LENGTH as DEFAULT_MAX_CONTENT_LENGTH
from ._server import FlaskKv as FlaskKv
from ._server import KvState as KvState
from ._server import construct_kv_app as construct_kv_app

__all__ = [
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
