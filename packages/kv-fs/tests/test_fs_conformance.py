"""FileSystemDict passes the whole kv conformance suite, with durable writes on and off."""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable, Iterator

import pytest

from kv_core import Capabilities
from kv_core.capabilities import LONE_SURROGATES
from kv_core.conformance import StoreConformance
from kv_fs import FileSystemDict

NAME_MAX = os.pathconf(tempfile.gettempdir(), "PC_NAME_MAX")


class TestFileSystemDictConformance(StoreConformance):
    capabilities = Capabilities(
        persistent=True,
        processes=True,
        ttl=False,
        history=False,
        max_key_length=NAME_MAX,
        max_value_size=None,
        empty_key=False,
        hierarchical_keys=True,
        invalid_keys=("", "/abs", "a/../b", "../up", "./a", "a//b", "a/", "a\\b", "a\x00b"),
        refused_characters=frozenset("\x00\\") | LONE_SURROGATES,
        compare_and_set=True,
    )

    @pytest.fixture(params=[True, False], ids=["durable", "not-durable"])
    def store_factory(
        self, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[Callable[[], FileSystemDict]]:
        made: list[FileSystemDict] = []

        def make() -> FileSystemDict:
            base = tmp_path_factory.mktemp("kvfs")
            made.append(FileSystemDict(base / "data", base / "scratch", durable=request.param))
            return made[-1]

        yield make
        for store in made:
            store.close()

    def opener(self, store: FileSystemDict) -> Callable[[], FileSystemDict]:  # type: ignore[override]
        return functools.partial(
            FileSystemDict, store.path, store.scratch_path, durable=store.durable
        )
