"""Opening RedisDict from redis://, rediss:// and redis+cluster:// URLs."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
import redis

from kv_core import (
    AccessDeniedError,
    InvalidStoreURL,
    StoreUnavailable,
    open_store,
    registered_schemes,
)
from kv_redis import RedisDict
from kv_redis._url import DEFAULT_TIMEOUTS


def test_schemes_are_registered() -> None:
    """redis, rediss, unix and redis+cluster are in the kv.stores entry points."""
    assert {"redis", "rediss", "unix", "redis+cluster"} <= set(registered_schemes())


def test_url_options_configure_the_store(redis_url: str, raw: redis.Redis, namespace: str) -> None:
    """prefix, exp_time and sliding come from the query string."""
    url = f"{redis_url}?prefix={quote(namespace)}&exp_time=60&sliding=1"
    with open_store(url) as store:
        assert isinstance(store, RedisDict)
        assert (store.key_prefix, store.exp_time, store.sliding_expiry) == (namespace, 60, True)
        store["k"] = b"v"
        assert 55 <= raw.ttl(f"{namespace}k") <= 60


def test_other_options_go_to_redis_py(redis_url: str, namespace: str) -> None:
    """Options the store does not know (socket_timeout, decode_responses) reach redis-py."""
    url = f"{redis_url}?prefix={quote(namespace)}&socket_timeout=3&decode_responses=true"
    with open_store(url) as store:
        kwargs = store.redis.connection_pool.connection_kwargs
        assert kwargs["socket_timeout"] == 3.0
        assert kwargs["decode_responses"] in (True, "true")  # redis-py passes it as given
        store["k"] = b"\xff"
        assert store["k"] == b"\xff"


def test_keyword_overrides_win(redis_url: str, namespace: str) -> None:
    """Keyword arguments beat URL options, for the store's and for redis-py's."""
    url = f"{redis_url}?prefix=wrong:&socket_timeout=9&exp_time=5"
    with open_store(url, prefix=namespace, socket_timeout=4, exp_time=60) as store:
        assert store.key_prefix == namespace
        assert store.exp_time == 60
        assert store.redis.connection_pool.connection_kwargs["socket_timeout"] == 4


def test_fractional_exp_time(redis_url: str, namespace: str) -> None:
    """exp_time=1.5 in a URL is a float."""
    with open_store(f"{redis_url}?prefix={namespace}&exp_time=1.5") as store:
        assert store.exp_time == 1.5


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("bogus=1", InvalidStoreURL),
        ("exp_time=soon", InvalidStoreURL),
        ("sliding=maybe&exp_time=5", InvalidStoreURL),
        ("exp_time=0", ValueError),
        ("exp_time=-3", ValueError),
        ("sliding=1", ValueError),
    ],
)
def test_bad_options_are_refused(redis_url: str, query: str, error: type[Exception]) -> None:
    """Unknown options and invalid values raise at open, naming the problem."""
    with pytest.raises(error):
        open_store(f"{redis_url}?{query}")


def test_unknown_option_message_names_the_options() -> None:
    """The InvalidStoreURL message names the store's own options."""
    with pytest.raises(InvalidStoreURL, match="prefix, exp_time, sliding"):
        open_store("redis://127.0.0.1:6379/0?bogus=1")


def test_password_never_shown(private_server: Callable[..., Any]) -> None:
    """Neither repr nor an error message shows the URL's password."""
    server = private_server("--requirepass", "hunter2-pw")
    with open_store(f"redis://:hunter2-pw@127.0.0.1:{server.port}/0?prefix=p:") as store:
        store["k"] = b"v"
        assert "hunter2-pw" not in repr(store)
    with pytest.raises(InvalidStoreURL) as info:
        open_store(f"redis://:hunter2-pw@127.0.0.1:{server.port}/0?bogus=1")
    assert "hunter2-pw" not in str(info.value)
    bad = open_store(
        f"redis://:wrong-pw@127.0.0.1:{server.port}/0?socket_connect_timeout=1&socket_timeout=1"
    )
    with pytest.raises(AccessDeniedError) as denied:
        bad["k"]
    assert "wrong-pw" not in str(denied.value)
    bad.close()


def test_close_closes_the_owned_client(redis_url: str, namespace: str) -> None:
    """A store opened from a URL owns its client and closes it."""
    store = open_store(f"{redis_url}?prefix={namespace}")
    store["k"] = b"v"
    pool = store.redis.connection_pool
    assert pool._created_connections >= 1
    store.close()
    assert all(conn._sock is None for conn in pool._available_connections)


def test_close_leaves_a_given_client_open(raw: redis.Redis, namespace: str) -> None:
    """A store given a client does not close it."""
    with RedisDict(raw, key_prefix=namespace) as store:
        store["k"] = b"v"
    assert raw.ping()


def test_cluster_url(cluster: Any, namespace: str) -> None:
    """redis+cluster:// opens a RedisDict on a RedisCluster client."""
    with open_store(f"{cluster.url}?prefix={namespace}&socket_timeout=3") as store:
        assert type(store.redis).__name__ == "RedisCluster"
        store.update({f"k{i}": b"v" for i in range(20)})
        assert len(store) == 20
        store.clear()


def test_cluster_url_unreachable(private_server: Callable[..., Any]) -> None:
    """A redis+cluster:// URL to nothing raises StoreUnavailable at open."""
    server = private_server()
    port = server.port
    server.stop()
    with pytest.raises(StoreUnavailable):
        open_store(f"redis+cluster://127.0.0.1:{port}/?socket_connect_timeout=0.5")


def test_url_stores_time_out_by_default(redis_url: str, namespace: str) -> None:
    """A store opened from a URL waits 5 s at most to connect and for each reply."""
    with open_store(f"{redis_url}?prefix={namespace}") as store:
        kwargs = store.redis.connection_pool.connection_kwargs
        assert kwargs["socket_timeout"] == DEFAULT_TIMEOUTS["socket_timeout"] == 5.0
        assert kwargs["socket_connect_timeout"] == DEFAULT_TIMEOUTS["socket_connect_timeout"]
    with open_store(f"{redis_url}?prefix={namespace}&socket_connect_timeout=2") as store:
        kwargs = store.redis.connection_pool.connection_kwargs
        assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (5.0, 2.0)
    with open_store(f"{redis_url}?prefix={namespace}", socket_timeout=None) as store:
        assert store.redis.connection_pool.connection_kwargs["socket_timeout"] is None


def test_cluster_url_stores_time_out_by_default(cluster: Any, namespace: str) -> None:
    """redis+cluster:// stores get the same default timeouts on every node."""
    with open_store(f"{cluster.url}?prefix={namespace}") as store:
        for node in store.redis.get_nodes():
            kwargs = node.redis_connection.connection_pool.connection_kwargs
            assert kwargs["socket_timeout"] == 5.0
            assert kwargs["socket_connect_timeout"] == 5.0


def test_url_store_on_a_frozen_server_gives_up(private_server: Callable[..., Any]) -> None:
    """With no timeout in the URL, a server stopped with SIGSTOP makes a read raise
    StoreUnavailable after the default socket timeout, not hang."""
    server = private_server()
    store = open_store(f"{server.url}?prefix=p:")
    store["k"] = b"v"
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            store["k"]
        except BaseException as exc:
            outcome.append(exc)

    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        thread.join(4 * DEFAULT_TIMEOUTS["socket_timeout"])
        assert not thread.is_alive(), "the read is still waiting"
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    assert isinstance(outcome[0], StoreUnavailable)
    assert isinstance(outcome[0].__cause__, redis.TimeoutError)
    assert store["k"] == b"v"
    store.close()
