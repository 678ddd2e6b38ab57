"""The ``http://`` and ``https://`` store URLs, registered in the ``kv.stores`` entry points."""

from __future__ import annotations

import os
from typing import Any

from kv_core import InvalidStoreURL, StoreURL
from kv_core.urls import OptionReader, read_options

from ._client import DEFAULT_TIMEOUT, FlaskKvDict

__all__ = ["open_http_url"]

_OPTIONS: dict[str, OptionReader | None] = {
    "deserializer": None,
    "serializer": None,
    "session": None,
    "timeout": lambda _name, value: _timeout(value),
    "token": None,
    "token_env": None,
}


def _timeout(value: Any) -> float | tuple[float, float]:
    if isinstance(value, int | float | tuple):
        return value
    text = str(value)
    try:
        if "," in text:
            connect, read = text.split(",", 1)
            return (float(connect), float(read))
        return float(text)
    except ValueError as exc:
        msg = f"option timeout must be seconds or 'connect,read' seconds, not {text!r}"
        raise InvalidStoreURL(msg) from exc


def open_http_url(url: str, **overrides: Any) -> FlaskKvDict:
    """Open ``http(s)://host:port/prefix?token_env=KV_TOKEN&timeout=5`` as a FlaskKvDict.

    Options: ``token_env`` names the environment variable holding the bearer token (a token
    itself is never accepted in a URL, where it would end up in logs and shell history; pass
    ``token=`` as a keyword instead); ``timeout`` is seconds or ``connect,read`` seconds.
    """
    parsed = StoreURL.parse(url)
    if "token" in parsed.options:
        msg = "never put a token in a store URL; use token_env=VARIABLE or token= in code"
        raise InvalidStoreURL(msg)
    options = read_options(url, overrides, known=_OPTIONS).store
    token = options.get("token")
    env = options.get("token_env")
    if token is None and env:
        token = os.environ.get(str(env))
        if not token:
            msg = f"token_env={env} names an environment variable that is not set"
            raise InvalidStoreURL(msg)
    try:
        return FlaskKvDict(
            parsed.without_query(),
            token=token,
            timeout=options.get("timeout", DEFAULT_TIMEOUT),
            session=options.get("session"),
            serializer=options.get("serializer"),
            deserializer=options.get("deserializer"),
        )
    except ValueError as exc:
        raise InvalidStoreURL(str(exc)) from exc
