"""The protocol checks pass the kv-flask server, and fail servers broken in one way each."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from kv_core import MemoryDict, StoreUnavailable
from kv_core.conformance import closed_port
from kv_flask import ServerThread
from kv_flask._errors import ERRORS
from kv_flask._routes import API_ROUTES, KEY_METHODS
from kv_flask.protocol_checks import (
    CHECKS,
    CannotCheck,
    CheckResult,
    main,
    run_checks,
    target_of_url,
)

from .tiny_kv_server import TinyKv

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
#: (status line, headers, body) of a buffered answer.
Buffered = tuple[str, list[tuple[str, str]], bytes]


def _outcomes(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {result.check.name: result for result in results}


def _failed(results: list[CheckResult]) -> dict[str, str]:
    return {r.check.name: r.reason for r in results if r.outcome == "failed"}


@pytest.fixture
def serve() -> Iterator[Callable[..., ServerThread]]:
    """Start kv-flask servers over fresh MemoryDicts, optionally wrapped in WSGI middleware."""
    running: list[ServerThread] = []

    def start(middleware: Callable[[Wsgi], Wsgi] | None = None, **options: Any) -> ServerThread:
        server = ServerThread(MemoryDict(), threads=8, **options)
        if middleware is not None:
            # waitress calls server.application for every request: the broken layer goes there.
            server._server.application = middleware(server._server.application)
        running.append(server.start())
        return server

    yield start
    for server in running:
        server.stop()


def test_every_check_passes_the_server(serve: Callable[..., ServerThread]) -> None:
    """kv-flask over a MemoryDict passes every check; without a token, §9 is skipped."""
    results = run_checks(serve().url)
    assert _failed(results) == {}
    assert [r.check.name for r in results if r.outcome == "skipped"] == ["token_is_required"]
    assert len(results) == len(CHECKS)


def test_every_check_passes_with_token_and_prefix(serve: Callable[..., ServerThread]) -> None:
    """Mounted under a prefix with a token, every check passes, §9's included."""
    server = serve(token="protocol-token", url_prefix="/api/kv")
    results = run_checks(server.url, token="protocol-token")
    assert _failed(results) == {}
    assert all(result.outcome == "passed" for result in results)


@pytest.mark.parametrize("token", [None, "tiny-token"])
def test_a_server_written_from_the_protocol_passes(token: str | None) -> None:
    """A plain-WSGI server written from PROTOCOL.md alone (tags are versions, not digests)."""
    with ServerThread(MemoryDict(), threads=8) as server:
        server._server.application = TinyKv(server.port, token=token)
        results = run_checks(server.url, token=token)
    assert _failed(results) == {}
    skipped = {r.check.name for r in results if r.outcome == "skipped"}
    assert skipped == (set() if token else {"token_is_required"})


def test_checks_need_the_token(serve: Callable[..., ServerThread]) -> None:
    """A server that needs a token the checks were not given cannot be checked (one message)."""
    server = serve(token="protocol-token")
    with pytest.raises(CannotCheck, match="needs a bearer token"):
        run_checks(server.url)


def test_checks_need_an_empty_store(serve: Callable[..., ServerThread]) -> None:
    """A store holding data is refused before anything is written, and keeps its data."""
    server = serve()
    server.app.extensions["kv"]["kv"].store["precious"] = b"data"
    with pytest.raises(CannotCheck, match="holds 1 keys"):
        run_checks(server.url)
    assert server.app.extensions["kv"]["kv"].store["precious"] == b"data"


def test_down_server_is_unavailable() -> None:
    """Nothing listening: StoreUnavailable at once, not a failed check."""
    with pytest.raises(StoreUnavailable):
        run_checks(f"http://127.0.0.1:{closed_port()}/", timeout=1)


def test_skip_and_only(serve: Callable[..., ServerThread]) -> None:
    """Checks left out are reported as skipped; an unknown name is a ValueError."""
    url = serve().url
    results = _outcomes(run_checks(url, only=["etags"], skip=["body_limit"]))
    assert results["etags"].outcome == "passed"
    assert results["body_limit"].outcome == "skipped"
    assert results["listing_is_complete"].reason == "not selected"
    with pytest.raises(ValueError, match="no_such_check"):
        run_checks(url, skip=["no_such_check"])


