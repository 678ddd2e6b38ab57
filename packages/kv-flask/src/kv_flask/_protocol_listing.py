"""The protocol checks of listing, cursors and batches (``PROTOCOL.md`` §4.5 to §4.7, §6).

See :mod:`kv_flask.protocol_checks`.
"""

from __future__ import annotations

import base64

from ._protocol_http import (
    _JSON,
    Http,
    _all_keys,
    _fail,
    _page,
    _pages,
    _set_many,
    expect,
    expect_error,
)
from ._protocol_http import check_rule as _check

__all__: list[str] = []  # the checks are reached through kv_flask.protocol_checks.CHECKS


@_check("6.2", "paging through a listing gives every key once, in code point order")
def listing_is_complete(http: Http) -> None:
    """25 keys in pages of 4, with code points past the BMP; each page at most the limit."""
    keys = [f"page-{i:02d}" for i in range(23)] + ["page-\uff01", "page-\U0001f600"]
    _set_many(http, keys)
    pages = _pages(http, limit=4)
    listed = [key for page in pages for key in page]
    if any(len(page) > 4 for page in pages):
        _fail(f"§6.1: a page holds more than limit=4 keys: {[len(p) for p in pages]}")
    if listed != sorted(keys):
        dupes = sorted({key for key in listed if listed.count(key) > 1})
        lost = sorted(set(keys) - set(listed))
        _fail(
            f"§6.2: paging listed {len(listed)} keys for {len(keys)}: repeated {dupes}, lost {lost}"
        )
    one = _pages(http, limit=1000)
    if [key for page in one for key in page] != sorted(keys):
        _fail("§6.2: a single page does not list the keys in code point order")


@_check("6.1", "prefix filters as plain text: % _ * ? [ are not patterns")
def listing_by_prefix(http: Http) -> None:
    """Prefixes that SQL LIKE or Redis globs would read as patterns match only themselves."""
    keys = ["pre/a", "pre/b", "pre_x", "pre%x", "pre*x", "pre?x", "pre[x", "prex", "other"]
    _set_many(http, keys)
    for prefix in ("pre/", "pre_", "pre%", "pre*", "pre?", "pre[", "pre", "nothing", ""):
        wanted = sorted(key for key in keys if key.startswith(prefix))
        got = _all_keys(http, prefix=prefix, limit=2)
        if got != wanted:
            _fail(f"§6.1: prefix={prefix!r} listed {got!r}, not {wanted!r}")
    expect_error(http.listing(prefix="a\x00"), 400, "invalid_prefix")


@_check("6.1", "limit is capped at list_limit; below 1 or not a number is 400 bad_parameter")
def listing_limit(http: Http) -> None:
    """limit=0, -1 and abc are refused; a limit over list_limit gives at most list_limit."""
    for bad in ("0", "-1", "abc"):
        expect_error(http.listing(limit=bad), 400, "bad_parameter")
    list_limit = int(http.info()["list_limit"])
    if list_limit > 5000:
        return  # too many keys to write for a check; the cap is checked below 5,000
    _set_many(http, [f"cap-{i:05d}" for i in range(list_limit + 1)])
    keys, cursor = _page(http, limit=list_limit + 10)
    if len(keys) > list_limit:
        _fail(f"§6.1: limit={list_limit + 10} gave {len(keys)} keys, over list_limit {list_limit}")
    if cursor is None:
        _fail(f"§6.2: {list_limit + 1} keys fitted a page of {len(keys)} with no next_cursor")


@_check("6.2", "a cursor outside the base64url alphabet is 400 bad_cursor")
def bad_cursor_is_refused(http: Http) -> None:
    """cursor=!!! and a cursor with a space."""
    for cursor in ("!!!", "a b"):
        expect_error(http.listing(cursor=cursor), 400, "bad_cursor")


