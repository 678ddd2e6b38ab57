"""The OpenAPI 3.1 document the server publishes at ``/openapi.json``.

The key schema is the served store's: its longest key (255 characters on SQL by default,
never over the API's 4096) and the characters its ``validate_key`` refuses.
"""

from __future__ import annotations

from typing import Any

from .__about__ import __version__
from ._keys import MAX_KEY_LENGTH

__all__ = ["AS_OF_PARAMETER", "KEY_PATTERN", "key_pattern", "openapi_document"]

_ERROR = {"$ref": "#/components/responses/Error"}
_BINARY = {"type": "string", "contentMediaType": "application/octet-stream"}
_BASE64 = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


def key_pattern(refused_characters: str = "") -> str:
    """The key rules of :mod:`kv_flask._keys` (and *refused_characters*) as an ECMA-262 pattern.

    Non-empty segments that are not ``.`` or ``..``, without NUL, U+FFFD or a refused
    character, not starting with a reserved segment.
    """
    extra = "".join(f"\\u{ord(char):04X}" for char in refused_characters if char != "/")
    segment = rf"(?!\.\.?(?:/|$))[^/\u0000\uFFFD{extra}]+"
    return rf"^(?!(?:_kv|openapi\.json)(?:/|$)){segment}(?:/{segment})*$"


#: The key pattern of a store that refuses no character of its own.
KEY_PATTERN = key_pattern()


def _key_schema(max_key_length: int, refused_characters: str) -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": max_key_length,
        "pattern": key_pattern(refused_characters),
    }


#: The ``as_of`` query parameter: a snapshot read, on a store with history.
AS_OF_PARAMETER: dict[str, Any] = {
    "name": "as_of",
    "in": "query",
    "required": False,
    "description": (
        "Read the store as it was at this time (ISO 8601; no offset means UTC). Only for a "
        "store with history (/_kv/info: store.history); otherwise 400 no_history"
    ),
    "schema": {"type": "string"},
}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): _ERROR for status in statuses}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _key_operations(key_schema: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    key = {
        "name": "key",
        "in": "path",
        "required": True,
        "description": (
            "The key; '/' separates segments and every segment is percent-encoded. Empty, '.' "
            "and '..' segments, NUL, U+FFFD and the first segments '_kv' and 'openapi.json' "
            "are refused."
        ),
        "schema": key_schema,
    }
    etag_header = {
        "ETag": {
            "description": (
                "Strong tag: the store's version of the key where /_kv/info says"
                " store.compare_and_set, else a digest of the value"
            ),
            "schema": {"type": "string"},
        }
    }
    conditions = [
        {
            "name": "If-Match",
            "in": "header",
            "required": False,
            "description": (
                "Tags the stored value must have; present but empty matches nothing. Over a"
                " store with compare_and_set, the store's set_if / delete_if"
            ),
            "schema": {"type": "string"},
        },
        {
            "name": "If-None-Match",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
        },
    ]
    read = {
        "parameters": [*conditions[1:], AS_OF_PARAMETER],
        "responses": {
            "200": {
                "description": "The value's bytes",
                "headers": etag_header,
                "content": {"application/octet-stream": {"schema": _BINARY}},
            },
            "304": {"description": "The value has the tag given in If-None-Match"},
            **_errors(400, 401, 403, 404, 503),
        },
    }
    write = {
        "summary": "Store the request body as the value (no body: the empty value)",
        "parameters": conditions,
        "requestBody": {
            "required": False,
            "content": {"application/octet-stream": {"schema": body}},
        },
        "responses": {
            "204": {"description": "Stored", "headers": etag_header},
            **_errors(400, 401, 403, 409, 411, 412, 413, 415, 503, 507),
        },
    }
    return {
        "parameters": [key],
        "get": {"summary": "Read a value", "operationId": "getValue", **read},
        "head": {
            "summary": "Whether the key exists",
            "description": (
                "Without If-None-Match, answered from the store's `key in store`: the value "
                "is not read, and the answer has neither ETag nor Content-Length. With "
                "If-None-Match, the value is read and the answer has GET's headers."
            ),
            "operationId": "headValue",
            "parameters": [*conditions[1:], AS_OF_PARAMETER],
            "responses": {
                "200": {
                    "description": "The key exists (ETag only with If-None-Match)",
                    "headers": etag_header,
                },
                "304": {"description": "The value has the tag given in If-None-Match"},
                "404": {"description": "Missing"},
                "400": {"description": "Invalid key"},
                "401": {"description": "Token missing or wrong"},
                "403": {"description": "The Host is not one this server answers to"},
                "503": {"description": "The store is unavailable"},
            },
        },
        "put": {"operationId": "putValue", **write},
        "post": {"operationId": "postValue", **write},
        "delete": {
            "summary": "Delete a key",
            "operationId": "deleteValue",
            "parameters": conditions[:1],
            "responses": {
                "204": {"description": "Deleted"},
                **_errors(400, 401, 403, 404, 412, 503, 507),
            },
        },
    }


def _history_operations(key_schema: dict[str, Any]) -> dict[str, Any]:
    key = {"name": "key", "in": "path", "required": True, "schema": key_schema}
    version = {
        "type": "object",
        "required": ["sequence_number", "created", "deleted", "size"],
        "properties": {
            "sequence_number": {"type": "integer"},
            "created": {"type": ["string", "null"], "description": "ISO 8601, UTC"},
            "deleted": {"type": "boolean", "description": "A delete left this version"},
            "size": {"type": ["integer", "null"], "description": "Bytes; null if deleted"},
        },
    }
    return {
        "parameters": [key],
        "get": {
            "summary": "The versions of a key, oldest first (a store with history)",
            "description": (
                "With sequence_number, the bytes of that version instead. On a store "
                "without history (/_kv/info: store.history false): 400 no_history"
            ),
            "operationId": "keyHistory",
            "parameters": [
                AS_OF_PARAMETER,
                {
                    "name": "sequence_number",
                    "in": "query",
                    "required": False,
                    "description": "A version's sequence_number: answer its bytes",
                    "schema": {"type": "integer"},
                },
            ],
            "responses": {
                "200": {
                    "description": "The versions, or one version's bytes",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["key", "versions"],
                                "properties": {
                                    "key": {"type": "string"},
                                    "versions": {"type": "array", "items": version},
                                },
                            }
                        },
                        "application/octet-stream": {"schema": _BINARY},
                    },
                },
                **_errors(400, 401, 403, 404, 503),
            },
        },
    }