def test_target_of_url_reads_token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """token_env names the token's variable; timeout is summed; the query is dropped."""
    monkeypatch.setenv("MY_TOKEN", "t0ken")
    url = "http://127.0.0.1:9/kv?token_env=MY_TOKEN&timeout=1,2"
    assert target_of_url(url) == ("http://127.0.0.1:9/kv", "t0ken", 3.0)


def test_main_prints_one_line_per_check(
    serve: Callable[..., ServerThread], capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m kv_flask.protocol_checks URL`` prints each check with its section; exit 0."""
    assert main([serve().url, "--skip-check", "body_limit"]) == 0
    out = capsys.readouterr().out
    assert "PASS §5.3 stale_if_match_is_refused" in out
    assert "SKIP §8 body_limit" in out


# -- broken servers: each correct except for one behaviour ---------------------------------------


def _buffered(app: Wsgi, environ: dict[str, Any]) -> Buffered:
    """Call *app* and collect its whole answer."""
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        answer["status"], answer["headers"] = status, headers
        return lambda data: None

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return answer["status"], answer["headers"], body


def _rewriting(rewrite: Callable[[dict[str, Any], Buffered], Buffered]) -> Callable[[Wsgi], Wsgi]:
    """Middleware that passes every answer of the app through *rewrite*."""

    def wrap(app: Wsgi) -> Wsgi:
        def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
            status, headers, body = rewrite(environ, _buffered(app, environ))
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            if environ["REQUEST_METHOD"] != "HEAD" and not status.startswith(("204", "304")):
                headers.append(("Content-Length", str(len(body))))
            start_response(status, headers)
            return [body]

        return middleware

    return wrap


def _ignoring_if_match(app: Wsgi) -> Wsgi:
    """Writes as if If-Match had not been sent: a stale tag overwrites (lost updates)."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ.pop("HTTP_IF_MATCH", None)
        return app(environ, start_response)

    return middleware


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def _listing(environ: dict[str, Any]) -> bool:
    path = environ.get("PATH_INFO", "")
    return environ["REQUEST_METHOD"] == "GET" and path in {"", "/"}


def _repeat_last_key(environ: dict[str, Any], answer: Buffered) -> Buffered:
    """Each next_cursor resumes before the page's last key: that key is listed twice."""
    status, headers, body = answer
    if _listing(environ) and status.startswith("200"):
        page = json.loads(body)
        if page["next_cursor"] and len(page["keys"]) > 1:
            page["next_cursor"] = _b64(page["keys"][-2])
        body = json.dumps(page).encode()
    return status, headers, body


def _offset_cursor(app: Wsgi) -> Wsgi:
    """Pages by position in the listing: right while nobody writes, wrong while others do."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not _listing(environ):
            return app(environ, start_response)
        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        try:
            start = int(base64.urlsafe_b64decode(query.pop("cursor", "") or _b64("0")))
        except ValueError:  # not one of its cursors: the server's own 400
            return app(environ, start_response)
        limit = int(query.pop("limit", "1000"))
        everything = {**environ, "QUERY_STRING": urlencode(query)}
        status, headers, body = _buffered(app, everything)
        keys = json.loads(body)["keys"]
        more = start + limit < len(keys)
        page = {"keys": keys[start : start + limit], "next_cursor": _b64(str(start + limit))}
        if not more:
            page["next_cursor"] = None
        data = json.dumps(page).encode()
        kept = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, [*kept, ("Content-Length", str(len(data)))])
        return [data]

    return middleware


def _constant_etag(environ: dict[str, Any], answer: Buffered) -> Buffered:
    """Every value gets the same tag, so a tag never tells two values apart."""
    status, headers, body = answer
    return status, [(k, '"same"' if k.lower() == "etag" else v) for k, v in headers], body


def _html_not_found(environ: dict[str, Any], answer: Buffered) -> Buffered:
    """A 404 answered with an HTML page instead of the JSON error."""
    status, headers, body = answer
    if status.startswith("404"):
        kept = [(k, v) for k, v in headers if k.lower() != "content-type"]
        return status, [*kept, ("Content-Type", "text/html")], b"<h1>Not Found</h1>"
    return status, headers, body


def _405_as_404(environ: dict[str, Any], answer: Buffered) -> Buffered:
    """A wrong method answered as if the route did not exist."""
    status, headers, body = answer
    if status.startswith("405"):
        kept = [(k, v) for k, v in headers if k.lower() != "allow"]
        return "404 NOT FOUND", kept, b'{"error": "not_found", "message": "Not found."}'
    return status, headers, body


def _understated_limit(environ: dict[str, Any], answer: Buffered) -> Buffered:
    """/_kv/info says half the body limit the server applies: bodies over it are stored."""
    status, headers, body = answer
    if environ.get("PATH_INFO") == "/_kv/info" and environ["REQUEST_METHOD"] == "GET":
        info = json.loads(body)
        info["max_content_length"] //= 2
        body = json.dumps(info).encode()
    return status, headers, body


def _racy_create(app: Wsgi) -> Wsgi:
    """If-None-Match: * checked with a read, then written unconditionally: two can both win."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] == "PUT" and environ.get("HTTP_IF_NONE_MATCH") == "*":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            probe = {**environ, "REQUEST_METHOD": "GET", "CONTENT_LENGTH": "0"}
            probe.pop("HTTP_IF_NONE_MATCH")
            exists = _buffered(app, probe)[0].startswith("200")
            time.sleep(0.5)  # the window in which the other requests check too
            if exists:
                status, headers, data = _buffered(app, environ | {"wsgi.input": _Body(b"")})
                start_response(status, headers)
                return [data]
            write = {k: v for k, v in environ.items() if k != "HTTP_IF_NONE_MATCH"}
            write["wsgi.input"] = _Body(body)
            status, headers, data = _buffered(app, write)
            start_response(status, headers)
            return [data]
        return app(environ, start_response)

    return middleware


def _ignoring_if_none_match(app: Wsgi) -> Wsgi:
    """Writes as if If-None-Match had not been sent: create-only writes overwrite."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] in {"PUT", "POST"}:
            environ.pop("HTTP_IF_NONE_MATCH", None)
        return app(environ, start_response)

    return middleware


def _understated_key_length(environ: dict[str, Any], answer: Buffered) -> Buffered:
    """/_kv/info says keys are at most 100 characters, and the server takes longer ones."""
    status, headers, body = answer
    if environ.get("PATH_INFO") == "/_kv/info" and environ["REQUEST_METHOD"] == "GET":
        info = json.loads(body)
        info["max_key_length"] = 100
        body = json.dumps(info).encode()
    return status, headers, body


def _invalid_key_as_404(environ: dict[str, Any], answer: Buffered) -> Buffered:
    """A refused key answered as a missing one."""
    status, headers, body = answer
    if status.startswith("400") and b"invalid_key" in body:
        return "404 NOT FOUND", headers, b'{"error": "not_found", "message": "Not found."}'
    return status, headers, body


class _Body:
    """A WSGI input holding *data*."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, size: int = -1) -> bytes:
        data, self._data = (self._data, b"") if size < 0 else (self._data[:size], self._data[size:])
        return data

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


BROKEN: dict[str, tuple[Callable[[Wsgi], Wsgi] | None, dict[str, Any], set[str], str]] = {
    # name: (middleware, server options, checks that must fail, the section they cite)
    "stale If-Match writes": (
        _ignoring_if_match,
        {},
        {"stale_if_match_is_refused", "conditional_delete", "if_match_on_missing_key"},
        "§5.",
    ),
    "cursor repeats a key": (
        _rewriting(_repeat_last_key),
        {},
        {"listing_is_complete", "listing_under_writes"},
        "§6.",
    ),
    "offset cursor": (_offset_cursor, {}, {"listing_under_writes"}, "§6.3"),
    "one ETag for every value": (_rewriting(_constant_etag), {}, {"etags"}, "§5.1"),
    "HTML 404": (_rewriting(_html_not_found), {}, {"missing_key_is_404"}, "§7.1"),
    "405 answered as 404": (_rewriting(_405_as_404), {}, {"method_not_allowed"}, "§7.2"),
    "info understates the body limit": (
        _rewriting(_understated_limit),
        {},
        {"body_limit"},
        "§8",
    ),
    "any Host": (None, {"allowed_hosts": "*"}, {"foreign_host_is_refused"}, "§10.1"),
    "any Origin": (None, {"allowed_origins": "*"}, {"cross_origin_writes_are_refused"}, "§10.2"),
    "racy create-only": (_racy_create, {}, {"conditions_are_atomic"}, "§5.3"),
    "create-only overwrites": (_ignoring_if_none_match, {}, {"if_none_match_write"}, "§5.3"),
    "info understates the key limit": (
        _rewriting(_understated_key_length),
        {},
        {"key_length_limit"},
        "§8",
    ),
    "invalid key answered 404": (
        _rewriting(_invalid_key_as_404),
        {},
        {"invalid_keys_are_refused", "bad_batches"},
        "400",
    ),
}


@pytest.mark.parametrize("broken", list(BROKEN))
def test_a_broken_server_fails_its_checks(serve: Callable[..., ServerThread], broken: str) -> None:
    """Each one-behaviour-wrong server fails the checks of that behaviour, citing the spec."""
    middleware, options, must_fail, cited = BROKEN[broken]
    results = run_checks(serve(middleware, **options).url)
    failed = _failed(results)
    assert must_fail <= set(failed), failed
    for name in must_fail:
        assert cited in failed[name], failed[name]
    # The checks are specific: what the server still does right still passes.
    passed = {r.check.name for r in results if r.outcome == "passed"}
    assert {"info_document", "values_round_trip", "etags"} - must_fail <= passed, failed


# -- the checks and the server agree with the written protocol ----------------------------------

PROTOCOL = Path(__file__).resolve().parents[1] / "PROTOCOL.md"
SOURCES = Path(__file__).resolve().parents[1] / "src" / "kv_flask"


def _sections() -> set[str]:
    found = re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", PROTOCOL.read_text(), flags=re.MULTILINE)
    return set(found)


def _error_table() -> set[tuple[int, str]]:
    text = PROTOCOL.read_text()
    table = text[text.index("### 7.1") : text.index("### 7.2")]
    rows: set[tuple[int, str]] = set()
    for status, codes in re.findall(r"^\| (\d{3}) \| (.+?) \|", table, flags=re.MULTILINE):
        rows.update((int(status), code) for code in re.findall(r"`(\w+)`", codes))
    return rows


def test_every_check_cites_a_section_of_the_protocol() -> None:
    """Each check's section is a heading of PROTOCOL.md, and every check has a title."""
    sections = _sections()
    assert {"2.2", "5.3", "6.3", "7.1", "10.2"} <= sections
    for check in CHECKS:
        assert check.section in sections, check
        assert check.title
    assert len({check.name for check in CHECKS}) == len(CHECKS)


def test_the_error_table_is_the_servers() -> None:
    """Every row of ERRORS, and every code the server raises, is in the table of §7.1."""
    table = _error_table()
    assert {(kind.status, kind.code) for kind in ERRORS} <= table
    raised: set[tuple[int, str]] = set()
    for source in SOURCES.glob("*.py"):
        pattern = r"(?:ApiError|error_response)\((\d{3}), \"(\w+)\""
        raised.update((int(s), c) for s, c in re.findall(pattern, source.read_text()))
    assert raised
    assert raised <= table, raised - table


def test_every_route_is_in_the_protocol() -> None:
    """Each route of the API, with each of its methods, is in the table of §4."""
    text = PROTOCOL.read_text()
    table = text[text.index("## 4. Routes") : text.index("### 4.1")]
    for path, methods in API_ROUTES.items():
        for method in methods:
            if method != "HEAD":
                assert f"`{method} /{path}`" in table, (method, path)
    for method in KEY_METHODS:
        if method != "HEAD" or "`HEAD /<key>`" in table:
            assert f"{method} /<key>`" in table, method
