"""ReadOnlyDict and WriteOnlyDict against their own contracts."""

from __future__ import annotations

import pytest

from kv_core import InvalidKeyError, MemoryDict, ReadOnlyDict, WriteOnlyDict


def test_read_only_reads_pass_through() -> None:
    """Every read of a ReadOnlyDict answers from the wrapped store."""
    inner = MemoryDict({"a": b"1", "b": b"2", "ab": b"3"})
    view = ReadOnlyDict(inner)
    assert view["a"] == b"1"
    assert view.get("missing") is None
    assert "b" in view
    assert len(view) == 3
    assert sorted(view) == ["a", "ab", "b"]
    assert sorted(view.keys_with_prefix("a")) == ["a", "ab"]
    assert view.get_many(["a", "zz"]) == {"a": b"1"}
    assert dict(view.items()) == dict(inner.items())
    with pytest.raises(KeyError):
        view["missing"]


def test_read_only_discards_writes_silently() -> None:
    """Writes, deletes, clear and pop on a ReadOnlyDict change nothing and raise nothing."""
    inner = MemoryDict({"a": b"1"})
    view = ReadOnlyDict(inner)
    view["a"] = b"changed"
    view["new"] = b"x"
    view.update({"b": b"2"})
    view.set_many({"c": b"3"})
    del view["a"]
    view.delete_many(["a"])
    assert view.pop("a") == b"1"
    view.clear()
    assert dict(inner.items()) == {"a": b"1"}


def test_read_only_delete_of_missing_key_raises() -> None:
    """del of a key the wrapped store lacks raises KeyError, as on a dict."""
    view = ReadOnlyDict(MemoryDict())
    with pytest.raises(KeyError):
        del view["missing"]


def test_read_only_still_refuses_invalid_keys() -> None:
    """A discarded write still refuses a key the wrapped store can never hold."""
    view = ReadOnlyDict(MemoryDict())
    with pytest.raises(TypeError):
        view[1] = b"x"  # type: ignore[index]
    with pytest.raises(TypeError):
        view[1]  # type: ignore[index]


def test_write_only_writes_pass_through() -> None:
    """Writes and deletes of a WriteOnlyDict reach the wrapped store."""
    inner = MemoryDict()
    view = WriteOnlyDict(inner)
    view["a"] = b"1"
    view.set_many({"b": b"2", "c": b"3"})
    view.update(d=b"4")
    del view["b"]
    view.delete_many(["c"])
    assert dict(inner.items()) == {"a": b"1", "d": b"4"}
    with pytest.raises(KeyError):
        del view["missing"]
    view.clear()
    assert len(inner) == 0


def test_write_only_reads_see_nothing() -> None:
    """Reads of a WriteOnlyDict raise KeyError; len is 0 and iteration is empty."""
    view = WriteOnlyDict(MemoryDict({"a": b"1"}))
    with pytest.raises(KeyError):
        view["a"]
    assert view.get("a") is None
    assert "a" not in view
    assert len(view) == 0
    assert list(view) == []
    assert list(view.items()) == []
    assert view.get_many(["a"]) == {}
    assert list(view.keys_with_prefix("a")) == []
    with pytest.raises(KeyError):
        view.pop("a")


def test_write_only_still_checks_keys_on_read() -> None:
    """A read of a non-str key is a TypeError, not a quiet KeyError."""
    view = WriteOnlyDict(MemoryDict())
    with pytest.raises(TypeError):
        view[3]  # type: ignore[index]
    with pytest.raises(TypeError):
        3 in view  # noqa: B015


class _NoNulStore(MemoryDict):
    def _validate_key(self, key: str) -> None:
        if "\x00" in key:
            raise InvalidKeyError("NUL")


@pytest.mark.parametrize("wrapper", [ReadOnlyDict, WriteOnlyDict])
def test_wrappers_pass_key_validation_through(wrapper: type) -> None:
    """The wrapped store's InvalidKeyError reaches the caller of either wrapper."""
    view = wrapper(_NoNulStore())
    with pytest.raises(InvalidKeyError):
        view["a\x00"] = b"x"
    with pytest.raises(InvalidKeyError):
        view["a\x00"]


def test_wrappers_work_over_a_plain_dict() -> None:
    """Any MutableMapping can be wrapped, as the seed's Flask example wraps dict()."""
    plain: dict[str, bytes] = {"a": b"1"}
    assert ReadOnlyDict(plain)["a"] == b"1"
    WriteOnlyDict(plain)["b"] = b"2"
    assert plain == {"a": b"1", "b": b"2"}
