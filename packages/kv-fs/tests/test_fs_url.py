"""Opening FileSystemDict through kv_core.open_store and file:// URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from kv_core import InvalidStoreURL, open_store, registered_schemes
from kv_fs import FileSystemDict, open_file_url


def test_file_scheme_is_registered() -> None:
    """The kv.stores entry point makes file:// known to open_store."""
    assert "file" in registered_schemes()


def test_open_with_scratch_and_durable(tmp_path: Path) -> None:
    """scratch= and durable= come from the query string."""
    url = f"file://{tmp_path}/data?scratch={tmp_path}/tmp&durable=0"
    with open_store(url) as store:
        assert isinstance(store, FileSystemDict)
        assert store.path == str(tmp_path / "data")
        assert store.scratch_path == str(tmp_path / "tmp")
        assert store.durable is False
        store["a/b"] = b"v"
    assert (tmp_path / "data" / "a" / "b").read_bytes() == b"v"


def test_default_scratch_is_a_sibling(tmp_path: Path) -> None:
    """Without scratch=, the scratch directory is '<storage>.scratch' beside it; durable on."""
    with open_store(f"file://{tmp_path}/data") as store:
        assert store.scratch_path == str(tmp_path / "data.scratch")
        assert store.durable is True


def test_localhost_and_percent_encoding(tmp_path: Path) -> None:
    """file://localhost/ is accepted and the path is percent-decoded."""
    with open_store(f"file://localhost{tmp_path}/my%20data") as store:
        assert store.path == str(tmp_path / "my data")


def test_overrides_win(tmp_path: Path) -> None:
    """Keyword arguments override the URL's options."""
    with open_file_url(
        f"file://{tmp_path}/d?durable=1", durable=False, scratch=str(tmp_path / "s")
    ) as store:
        assert store.durable is False
        assert store.scratch_path == str(tmp_path / "s")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///tmp/x?colour=red", "valid options: deserializer, durable, scratch"),
        ("file:///tmp/x?durable=maybe", "durable must be true or false"),
        ("file://host/tmp/x", "not a host"),
        ("file://", "absolute path"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    """Unknown options, bad booleans, hosts and missing paths raise InvalidStoreURL."""
    with pytest.raises(InvalidStoreURL, match=message):
        open_store(url)
