"""Opening SQL stores by URL through kv_core.open_store, and constructor arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from kv_core import InvalidStoreURL, StoreUnavailable, open_store, redact_url
from kv_sql import GenericSqlDict, MySqlDict, PostgresSqlDict


def test_sqlite_url_with_options(tmp_path: Path) -> None:
    """table, prune and key_length come from the query string and are not passed on."""
    url = f"sqlite:///{tmp_path / 'kv.db'}?table=things&prune=1&key_length=12"
    with open_store(url) as store:
        assert isinstance(store, GenericSqlDict)
        assert store.table_name == "things"
        assert store.prune_on_write is True
        assert store.key_length == 12
        store["k"] = b"1"
        store["k"] = b"2"
        assert len(store.history("k")) == 1
    with open_store(f"sqlite:///{tmp_path / 'kv.db'}?table=things") as again:
        assert again["k"] == b"2"
        assert again.prune_on_write is False


def test_default_table_and_overrides(tmp_path: Path) -> None:
    """Without table= the table is 'kv'; keyword overrides win over URL options."""
    url = f"sqlite:///{tmp_path / 'kv.db'}?prune=1"
    with open_store(url, prune_on_write=False, table="other") as store:
        assert store.table_name == "other"
        assert store.prune_on_write is False
    with open_store(f"sqlite:///{tmp_path / 'kv.db'}") as store:
        assert store.table_name == "kv"


def test_snapshot_option(tmp_path: Path) -> None:
    """snapshot= opens a read-only view at an ISO time."""
    url = f"sqlite:///{tmp_path / 'kv.db'}"
    with open_store(url) as store:
        store["k"] = b"1"
    with open_store(url + "?snapshot=2000-01-01T00:00:00") as past:
        assert len(past) == 0
        assert past.snapshot_time is not None


@pytest.mark.parametrize(
    "query", ["bogus=1", "prune=maybe", "key_length=abc", "snapshot=yesterday", "table=1x"]
)
def test_bad_options_are_refused(tmp_path: Path, query: str) -> None:
    """Unknown or malformed options raise InvalidStoreURL."""
    with pytest.raises(InvalidStoreURL):
        open_store(f"sqlite:///{tmp_path / 'kv.db'}?{query}")


def test_unknown_option_lists_valid_ones() -> None:
    """The error names the valid options."""
    with pytest.raises(InvalidStoreURL, match="key_length"):
        open_store("sqlite://?colour=red")


def test_server_urls_pick_their_class(backend: Any) -> None:
    """mysql URLs give MySqlDict, postgresql URLs PostgresSqlDict, sqlite GenericSqlDict."""
    table = backend.new_table()
    with open_store(f"{backend.url}{'&' if '?' in backend.url else '?'}table={table}") as store:
        assert type(store) is backend.cls
        store["k"] = b"1"
        assert store["k"] == b"1"


def test_plain_scheme_without_driver(server_backend_factory: Any) -> None:
    """mysql://, mariadb+pymysql:// and postgresql:// work with kv-sql's extras' drivers."""
    for name, scheme in (
        ("mariadb", "mysql"),
        ("mariadb", "mariadb+pymysql"),
        ("postgres", "postgresql"),
    ):
        backend = server_backend_factory(name)
        url = scheme + "://" + backend.url.split("://", 1)[1]
        table = backend.new_table()
        with open_store(f"{url}?table={table}") as store:
            store["k"] = b"1"
            assert store["k"] == b"1"


def test_password_not_shown() -> None:
    """repr and errors never show the password."""
    store = GenericSqlDict.__new__(GenericSqlDict)
    with pytest.raises(StoreUnavailable) as caught:
        MySqlDict("mysql+pymysql://user:s3cret@127.0.0.1:1/db", "t")
    assert "s3cret" not in str(caught.value)
    del store


