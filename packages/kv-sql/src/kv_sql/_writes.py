"""The writes of a SQL store: append a row, tombstone, pop, compare-and-set, prune, purge
and clear.

Every write appends: a value is a new row, a delete a tombstone row. How concurrent deletes,
pops and compare-and-sets of one key agree on a single winner is the profile's
(``key_locks``, ``row_locks``); see :meth:`Writes._kill` and :meth:`Writes._write_if`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

from kv_core import ConflictError, ValueTooLargeError

from ._transactions import BATCH, SqlBase

__all__ = ["Writes", "sequence_of"]

# Bytes that PyMySQL escapes with a backslash, doubling them in the statement it sends.
_STATEMENT_OVERHEAD = 4096
# Sequence numbers are BIGINT: a version above this was never given out.
_LARGEST_SEQUENCE = 2**63 - 1


def sequence_of(version: str) -> int | None:
    """The sequence number a version stands for; ``None`` if it is not one this store gave.

    Versions are the decimal text of a sequence number (``str(int)``): any other spelling
    (``"007"``, ``" 7"``, ``"7.0"``) matches no row, so it is a conflict, never an alias.
    """
    if not (isinstance(version, str) and version.isascii() and version.isdigit()):
        return None
    if version != "0" and version.startswith("0"):
        return None
    number = int(version)
    return number if number <= _LARGEST_SEQUENCE else None


class Writes(SqlBase):
    """Writing: ``_write``, ``_write_many``, ``_delete``, ``_delete_many``, ``_pop``,
    ``_write_if``, ``_delete_if``, purge."""

    def _check_size(self, value: bytes) -> None:
        limit = self._packet_limit
        if limit is not None and len(value) > limit - _STATEMENT_OVERHEAD:
            msg = (
                f"a value of {len(value)} bytes does not fit in the server's "
                f"max_allowed_packet ({limit} bytes); raise it on the server to store it"
            )
            raise ValueTooLargeError(msg)

    def _chunk_size(self, label: Any) -> int | None:
        """On MySQL, the most value bytes one statement can carry (PyMySQL sends hex)."""
        limit = self._packet_limit
        if limit is None:
            return None
        return (limit - _STATEMENT_OVERHEAD - 2 * len(label)) // 2

    def _insert(self, cur: Any, params: tuple[Any, ...]) -> int:
        """Insert one row and return its sequence number; in a transaction if chunked."""
        label, value, created = params
        step = self._chunk_size(label)
        if step is not None and len(value) > step:
            # PyMySQL sends bytes as hex, doubling them: a value over half of the server's
            # max_allowed_packet is sent in pieces, appended in the same transaction.
            cur.execute(self._st.insert_seq, (label, value[:step], created))
            seq = int(cur.lastrowid)
            for start in range(step, len(value), step):
                cur.execute(self._st.append, (value[start : start + step], seq))
            return seq
        cur.execute(self._st.insert_seq, params)
        if self._st.returning:
            return int(cur.fetchone()[0])
        return int(cur.lastrowid)

    def _needs_chunks(self, label: Any, value: bytes) -> bool:
        step = self._chunk_size(label)
        return step is not None and len(value) > step

    def _tombstone(self, cur: Any, sql: str, params: tuple[Any, ...]) -> int | None:
        """Run a conditional ``INSERT ... SELECT``; the new row's sequence number, or ``None``
        if the condition held no row (a tombstone, or a compare-and-set's value)."""
        cur.execute(sql, params)
        if self._st.returning:
            row = cur.fetchone()
            return None if row is None else int(row[0])
        if cur.rowcount != 1:
            return None
        return int(cur.lastrowid)

    def _write(self, key: str, value: bytes) -> None:
        if not self._writable:
            self._read_only()
        label = key.encode() if self._profile.binary_keys else key
        params = (label, value, self._view.now())
        if self._packet_limit is not None:
            self._check_size(value)
            if self._needs_chunks(label, value):
                chunked = self._insert
                if self._prune:
                    chunked = self._insert_and_prune
                self._transact(lambda cur: chunked(cur, params), begin=True)
                return
        if not self._prune:
            insert = self._st.insert

            def write(cur: Any) -> None:
                cur.execute(insert, params)

            self._transact(write, begin=False)
            return

        self._transact(lambda cur: self._insert_and_prune(cur, params), begin=True)

    def _insert_and_prune(self, cur: Any, params: tuple[Any, ...]) -> int:
        seq = self._insert(cur, params)
        cur.execute(self._st.prune, (params[0], seq))
        return seq

    def _write_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        if not self._writable:
            self._read_only()
        now = self._view.now()
        rows = [(self._kp(key), value, now) for key, value in items]
        big = []
        if self._packet_limit is not None:
            for row in rows:
                self._check_size(row[1])
            big = [row for row in rows if self._needs_chunks(row[0], row[1])]
            rows = [row for row in rows if not self._needs_chunks(row[0], row[1])]

        def write(cur: Any) -> None:
            ordered = [*big, *rows]
            first = self._insert(cur, ordered[0])
            for row in big[1:]:
                self._insert(cur, row)
            rest = rows[1:] if not big else rows
            if rest:
                cur.executemany(self._st.insert, rest)
            if self._prune:
                labels = [row[0] for row in ordered]
                for start in range(0, len(labels), BATCH):
                    chunk = labels[start : start + BATCH]
                    # Rows older than this batch's first one: never a row of this batch, nor
                    # one a concurrent writer added after it.
                    cur.execute(self._st.prune_many(len(chunk)), (*chunk, first))

        self._transact(write, begin=True)

    def _lock_id(self, label: Any) -> int:
        """A 64-bit advisory lock number for *label* in this table (PostgreSQL)."""
        raw = label if isinstance(label, bytes) else label.encode()
        digest = hashlib.blake2b(self._lock_salt + raw, digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)

    def _kill(self, cur: Any, label: Any, *, value: bool) -> tuple[int, Any] | None:
        """Tombstone *label* if its newest row is alive, inside the caller's transaction.

        Returns the tombstone's sequence number and (if *value*) the value it hides, or
        ``None`` if the key is missing. Of concurrent deleters and poppers of one key exactly
        one wins: on PostgreSQL a per-key advisory lock lets one at a time read the newest row
        (READ COMMITTED: each statement sees what the previous holder committed); on
        MySQL/MariaDB the newest row and the gap after it are locked (``FOR UPDATE``) and the
        tombstone is a plain ``INSERT`` (an ``INSERT ... SELECT`` from the same table takes
        its AUTO-INC lock, and deadlocks on it as error 1467). Only for servers.
        """
        st = self._st
        now = self._view.now()
        if self._profile.key_locks:
            cur.execute(st.key_lock, (self._lock_id(label),))
            if not value:
                seq = self._tombstone(cur, st.tombstone, (label, now, label))
                return None if seq is None else (seq, None)
            while True:
                cur.execute(st.latest, (label,))
                row = cur.fetchone()
                if row is None or row[2]:
                    return None
                seq = self._tombstone(cur, st.tombstone_if, (label, now, label, row[0]))
                if seq is not None:
                    return seq, row[1]
                # A write landed between the two statements: pop the newer value.
        cur.execute(st.lock_latest if value else st.lock_latest_state, (label,))
        row = cur.fetchone()
        if row is None or row[2]:
            return None
        cur.execute(st.tombstone_row, (label, now))
        return int(cur.lastrowid), row[1]

    def _delete(self, key: str) -> None:
        if not self._writable:
            self._read_only()
        label = self._kp(key)
        locking = self._profile.locking

        def delete(cur: Any) -> None:
            if locking:
                killed = self._kill(cur, label, value=False)
                seq = None if killed is None else killed[0]
            else:
                seq = self._tombstone(cur, self._st.tombstone, (label, self._view.now(), label))
            if seq is None:
                raise KeyError(key)
            if self._prune:
                cur.execute(self._st.prune, (label, seq))

        self._transact(delete, begin=locking or self._prune)

    def _delete_many(self, keys: Sequence[str]) -> None:
        if not self._writable:
            self._read_only()
        labels = [self._kp(key) for key in keys]
        # Locks taken in one order: two batches deleting the same keys do not deadlock.
        if self._profile.key_locks:
            labels.sort(key=self._lock_id)
        elif self._profile.row_locks:
            labels.sort()

        def delete(cur: Any) -> None:
            now = self._view.now()
            for label in labels:
                if self._profile.locking:
                    killed = self._kill(cur, label, value=False)
                    seq = None if killed is None else killed[0]
                else:
                    seq = self._tombstone(cur, self._st.tombstone, (label, now, label))
                if seq is not None and self._prune:
                    cur.execute(self._st.prune, (label, seq))

        self._transact(delete, begin=True)

    def _pop(self, key: str) -> bytes:
        if not self._writable:
            self._read_only()
        label = self._kp(key)
        if self._profile.locking:

            def pop(cur: Any) -> Any:
                killed = self._kill(cur, label, value=True)
                if killed is None:
                    raise KeyError(key)
                if self._prune:
                    cur.execute(self._st.prune, (label, killed[0]))
                return killed[1]

            item = self._transact(pop, begin=True)
            return item if type(item) is bytes else bytes(item)
        while True:
            row = self._query_all(self._st.latest, [label])
            if not row or row[0][2]:
                raise KeyError(key)
            seq, item, _ = row[0]

            def tombstone(cur: Any, seq: Any = seq) -> bool:
                params = (label, self._view.now(), label, seq)
                done = self._tombstone(cur, self._st.tombstone_if, params)
                if done is not None and self._prune:
                    cur.execute(self._st.prune, (label, done))
                return done is not None

            # Only if the row just read is still the newest: of two concurrent pops, one
            # gets the value and the other reads again (SQLite runs one write at a time).
            if self._transact(tombstone, begin=self._prune):
                return item if type(item) is bytes else bytes(item)

    # -- compare-and-set -------------------------------------------------------------------

    def _write_if(self, key: str, value: bytes, version: str | None) -> str:
        """Append *value* only if *key*'s newest row is still *version* (``None``: absent).

        The version is the sequence number of the key's newest row. Of concurrent
        conditional writers of one key exactly one wins, as with deletes and pops
        (:meth:`_kill`), even for a key that never existed: on PostgreSQL under the key's
        advisory lock (READ COMMITTED: the conditional insert, a statement after the lock,
        sees what the previous holder committed); on MySQL/MariaDB the newest row, or the
        gap where the key's rows would be, is locked ``FOR UPDATE`` (two creators both
        lock the empty gap and deadlock on their inserts: one is rolled back and, rerun,
        finds the other's row); on SQLite the conditional ``INSERT ... SELECT`` is one
        statement, and SQLite runs one write at a time.
        """
        if not self._writable:
            self._read_only()
        if not self._cas:
            return super()._write_if(key, value, version)
        wanted = None if version is None else sequence_of(version)
        if version is not None and wanted is None:
            self._conflict(key, version)
        label = self._kp(key)
        if self._packet_limit is not None:
            self._check_size(value)
        st = self._st

        def write(cur: Any) -> int | None:
            now = self._view.now()
            if self._profile.row_locks:
                cur.execute(st.lock_latest_state, (label,))
                row = cur.fetchone()
                current = None if row is None or row[2] else int(row[0])
                if current != wanted:
                    return None
                seq: int | None = self._insert(cur, (label, value, now))
            else:
                if self._profile.key_locks:
                    cur.execute(st.key_lock, (self._lock_id(label),))
                if wanted is None:
                    seq = self._tombstone(cur, st.insert_if_absent, (label, value, now, label))
                else:
                    params = (label, value, now, label, wanted)
                    seq = self._tombstone(cur, st.insert_if, params)
            if seq is not None and self._prune:
                cur.execute(st.prune, (label, seq))
            return seq

        begin = self._profile.locking or self._prune
        seq = self._transact(write, begin=begin)
        if seq is None:
            self._conflict(key, version)
        return str(seq)

    def _delete_if(self, key: str, version: str) -> None:
        """Tombstone *key* only if its newest row is still *version* (see :meth:`_write_if`)."""
        if not self._writable:
            self._read_only()
        if not self._cas:
            super()._delete_if(key, version)
            return
        wanted = sequence_of(version)
        if wanted is None:
            self._conflict(key, version)
        label = self._kp(key)
        st = self._st

        def delete(cur: Any) -> int | None:
            now = self._view.now()
            if self._profile.row_locks:
                cur.execute(st.lock_latest_state, (label,))
                row = cur.fetchone()
                if row is None or row[2] or int(row[0]) != wanted:
                    return None
                cur.execute(st.tombstone_row, (label, now))
                seq: int | None = int(cur.lastrowid)
            else:
                if self._profile.key_locks:
                    cur.execute(st.key_lock, (self._lock_id(label),))
                seq = self._tombstone(cur, st.tombstone_if, (label, now, label, wanted))
            if seq is not None and self._prune:
                cur.execute(st.prune, (label, seq))
            return seq

        if self._transact(delete, begin=self._profile.locking or self._prune) is None:
            self._conflict(key, version)

    @staticmethod
    def _conflict(key: str, version: str | None) -> NoReturn:
        if version is None:
            msg = f"{key!r} exists: not written (set_if with version=None writes only new keys)"
        else:
            msg = f"{key!r} is no longer at version {version!r}: nothing written"
        raise ConflictError(msg)

    def set_many(self, items: Any) -> None:
        """Store every pair in one transaction (``ReadOnlyError`` on a snapshot, even if empty)."""
        if not self._writable:
            self._read_only()
        super().set_many(items)

    def delete_many(self, keys: Any) -> None:
        """Remove those of *keys* that exist, in one transaction; missing keys are ignored."""
        if not self._writable:
            self._read_only()
        super().delete_many(keys)

    def purge(self, keys: Iterable[str]) -> None:
        """Remove every row of *keys*, old versions and tombstones too, as if never written.

        ``del`` keeps a key's history (it appends a tombstone); this erases it, so no
        :meth:`history` or snapshot shows the keys any more. Every key is checked first;
        missing keys are ignored. On a snapshot: ``ReadOnlyError``.
        """
        if not self._view.writable:
            self._read_only()
        labels = [self._kp(self._check_key(key)) for key in keys]

        def purge(cur: Any, chunk: tuple[Any, ...]) -> None:
            cur.execute(self._st.purge_many(len(chunk)), chunk)

        for start in range(0, len(labels), BATCH):
            chunk = tuple(labels[start : start + BATCH])
            self._transact(functools.partial(purge, chunk=chunk), begin=False)

    def popitem(self) -> tuple[str, Any]:
        """Remove and return some ``(key, value)`` pair; ``KeyError`` if the store is empty."""
        if not self._writable:
            self._read_only()
        return super().popitem()

    def _clear(self) -> None:
        if not self._writable:
            self._read_only()
        if self._prune:
            sql = self._st.clear_all
            self._transact(lambda cur: cur.execute(sql), begin=False)
        else:
            sql, params = self._st.clear_tombstones, (self._view.now(),)
            self._transact(lambda cur: cur.execute(sql, params), begin=False)
