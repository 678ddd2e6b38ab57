"""What one mounted API keeps per app: its store, its options and its locks."""

from __future__ import annotations

import threading
from collections.abc import Iterator, MutableMapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from ._hosts import HostRules, OriginRules, parse_list
from ._keys import API_REFUSED_CHARACTERS, MAX_KEY_LENGTH, check_token

__all__ = [
    "DEFAULT_CACHE_CONTROL",
    "DEFAULT_LIST_LIMIT",
    "DEFAULT_MAX_CONTENT_LENGTH",
    "LOCK_STRIPES",
    "KvState",
    "new_locks",
]

#: The largest request body accepted unless configured otherwise (16 MiB).
DEFAULT_MAX_CONTENT_LENGTH = 16 * 1024 * 1024
#: The most keys one listing page returns unless configured otherwise.
DEFAULT_LIST_LIMIT = 1000
#: The ``Cache-Control`` of value answers unless configured otherwise.
DEFAULT_CACHE_CONTROL = "no-store"

LOCK_STRIPES = 64
_CONFIG_KEYS = {
    name: f"KV_{name.upper()}"
    for name in (
        "token",
        "max_content_length",
        "list_limit",
        "allowed_hosts",
        "allowed_origins",
        "cache_control",
        "log_keys",
        "ui",
    )
}


def new_locks() -> tuple[threading.Lock, ...]:
    """The lock stripes that make compare-and-swap atomic for one store without versions."""
    return tuple(threading.Lock() for _ in range(LOCK_STRIPES))


