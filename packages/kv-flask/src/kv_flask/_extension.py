"""The Flask extension (:class:`FlaskKv`) and the app factory (:func:`construct_kv_app`).

Every request under the API's prefix passes the guard first, in this order: its ``Host``
must be one the server answers to (403 ``host_not_allowed``), a CORS preflight from a
trusted origin is answered, a cross-site state-changing request is refused (403
``cross_origin``), the bearer token is checked (401), and paths whose empty segments routing
would drop are refused (400). Then the hooks added with :meth:`FlaskKv.before_request` run,
then the view.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Iterable, MutableMapping
from typing import Any

from flask import Blueprint, Flask, Request, Response, current_app, request
from flask.sansio.scaffold import T_after_request, T_before_request, T_teardown
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import RequestRedirect

from ._access_log import ACCESS_LOGGER, STARTED, log_access, shown_path
from ._errors import ApiError
from ._hosts import cross_site
from ._http import authorized, decoded_path, raw_path
from ._responses import (
    add_cors_headers,
    api_error_response,
    error_response,
    harden,
    http_exception_response,
    preflight_response,
)
from ._routes import KeyConverter, KvRoutes, route_methods
from ._state import KvState, new_locks
from ._ui import is_ui_request, register_ui

__all__ = ["FlaskKv", "construct_kv_app"]

logger = logging.getLogger("kv_flask.errors")

_STORE_OPTION = "kv_store"
# Methods that never change data: no cross-site check (see kv_flask._hosts.cross_site).
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _normal_prefix(url_prefix: str | None) -> str:
    prefix = (url_prefix or "").rstrip("/")
    if prefix and not prefix.startswith("/"):
        prefix = "/" + prefix
    return prefix


def _server_port(state: KvState, environ: dict[str, Any]) -> int | None:
    if state.bound_port is not None:
        return state.bound_port
    try:
        return int(environ.get("SERVER_PORT", ""))
    except ValueError:
        return None


class FlaskKv(Blueprint):
    """The REST API over *store*, as a Flask extension; it is also the API's blueprint.

    Both forms Flask users know work::

        FlaskKv(app, store, url_prefix="/kv")      # registers on app at once

        kv = FlaskKv(store=store, url_prefix="/kv")
        def create_app():                          # an app factory
            app = Flask(__name__)
            kv.init_app(app)                       # or kv.init_app(app, other_store)
            return app

    The object is a :class:`flask.Blueprint` (the one the original extension returned), and
    :meth:`before_request`, :meth:`after_request` and :meth:`teardown_request` add hooks for
    logging or extra auth at any time, before or after registration: they run for every
    request under the prefix (unknown paths included), after the built-in Host, origin and
    token checks. The state of each app (:class:`KvState`) is in
    ``app.extensions["kv"][name]``.

    Options not passed here are read from ``app.config`` the first time a request needs
    each, once per app (``KV_TOKEN``, ``KV_MAX_CONTENT_LENGTH``, ``KV_LIST_LIMIT``,
    ``KV_ALLOWED_HOSTS``, ``KV_ALLOWED_ORIGINS``, ``KV_CACHE_CONTROL``, ``KV_LOG_KEYS``,
    ``KV_UI``).

    :param app: The Flask application to register on now, or ``None`` (see :meth:`init_app`).
    :param store: A kv store or any ``MutableMapping`` of ``str`` to ``bytes``.
    :param url_prefix: Where to mount the API, e.g. ``"/kv"``; ``""`` for the root.
    :param name: The blueprint's name (one per mounted store).
    :param token: Bearer token clients must send (``Authorization: Bearer ...``).
    :param max_content_length: The largest request body accepted, in bytes (16 MiB).
    :param list_limit: The most keys one listing page returns (1000).
    :param allowed_hosts: ``Host`` names answered besides the bound address, ``localhost``,
        ``127.0.0.1`` and ``[::1]`` on the server's port: ``name`` (any port), ``name:port``,
        or ``*`` for any (a list, or text separated by commas or spaces).
    :param allowed_origins: Origins (``https://app.example``) trusted from a browser: their
        state-changing requests are accepted and they get CORS answers; ``*`` for any.
    :param cache_control: ``Cache-Control`` of value answers (default ``no-store``).
    :param log_keys: Show keys in the access and error logs (default: ``<key>``).
    :param ui: Serve the key browser page at ``/_kv/ui/`` (default: off; ``KV_UI``).
    """

    def __init__(
        self,
        app: Flask | None = None,
        store: MutableMapping[str, Any] | None = None,
        url_prefix: str = "",
        *,
        name: str = "kv",
        token: str | None = None,
        max_content_length: int | None = None,
        list_limit: int | None = None,
        allowed_hosts: str | Iterable[str] | None = None,
        allowed_origins: str | Iterable[str] | None = None,
        cache_control: str | None = None,
        log_keys: bool | None = None,
        ui: bool | None = None,
    ) -> None:
        prefix = _normal_prefix(url_prefix)
        super().__init__(name, __name__, url_prefix=prefix or None)
        self.store = store
        self._options: dict[str, Any] = {
            "token": token,
            "max_content_length": max_content_length,
            "list_limit": list_limit,
            "allowed_hosts": allowed_hosts,
            "allowed_origins": allowed_origins,
            "cache_control": cache_control,
            "log_keys": log_keys,
            "ui": ui,
        }
        KvState({}, prefix, self._options).check()
        self._locks = new_locks()
        self._states: weakref.WeakKeyDictionary[Flask, KvState] = weakref.WeakKeyDictionary()
        self._environ_key = f"kv_flask.state.{id(self)}"
        self._before: list[Any] = []
        self._after: list[Any] = []
        self._teardown: list[Any] = []

        self.record(_add_converter)
        # App-wide hooks scoped by path, so they also cover 404 and 405 answers under the
        # prefix, which no blueprint-scoped hook sees.
        self.before_app_request(self._guard)
        self.after_app_request(self._finish)
        # The teardown hook is added to an app only once there is a hook to run (see
        # _add_teardown): every hook Flask runs costs each request its dispatch.
        self.register_error_handler(ApiError, api_error_response)
        self.register_error_handler(Exception, self.unexpected_error_response)
        self.routes = KvRoutes(self.state)
        self.routes.register(self)
        register_ui(self, self.state)
        if app is not None:
            self.init_app(app)

    # -- registration ---------------------------------------------------------------------

    def init_app(
        self,
        app: Flask,
        store: MutableMapping[str, Any] | None = None,
        *,
        url_prefix: str | None = None,
    ) -> None:
        """Register the API on *app* (for app factories); once per app.

        :param store: This app's store, instead of the one given to the constructor.
        :param url_prefix: This app's prefix, instead of the one given to the constructor.
        """
        options: dict[str, Any] = {_STORE_OPTION: store}
        if url_prefix is not None:
            options["url_prefix"] = _normal_prefix(url_prefix) or None
        app.register_blueprint(self, **options)

    def register(self, app: Any, options: dict[str, Any]) -> None:
        """Called by ``app.register_blueprint``: set up this app's :class:`KvState`."""
        store = options.get(_STORE_OPTION)
        if store is None:
            store = self.store
        if store is None:
            msg = "FlaskKv needs a store: FlaskKv(app, store) or init_app(app, store)"
            raise TypeError(msg)
        prefix = _normal_prefix(options.get("url_prefix", self.url_prefix))
        locks = self._locks if store is self.store else new_locks()
        state = KvState(store, prefix, self._options, locks, config=app.config)
        super().register(app, options)
        self._states[app] = state
        if self._teardown:
            self._add_teardown(app)
        app.extensions.setdefault("kv", {})[options.get("name", self.name)] = state

    def state(self, environ: dict[str, Any] | None = None) -> KvState:
        """The :class:`KvState` of the current app (*environ*: the current request's)."""
        if environ is None:
            environ = request.environ
        found = environ.get(self._environ_key)
        if isinstance(found, KvState):
            return found
        return self._states[current_app._get_current_object()]  # type: ignore[attr-defined]

    def _current(self, req: Request | None = None) -> KvState | None:
        """The current app's state if the request is under this API's prefix, else None."""
        if req is None:
            req = request._get_current_object()  # type: ignore[attr-defined]
        environ = req.environ
        key = self._environ_key
        if key in environ:
            found: KvState | None = environ[key]
            return found
        state = self._states.get(current_app._get_current_object())  # type: ignore[attr-defined]
        if state is not None and not state.covers(req.path):
            state = None
        environ[key] = state  # looked up once per request, by the guard
        return state

    # -- hooks users add ------------------------------------------------------------------

    def before_request(self, f: T_before_request) -> T_before_request:
        """Run *f* before every request under the prefix, after the built-in checks.

        Unlike a blueprint's own hooks, this works after registration too, and also runs
        for unknown paths and methods under the prefix. If *f* returns a value, that is the
        answer and the view is not called.
        """
        self._before.append(f)
        return f

    def after_request(self, f: T_after_request) -> T_after_request:
        """Run *f(response)* after every request under the prefix; it returns the response."""
        self._after.append(f)
        return f

    def teardown_request(self, f: T_teardown) -> T_teardown:
        """Run *f(error)* at the end of every request under the prefix."""
        first = not self._teardown
        self._teardown.append(f)
        if first:
            for app in list(self._states):
                self._add_teardown(app)
        return f

    def _add_teardown(self, app: Flask) -> None:
        """Have *app* run the teardown hooks; Flask reads the list at every request."""
        # Not app.teardown_request, which refuses once the app has served a request, nor the
        # blueprint's record_once, which only reaches apps registered later.
        hooks = app.teardown_request_funcs.setdefault(None, [])
        if self._teardown_hooks not in hooks:
            hooks.append(self._teardown_hooks)

    # -- the built-in hooks -----------------------------------------------------------------

    def _guard(self) -> Any:
        req: Request = request._get_current_object()  # type: ignore[attr-defined]
        state = self._current(req)
        if state is None:
            return None
        environ = req.environ
        environ[STARTED] = time.perf_counter()
        host = environ.get("HTTP_HOST")
        if not state.hosts.allows(host, _server_port(state, environ), environ["wsgi.url_scheme"]):
            return error_response(403, "host_not_allowed")
        origins = state.origins
        if origins.configured:
            preflight = preflight_response(origins, environ)
            if preflight is not None:
                return preflight
        method = environ["REQUEST_METHOD"]
        if method not in _SAFE_METHODS:
            origin = environ.get("HTTP_ORIGIN")
            fetch_site = environ.get("HTTP_SEC_FETCH_SITE")
            # Without either header the request is not from a browser page (cross_site).
            if (origin or fetch_site) and cross_site(method, origin, fetch_site, host, origins):
                return error_response(403, "cross_origin")
        token = state.token
        if (
            token is not None
            and not authorized(token, environ)
            and not is_ui_request(state, req.path, method)
        ):
            return error_response(401)
        if "//" in raw_path(environ) or "//" in decoded_path(environ):
            # Routing drops empty segments ("//x" and "/%2Fx" would both be key "x"): a path
            # with one is refused before routing can reinterpret it.
            return error_response(400, "invalid_key", "This key is not valid.")
        exc = req.routing_exception
        if exc is not None:
            if isinstance(exc, MethodNotAllowed):
                methods = route_methods(req.path[len(state.url_prefix) :].strip("/"))
                if methods is not None:
                    # Werkzeug's Allow would add the key route's methods to the API route's.
                    exc = MethodNotAllowed(valid_methods=methods)
            if isinstance(exc, HTTPException) and not isinstance(exc, RequestRedirect):
                return http_exception_response(exc)
        for hook in self._before:
            answer = current_app.ensure_sync(hook)()
            if answer is not None:
                return answer
        return None

    def _finish(self, response: Response) -> Response:
        req: Request = request._get_current_object()  # type: ignore[attr-defined]
        state = self._current(req)
        if state is None:
            return response
        if self._after:
            for hook in reversed(self._after):
                response = current_app.ensure_sync(hook)(response)
        harden(response)
        origins = state.origins
        if origins.configured:
            add_cors_headers(response, origins, req.environ)
        if ACCESS_LOGGER.isEnabledFor(logging.INFO):
            log_access(response, state.url_prefix, log_keys=state.log_keys)
        return response

    def _teardown_hooks(self, error: BaseException | None) -> None:
        if not self._teardown or self._current() is None:
            return
        for hook in reversed(self._teardown):
            current_app.ensure_sync(hook)(error)

    def unexpected_error_response(self, exc: Exception) -> Response:
        """A JSON 500 without detail; the exception, with its message, is logged."""
        if isinstance(exc, HTTPException):
            return http_exception_response(exc)
        state = self._states.get(current_app._get_current_object())  # type: ignore[attr-defined]
        prefix, log_keys = (state.url_prefix, state.log_keys) if state else ("", False)
        logger.error(
            "%s %s failed: %s: %s",
            request.method,
            shown_path(prefix, log_keys=log_keys),
            type(exc).__name__,
            exc,
            exc_info=exc,
        )
        return error_response(500)


def _add_converter(setup: Any) -> None:
    setup.app.url_map.converters.setdefault("kvkey", KeyConverter)


def construct_kv_app(
    store: MutableMapping[str, Any],
    *,
    url_prefix: str = "",
    token: str | None = None,
    max_content_length: int | None = None,
    list_limit: int | None = None,
    allowed_hosts: str | Iterable[str] | None = None,
    allowed_origins: str | Iterable[str] | None = None,
    cache_control: str | None = None,
    log_keys: bool | None = None,
    ui: bool | None = None,
    import_name: str = "kv_flask",
) -> Flask:
    """A Flask app that serves *store* as a REST API (see :class:`FlaskKv` for the options).

    Every response of this app, errors included, is the API's own: unknown paths and
    methods get a JSON 404/405, and any unexpected exception a JSON 500 with no detail.
    """
    app = Flask(import_name, static_folder=None)
    app.config["DEBUG"] = False
    app.config["PROPAGATE_EXCEPTIONS"] = False
    kv = FlaskKv(
        app,
        store,
        url_prefix,
        token=token,
        max_content_length=max_content_length,
        list_limit=list_limit,
        allowed_hosts=allowed_hosts,
        allowed_origins=allowed_origins,
        cache_control=cache_control,
        log_keys=log_keys,
        ui=ui,
    )
    app.register_error_handler(ApiError, api_error_response)
    app.register_error_handler(Exception, kv.unexpected_error_response)
    return app
