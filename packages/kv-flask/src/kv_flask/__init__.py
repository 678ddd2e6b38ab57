"""kv-flask: a REST server (Flask) for any kv store, and FlaskKvDict, a store over HTTP.

The client's names are imported at once; the server's (Flask, waitress) on first use, so
that opening an ``http://`` store URL imports neither Flask nor waitress.
"""

import importlib
from typing import TYPE_CHECKING, Any

from .__about__ import __version__ as __version__
from ._client import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
from ._client import FlaskKvDict as FlaskKvDict
from ._errors import PreconditionFailed as PreconditionFailed
from ._keys import MAX_KEY_LENGTH as MAX_KEY_LENGTH
from ._keys import check_key as check_key
from ._keys import quote_key as quote_key
from ._openapi import openapi_document as openapi_document

if TYPE_CHECKING:
    from ._extension import FlaskKv as FlaskKv
    from ._extension import construct_kv_app as construct_kv_app
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

#: The server's names, and the module each is imported from on first use.
_SERVER_NAMES = {
    "DEFAULT_CACHE_CONTROL": "._state",
    "DEFAULT_CONNECTION_LIMIT": "._serve",
    "DEFAULT_IDLE_TIMEOUT": "._serve",
    "DEFAULT_LIST_LIMIT": "._state",
    "DEFAULT_MAX_CONTENT_LENGTH": "._state",
    "FlaskKv": "._extension",
    "KvState": "._state",
    "ServerThread": "._serve",
    "construct_kv_app": "._extension",
    "make_server": "._serve",
    "serve": "._serve",
}


def __getattr__(name: str) -> Any:
    module = _SERVER_NAMES.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    # The public names, not the helpers this module imports for itself.
    return sorted({*__all__, *(name for name in globals() if name.startswith("_"))})