@dataclass
class KvState:
    """What one :class:`~kv_flask.FlaskKv` keeps in ``app.extensions["kv"][name]``.

    :param store: The store served (a kv store or any ``MutableMapping``).
    :param url_prefix: Where the API is mounted (``""`` for the root).
    :param options: Explicit options; unset ones are read from ``app.config`` (``KV_*``).
    """

    store: MutableMapping[str, Any]
    url_prefix: str
    options: dict[str, Any] = field(default_factory=dict)
    locks: tuple[threading.Lock, ...] = field(default_factory=new_locks)
    #: The address and port of the server this app runs on, when the server said so
    #: (:func:`~kv_flask.make_server` does); otherwise the WSGI ``SERVER_PORT`` is the port.
    bound_host: str | None = None
    bound_port: int | None = None
    #: The app's config (read when a request first needs an option); ``None``: the current
    #: app's.
    config: Any = None
    _refused: str | None = field(default=None, repr=False)
    _versioned: bool | None = field(default=None, repr=False)
    # The options as read and checked, by name: every request reads several, and reading
    # them from the config each time cost more than the checks they feed.
    _settings: dict[str, Any] = field(default_factory=dict, repr=False)

    def bind(self, host: str, port: int) -> None:
        """Record the address the server listens on: the default allowed ``Host``."""
        self.bound_host = host
        self.bound_port = port
        self._settings.pop("hosts", None)

    def refused_characters(self) -> str:
        """The characters the store declares it refuses, beyond the API's own, sorted.

        Read from the store's ``Capabilities.refused_characters`` (never found by trying
        keys), so clients can refuse such keys before sending them (FileSystemDict refuses
        ``\\``, for instance). NUL, U+FFFD and lone surrogates, which the API refuses in
        every key, and ``/``, which separates segments, are left out.
        """
        if self._refused is None:
            capabilities = getattr(self.store, "capabilities", None)
            declared = getattr(capabilities, "refused_characters", None) or frozenset()
            self._refused = "".join(sorted(set(declared) - API_REFUSED_CHARACTERS - {"/"}))
        return self._refused

    @property
    def versioned(self) -> bool:
        """Whether the store declares ``compare_and_set``: then ``ETag`` is its version of
        the key, conditional requests call its ``set_if`` / ``delete_if``, and the
        per-process locks are not taken (the store is atomic across processes itself)."""
        versioned = self._versioned
        if versioned is None:
            capabilities = getattr(self.store, "capabilities", None)
            versioned = getattr(capabilities, "compare_and_set", False) is True
            self._versioned = versioned
        return versioned

    @property
    def validate_key(self) -> Any:
        """The store's own ``validate_key``, or ``None`` when it has none."""
        return getattr(self.store, "validate_key", None)

    def max_key_length(self) -> int:
        """The longest key this API accepts: the API's limit or the store's, if smaller."""
        capabilities = getattr(self.store, "capabilities", None)
        store_limit = getattr(capabilities, "max_key_length", None)
        if isinstance(store_limit, int) and 0 < store_limit < MAX_KEY_LENGTH:
            return store_limit
        return MAX_KEY_LENGTH

    def option(self, name: str, default: Any) -> Any:
        """The option *name*: explicit, else ``app.config["KV_" + NAME]``, else *default*.

        Read afresh on every call; the properties below read each option once, the first
        time a request needs it, and keep what they made of it.
        """
        value = self.options.get(name)
        if value is not None:
            return value
        config = self.config if self.config is not None else current_app.config
        return config.get(_CONFIG_KEYS.get(name) or f"KV_{name.upper()}", default)

    @property
    def token(self) -> str | None:
        """The bearer token every request must carry, or ``None`` for no auth."""
        settings = self._settings
        if "token" in settings:
            token: str | None = settings["token"]
            return token
        raw = self.option("token", None)
        token = check_token(str(raw)) if raw else None  # a bad one fails every request
        settings["token"] = token
        return token

    @property
    def max_content_length(self) -> int:
        """The largest request body accepted, in bytes."""
        limit: int | None = self._settings.get("max_content_length")
        if limit is None:
            limit = int(self.option("max_content_length", DEFAULT_MAX_CONTENT_LENGTH))
            if limit <= 0:
                msg = "KV_MAX_CONTENT_LENGTH must be a positive number of bytes"
                raise ValueError(msg)
            self._settings["max_content_length"] = limit
        return limit

    @property
    def list_limit(self) -> int:
        """The most keys a listing page may hold."""
        limit: int | None = self._settings.get("list_limit")
        if limit is None:
            limit = self._settings["list_limit"] = max(
                1, int(self.option("list_limit", DEFAULT_LIST_LIMIT))
            )
        return limit

    @property
    def cache_control(self) -> str:
        """The ``Cache-Control`` header of value answers (GET and HEAD of a key)."""
        value: str | None = self._settings.get("cache_control")
        if value is None:
            value = str(self.option("cache_control", DEFAULT_CACHE_CONTROL))
            if "\n" in value or "\r" in value:  # what Werkzeug refuses in a header value
                msg = "KV_CACHE_CONTROL must not contain a line break"
                raise ValueError(msg)
            self._settings["cache_control"] = value
        return value

    @property
    def sent_cache_control(self) -> tuple[str, tuple[str, str]]:
        """:attr:`cache_control` as an entry of :attr:`ApiResponse.sent_headers`."""
        entry: tuple[str, tuple[str, str]] | None = self._settings.get("sent_cache_control")
        if entry is None:
            entry = ("cache-control", ("Cache-Control", self.cache_control))
            self._settings["sent_cache_control"] = entry
        return entry

    @property
    def log_keys(self) -> bool:
        """Whether the access and error logs show keys (otherwise ``<key>``)."""
        shown: bool | None = self._settings.get("log_keys")
        if shown is None:
            shown = self._settings["log_keys"] = bool(self.option("log_keys", False))
        return shown

    @property
    def ui(self) -> bool:
        """Whether the key browser page is served (``/_kv/ui/``)."""
        shown: bool | None = self._settings.get("ui")
        if shown is None:
            raw = self.option("ui", False)
            if isinstance(raw, str):  # from the environment: KV_UI=1, true, yes, on
                raw = raw.strip().lower() in {"1", "true", "yes", "on"}
            shown = self._settings["ui"] = bool(raw)
        return shown

    @property
    def hosts(self) -> HostRules:
        """The ``Host`` headers answered: loopback, the bound address, ``allowed_hosts``."""
        rules: HostRules | None = self._settings.get("hosts")
        if rules is None:
            raw = self.option("allowed_hosts", None)
            rules = HostRules.build(parse_list(raw), self.bound_host)
            self._settings["hosts"] = rules
        return rules

    @property
    def origins(self) -> OriginRules:
        """The origins trusted from a browser (``allowed_origins``): writes and CORS."""
        rules: OriginRules | None = self._settings.get("origins")
        if rules is None:
            rules = OriginRules.build(parse_list(self.option("allowed_origins", None)))
            self._settings["origins"] = rules
        return rules

    def check(self) -> None:
        """Raise ``ValueError`` now for an option that would fail every request."""
        if self.options.get("token") is not None:
            check_token(str(self.options["token"]))
        HostRules.build(parse_list(self.options.get("allowed_hosts")))
        OriginRules.build(parse_list(self.options.get("allowed_origins")))
        limit = self.options.get("max_content_length")
        if limit is not None and int(limit) <= 0:
            msg = "max_content_length must be a positive number of bytes"
            raise ValueError(msg)

    def covers(self, path: str) -> bool:
        """Whether the request *path* is under this API's prefix."""
        prefix = self.url_prefix
        return not prefix or path == prefix or path.startswith(prefix + "/")

    def lock_of(self, key: str) -> threading.Lock:
        """The lock stripe of *key*: held around a single-key write or delete to a store
        without versions (see :attr:`versioned`)."""
        return self.locks[hash(key) % LOCK_STRIPES]

    @contextmanager
    def locked(self, keys: list[str]) -> Iterator[None]:
        """Hold the lock stripes of *keys*, taken in a fixed order so two calls never deadlock.

        None for a :attr:`versioned` store: its own compare-and-set needs no help.
        """
        if self.versioned:
            yield
            return
        stripes = sorted({hash(key) % LOCK_STRIPES for key in keys})
        with ExitStack() as stack:
            for index in stripes:
                stack.enter_context(self.locks[index])
            yield
