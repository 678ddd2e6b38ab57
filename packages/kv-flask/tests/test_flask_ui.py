"""The key browser page over HTTP (off by default, its headers, its files, no token for the
page only), and the history API it uses: ``/_kv/history/<key>`` and ``as_of=``."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from kv_core import MemoryDict
from kv_flask import ServerThread, construct_kv_app

TOKEN = "s3cret-token"


@pytest.fixture
def ui_server(store) -> Iterator[ServerThread]:
    with ServerThread(store, threads=2, ui=True, token=TOKEN) as running:
        yield running


@pytest.fixture
def ui_raw(ui_server, raw_class):
    return raw_class(ui_server.port, TOKEN)


@pytest.fixture
def sql_store(tmp_path):
    kv_sql = pytest.importorskip("kv_sql")
    with kv_sql.GenericSqlDict(f"sqlite:///{tmp_path / 'kv.db'}", "kv") as sql:
        yield sql


@pytest.fixture
def history_raw(sql_store, raw_class) -> Iterator[object]:
    with ServerThread(sql_store, threads=2, ui=True) as running:
        yield raw_class(running.port)


def test_ui_is_off_by_default(raw):
    """Without the ui option, the page is a JSON 404 like any unknown API path."""
    for path in ("/_kv/ui/", "/_kv/ui/ui.js"):
        status, headers, data = raw.request("GET", path)
        assert status == 404
        assert headers["content-type"] == "application/json"
        assert raw.error(data)["error"] == "not_found"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/_kv/ui/", "text/html; charset=utf-8"),
        ("/_kv/ui/index.html", "text/html; charset=utf-8"),
        ("/_kv/ui/ui.js", "text/javascript; charset=utf-8"),
        ("/_kv/ui/ui.css", "text/css; charset=utf-8"),
        ("/_kv/ui/favicon.svg", "image/svg+xml"),
    ],
)
def test_ui_files_are_served_without_token_with_a_strict_policy(ui_raw, path, content_type):
    """The page and its files need no token; they carry a CSP with no inline script."""
    status, headers, data = ui_raw.request("GET", path, auth=False)
    assert status == 200
    assert headers["content-type"] == content_type
    policy = headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert "img-src 'self' blob:" in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert data


def test_ui_page_loads_nothing_from_elsewhere(ui_raw):
    """The page names only its own files: no http(s) asset, no inline script or handler."""
    _, _, page = ui_raw.request("GET", "/_kv/ui/", auth=False)
    text = page.decode()
    assert "http://" not in text
    assert "https://" not in text
    assert '<script src="ui.js" defer></script>' in text
    assert text.count("<script") == 1
    assert re.search(r"<[^>]*\son\w+\s*=", text) is None  # no onclick= handlers
    _, _, script = ui_raw.request("GET", "/_kv/ui/ui.js", auth=False)
    assert b"innerHTML" not in script
    assert b"http" not in script.replace(b"https", b"")


def test_ui_without_slash_redirects_to_the_page(ui_raw):
    """``/_kv/ui`` sends the browser to ``/_kv/ui/``, where the page's relative links work."""
    status, headers, _ = ui_raw.request("GET", "/_kv/ui", auth=False)
    assert status == 308
    assert headers["location"].endswith("/_kv/ui/")


def test_ui_unknown_file_is_404_and_data_still_needs_the_token(ui_raw, store):
    """Only the page's own files are exempt from the token; the API still answers 401."""
    store["k"] = b"v"
    assert ui_raw.request("GET", "/_kv/ui/other.js")[0] == 404
    assert ui_raw.request("GET", "/_kv/ui/other.js", auth=False)[0] == 401
    assert ui_raw.request("GET", "/k", auth=False)[0] == 401
    assert ui_raw.request("GET", "/_kv/count", auth=False)[0] == 401


def test_ui_follows_the_host_rules(ui_raw):
    """A page asked for under a foreign Host (DNS rebinding) is refused like the API."""
    status, _, data = ui_raw.request("GET", "/_kv/ui/", headers={"Host": "evil.example"})
    assert status == 403
    assert ui_raw.error(data)["error"] == "host_not_allowed"


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_ui_writes_are_405(ui_raw, method):
    """The page's paths take reads only."""
    status, headers, _ = ui_raw.request(method, "/_kv/ui/ui.js", body=b"x")
    assert status == 405
    assert headers["allow"] == "GET, HEAD"


def test_ui_option_from_config():
    """``KV_UI`` in the app's config turns the page on."""
    app = construct_kv_app(MemoryDict())
    app.config["KV_UI"] = "true"
    response = app.test_client().get("/_kv/ui/")
    assert response.status_code == 200
    assert b"kv key browser" in response.data


def test_ui_under_a_prefix():
    """Mounted under a prefix, the page is under it too."""
    app = construct_kv_app(MemoryDict(), url_prefix="/kv", ui=True)
    client = app.test_client()
    assert client.get("/kv/_kv/ui/").status_code == 200
    assert client.get("/_kv/ui/").status_code == 404


# -- history and as_of ---------------------------------------------------------------------------


def test_history_lists_versions_with_times(history_raw, sql_store):
    """Every write and delete of a key is a version, oldest first, with its time and size."""
    sql_store["a/b"] = b"one"
    sql_store["a/b"] = b"three"
    del sql_store["a/b"]
    status, _, data = history_raw.request("GET", "/_kv/history/a/b")
    assert status == 200
    document = json.loads(data)
    assert document["key"] == "a/b"
    versions = document["versions"]
    assert [(v["size"], v["deleted"]) for v in versions] == [(3, False), (5, False), (None, True)]
    numbers = [v["sequence_number"] for v in versions]
    assert numbers == sorted(numbers)
    for version in versions:
        assert datetime.fromisoformat(version["created"]).tzinfo is not None


