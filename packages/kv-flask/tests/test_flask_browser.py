"""Next to a browser: cross-site requests, DNS rebinding, security headers and CORS, on a live
waitress server (raw http.client requests carry exactly the headers a browser would send).
"""

from __future__ import annotations

import json

import pytest

from kv_flask import FlaskKvDict, ServerThread

EVIL = "http://evil.example"
JSON = {"Content-Type": "application/json"}


def _own_host(port: int) -> str:
    return f"127.0.0.1:{port}"


# -- 1. cross-site requests ---------------------------------------------------------------------


def test_cross_site_clear_with_text_plain_is_refused(raw, store):
    """The simple request a foreign page can send to /_kv/clear is refused; nothing is cleared."""
    store._data["keep"] = b"v"
    status, _, data = raw.request(
        "POST", "/_kv/clear", body=b"x", headers={"Content-Type": "text/plain", "Origin": EVIL}
    )
    assert status == 403
    assert raw.error(data)["error"] == "cross_origin"
    assert store._data == {"keep": b"v"}
    assert "clear" not in store.calls


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_cross_site_key_writes_are_refused(raw, store, method):
    """PUT, POST and DELETE over a key from a foreign Origin are refused; the store is untouched."""
    store._data["k"] = b"mine"
    headers = {"Origin": EVIL, "Content-Type": "text/plain"}
    status, _, data = raw.request(method, "/k", body=b"theirs", headers=headers)
    assert status == 403
    assert raw.error(data)["error"] == "cross_origin"
    assert store._data == {"k": b"mine"}


@pytest.mark.parametrize("route", ["/_kv/set", "/_kv/delete", "/_kv/get"])
def test_cross_site_batch_requests_are_refused(raw, store, route):
    """Batch routes refuse a foreign Origin even with a JSON content type."""
    store._data["k"] = b"mine"
    body = {"items": {"k": "eA=="}} if route == "/_kv/set" else {"keys": ["k"]}
    headers = {"Origin": EVIL, **JSON}
    status, _, _ = raw.request("POST", route, body=json.dumps(body).encode(), headers=headers)
    assert status == 403
    assert store._data == {"k": b"mine"}


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_sec_fetch_site_from_another_site_is_refused(raw, store, site):
    """A browser that says the request is not same-origin is refused, Origin or not."""
    status, _, _ = raw.request("PUT", "/k", body=b"v", headers={"Sec-Fetch-Site": site})
    assert status == 403
    assert store._data == {}


def test_null_origin_is_refused(raw, store):
    """Origin: null (a sandboxed frame, a file:// page) is not the server's own."""
    status, _, _ = raw.request("PUT", "/k", body=b"v", headers={"Origin": "null"})
    assert status == 403
    assert store._data == {}


def test_same_origin_and_non_browser_writes_pass(server, raw, store):
    """The server's own origin, Sec-Fetch-Site same-origin or none, and no headers all pass."""
    own = f"http://{_own_host(server.port)}"
    assert raw.request("PUT", "/a", body=b"1", headers={"Origin": own})[0] == 204
    assert raw.request("PUT", "/b", body=b"2", headers={"Sec-Fetch-Site": "same-origin"})[0] == 204
    assert raw.request("PUT", "/c", body=b"3", headers={"Sec-Fetch-Site": "none"})[0] == 204
    assert raw.request("PUT", "/d", body=b"4")[0] == 204
    assert store._data == {"a": b"1", "b": b"2", "c": b"3", "d": b"4"}


