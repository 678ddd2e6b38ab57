"""A third party's store over the standard library's ``dbm.dumb``, built on kv-core only.

It stands for a backend that no kv package ships: it subclasses ``kv_core.Store``, writes the
four primitives and declares its capabilities, nothing more. Every operation opens the
database under an exclusive ``flock`` on a side file, so threads and processes may share it.
"""

from __future__ import annotations

import dbm.dumb
import fcntl
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kv_core import Capabilities, Store


class DbmStore(Store):
    """Keys and values in a ``dbm.dumb`` database at *path* (a path without extension)."""

    capabilities = Capabilities(
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
    )

    def __init__(self, path: str | Path, **codec: Any) -> None:
        super().__init__(**codec)
        self.path = str(path)
        self._thread_lock = threading.Lock()
        with self._db():
            pass

    @contextmanager
    def _db(self) -> Iterator[Any]:
        with self._thread_lock, open(self.path + ".lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                with dbm.dumb.open(self.path, "c") as db:
                    yield db
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _read(self, key: str) -> bytes:
        with self._db() as db:
            return bytes(db[key.encode("utf-8", "surrogatepass")])

    def _write(self, key: str, value: bytes) -> None:
        with self._db() as db:
            db[key.encode("utf-8", "surrogatepass")] = value

    def _delete(self, key: str) -> None:
        with self._db() as db:
            del db[key.encode("utf-8", "surrogatepass")]

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        with self._db() as db:
            keys = [k.decode("utf-8", "surrogatepass") for k in db.keys()]  # noqa: SIM118 - a dbm is no dict
        return (key for key in keys if key.startswith(prefix))

    def _write_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        with self._db() as db:
            for key, value in items:
                db[key.encode("utf-8", "surrogatepass")] = value

    def _read_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        with self._db() as db:
            return {
                k: bytes(db[k.encode("utf-8", "surrogatepass")])
                for k in keys
                if k.encode("utf-8", "surrogatepass") in db
            }

    def _describe(self) -> str:
        return repr(self.path)
