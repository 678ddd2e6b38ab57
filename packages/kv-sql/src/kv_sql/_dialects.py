"""MySqlDict and PostgresSqlDict: GenericSqlDict that insists on its database.

Also :class:`CorePathSqlDict`, private: GenericSqlDict held to the generic path, for
comparing the two paths on one database (tools/bench, the tests).
"""

from __future__ import annotations

from ._profiles import MYSQL, POSTGRESQL
from ._store import GenericSqlDict

__all__ = ["CorePathSqlDict", "MySqlDict", "PostgresSqlDict"]


class MySqlDict(GenericSqlDict):
    """:class:`GenericSqlDict` on MySQL or MariaDB (``mysql+pymysql://``; ``kv-sql[mysql]``).

    Keys are stored as UTF-8 in a ``VARBINARY`` column, so they compare exactly (no case
    folding, no PAD SPACE) whatever the server's collations; values in ``LONGBLOB``. Values
    are limited by the server's ``max_allowed_packet``: a larger one raises
    ``ValueTooLargeError`` instead of breaking the connection.
    """

    _dialects = MYSQL.dialects


class PostgresSqlDict(GenericSqlDict):
    """:class:`GenericSqlDict` on PostgreSQL (``postgresql+psycopg://``; ``kv-sql[postgres]``).

    Keys are ``VARCHAR COLLATE "C"`` (exact, code-point order); PostgreSQL text cannot hold
    NUL, so keys with NUL raise ``InvalidKeyError``. Values are ``BYTEA``.
    """

    _dialects = POSTGRESQL.dialects


class CorePathSqlDict(GenericSqlDict):
    """:class:`GenericSqlDict` on the generic path (SQLAlchemy Core) on every database.

    Not exported: the tuned path is the one to use where it exists. Defined in a module
    (not in a test) so that spawned processes can open it again.
    """

    _generic_path = True