def _batch_operations(key_schema: dict[str, Any]) -> dict[str, Any]:
    values = {
        "type": "object",
        "propertyNames": key_schema,
        "additionalProperties": {
            "type": "string",
            "contentEncoding": "base64",
            "pattern": _BASE64,
        },
    }
    key_list = {
        "type": "object",
        "required": ["keys"],
        "properties": {"keys": {"type": "array", "items": key_schema}},
    }
    done = {"204": {"description": "Done"}, **_errors(400, 401, 403, 413, 415, 503, 507)}
    return {
        "/_kv/get": {
            "post": {
                "summary": "Read many values in one request",
                "operationId": "getMany",
                "requestBody": _json_body(key_list),
                "responses": {
                    "200": {
                        "description": "The values of the keys that exist, base64-encoded",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["values"],
                                    "properties": {"values": values},
                                }
                            }
                        },
                    },
                    **_errors(400, 401, 403, 413, 415, 503),
                },
            }
        },
        "/_kv/set": {
            "post": {
                "summary": "Store many values in one request",
                "operationId": "setMany",
                "requestBody": _json_body(
                    {"type": "object", "required": ["items"], "properties": {"items": values}}
                ),
                "responses": done,
            }
        },
        "/_kv/delete": {
            "post": {
                "summary": "Delete many keys in one request; missing keys are ignored",
                "operationId": "deleteMany",
                "requestBody": _json_body(key_list),
                "responses": done,
            }
        },
        "/_kv/clear": {
            "post": {
                "summary": "Delete every key",
                "operationId": "clear",
                "responses": {"204": {"description": "Done"}, **_errors(401, 403, 415, 503)},
            }
        },
        "/_kv/count": {
            "get": {
                "summary": "How many keys the store holds",
                "operationId": "count",
                "parameters": [AS_OF_PARAMETER],
                "responses": {
                    "200": {
                        "description": "The number of keys",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"count": {"type": "integer"}},
                                }
                            }
                        },
                    },
                    **_errors(400, 401, 403, 503),
                },
            }
        },
        "/_kv/info": {
            "get": {
                "summary": "The server's limits and the capabilities of the store behind it",
                "operationId": "info",
                "responses": {
                    "200": {
                        "description": "Limits and capabilities",
                        "content": {"application/json": {"schema": _INFO}},
                    },
                    **_errors(401, 403),
                },
            }
        },
    }


