"""A tour of kv-core's wrappers over MemoryDict: run ``python examples/wrappers_demo.py``.

It builds the seed's document store in miniature: a cache tier over a database tier over a
read-only archive, with compressed values in the cache and replicas behind random choice.
"""

from __future__ import annotations

import pickle
import zlib

from kv_core import (
    MemoryDict,
    RandomChoiceDict,
    ReadOnlyDict,
    SerializedDict,
    TieredStorageDict,
    WriteOnlyDict,
)


def main() -> None:
    """Build the stack, write and read documents through it, and show where they landed."""
    cache_master = MemoryDict()
    cache = TieredStorageDict(
        [
            ReadOnlyDict(SerializedDict(cache_master, value_deserialize=zlib.decompress)),
            WriteOnlyDict(SerializedDict(cache_master, value_serialize=zlib.compress)),
        ]
    )
    db_master = MemoryDict()
    replicas = RandomChoiceDict([ReadOnlyDict(db_master) for _ in range(3)])
    database = TieredStorageDict([replicas, WriteOnlyDict(db_master)])
    archive = ReadOnlyDict(MemoryDict({"docs/1999/manifesto": b"Old but gold."}))
    documents = TieredStorageDict([cache, database, archive], promote_on_read=True)

    documents["docs/2026/readme"] = b"Hello from kv."
    print("read back:      ", documents["docs/2026/readme"])
    print("from archive:   ", documents["docs/1999/manifesto"])
    print("now promoted to the database:", "docs/1999/manifesto" in db_master)
    print("cache holds compressed bytes:", cache_master["docs/2026/readme"][:2].hex())
    print("all documents:  ", sorted(documents))
    del documents["docs/2026/readme"]
    print("after delete:   ", documents.get("docs/2026/readme"))

    pickled = SerializedDict(
        MemoryDict(),
        key_serialize=pickle.dumps,
        key_deserialize=pickle.loads,
        value_serialize=pickle.dumps,
        value_deserialize=pickle.loads,
    )
    pickled[("user", 42)] = {"name": "Ada", "langs": ["en", "fr"]}
    print("tuple key:      ", pickled[("user", 42)])


if __name__ == "__main__":
    main()
