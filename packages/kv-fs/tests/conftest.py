"""Shared fixtures of the kv-fs tests, and the markers they use."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kv_fs import FileSystemDict, _beneath

Factory = Callable[..., FileSystemDict]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: long kv-fs runs (hundreds of crash kills); select with -m slow"
    )


@pytest.fixture(params=["openat2", "walk"])
def make_store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Factory]:
    """A factory of stores in this test's own directory, all closed at the end.

    Each test runs twice: resolving multi-segment keys with openat2 where the kernel has
    it, and with the segment-by-segment walk every POSIX system falls back to.
    """
    if request.param == "openat2" and not _beneath.available():
        pytest.skip("openat2 is not available here")
    if request.param == "walk":
        monkeypatch.setattr(_beneath._State, "syscall", None)
    made: list[FileSystemDict] = []

    def make(name: str = "data", *, durable: bool = False, **kwargs: object) -> FileSystemDict:
        store = FileSystemDict(
            tmp_path / name, tmp_path / f"{name}.scratch", durable=durable, **kwargs
        )
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def store(make_store: Factory) -> FileSystemDict:
    """A new, empty store (not durable: these tests are about behaviour, not power cuts)."""
    return make_store()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Long runs only when asked for with -m slow (or any -m naming it).
    if "slow" in (config.option.markexpr or ""):
        return
    here = Path(__file__).parent
    skip = pytest.mark.skip(reason="long run: select it with -m slow")
    for item in items:
        if item.get_closest_marker("slow") and here in item.path.parents:
            item.add_marker(skip)