def test_cross_site_reads_are_answered_without_cors(raw, store):
    """A GET from another origin is not refused (it changes nothing) and gets no CORS header."""
    store._data["k"] = b"v"
    status, headers, data = raw.request("GET", "/k", headers={"Origin": EVIL})
    assert (status, data) == (200, b"v")
    assert "access-control-allow-origin" not in headers


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/octet-stream"])
@pytest.mark.parametrize("route", ["/_kv/get", "/_kv/set", "/_kv/delete"])
def test_json_routes_refuse_other_content_types(raw, store, route, content_type):
    """A JSON route's body must say Content-Type: application/json (415 otherwise)."""
    store._data["k"] = b"mine"
    body = {"items": {"k": "eA=="}} if route == "/_kv/set" else {"keys": ["k"]}
    headers = {"Content-Type": content_type} if content_type else {}
    status, _, data = raw.request("POST", route, body=json.dumps(body).encode(), headers=headers)
    assert status == 415
    assert raw.error(data)["error"] == "unsupported_media_type"
    assert store._data == {"k": b"mine"}
    assert store.calls == []


def test_clear_takes_no_text_body(raw, store):
    """/_kv/clear refuses a text/plain body even from a non-browser client."""
    store._data["keep"] = b"v"
    headers = {"Content-Type": "text/plain"}
    assert raw.request("POST", "/_kv/clear", body=b"x", headers=headers)[0] == 415
    assert store._data == {"keep": b"v"}
    assert raw.request("POST", "/_kv/clear")[0] == 204
    assert store._data == {}


def test_allowed_origin_may_write_and_gets_cors(store, raw_class):
    """A configured origin may write, gets CORS answers, and its preflight is answered."""
    app_origin = "https://app.example"
    with ServerThread(store, threads=2, allowed_origins=[app_origin]) as server:
        raw = raw_class(server.port)
        preflight = raw.request(
            "OPTIONS",
            "/k",
            headers={
                "Origin": app_origin,
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "content-type, if-match",
            },
        )
        status, headers, _ = preflight
        assert status == 204
        assert headers["access-control-allow-origin"] == app_origin
        assert "PUT" in headers["access-control-allow-methods"]
        assert "If-Match" in headers["access-control-allow-headers"]
        status, headers, _ = raw.request("PUT", "/k", body=b"v", headers={"Origin": app_origin})
        assert status == 204
        assert headers["access-control-allow-origin"] == app_origin
        assert "ETag" in headers["access-control-expose-headers"]
        assert "Origin" in headers["vary"]
        assert raw.request("PUT", "/k", body=b"w", headers={"Origin": EVIL})[0] == 403
        evil_preflight = raw.request(
            "OPTIONS", "/k", headers={"Origin": EVIL, "Access-Control-Request-Method": "PUT"}
        )
        assert evil_preflight[0] == 405
        assert "access-control-allow-origin" not in evil_preflight[1]
    assert store._data == {"k": b"v"}


def test_allowed_origins_from_app_config(store):
    """KV_ALLOWED_ORIGINS in app.config (text separated by commas) trusts those origins."""
    from kv_flask import construct_kv_app

    app = construct_kv_app(store)
    app.config["KV_ALLOWED_ORIGINS"] = "https://a.example, https://b.example:8443"
    client = app.test_client()
    assert (
        client.put("/k", data=b"1", headers={"Origin": "https://b.example:8443"}).status_code == 204
    )
    assert client.put("/k", data=b"2", headers={"Origin": "https://c.example"}).status_code == 403
    assert store._data == {"k": b"1"}


def test_malformed_allowed_origin_is_refused_at_construction(store):
    """An allowed origin that is not scheme://host[:port] is a ValueError up front."""
    with pytest.raises(ValueError, match="origin"):
        ServerThread(store, allowed_origins=["https://app.example/path"])


