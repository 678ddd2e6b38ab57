"""The reads of a SQL store: one key, many keys, listings streamed in pages, history."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ._sql import prefix_bounds
from ._transactions import BATCH, SqlBase, fetchall, fetchone
from ._views import Version, View

__all__ = ["Reads"]

_FIRST_PAGE = 64  # labels in a listing's first page; later ones grow to the profile's page
_ROW_CHUNK = 64  # rows converted to Python at a time from a page's cursor (page_cursor)

time_from_db = View.time_from_db


class Reads(SqlBase):
    """Reading: ``_read``, ``_read_with_version``, ``_contains``, ``_read_many``,
    ``_iter_keys``, ``_count``, history."""

    def _read(self, key: str) -> bytes:
        lease = self._leases.lease()
        params = (key.encode(),) if self._profile.binary_keys else (key,)
        if self._at:
            params += self._at
        lost = False
        with lease.lock:
            try:
                cur = lease.cursor
                cur.execute(self._st.get, params)
                row = cur.fetchone()
            except BaseException as exc:
                # The hot path of _query, written out: lost connections are read again there.
                if not self._leases.lost(lease, exc):
                    self._leases.failed(lease, exc)
                    raise
                lost = True
        if lost:
            row = self._query_again(self._st.get, params, fetchone)
        if row is None or row[1]:
            raise KeyError(key)
        item = row[0]
        return item if type(item) is bytes else bytes(item)

    def _read_with_version(self, key: str) -> tuple[bytes, str]:
        """The newest value of *key* and its version: that row's sequence number, as text.

        On a snapshot, as of the snapshot time (its writes raise ``ReadOnlyError`` anyway).
        """
        if not self._cas:
            return super()._read_with_version(key)
        row = self._query(self._st.get_versioned, (self._kp(key), *self._at), fetchone)
        if row is None or row[2]:
            raise KeyError(key)
        item = row[1]
        return (item if type(item) is bytes else bytes(item)), str(int(row[0]))

    def _contains(self, key: str) -> bool:
        params = (key.encode(),) if self._profile.binary_keys else (key,)
        deleted = self._query_one(self._st.contains, params + self._at)
        return deleted is not None and not deleted

    def _read_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for start in range(0, len(keys), BATCH):
            chunk = keys[start : start + BATCH]
            labels = [self._kp(key) for key in chunk]
            rows = self._query_all(self._st.read_many(len(chunk)), [*labels, *self._at])
            for label, item in rows:
                found[self._label(label)] = item if type(item) is bytes else bytes(item)
        return found

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        profile = self._profile
        if not profile.ordered_keys:
            return self._iter_unordered(prefix)
        low = high = None
        if prefix:
            lower, upper = prefix_bounds(prefix)
            low = self._kp(lower)
            high = None if upper is None else self._kp(upper)
        # The first page is read now, so that a database that cannot be reached raises here
        # (as iter() always has), not at the first next().
        st, at = self._st, self._at
        sql = st.keys_page(_FIRST_PAGE, low=low is not None, after=False, high=high is not None)
        params = (*([] if low is None else [low]), *([] if high is None else [high]), *at)
        rows = self._page(sql, params)
        return self._pages(rows, _FIRST_PAGE, high)

    def _page(self, sql: str, params: tuple[Any, ...]) -> Any:
        """One listing page: its rows, or a cursor holding them (``page_cursor``)."""
        if self._profile.page_cursor:
            return self._query_cursor(sql, params)
        return self._query(sql, params, fetchall)

    def _pages(self, rows: Any, size: int, high: Any) -> Iterator[str]:
        """Yield the live labels of *rows*, then of each next page, keyset-paged by label.

        Each page is one statement on its own (autocommit): no cursor, connection or lock is
        held between pages, so the caller may write the store while it iterates. A key that
        exists for the whole iteration is listed once; one written or deleted meanwhile may
        or may not be. Pages grow from a small first one (a first key soon) to the profile's
        ``listing_page`` labels: memory is one page, whatever the table holds; with
        ``page_cursor``, *rows* is a cursor holding the page (closed when it is read) and
        only a few dozen rows are Python objects at a time.
        """
        binary = self._profile.binary_keys
        largest = self._profile.listing_page
        st, at = self._st, self._at
        bound = () if high is None else (high,)
        cursors = self._profile.page_cursor
        while True:
            if not cursors:
                for label, deleted in rows:
                    if not deleted:
                        yield label.decode() if binary else label
                count = len(rows)
                last = rows[-1][0] if rows else None
            else:
                count, last = 0, None
                try:
                    while chunk := rows.fetchmany(_ROW_CHUNK):
                        count += len(chunk)
                        last = chunk[-1][0]
                        for label, deleted in chunk:
                            if not deleted:
                                yield label.decode() if binary else label
                        del chunk
                finally:
                    rows.close()
            del rows
            if count < size:
                return
            size = min(size * 4, largest)
            sql = st.keys_page(size, low=False, after=True, high=high is not None)
            rows = self._page(sql, (last, *bound, *at))

    def _iter_unordered(self, prefix: str) -> Iterator[str]:
        """Every live label read at once, filtered here: a database whose label order kv-sql
        does not know can neither page by label nor take a prefix as a range."""
        rows = self._query_all(self._st.keys(low=False, high=False), self._at)
        labels = [self._label(row[0]) for row in rows]
        if prefix:
            labels = [label for label in labels if label.startswith(prefix)]
        return iter(labels)

    def _count(self) -> int:
        return int(self._query_one(self._st.count(), self._at))

    def history(self, key: str) -> list[Version]:
        """Every version of *key*, oldest first, tombstones included (up to the snapshot).

        With ``prune_on_write`` only the newest row is left after each write.
        """
        checked = self._check_key(key)
        rows = self._query_all(self._st.history, [self._kp(checked), *self._at])
        decode = self._decode
        return [
            Version(
                sequence_number=int(seq),
                created=time_from_db(created),
                deleted=bool(deleted),
                value=None if deleted else decode(item if type(item) is bytes else bytes(item)),
            )
            for seq, created, deleted, item in rows
        ]