def test_history_reads_one_version(history_raw, sql_store):
    """``?sequence_number=N`` answers that version's bytes; a tombstone or unknown one 404."""
    sql_store["k"] = b"old"
    sql_store["k"] = b"new"
    del sql_store["k"]
    first, second, tomb = (v.sequence_number for v in sql_store.history("k"))
    status, headers, data = history_raw.request("GET", f"/_kv/history/k?sequence_number={first}")
    assert (status, data) == (200, b"old")
    assert headers["content-type"] == "application/octet-stream"
    assert history_raw.request("GET", f"/_kv/history/k?sequence_number={second}")[2] == b"new"
    assert history_raw.request("GET", f"/_kv/history/k?sequence_number={tomb}")[0] == 404
    assert history_raw.request("GET", "/_kv/history/k?sequence_number=999999")[0] == 404
    status, _, data = history_raw.request("GET", "/_kv/history/k?sequence_number=x")
    assert status == 400
    assert history_raw.error(data)["error"] == "bad_parameter"


def test_history_of_an_unknown_key_is_404(history_raw):
    """A key never written has no history."""
    assert history_raw.request("GET", "/_kv/history/never")[0] == 404


def test_history_refuses_invalid_keys(history_raw):
    """The key of a history read follows the key rules."""
    status, _, data = history_raw.request("GET", "/_kv/history/_kv/x")
    assert status == 400
    assert history_raw.error(data)["error"] == "invalid_key"


def test_history_on_a_store_without_history_is_400(raw, store):
    """A store that keeps no history says so with a 400 ``no_history``, for every such read."""
    store["k"] = b"v"
    paths = (
        "/_kv/history/k",
        "/k?as_of=2026-01-01T00:00:00Z",
        "/?as_of=2026-01-01",
        "/_kv/count?as_of=2026-01-01",
    )
    for path in paths:
        status, _, data = raw.request("GET", path)
        assert status == 400, path
        assert raw.error(data)["error"] == "no_history"


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_history_writes_are_405(history_raw, method):
    """The history is read only."""
    status, headers, _ = history_raw.request(method, "/_kv/history/k", body=b"x")
    assert status == 405
    assert headers["allow"] == "GET, HEAD"


def _between(write) -> str:
    write()
    time.sleep(0.01)
    moment = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    time.sleep(0.01)
    return moment


def test_as_of_reads_the_past(history_raw, sql_store):
    """``as_of`` on a key, the listing and the count shows the store as it was then."""

    def first() -> None:
        sql_store["k"] = b"then"
        sql_store["gone"] = b"x"

    moment = _between(first)
    sql_store["k"] = b"now"
    del sql_store["gone"]
    sql_store["later"] = b"y"
    status, headers, data = history_raw.request("GET", f"/k?as_of={moment}")
    assert (status, data) == (200, b"then")
    assert headers["etag"]
    assert history_raw.request("GET", "/k")[2] == b"now"
    assert history_raw.request("GET", f"/gone?as_of={moment}")[2] == b"x"
    assert history_raw.request("GET", f"/later?as_of={moment}")[0] == 404
    assert history_raw.request("HEAD", f"/later?as_of={moment}")[0] == 404
    assert history_raw.request("HEAD", f"/k?as_of={moment}")[0] == 200
    listing = json.loads(history_raw.request("GET", f"/?as_of={moment}")[2])
    assert listing["keys"] == ["gone", "k"]
    count = json.loads(history_raw.request("GET", f"/_kv/count?as_of={moment}")[2])
    assert count == {"count": 2}
    versions = json.loads(history_raw.request("GET", f"/_kv/history/k?as_of={moment}")[2])
    assert len(versions["versions"]) == 1


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01", ""])
def test_as_of_must_be_a_time(history_raw, bad):
    """An ``as_of`` that is not an ISO 8601 time is a 400 ``bad_parameter``."""
    status, _, data = history_raw.request("GET", f"/k?as_of={bad}")
    assert status == 400
    assert history_raw.error(data)["error"] == "bad_parameter"


def test_as_of_on_a_write_is_400(history_raw, sql_store):
    """A snapshot is read only: a write naming ``as_of`` is refused and changes nothing."""
    status, _, data = history_raw.request("PUT", "/k?as_of=2026-01-01T00:00:00Z", body=b"x")
    assert status == 400
    assert history_raw.error(data)["error"] == "bad_parameter"
    assert "k" not in sql_store


@pytest.mark.parametrize("path", ["/_kv/ui", "/_kv/ui/", "/_kv/history/k"])
def test_options_names_the_read_methods(history_raw, path):
    """OPTIONS on the page and the history answers 405 with ``Allow: GET, HEAD``."""
    status, headers, _ = history_raw.request("OPTIONS", path)
    assert status == 405
    assert headers["allow"] == "GET, HEAD"


def test_head_of_the_page_and_the_history(history_raw, sql_store):
    """HEAD is answered wherever GET is, without a body."""
    sql_store["k"] = b"v"
    for path in ("/_kv/ui/", "/_kv/history/k", "/k?as_of=2999-01-01T00:00:00Z"):
        status, _, data = history_raw.request("HEAD", path)
        assert (status, data) == (200, b""), path


def test_as_of_a_versions_time_shows_that_version(history_raw, sql_store):
    """Each version's ``created`` time, given as ``as_of``, reads that version's value."""
    for value in (b"one", b"two", b"three"):
        sql_store["k"] = value
        time.sleep(0.002)  # distinct times, even on a clock with coarse ticks
    versions = json.loads(history_raw.request("GET", "/_kv/history/k")[2])["versions"]
    shown = [history_raw.request("GET", f"/k?as_of={v['created']}")[2] for v in versions]
    assert shown == [b"one", b"two", b"three"]
