"""A full disk behind the HTTP API: FileSystemDict and a SQLite SqlDict on a tiny tmpfs,
served by kv-flask. The server answers 507, the client raises OutOfSpaceError, the same
error the store raises locally.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from kv_core import OutOfSpaceError, Store
from kv_core.conformance.faults import tmpfs
from kv_flask import FlaskKvDict, ServerThread
from kv_fs import FileSystemDict
from kv_sql import GenericSqlDict

BACKENDS: dict[str, Callable[[Path], Store]] = {
    "fs": lambda disk: FileSystemDict(disk / "data", disk / "scratch", durable=False),
    "sqlite": lambda disk: GenericSqlDict(f"sqlite:///{disk}/kv.db", "kv"),
}


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_full_disk_is_507_and_out_of_space_error(backend: str, tmp_path: Path) -> None:
    """Filling the disk through HTTP ends in 507 out_of_space and OutOfSpaceError."""
    with tmpfs(tmp_path / "disk", 1024 * 1024) as disk:
        store = BACKENDS[backend](disk)
        server = ServerThread(store, threads=2).start()
        try:
            with FlaskKvDict(server.url, timeout=10) as kv:
                kv["k"] = b"old"
                with pytest.raises(OutOfSpaceError) as info:  # noqa: PT012 - ends in the error
                    for number in range(100):
                        kv[f"fill{number}"] = os.urandom(64 * 1024)
                assert isinstance(info.value, OSError)
                assert kv["k"] == b"old"
            response = requests.put(f"{server.url}/more", data=os.urandom(64 * 1024), timeout=10)
            assert response.status_code == 507
            assert response.json()["error"] == "out_of_space"
            assert str(disk) not in response.text
        finally:
            server.stop()
            store.close()
