"""Keys are exact, never truncated, always bound; table names are validated."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from sqlalchemy import text

from kv_core import InvalidKeyError
from kv_sql import GenericSqlDict

NFC = unicodedata.normalize("NFC", "\u00e9")
NFD = unicodedata.normalize("NFD", "\u00e9")
LOOKALIKES = ["a", "A", "a ", NFC, NFD, " a", "a\t", "\u00c9"]


def test_lookalike_keys_are_distinct(backend: Any) -> None:
    """'a', 'A', 'a ', NFC and NFD 'é' ... are different keys on every database."""
    store = backend.store()
    for index, key in enumerate(LOOKALIKES):
        store[key] = str(index)
    assert len(store) == len(LOOKALIKES)
    for index, key in enumerate(LOOKALIKES):
        assert store[key] == str(index).encode()
    assert sorted(store) == sorted(LOOKALIKES)
    del store["a "]
    assert store["a"] == b"0"
    assert "a " not in store


def test_keys_exact_on_mariadb_without_strict_mode(mariadb_backend: Any) -> None:
    """With sql_mode='' on the session, MariaDB still keeps keys exact and whole.

    The store adds only STRICT_ALL_TABLES to the session's mode, so nothing is truncated.
    """
    table = mariadb_backend.new_table()
    store = mariadb_backend.cls(
        mariadb_backend.url,
        table,
        key_length=8,
        engine_kwargs={"connect_args": {"init_command": "SET SESSION sql_mode=''"}},
    )
    mariadb_backend.stores.append(store)
    mode = store._query_one("SELECT @@SESSION.sql_mode", ())
    assert mode == "STRICT_ALL_TABLES"
    for index, key in enumerate(LOOKALIKES):
        store[key] = str(index)
    longest = "\U0001f600" * 8  # 32 bytes of UTF-8 in 8 characters
    store[longest] = b"emoji"
    assert store[longest] == b"emoji"
    with pytest.raises(InvalidKeyError):
        store["\U0001f600" * 9] = b"x"
    assert sorted(store) == sorted([*LOOKALIKES, longest])
    with store.engine.connect() as conn:
        column = conn.execute(
            text(
                "SELECT DATA_TYPE, COLLATION_NAME FROM information_schema.COLUMNS"
                " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t AND COLUMN_NAME = 'label'"
            ),
            {"t": table},
        ).one()
        # Binary strings compare byte by byte and have no PAD SPACE (unlike utf8mb4_bin).
        assert column[0] == "varbinary"
        assert column[1] is None
        item = conn.execute(
            text(
                "SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA ="
                " DATABASE() AND TABLE_NAME = :t AND COLUMN_NAME = 'item'"
            ),
            {"t": table},
        ).scalar_one()
        assert item == "longblob"


def test_too_long_key_is_refused_everywhere(backend: Any) -> None:
    """A key one character over key_length raises InvalidKeyError on every operation."""
    store = backend.store(key_length=10)
    store["k" * 10] = b"fits"
    assert store["k" * 10] == b"fits"
    long = "k" * 11
    for operation in (
        lambda: store.__setitem__(long, b"x"),
        lambda: store[long],
        lambda: long in store,
        lambda: store.__delitem__(long),
        lambda: store.get(long),
        lambda: store.history(long),
    ):
        with pytest.raises(InvalidKeyError):
            operation()
    assert list(store) == ["k" * 10]


def test_multibyte_key_of_full_length(backend: Any) -> None:
    """key_length counts characters: four-byte characters up to the limit fit whole."""
    store = backend.store(key_length=5)
    key = "\U0001f600\u00e9a\U0001f601\u4e2d"
    store[key] = b"1"
    assert list(store) == [key]


def test_pattern_characters_in_prefix_are_literal(backend: Any) -> None:
    """%, _ and backslash in a prefix match only themselves."""
    store = backend.store()
    keys = ["a%b", "a_b", "a\\b", "axb", "a%", "a", "b%"]
    store.update(dict.fromkeys(keys, b"1"))
    assert sorted(store.keys_with_prefix("a%")) == ["a%", "a%b"]
    assert sorted(store.keys_with_prefix("a_")) == ["a_b"]
    assert sorted(store.keys_with_prefix("a\\")) == ["a\\b"]
    assert sorted(store.keys_with_prefix("")) == sorted(keys)
    assert sorted(store.keys_with_prefix("A")) == []


def test_prefix_at_the_top_of_unicode(backend: Any) -> None:
    """Prefixes ending in the highest code points still list exactly their keys."""
    store = backend.store()
    keys = ["\U0010ffff", "\U0010ffffa", "\ud7ff\u0001", "\ue000", "z"]
    store.update(dict.fromkeys(keys, b"1"))
    assert sorted(store.keys_with_prefix("\U0010ffff")) == ["\U0010ffff", "\U0010ffffa"]
    assert sorted(store.keys_with_prefix("\ud7ff")) == ["\ud7ff\u0001"]


def test_lone_surrogate_is_invalid(backend: Any) -> None:
    """A key that is not valid Unicode cannot be stored as text: InvalidKeyError."""
    store = backend.store()
    with pytest.raises(InvalidKeyError):
        store["\udc80"] = b"x"
    with pytest.raises(InvalidKeyError):
        list(store.keys_with_prefix("\udc80"))


def test_nul_in_keys(backend: Any) -> None:
    """NUL is refused on PostgreSQL (text cannot hold it) and kept exactly elsewhere."""
    store = backend.store()
    if backend.name == "postgres":
        assert "a\x00b" in store.capabilities.invalid_keys
        with pytest.raises(InvalidKeyError):
            store["a\x00b"] = b"x"
        with pytest.raises(InvalidKeyError):
            list(store.keys_with_prefix("\x00"))
        return
    store["a\x00b"] = b"1"
    store["a"] = b"2"
    assert store["a\x00b"] == b"1"
    assert sorted(store) == ["a", "a\x00b"]
    assert list(store.keys_with_prefix("a\x00")) == ["a\x00b"]


def test_sql_in_keys_is_data(backend: Any) -> None:
    """Quotes and SQL in keys are bound parameters, never executed."""
    store = backend.store()
    evil = "x'; DROP TABLE t; --"
    store[evil] = b"1"
    store['"q"'] = b"2"
    assert store[evil] == b"1"
    assert sorted(store) == sorted([evil, '"q"'])


@pytest.mark.parametrize(
    "name", ["", "1abc", "a-b", "a b", "t;drop", "x" * 64, "é", "a.b", None, 3]
)
def test_invalid_table_names_are_refused(name: Any) -> None:
    """Table names must be plain identifiers of at most 63 characters."""
    with pytest.raises(ValueError, match="table name"):
        GenericSqlDict("sqlite://", name)


def test_mixed_case_and_long_table_names(backend: Any) -> None:
    """A mixed-case table name and a 63-character one work (indexes named to fit)."""
    name = backend.new_table()
    mixed = f"Mixed_{name}"
    if backend.server:
        backend.tables.append((backend.url, mixed))
    store = backend.store(mixed)
    store["k"] = b"1"
    long_name = (name + "_" + "x" * 63)[:63]
    if backend.server:
        backend.tables.append((backend.url, long_name))
    other = backend.store(long_name)
    other["k"] = b"2"
    assert store["k"] == b"1"
    assert other["k"] == b"2"


def test_two_tables_in_one_database(backend: Any) -> None:
    """Two stores on two tables of one database do not see each other's keys."""
    first = backend.store()
    # On "sqlite://" another URL store would be another database: share the engine.
    second = (
        backend.store(url_or_engine=first.engine) if backend.name == "memory" else backend.store()
    )
    first["k"] = b"1"
    second["k"] = b"2"
    assert first["k"] == b"1"
    second.close()
    assert first["k"] == b"1"  # closing one store leaves the other working
