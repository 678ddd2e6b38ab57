"""FlaskKv on an existing app, and the app's own handling of bodies (Flask test client)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Blueprint, Flask, Response, request
from werkzeug.test import EnvironBuilder, run_wsgi_app

from kv_core import MemoryDict
from kv_flask import FlaskKv, KvState, construct_kv_app


@pytest.fixture
def host_app() -> Flask:
    app = Flask("host")

    @app.route("/hello")
    def hello() -> str:
        return "hello"

    return app


def test_flask_kv_returns_the_registered_blueprint(host_app):
    """FlaskKv returns the blueprint, and keeps its state in app.extensions['kv']."""
    store = MemoryDict()
    blueprint = FlaskKv(host_app, store, url_prefix="/kv")
    assert isinstance(blueprint, Blueprint)
    assert host_app.blueprints["kv"] is blueprint
    state = host_app.extensions["kv"]["kv"]
    assert isinstance(state, KvState)
    assert state.store is store
    assert state.url_prefix == "/kv"


def test_api_lives_under_the_prefix_and_leaves_other_routes_alone(host_app):
    """Keys live under the prefix; the host app's routes and error pages are its own."""
    store = MemoryDict()
    FlaskKv(host_app, store, url_prefix="/kv", token="tok")
    client = host_app.test_client()
    auth = {"Authorization": "Bearer tok"}
    assert client.put("/kv/a/b", data=b"v", headers=auth).status_code == 204
    assert store["a/b"] == b"v"
    assert client.get("/kv/a/b", headers=auth).data == b"v"
    assert client.get("/kv/", headers=auth).json == {"keys": ["a/b"], "next_cursor": None}
    assert client.get("/kv/a/b").status_code == 401
    assert client.patch("/kv/a/b").status_code == 401
    assert client.patch("/kv/a/b", headers=auth).json["error"] == "method_not_allowed"
    assert client.get("/hello").data == b"hello"
    missing = client.get("/kvx/nothing")
    assert missing.status_code == 404
    assert missing.mimetype == "text/html"
    assert "X-Content-Type-Options" not in client.get("/hello").headers


def test_config_keys_are_read_from_app_config(host_app):
    """KV_TOKEN, KV_MAX_CONTENT_LENGTH and KV_LIST_LIMIT configure the blueprint."""
    host_app.config.update(KV_TOKEN="cfg", KV_MAX_CONTENT_LENGTH=10, KV_LIST_LIMIT=2)
    store = MemoryDict({"a": b"1", "b": b"2", "c": b"3"})
    FlaskKv(host_app, store)
    client = host_app.test_client()
    auth = {"Authorization": "Bearer cfg"}
    assert client.get("/a").status_code == 401
    assert client.put("/k", data=b"x" * 11, headers=auth).status_code == 413
    page = client.get("/", headers=auth).json
    assert page["keys"] == ["a", "b"]
    assert client.get(f"/?cursor={page['next_cursor']}", headers=auth).json == {
        "keys": ["c"],
        "next_cursor": None,
    }


def test_two_stores_on_one_app(host_app):
    """Two blueprints with different names and prefixes serve two stores."""
    first, second = MemoryDict(), MemoryDict()
    FlaskKv(host_app, first, url_prefix="/one", name="one")
    FlaskKv(host_app, second, url_prefix="/two", name="two")
    client = host_app.test_client()
    client.put("/one/k", data=b"1")
    client.put("/two/k", data=b"2")
    assert (first["k"], second["k"]) == (b"1", b"2")


def test_plain_dict_works_as_the_store():
    """The seed's construct_kv_app(dict()) works: any MutableMapping can be served."""
    data: dict[str, bytes] = {}
    client = construct_kv_app(data).test_client()
    assert client.post("/foo", data=b"bar").status_code == 204
    assert client.get("/").json == {"keys": ["foo"], "next_cursor": None}
    assert client.get("/foo").data == b"bar"
    assert client.post("/_kv/get", json={"keys": ["foo", "x"]}).json == {"values": {"foo": "YmFy"}}
    assert client.post("/_kv/delete", json={"keys": ["foo"]}).status_code == 204
    assert data == {}


def _call(app: Flask, method: str, path: str, body: bytes, **environ: object) -> tuple[int, bytes]:
    """Call the WSGI app with a hand-made environ (what a lax server would pass)."""
    built = EnvironBuilder(path=path, method=method).get_environ()
    built.pop("CONTENT_LENGTH", None)
    built.update({"wsgi.input": io.BytesIO(body), **environ})
    iterable, status, _ = run_wsgi_app(app, built, buffered=True)
    return int(status.split()[0]), b"".join(iterable)


