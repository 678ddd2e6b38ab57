"""Opening a RedisDict from a URL: ``redis://``, ``rediss://``, ``unix://``, ``redis+cluster://``.

``redis://[user:password@]host[:port][/db]?prefix=app:&exp_time=60&sliding=1``;
``rediss://`` is the same over TLS (``ssl_ca_certs=``, ``ssl_cert_reqs=`` ...);
``unix://[user:password@]/path/to/redis.sock?db=0&prefix=app:`` is a Unix socket.

The store's own options (``prefix``, ``exp_time``, ``sliding``, plus ``serializer`` and
``deserializer`` as keyword arguments) are taken out; every other query option and keyword
argument goes to ``redis.from_url`` (``socket_timeout``, ``decode_responses`` ...), keyword
arguments winning over the URL. An option redis-py does not know raises ``InvalidStoreURL``.
``socket_timeout`` and ``socket_connect_timeout`` default to :data:`DEFAULT_TIMEOUTS`.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.cluster import RedisCluster

from kv_core import InvalidStoreURL, parse_bool
from kv_core.urls import OptionReader, StoreOptions, read_options

from ._errors import translate
from ._store import RedisDict

__all__ = ["DEFAULT_TIMEOUTS", "STORE_OPTIONS", "open_redis_cluster_url", "open_redis_url"]

# The store's own options, each with the reader that types its value.
_READERS: dict[str, OptionReader | None] = {
    "prefix": None,
    "exp_time": lambda _name, value: _exp_time(value),
    "sliding": parse_bool,
    "serializer": None,
    "deserializer": None,
}
#: Options the store reads itself; the rest go to redis-py.
STORE_OPTIONS = tuple(_READERS)
#: Seconds a store opened from a URL waits to connect, and for each reply, unless the URL or
#: a keyword says otherwise (redis-py 8 has the same default; redis-py 5 to 7 wait forever).
DEFAULT_TIMEOUTS = {"socket_timeout": 5.0, "socket_connect_timeout": 5.0}


def _exp_time(value: Any) -> Any:
    if value is None or not isinstance(value, str):
        return value
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        msg = f"option exp_time must be a number of seconds, not {value!r}"
        raise InvalidStoreURL(msg) from None


def _split(url: str, overrides: dict[str, Any]) -> tuple[StoreOptions, str]:
    """The URL's options sorted (every one the store does not know is redis-py's), and the
    URL redis-py should see.

    redis-py lets URL options beat keyword arguments, so the driver's URL leaves out the
    ones a keyword overrides.
    """
    options = read_options(url, overrides, known=_READERS, driver=None)
    return options, options.driver_url()


def _make_store(client: Any, ours: dict[str, Any]) -> RedisDict:
    try:
        store = RedisDict(
            client,
            key_prefix=ours.get("prefix", ""),
            exp_time=ours.get("exp_time"),
            sliding_expiry=ours.get("sliding", False),
            serializer=ours.get("serializer"),
            deserializer=ours.get("deserializer"),
        )
    except BaseException:
        client.close()
        raise
    store._owns_client = True
    return store


def _driver_kwargs(options: StoreOptions) -> dict[str, Any]:
    kwargs = dict(options.driver_keywords)
    for name, seconds in DEFAULT_TIMEOUTS.items():
        if name not in kwargs and name not in options.driver_query:
            kwargs[name] = seconds
    return kwargs


def open_redis_url(url: str, **overrides: Any) -> RedisDict:
    """Open ``redis://``, ``rediss://`` or ``unix://``: a RedisDict on a client it owns.

    Nothing connects until the first operation.
    """
    options, driver_url = _split(url, overrides)
    parsed, ours = options.url, options.store
    try:
        client = redis.Redis.from_url(driver_url, **_driver_kwargs(options))
        pool = client.connection_pool
        # redis-py only builds connections on first use; build one now (no socket is
        # opened) so an unknown option fails here, naming the URL.
        pool.connection_class(**pool.connection_kwargs)
    except (TypeError, ValueError) as exc:
        msg = (
            f"cannot open {parsed.redacted!r}: {exc}; the store's own options are "
            f"{', '.join(STORE_OPTIONS[:3])}, the others go to redis.from_url"
        )
        raise InvalidStoreURL(msg) from exc
    return _make_store(client, ours)


def open_redis_cluster_url(url: str, **overrides: Any) -> RedisDict:
    """Open ``redis+cluster://host:port``: a RedisDict on a ``RedisCluster`` it owns.

    The cluster client connects at once to learn the slot map, so an unreachable cluster
    raises ``StoreUnavailable`` here.
    """
    options, driver_url = _split(url, overrides)
    parsed, ours = options.url, options.store
    scheme, _, rest = driver_url.partition("://")
    driver_url = f"{'rediss' if scheme.lower().startswith('rediss') else 'redis'}://{rest}"
    try:
        client = RedisCluster.from_url(driver_url, **_driver_kwargs(options))
    except (TypeError, ValueError) as exc:
        msg = f"cannot open {parsed.redacted!r}: {exc}"
        raise InvalidStoreURL(msg) from exc
    except Exception as exc:
        error = translate(exc, "CLUSTER SLOTS", parsed.redacted)
        if error is exc:
            raise
        raise error from exc
    return _make_store(client, ours)