# -- 2. DNS rebinding ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:{port}", "127.0.0.1:1", "localhost", "[::1]:1", "a b"]
)
@pytest.mark.parametrize(("method", "path"), [("GET", "/k"), ("GET", "/"), ("PUT", "/k")])
def test_foreign_host_gets_403_and_no_data(server, raw, store, host, method, path):
    """A Host the server does not answer to (rebinding) gets 403 and no data, on any route."""
    store._data["k"] = b"secret"
    headers = {"Host": host.format(port=server.port)}
    status, _, data = raw.request(
        method, path, body=b"x" if method == "PUT" else None, headers=headers
    )
    assert status == 403
    assert raw.error(data)["error"] == "host_not_allowed"
    assert b"secret" not in data
    assert store._data == {"k": b"secret"}
    assert store.calls == []


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "[::1]", "LOCALHOST", "localhost."])
def test_loopback_names_with_the_port_are_answered(server, raw, store, name):
    """The loopback names on the server's own port are answered."""
    store._data["k"] = b"v"
    status, _, data = raw.request("GET", "/k", headers={"Host": f"{name}:{server.port}"})
    assert (status, data) == (200, b"v")


def test_allowed_hosts_add_names(store, raw_class):
    """allowed_hosts adds names: bare (any port) or name:port."""
    store._data["k"] = b"v"
    with ServerThread(store, threads=2, allowed_hosts=["kv.example", "other.example:9"]) as server:
        raw = raw_class(server.port)
        assert raw.request("GET", "/k", headers={"Host": "kv.example"})[0] == 200
        assert raw.request("GET", "/k", headers={"Host": f"kv.example:{server.port}"})[0] == 200
        assert raw.request("GET", "/k", headers={"Host": "other.example:9"})[0] == 200
        assert raw.request("GET", "/k", headers={"Host": "other.example"})[0] == 403
        assert raw.request("GET", "/k", headers={"Host": "evil.example"})[0] == 403


def test_star_allows_any_host(store, raw_class):
    """allowed_hosts=['*'] turns the check off (for a proxy that checks Host itself)."""
    with ServerThread(store, threads=2, allowed_hosts="*") as server:
        assert raw_class(server.port).request("GET", "/k", headers={"Host": "x.example"})[0] == 404


def test_wildcard_bind_answers_ip_addresses_on_its_port():
    """Bound to all interfaces, the rules answer any IP address on the port, no other name."""
    from kv_flask._hosts import HostRules

    rules = HostRules.build((), bound_host="0.0.0.0")
    assert rules.allows("192.0.2.7:8080", 8080)
    assert rules.allows("[2001:db8::1]:8080", 8080)
    assert not rules.allows("192.0.2.7:8081", 8080)
    assert not rules.allows("evil.example:8080", 8080)
    assert not HostRules.build((), bound_host="127.0.0.1").allows("192.0.2.7:8080", 8080)


def test_client_through_a_foreign_name_gets_a_clear_error(server):
    """FlaskKvDict sent to a name the server does not answer to raises PermissionError."""
    with FlaskKvDict(f"http://127.0.0.1:{server.port}") as kv:
        kv._session.headers["Host"] = "evil.example"
        with pytest.raises(PermissionError, match="host"):
            kv["k"]


# -- security headers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/k"), ("GET", "/missing"), ("GET", "/"), ("GET", "/openapi.json"), ("PATCH", "/k")],
)
def test_security_headers_on_every_answer(raw, store, method, path):
    """nosniff, a CSP that forbids everything, no framing, no-store, and no CORS by default."""
    store._data["k"] = b"v"
    _, headers, _ = raw.request(method, path)
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    assert headers["cross-origin-resource-policy"] == "same-origin"
    assert not any(name.startswith("access-control-") for name in headers)


def test_cache_control_of_values_is_configurable(store, raw_class):
    """cache_control= changes the Cache-Control of value answers only."""
    store._data["k"] = b"v"
    with ServerThread(store, threads=2, cache_control="private, max-age=60") as server:
        raw = raw_class(server.port)
        assert raw.request("GET", "/k")[1]["cache-control"] == "private, max-age=60"
        assert raw.request("HEAD", "/k")[1]["cache-control"] == "private, max-age=60"
        assert raw.request("GET", "/")[1]["cache-control"] == "no-store"