def test_body_shorter_than_content_length_is_refused():
    """On a server that passes a short body through, the value is refused, not truncated."""
    store = MemoryDict()
    app = construct_kv_app(store)
    status, _ = _call(app, "PUT", "/k", b"short", CONTENT_LENGTH="100")
    assert status == 400
    assert "k" not in store
    assert _call(app, "PUT", "/k", b"exact", CONTENT_LENGTH="5")[0] == 204
    assert store["k"] == b"exact"


def test_chunked_body_without_end_marker_is_411():
    """Chunked input on a server that does not mark its end is refused, never stored empty."""
    store = MemoryDict()
    app = construct_kv_app(store)
    status, _ = _call(app, "PUT", "/k", b"hello", HTTP_TRANSFER_ENCODING="chunked")
    assert status == 411
    assert "k" not in store
    status, _ = _call(
        app,
        "PUT",
        "/k",
        b"hello",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input_terminated": True},
    )
    assert status == 204
    assert store["k"] == b"hello"


def test_unexpected_error_is_a_generic_500(caplog):
    """An exception nobody expected is a JSON 500 without its text; it is logged."""

    class Broken(MemoryDict):
        def _read(self, key: str) -> bytes:
            msg = "password=hunter2 at /var/lib/secret"
            raise RuntimeError(msg)

        def _read_with_version(self, key: str) -> tuple[bytes, str]:
            return self._read(key), "unreached"  # GET's read on a store with versions

    client = construct_kv_app(Broken()).test_client()
    response = client.get("/k")
    assert response.status_code == 500
    assert response.json == {"error": "internal_error", "message": response.json["message"]}
    assert b"hunter2" not in response.data
    assert b"secret" not in response.data
    assert "RuntimeError" in caplog.text


def test_debug_is_off():
    """The app is built with debug off and exceptions not propagated."""
    app = construct_kv_app(MemoryDict())
    assert app.debug is False
    assert app.config["PROPAGATE_EXCEPTIONS"] is False


# -- 7. the extension's shape: app factories, init_app, hooks --------------------------------


def test_seed_call_returns_a_blueprint_that_takes_hooks(host_app):
    """The seed's FlaskKv(app, store, url_prefix=...) gives a blueprint; hooks added after work."""
    store = MemoryDict()
    blueprint = FlaskKv(host_app, store, url_prefix="/kv")
    seen: list[str] = []

    @blueprint.before_request
    def note() -> None:
        seen.append("before")

    @blueprint.after_request
    def tag(response: Response) -> Response:
        response.headers["X-Seen"] = "yes"
        return response

    @blueprint.teardown_request
    def done(error: BaseException | None) -> None:
        seen.append("teardown")

    client = host_app.test_client()
    answer = client.put("/kv/k", data=b"v")
    assert answer.status_code == 204
    assert answer.headers["X-Seen"] == "yes"
    assert seen == ["before", "teardown"]
    assert client.get("/hello").data == b"hello"
    assert "X-Seen" not in client.get("/hello").headers
    assert seen == ["before", "teardown"]


def test_a_before_hook_can_refuse(host_app):
    """A before_request hook that returns an answer stops the request: extra auth works."""
    store = MemoryDict()
    kv = FlaskKv(host_app, store, url_prefix="/kv")

    @kv.before_request
    def only_admins() -> Any:
        if request.headers.get("X-Role") != "admin":
            return {"error": "forbidden", "message": "admins only"}, 403
        return None

    client = host_app.test_client()
    assert client.put("/kv/k", data=b"v").status_code == 403
    assert client.get("/kv/missing/path").status_code == 403  # unknown paths too
    assert "k" not in store
    assert client.put("/kv/k", data=b"v", headers={"X-Role": "admin"}).status_code == 204
    assert store["k"] == b"v"


