"""kv-sql: SqlDict, a dict-like store over a SQL table, with history and time travel."""

from .__about__ import __version__ as __version__
from ._dialects import MySqlDict as MySqlDict
from ._dialects import PostgresSqlDict as PostgresSqlDict
from ._store import GenericSqlDict as GenericSqlDict
from ._store import Version as Version
from ._url import open_sql_url as open_sql_url

__all__ = [
    "GenericSqlDict",
    "MySqlDict",
    "PostgresSqlDict",
    "Version",
    "__version__",
    "open_sql_url",
]
