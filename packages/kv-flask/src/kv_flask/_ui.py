"""The key browser page at ``/_kv/ui/`` (off unless the ``ui`` option is on).

The page is static: ``index.html``, ``ui.js``, ``ui.css`` and ``favicon.svg``, shipped in
this package, no asset from anywhere else. It reads and writes only through the API itself,
with the token the user types (kept in the tab's ``sessionStorage``, sent as
``Authorization: Bearer``). The files hold no data, so they are served without the token;
the ``Host`` and origin rules still apply. Every answer carries a strict
Content-Security-Policy: scripts and styles from the page's own origin only, no inline
script, images from ``blob:`` (previews made by the page), and no framing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources

from flask import Blueprint, Response, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from ._errors import ApiError
from ._state import KvState

__all__ = ["UI_CSP", "UI_PREFIX", "is_ui_request", "register_ui"]

#: Where the page is, under the API's prefix.
UI_PREFIX = "/_kv/ui"
#: The Content-Security-Policy of the page and its files.
UI_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
_FILES = {
    "": ("index.html", "text/html; charset=utf-8"),
    "index.html": ("index.html", "text/html; charset=utf-8"),
    "ui.js": ("ui.js", "text/javascript; charset=utf-8"),
    "ui.css": ("ui.css", "text/css; charset=utf-8"),
    "favicon.svg": ("favicon.svg", "image/svg+xml"),
}


@cache
def _file(name: str) -> bytes:
    return resources.files("kv_flask").joinpath("ui", name).read_bytes()


def is_ui_request(state: KvState, path: str, method: str) -> bool:
    """Whether this is a read of the page or its files, with the page on: no token needed."""
    if method not in ("GET", "HEAD") or not state.ui:
        return False
    rest = path[len(state.url_prefix) :]
    return rest == UI_PREFIX or (rest.startswith(UI_PREFIX + "/") and rest[8:] in _FILES)


def register_ui(blueprint: Blueprint, state_of: Callable[[], KvState]) -> None:
    """Add the page's routes to *blueprint*; they answer 404 while the ``ui`` option is off."""

    def ui_file(name: str = "") -> BaseResponse:
        state = state_of()
        if not state.ui:
            raise ApiError(404)
        if not request.path.startswith(state.url_prefix + UI_PREFIX + "/"):
            # Relative links in the page need the trailing slash.
            return redirect(state.url_prefix + UI_PREFIX + "/", code=308)
        found = _FILES.get(name)
        if found is None:
            raise ApiError(404)
        file_name, content_type = found
        response = Response(_file(file_name), content_type=content_type)
        response.headers["Content-Security-Policy"] = UI_CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-cache"
        return response

    for rule in (UI_PREFIX, UI_PREFIX + "/", UI_PREFIX + "/<name>"):
        blueprint.add_url_rule(
            rule,
            endpoint="ui_file" if rule != UI_PREFIX + "/<name>" else "ui_named_file",
            view_func=ui_file,
            methods=["GET"],
            provide_automatic_options=False,
            merge_slashes=False,
            strict_slashes=True,
        )
