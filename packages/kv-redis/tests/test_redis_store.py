"""RedisDict itself: the clients it accepts, keys as UTF-8, repr, exports."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import redis
import redis.asyncio

import kv_redis
from kv_redis import RedisDict


def test_all_is_complete() -> None:
    """__all__ names every public name of the package, sorted."""
    public = {name for name in vars(kv_redis) if not name.startswith("_")} | {"__version__"}
    assert set(kv_redis.__all__) == public
    assert kv_redis.__all__ == sorted(kv_redis.__all__)


@pytest.mark.parametrize("bad", [None, "redis://localhost", object()])
def test_refuses_what_is_not_a_client(bad: object) -> None:
    """Anything but a sync redis-py client raises TypeError."""
    with pytest.raises(TypeError, match="redis_conn"):
        RedisDict(bad)  # type: ignore[arg-type]


def test_refuses_an_asyncio_client() -> None:
    """An asyncio client is refused with a message saying so."""
    client = redis.asyncio.Redis()
    with pytest.raises(TypeError, match="asyncio"):
        RedisDict(client)  # type: ignore[arg-type]


def test_refuses_a_prefix_that_is_not_str(raw: redis.Redis) -> None:
    """key_prefix must be str."""
    with pytest.raises(TypeError, match="key_prefix"):
        RedisDict(raw, key_prefix=b"p:")  # type: ignore[arg-type]


def test_decoding_client_returns_bytes(
    make_client: Callable[..., redis.Redis], namespace: str
) -> None:
    """With decode_responses=True, values (even invalid UTF-8) come back as bytes."""
    client = make_client(decode_responses=True)
    store = RedisDict(client, key_prefix=namespace)
    store["k"] = b"\xff\xfe"
    store["\u00e9"] = "caf\u00e9"
    assert store["k"] == b"\xff\xfe"
    assert store.get_many(["k"]) == {"k": b"\xff\xfe"}
    assert store.pop("\u00e9") == "caf\u00e9".encode()
    assert list(store) == ["k"]
    client.set(f"{namespace}t", "text")
    assert client.get(f"{namespace}t") == "text"  # the user's client still decodes


def test_keys_are_utf8_whatever_the_client_encoding(
    make_client: Callable[..., redis.Redis], raw: redis.Redis, namespace: str
) -> None:
    """A client configured with another encoding still stores keys as UTF-8."""
    client = make_client(encoding="latin-1")
    store = RedisDict(client, key_prefix=namespace)
    store["\u00e9\u65e5"] = b"v"
    assert raw.get(f"{namespace}\u00e9\u65e5".encode()) == b"v"
    assert list(store) == ["\u00e9\u65e5"]


def test_lone_surrogate_keys_round_trip(raw: redis.Redis, namespace: str) -> None:
    """Every str is a key: lone surrogates (no UTF-8 form) are stored and listed unchanged."""
    store = RedisDict(raw, key_prefix=namespace + "\udc80")
    keys = ["\udc80", "a\ud800b", "\U0001f600", "plain"]
    store.update({key: key.encode("utf-8", "surrogatepass") for key in keys})
    assert sorted(store) == sorted(keys)
    assert sorted(store.keys_with_prefix("a\ud800")) == ["a\ud800b"]
    assert store.get_many(keys) == {key: key.encode("utf-8", "surrogatepass") for key in keys}
    server_key = namespace.encode() + "\udc80".encode("utf-8", "surrogatepass") + b"plain"
    assert raw.get(server_key) == b"plain"
    store.clear()
    assert len(store) == 0


def test_repr_names_server_prefix_and_expiry(raw: redis.Redis) -> None:
    """repr says where the store is and how it is configured."""
    store = RedisDict(raw, key_prefix="app:", exp_time=30, sliding_expiry=True)
    assert repr(store) == (
        "RedisDict(127.0.0.1:6379/0, key_prefix='app:', exp_time=30, sliding_expiry=True)"
    )


def test_single_connection_client(make_client: Callable[..., redis.Redis], namespace: str) -> None:
    """A single_connection_client works, pop included."""
    client = make_client(single_connection_client=True)
    store = RedisDict(client, key_prefix=namespace)
    store["k"] = b"v"
    assert store.pop("k") == b"v"
    assert len(store) == 0


def test_threads_share_a_store(raw: redis.Redis, namespace: str) -> None:
    """Threads writing through one store lose nothing."""
    store = RedisDict(raw, key_prefix=namespace)

    def write(worker: int) -> None:
        for i in range(50):
            store[f"{worker}-{i}"] = b"v"

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store) == 200


def test_pop_is_atomic_between_threads(raw: redis.Redis, namespace: str) -> None:
    """Each key is popped by exactly one of several competing threads."""
    store = RedisDict(raw, key_prefix=namespace)
    store.set_many({f"k{i}": b"v" for i in range(100)})
    won: list[str] = []
    lock = threading.Lock()

    def take() -> None:
        for i in range(100):
            if store.pop(f"k{i}", None) is not None:
                with lock:
                    won.append(f"k{i}")

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == sorted(f"k{i}" for i in range(100))