def test_repr_hides_password(tmp_path: Path) -> None:
    """The repr of a store shows the URL with *** for the password."""
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    engine.url = engine.url.set(password="s3cret", username="u")
    with GenericSqlDict(engine, "t") as store:
        assert "s3cret" not in repr(store)
        assert "t" in repr(store)
    engine.dispose()


def test_wrong_database_for_class() -> None:
    """MySqlDict and PostgresSqlDict refuse other databases."""
    with pytest.raises(ValueError, match="mysql"):
        MySqlDict("sqlite://", "t")
    with pytest.raises(ValueError, match="postgresql"):
        PostgresSqlDict("sqlite://", "t")


def test_database_down_at_construction() -> None:
    """An unreachable server raises StoreUnavailable with the driver's error as cause."""
    with pytest.raises(StoreUnavailable) as caught:
        PostgresSqlDict("postgresql+psycopg://postgres@127.0.0.1:1/test", "t")
    assert caught.value.__cause__ is not None
    assert "sqlalchemy" not in type(caught.value.__cause__).__module__


def test_engine_kwargs_reach_create_engine(tmp_path: Path) -> None:
    """engine_kwargs are passed to create_engine; pool_pre_ping is on by default."""
    with GenericSqlDict(f"sqlite:///{tmp_path / 'a.db'}", "t") as store:
        assert store.engine.pool._pre_ping is True
    with GenericSqlDict(
        f"sqlite:///{tmp_path / 'b.db'}",
        "t",
        engine_kwargs={"pool_pre_ping": False, "pool_size": 3, "pool_recycle": 60},
    ) as store:
        assert store.engine.pool._pre_ping is False
        assert store.engine.pool.size() == 3
        assert store.engine.pool._recycle == 60


def test_engine_kwargs_with_engine_is_an_error() -> None:
    """engine_kwargs cannot be combined with a ready Engine."""
    engine = create_engine("sqlite://", poolclass=StaticPool)
    with pytest.raises(ValueError, match="engine_kwargs"):
        GenericSqlDict(engine, "t", engine_kwargs={"pool_size": 1})
    engine.dispose()


def test_seed_memory_spelling() -> None:
    """The seed's 'sqlite://:memory:' opens an in-memory database."""
    with GenericSqlDict("sqlite://:memory:", "some_table") as store:
        store["k"] = b"1"
        assert store["k"] == b"1"
        assert store.capabilities.persistent is False


def test_memory_engine_needs_static_pool() -> None:
    """An in-memory engine whose threads would each see their own database is refused."""
    engine = create_engine("sqlite://")
    with pytest.raises(ValueError, match="StaticPool"):
        GenericSqlDict(engine, "t")
    engine.dispose()


def test_user_engine_is_left_open(tmp_path: Path) -> None:
    """Closing a store made on a user's Engine leaves the engine usable."""
    engine = create_engine(f"sqlite:///{tmp_path / 'kv.db'}")
    with GenericSqlDict(engine, "t") as store:
        store["k"] = b"1"
    with GenericSqlDict(engine, "t") as store:
        assert store["k"] == b"1"
    engine.dispose()


def test_bad_key_length() -> None:
    """key_length must be a positive int."""
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="key_length"):
            GenericSqlDict("sqlite://", "t", key_length=bad)


@pytest.mark.parametrize("delimiter", list("/?#@:[]%&=;+ "))
@pytest.mark.parametrize("scheme", ["mysql+pymysql", "mariadb", "postgresql", "postgresql+psycopg"])
def test_redaction_hides_the_password_sqlalchemy_connects_with(scheme: str, delimiter: str) -> None:
    """redact_url hides the password exactly as SQLAlchemy reads it, delimiters included."""
    url = f"{scheme}://kv:Zq{delimiter}Xw@db.example:3306/kv"
    password = make_url(url).password
    assert password is not None
    assert "Zq" in password
    shown = redact_url(url)
    assert "Zq" not in shown
    assert "Xw" not in shown
    assert password not in shown