def test_app_factory_with_init_app():
    """FlaskKv(store=...) then init_app(app) in a factory serves each app; state per app."""
    store = MemoryDict()
    kv = FlaskKv(store=store, url_prefix="/kv")
    calls: list[str] = []

    @kv.before_request
    def count() -> None:
        calls.append(request.path)

    def create_app(token: str) -> Flask:
        app = Flask("factory")
        app.config["KV_TOKEN"] = token
        kv.init_app(app)
        return app

    first, second = create_app("one"), create_app("two")
    assert first.extensions["kv"]["kv"].store is store
    assert first.extensions["kv"]["kv"] is not second.extensions["kv"]["kv"]
    one = first.test_client()
    two = second.test_client()
    assert one.put("/kv/k", data=b"1", headers={"Authorization": "Bearer one"}).status_code == 204
    assert two.get("/kv/k", headers={"Authorization": "Bearer one"}).status_code == 401
    assert two.get("/kv/k", headers={"Authorization": "Bearer two"}).data == b"1"
    assert calls == ["/kv/k", "/kv/k"]


def test_init_app_with_a_store_and_prefix_of_its_own():
    """init_app(app, store, url_prefix=...) serves another store under another prefix."""
    kv = FlaskKv(store=MemoryDict())
    app = Flask("other")
    own = MemoryDict()
    kv.init_app(app, own, url_prefix="/data")
    assert app.test_client().put("/data/k", data=b"v").status_code == 204
    assert own["k"] == b"v"
    assert app.extensions["kv"]["kv"].url_prefix == "/data"


def test_init_app_without_a_store_is_a_type_error():
    """An extension with no store anywhere says what it needs."""
    with pytest.raises(TypeError, match="store"):
        FlaskKv().init_app(Flask("none"))


def test_register_blueprint_works_like_init_app():
    """app.register_blueprint(kv) is the same as kv.init_app(app)."""
    store = MemoryDict()
    kv = FlaskKv(store=store, url_prefix="/kv")
    app = Flask("plain")
    app.register_blueprint(kv)
    assert app.test_client().put("/kv/k", data=b"v").status_code == 204
    assert store["k"] == b"v"
    assert app.extensions["kv"]["kv"].store is store


def test_hooks_run_on_a_live_server(store):
    """Hooks on the construct_kv_app extension run under waitress too."""
    import requests

    from kv_flask import ServerThread

    with ServerThread(store, threads=2) as server:
        kv = server.app.blueprints["kv"]

        @kv.after_request
        def stamp(response: Response) -> Response:
            response.headers["X-Stamp"] = "1"
            return response

        with requests.Session() as http:
            answer = http.put(f"{server.url}/k", data=b"v", timeout=5)
    assert answer.headers["X-Stamp"] == "1"
    assert store["k"] == b"v"


def test_teardown_hooks_added_once_the_app_serves(host_app):
    """A teardown hook added after requests were served runs, on this app and on one
    registered later, for requests under the prefix only."""
    kv = FlaskKv(host_app, MemoryDict(), url_prefix="/kv")
    client = host_app.test_client()
    assert client.put("/kv/k", data=b"v").status_code == 204
    seen: list[str] = []

    @kv.teardown_request
    def done(error: BaseException | None) -> None:
        seen.append(request.path)

    @kv.teardown_request
    def also(error: BaseException | None) -> None:
        seen.append("also")

    assert client.get("/kv/k").data == b"v"
    assert client.get("/hello").data == b"hello"
    later = Flask("later")
    kv.init_app(later, MemoryDict({"x": b"1"}))
    assert later.test_client().get("/kv/x").data == b"1"
    assert seen == ["also", "/kv/k", "also", "/kv/x"]


def test_value_answers_carry_etag_and_cache_control_that_hooks_can_replace(host_app):
    """GET sends ETag and Cache-Control, PUT its ETag, 304 both; a hook's own win."""
    kv = FlaskKv(host_app, MemoryDict(), url_prefix="/kv", cache_control="max-age=5")
    client = host_app.test_client()
    put = client.put("/kv/k", data=b"v")
    tag = put.headers["ETag"]
    got = client.get("/kv/k")
    assert (got.headers["ETag"], got.headers["Cache-Control"]) == (tag, "max-age=5")
    unchanged = client.get("/kv/k", headers={"If-None-Match": tag})
    assert unchanged.status_code == 304
    assert (unchanged.headers["ETag"], unchanged.headers["Cache-Control"]) == (tag, "max-age=5")
    assert got.headers["X-Content-Type-Options"] == "nosniff"

    @kv.after_request
    def own(response: Response) -> Response:
        response.headers["Cache-Control"] = "private"
        response.headers["ETag"] = '"mine"'
        return response

    mine = client.get("/kv/k")
    assert mine.headers.getlist("Cache-Control") == ["private"]
    assert mine.headers.getlist("ETag") == ['"mine"']
    assert mine.headers["X-Frame-Options"] == "DENY"
