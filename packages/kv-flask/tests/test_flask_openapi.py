"""The OpenAPI document: valid OpenAPI 3.1, served, and a property-based fuzzer over it."""

from __future__ import annotations

import json
import string
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kv_flask import DEFAULT_MAX_CONTENT_LENGTH, ServerThread, construct_kv_app, openapi_document


def _validate(document: dict[str, object]) -> None:
    # Only the validation tests need the test extra's validator; the fuzzer always runs.
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(document, cls=validator.OpenAPIV31SpecValidator)


@pytest.mark.parametrize(("prefix", "auth"), [("", False), ("/kv", True)])
def test_document_is_valid_openapi_3_1(prefix, auth):
    """The document validates against the OpenAPI 3.1 schema."""
    _validate(openapi_document(prefix, auth=auth))


def test_served_document_is_the_valid_one(raw):
    """/openapi.json serves the document as JSON."""
    status, headers, data = raw.request("GET", "/openapi.json")
    assert status == 200
    assert headers["content-type"] == "application/json"
    document = json.loads(data)
    assert document == openapi_document("", max_content_length=DEFAULT_MAX_CONTENT_LENGTH)
    _validate(document)


def test_every_route_is_documented(store):
    """Each route the app has appears in the document's paths (but the page's, /_kv/ui)."""
    document = openapi_document("")
    documented = set(document["paths"])
    app_rules = {
        rule.rule.replace("<kvkey:key>", "{key}")
        for rule in construct_kv_app(store).url_map.iter_rules()
        if not rule.rule.startswith("/_kv/ui")
    }
    assert app_rules == documented


# -- a small property-based fuzzer over the documented operations ----------------------------
# schemathesis would pull a second HTTP stack and a pytest plugin into the shared test
# environment; this fuzzer draws requests for every documented operation (with hostile keys,
# parameters, headers and bodies) and checks the server's promises: no 5xx, JSON errors,
# documented statuses only.

_KEY_TEXT = st.lists(
    st.sampled_from([*"ab/.%?#+ \x00\ufffd\u00e9_kv\n", "..", "%2F", "%2e", "%FF", "_kv"]),
    max_size=8,
).map("".join)
_BODIES = st.one_of(
    st.binary(max_size=64),
    st.builds(
        lambda keys: json.dumps({"keys": keys}).encode(),
        st.lists(st.one_of(_KEY_TEXT, st.integers()), max_size=4),
    ),
    st.builds(
        lambda items: json.dumps({"items": items}).encode(),
        st.dictionaries(_KEY_TEXT, st.one_of(st.text(max_size=8), st.just("eA=="), st.none())),
    ),
)
_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "If-Match": st.sampled_from(["*", '"x"', "garbage", 'W/"x"']),
        "If-None-Match": st.sampled_from(["*", '"x"', "garbage"]),
        "Content-Type": st.sampled_from(
            ["application/json", "application/octet-stream", "text/plain", "multipart/form-data"]
        ),
    },
)


def _operations() -> list[tuple[str, str]]:
    document = openapi_document("")
    found = []
    for path, item in document["paths"].items():
        for method in item:
            if method != "parameters":
                found.append((method.upper(), path))
    return found


def _documented_statuses(method: str, path: str) -> set[int]:
    operation = openapi_document("")["paths"][path][method.lower()]
    return {int(code) for code in operation["responses"]}


@st.composite
def _requests(draw: st.DrawFn) -> tuple[str, str, str, bytes, dict[str, str]]:
    method, path = draw(st.sampled_from(_operations()))
    target = path
    if "{key}" in path:
        key = draw(_KEY_TEXT)
        raw_path = draw(st.booleans())
        # Raw: punctuation (%, ?, #, /, ..) sent as is; only what HTTP cannot carry is escaped.
        safe = string.punctuation if raw_path else "/"
        target = path.replace("{key}", quote(key, safe=safe))
    if path == "/":
        query = draw(
            st.dictionaries(
                st.sampled_from(["prefix", "limit", "cursor"]),
                st.one_of(_KEY_TEXT, st.integers(-5, 5).map(str)),
                max_size=3,
            )
        )
        target += "?" + "&".join(f"{k}={quote(v, safe='%')}" for k, v in query.items())
    body = draw(_BODIES) if method in {"PUT", "POST"} else b""
    return method, path, target, body, draw(_HEADERS)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=_requests())
def test_fuzzed_requests_never_fail_the_server(raw, store, request):
    """Drawn requests get documented statuses, never a 5xx; errors are JSON."""
    method, path, target, body, headers = request
    status, answer_headers, data = raw.request(method, target, body=body, headers=headers)
    assert status < 500, (method, target, status, data)
    allowed = _documented_statuses(method, path) | {400, 401, 404, 405}
    assert status in allowed, (method, target, status)
    if status >= 400 and method != "HEAD":
        assert answer_headers["content-type"] == "application/json"
        raw.error(data)


def test_document_under_a_prefix_names_its_server(store):
    """Mounted under a prefix, the document's server URL is the prefix."""
    with ServerThread(store, threads=2, url_prefix="/kv") as server:
        import requests

        with requests.Session() as session:
            document = session.get(server.url + "/openapi.json", timeout=5).json()
    assert document["servers"] == [{"url": "/kv"}]


@settings(max_examples=300, deadline=None)
@given(
    key=st.lists(
        st.sampled_from(["a", "/", ".", "..", "_kv", "openapi.json", "\x00", "\ufffd", "\u00e9"]),
        max_size=6,
    ).map("".join)
)
def test_documented_key_pattern_matches_the_key_rules(key):
    """The key pattern in the document accepts exactly the keys check_key accepts."""
    import re

    from kv_core import InvalidKeyError
    from kv_flask import check_key
    from kv_flask._openapi import KEY_PATTERN

    try:
        check_key(key)
        valid = True
    except InvalidKeyError:
        valid = False
    assert bool(re.match(KEY_PATTERN, key)) == valid
