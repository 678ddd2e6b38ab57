"""kv-fs: FileSystemDict, a dict-like store of one file per key with atomic, durable writes."""

from .__about__ import __version__ as __version__
from ._store import SCRATCH_PREFIX as SCRATCH_PREFIX
from ._store import SCRATCH_SUFFIX as SCRATCH_SUFFIX
from ._store import FileSystemDict as FileSystemDict
from ._url import open_file_url as open_file_url

__all__ = [
    "FileSystemDict",
    "SCRATCH_PREFIX",
    "SCRATCH_SUFFIX",
    "__version__",
    "open_file_url",
]
