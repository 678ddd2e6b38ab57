"""RedisDict passes the shared conformance suite: plain, decoding, glob-prefixed, cluster."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from kv_core import Capabilities
from kv_core.conformance import StoreConformance, closed_port, silent_port
from kv_dev.services import unique_name
from kv_redis import RedisDict, open_redis_cluster_url, open_redis_url

CAPABILITIES = Capabilities(
    persistent=True,
    processes=True,
    ttl=False,
    history=False,
    max_key_length=None,
    max_value_size=None,
    empty_key=True,
    hierarchical_keys=False,
    invalid_keys=(),
    refused_characters=frozenset(),
    compare_and_set=True,
)


class _RedisSuite(StoreConformance):
    capabilities = CAPABILITIES
    #: Extra URL options the opener passes (the decoding client keeps decoding).
    url_options: dict[str, Any] = {}  # noqa: RUF012 - read-only class data

    def prefix(self) -> str:
        return unique_name("kvconf") + ":"

    @pytest.fixture
    def store_factory(
        self,
        make_client: Callable[..., redis.Redis],
        unlink: Callable[[Any, bytes], None],
    ) -> Iterator[Callable[[], RedisDict]]:
        client = self.client(make_client)
        made: list[RedisDict] = []

        def make() -> RedisDict:
            made.append(RedisDict(client, key_prefix=self.prefix()))
            return made[-1]

        yield make
        cleaner = make_client()
        for store in made:
            store.close()
            unlink(cleaner, store.key_prefix.encode())

    def client(self, make_client: Callable[..., redis.Redis]) -> redis.Redis:
        return make_client()

    def opener(self, store: Any) -> Callable[[], Any]:
        url = store.redis.connection_pool.connection_kwargs
        return functools.partial(
            open_redis_url,
            f"redis://{url['host']}:{url['port']}/{url['db']}",
            prefix=store.key_prefix,
            socket_timeout=5,
            socket_connect_timeout=5,
            **self.url_options,
        )


class _DownServer:
    """A standalone client of a Redis that is down: its port is closed, or it never answers."""

    @pytest.fixture(params=["refused", "silent"])
    def kv_unavailable_store(self, request: pytest.FixtureRequest) -> Iterator[RedisDict]:
        with contextlib.ExitStack() as stack:
            if request.param == "refused":
                port = closed_port()
            else:
                port = stack.enter_context(silent_port())
            client = redis.Redis(
                port=port,
                socket_timeout=0.5,
                socket_connect_timeout=0.5,
                retry=Retry(NoBackoff(), 0),
                **self.url_options,  # type: ignore[attr-defined]
            )
            with RedisDict(client, key_prefix=self.prefix()) as store:  # type: ignore[attr-defined]
                yield store
            client.close()


class TestRedisDictConformance(_DownServer, _RedisSuite):
    """A plain bytes client, each store under its own simple prefix."""


class TestRedisDictDecodingClientConformance(_DownServer, _RedisSuite):
    """A client with decode_responses=True: values still come back as bytes."""

    url_options = {"decode_responses": True}  # noqa: RUF012

    def client(self, make_client: Callable[..., redis.Redis]) -> redis.Redis:
        return make_client(decode_responses=True)


class TestRedisDictGlobPrefixConformance(_DownServer, _RedisSuite):
    """A prefix full of glob metacharacters, which SCAN must treat literally."""

    def prefix(self) -> str:
        return unique_name("kv*?[x]\\") + "[*]:"


class TestRedisDictClusterConformance(_RedisSuite):
    """A three-primary Redis Cluster."""

    @pytest.fixture
    def store_factory(  # type: ignore[override]
        self, cluster: Any, unlink: Callable[[Any, bytes], None]
    ) -> Iterator[Callable[[], RedisDict]]:
        client = cluster.client()
        made: list[RedisDict] = []

        def make() -> RedisDict:
            made.append(RedisDict(client, key_prefix=self.prefix()))
            return made[-1]

        yield make
        for store in made:
            store.close()
            unlink(client, store.key_prefix.encode())
        client.close()

    def opener(self, store: Any) -> Callable[[], Any]:
        node = store.redis.get_default_node()
        return functools.partial(
            open_redis_cluster_url,
            f"redis+cluster://{node.host}:{node.port}/",
            prefix=store.key_prefix,
            socket_timeout=5,
            socket_connect_timeout=5,
        )