#: The ``/_kv/info`` document: the server's limits, and what the store behind it declares
#: (``null`` for a plain ``MutableMapping``).
_INFO: dict[str, Any] = {
    "type": "object",
    "required": ["max_content_length", "list_limit", "max_key_length", "store"],
    "properties": {
        "max_content_length": {"type": "integer"},
        "list_limit": {"type": "integer"},
        "max_key_length": {"type": "integer"},
        "refused_characters": {"type": "string"},
        "store": {
            "type": ["object", "null"],
            "properties": {
                "persistent": {"type": "boolean"},
                "processes": {"type": "boolean"},
                "ttl": {"type": "boolean"},
                "history": {"type": "boolean"},
                "max_key_length": {"type": ["integer", "null"]},
                "max_value_size": {"type": ["integer", "null"]},
                "empty_key": {"type": "boolean"},
                "hierarchical_keys": {"type": "boolean"},
                "invalid_keys": {"type": "array", "items": {"type": "string"}},
                "refused_characters": {"type": "string"},
                "compare_and_set": {
                    "type": "boolean",
                    "description": (
                        "ETag is the store's version, and If-Match / If-None-Match: * are its"
                        " set_if / delete_if: compare-and-set holds across server processes"
                    ),
                },
            },
        },
    },
}


def openapi_document(
    url_prefix: str = "",
    *,
    auth: bool = False,
    max_key_length: int = MAX_KEY_LENGTH,
    refused_characters: str = "",
    max_content_length: int | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.1 description of the API mounted at *url_prefix*.

    The server publishes it with its own store's limits.

    :param auth: Whether the server requires a bearer token (adds the security scheme).
    :param max_key_length: The longest key the served store holds (at most 4096).
    :param refused_characters: Characters the served store refuses in keys.
    :param max_content_length: The largest request body the server accepts, in bytes.
    """
    key_schema = _key_schema(min(max_key_length, MAX_KEY_LENGTH), refused_characters)
    body: dict[str, Any] = dict(_BINARY)
    if max_content_length is not None:
        body["maxLength"] = max_content_length
    listing = {
        "summary": "List keys in sorted order, one page at a time",
        "description": (
            "Every page lists all the keys matching the prefix again from the store, then "
            "keeps the limit + 1 smallest after the cursor (O(m log limit) for m matching "
            "keys); paging through all m keys costs O(m^2 / limit). Follow next_cursor "
            "until it is null."
        ),
        "operationId": "listKeys",
        "parameters": [
            {
                "name": "prefix",
                "in": "query",
                "required": False,
                "schema": {
                    "type": "string",
                    "maxLength": MAX_KEY_LENGTH,
                    "pattern": "^[^\\u0000\\uFFFD]*$",
                },
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "description": "next_cursor of the previous page",
                "schema": {"type": "string", "pattern": _BASE64.replace("+/", "_-")},
            },
            AS_OF_PARAMETER,
        ],
        "responses": {
            "200": {
                "description": "One page of keys",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["keys", "next_cursor"],
                            "properties": {
                                "keys": {"type": "array", "items": {"type": "string"}},
                                "next_cursor": {"type": ["string", "null"]},
                            },
                        }
                    }
                },
            },
            **_errors(400, 401, 403, 503),
        },
    }
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "kv REST API",
            "version": __version__,
            "description": "A key-value store over HTTP: raw bytes under string keys.",
        },
        "servers": [{"url": url_prefix or "/"}],
        "paths": {
            "/": {"get": listing},
            "/{key}": _key_operations(key_schema, body),
            **_batch_operations(key_schema),
            "/_kv/history/{key}": _history_operations(key_schema),
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "operationId": "openapi",
                    "responses": {
                        "200": {
                            "description": "The OpenAPI document",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **_errors(401, 403),
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                    },
                }
            },
            "responses": {
                "Error": {
                    "description": "An error, with a generic message",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
            },
        },
    }
    if auth:
        document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        document["security"] = [{"bearer": []}]
    return document