@_check("6.3", "a listing stays complete and without repeats while keys are written")
def listing_under_writes(http: Http) -> None:
    """Between pages: insert before and after the cursor, delete listed and unlisted keys."""
    keys = [f"mv-{i:02d}" for i in range(20)]
    _set_many(http, keys)
    removed: set[str] = set()
    added: set[str] = set()

    def meddle(page: int) -> None:
        before, after = f"mv-00-{page}", f"mv-99-{page}"
        _set_many(http, [before, after])
        added.update((before, after))
        # A key already listed and one not yet: an offset cursor skips or repeats after these.
        for key in (f"mv-{page - 1:02d}", f"mv-{19 - page:02d}"):
            if key not in removed:
                expect(http.delete(key), 204, 404)
                removed.add(key)

    pages = _pages(http, between=meddle, limit=3)
    listed = [key for page in pages for key in page]
    repeated = sorted({key for key in listed if listed.count(key) > 1})
    if repeated:
        _fail(f"§6.3: keys listed twice while others wrote: {repeated}")
    lost = sorted(set(keys) - removed - set(listed))
    if lost:
        _fail(f"§6.3: keys present throughout were not listed: {lost}")
    unknown = sorted(set(listed) - set(keys) - added)
    if unknown:
        _fail(f"§6.3: the listing shows keys nobody wrote: {unknown}")


@_check("4.5", "GET / answers {keys, next_cursor}, also without the trailing slash")
def listing_shape(http: Http) -> None:
    """The empty store lists nothing; the prefix without its slash is the same route."""
    keys, cursor = _page(http)
    if keys or cursor is not None:
        _fail(f"§4.5: an empty store listed {keys!r} with next_cursor {cursor!r}")
    if http.prefix:
        expect(http.request("GET", http.prefix), 200)
    expect(http.request("HEAD", http.path("")), 200)


# -- batches ------------------------------------------------------------------------------------


@_check("4.6", "the batch routes read, write and delete many keys in one request")
def batches(http: Http) -> None:
    """set, get (missing keys left out), delete (missing ignored), count and clear."""
    values = {"b/1": b"\x00\xff", "b/2": b"", "b/3": b"three"}
    items = {key: base64.b64encode(value).decode() for key, value in values.items()}
    expect(http.post_json("_kv/set", {"items": items}), 204)
    answer = expect(http.post_json("_kv/get", {"keys": ["b/1", "b/2", "b/3", "b/none"]}), 200)
    document = answer.json()
    found = document.get("values") if isinstance(document, dict) else None
    if not isinstance(found, dict):
        _fail(f"§4.6: /_kv/get answered {document!r}, not {{values: {{...}}}}")
    assert isinstance(found, dict)
    decoded = {key: base64.b64decode(value) for key, value in found.items()}
    if decoded != values:
        _fail(f"§4.6: /_kv/get answered {decoded!r} for {values!r}")
    if http.count() != 3:
        _fail(f"§4.7: /_kv/count says {http.count()} after writing 3 keys")
    expect(http.post_json("_kv/delete", {"keys": ["b/1", "b/none", "b/1"]}), 204)
    if http.value("b/1") is not None or http.value("b/3") != b"three":
        _fail("§4.6: /_kv/delete did not delete exactly the keys given")
    expect(http.request("POST", http.path("_kv/clear")), 204)
    if http.count() != 0:
        _fail("§4.6: /_kv/clear left keys behind")


@_check("4.6", "bad batch bodies are 415 or 400 with their code, and nothing is written")
def bad_batches(http: Http) -> None:
    """No JSON type, broken JSON, wrong shapes, bad base64, a refused key among good ones."""
    route = http.path("_kv/set")
    expect_error(http.request("POST", route, b'{"items": {}}'), 415, "unsupported_media_type")
    expect_error(http.request("POST", route, b"{", _JSON), 400, "bad_json")
    expect_error(http.post_json("_kv/set", {"items": []}), 400, "bad_json")
    expect_error(http.post_json("_kv/set", {"items": {"k": 1}}), 400, "bad_json")
    expect_error(http.post_json("_kv/set", {"items": {"k": "!!"}}), 400, "bad_base64")
    expect_error(http.post_json("_kv/get", {"keys": "k"}), 400, "bad_json")
    good = base64.b64encode(b"v").decode()
    answer = http.post_json("_kv/set", {"items": {"fine": good, "a//b": good}})
    expect_error(answer, 400, "invalid_key")
    expect_error(http.post_json("_kv/delete", {"keys": ["fine", "_kv/x"]}), 400, "invalid_key")
    clear = http.request("POST", http.path("_kv/clear"), b"x", {"Content-Type": "text/plain"})
    expect_error(clear, 415, "unsupported_media_type")
    if http.count():
        _fail(f"§4.6: a refused batch wrote {_all_keys(http)!r}")
