"""The access log and the error logs of a live server."""

from __future__ import annotations

import logging
import re

import pytest

from kv_core import MemoryDict, StoreUnavailable
from kv_flask import ServerThread

_LINE = re.compile(
    r"^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "
    r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/1\.1" (?P<status>\d{3}) (?P<bytes>\d+|-) '
    r"(?P<took>[\d.]+ms)$"
)


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "kv_flask.access"]


def test_access_log_line_per_request_with_keys_redacted(raw, store, caplog):
    """One common-log line per request: method, path (keys redacted), status, bytes, time."""
    caplog.set_level(logging.INFO, logger="kv_flask.access")
    raw.request("PUT", "/users/42", body=b"secret-value")
    raw.request("GET", "/users/42")
    raw.request("GET", "/?prefix=users/&limit=5")
    raw.request("GET", "/_kv/count")
    records = _access_lines(caplog)
    assert len(records) == 4
    lines = [_LINE.match(record.getMessage()) for record in records]
    assert all(lines), [record.getMessage() for record in records]
    shown = [(m["method"], m["path"], m["status"], m["bytes"]) for m in lines if m]
    assert shown == [
        ("PUT", "/<key>", "204", "0"),
        ("GET", "/<key>", "200", "12"),
        ("GET", "/?prefix=<redacted>&limit=5", "200", shown[2][3]),
        ("GET", "/_kv/count", "200", shown[3][3]),
    ]
    assert "users" not in caplog.text
    assert records[1].kv_status == 200  # type: ignore[attr-defined]
    assert records[1].kv_bytes == 12  # type: ignore[attr-defined]
    assert records[1].kv_duration > 0  # type: ignore[attr-defined]


def test_access_log_shows_keys_when_asked(store, raw_class, caplog):
    """log_keys=True shows the path as sent."""
    caplog.set_level(logging.INFO, logger="kv_flask.access")
    with ServerThread(store, threads=2, log_keys=True, url_prefix="/kv") as server:
        raw_class(server.port).request("PUT", "/kv/users/42%20x", body=b"v")
    (record,) = _access_lines(caplog)
    assert '"PUT /kv/users/42%20x HTTP/1.1" 204 0' in record.getMessage()


def test_access_log_covers_refusals(raw, caplog):
    """Refused requests (a foreign Host, a 404, a 405) are logged too."""
    caplog.set_level(logging.INFO, logger="kv_flask.access")
    raw.request("GET", "/k", headers={"Host": "evil.example"})
    raw.request("GET", "/missing")
    raw.request("PATCH", "/k")
    statuses = [_LINE.match(record.getMessage())["status"] for record in _access_lines(caplog)]  # type: ignore[index]
    assert statuses == ["403", "404", "405"]


def test_access_log_cannot_be_forged(store, raw_class, caplog):
    """Bytes outside printable ASCII in the request are escaped: one request, one line."""
    import socket

    caplog.set_level(logging.INFO, logger="kv_flask.access")
    request = b"GET /a\x1b[31m\x7f%%0A HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n"
    with (
        ServerThread(store, threads=2, log_keys=True) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock,
    ):
        sock.sendall(request % server.port)
        while sock.recv(65536):
            pass
    (record,) = _access_lines(caplog)
    message = record.getMessage()
    assert "\x1b" not in message
    assert "/a%1B[31m%7F%0A " in message
    assert "\n" not in message


class _Down(MemoryDict):
    """Reads of "k" find the database down; every write fails with a bug."""

    def _read(self, key: str) -> bytes:
        if key != "k":
            return super()._read(key)
        try:
            raise ConnectionRefusedError(111, "connection to db.internal:5432 refused")
        except ConnectionRefusedError as exc:
            msg = "the database is unreachable"
            raise StoreUnavailable(msg) from exc

    def _read_with_version(self, key: str) -> tuple[bytes, str]:
        # GET's read on a store with versions (and a PUT's, of the version it replaces).
        return self._read(key), "unreached"

    def _write(self, key: str, value: bytes) -> None:
        msg = "disk controller on fire"
        raise RuntimeError(msg)

    def _write_if(self, key: str, value: bytes, version: str | None) -> str:
        self._write(key, value)  # a PUT's write on a store with versions: fails the same
        return "unreached"


def test_error_logs_carry_the_cause_server_side_only(raw_class, caplog):
    """A 503 or 500 logs the store's exception type and message; the answer holds neither."""
    caplog.set_level(logging.INFO)
    with ServerThread(_Down(), threads=2) as server:
        raw = raw_class(server.port)
        status, _, body = raw.request("GET", "/k")
        assert status == 503
        status, _, written = raw.request("PUT", "/w", body=b"v")
        assert status == 500
    errors = [record for record in caplog.records if record.name.startswith("kv_flask.")]
    text = "\n".join(record.getMessage() for record in errors)
    assert "StoreUnavailable: the database is unreachable" in text
    assert "ConnectionRefusedError" in text
    assert "db.internal:5432" in text
    assert "RuntimeError: disk controller on fire" in text
    assert "GET /<key>" in text
    for answer in (body, written):
        assert b"database" not in answer
        assert b"db.internal" not in answer
        assert b"fire" not in answer
