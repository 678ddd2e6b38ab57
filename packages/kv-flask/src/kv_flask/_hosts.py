"""Which ``Host`` and ``Origin`` headers the server answers to: its guard against a browser.

Two attacks reach a server on a laptop through the user's own browser:

- **DNS rebinding**: a page on ``evil.example`` re-points that name at ``127.0.0.1`` and then
  reads the API as its "own" origin. Every such request carries ``Host: evil.example``, so the
  server answers only to the names it is known by (:class:`HostRules`): by default its bound
  address, ``localhost``, ``127.0.0.1`` and ``[::1]`` on its own port (any IP address when it
  is bound to all interfaces, as webpack-dev-server's ``allowedHosts: "auto"`` does).
- **Cross-site requests**: a page may send "simple" requests (a form, ``fetch`` with
  ``mode: "no-cors"``) that change data without ever reading the answer. A state-changing
  request is refused when the browser says it is cross-site (:func:`cross_site`), the rule of
  Go's ``http.CrossOriginProtection`` and of Jupyter's ``check_origin``: ``Sec-Fetch-Site``
  other than ``same-origin`` / ``none``, or an ``Origin`` whose host is not the request's
  ``Host``, unless that origin is trusted (:class:`OriginRules`). Requests without either
  header do not come from a browser page and pass.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = ["LOOPBACK_NAMES", "HostRules", "OriginRules", "cross_site", "parse_list"]

#: The names a server answers to whatever it is bound to (with its own port).
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")

_WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "[::]", "*"})  # noqa: S104 - names, not binds
_NAME = re.compile(r"^[a-z0-9_.-]+$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_KNOWN_HOSTS = 256


def parse_list(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Entries of a setting given as a list or as text separated by commas or spaces."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    return tuple(part for item in items for part in re.split(r"[\s,]+", str(item)) if part)


def split_host(value: str) -> tuple[str, int | None] | None:
    """``name[:port]`` as (lower-case name, port or None); ``None`` if it is not a host.

    IPv6 addresses keep their brackets (``[::1]``); one trailing dot is dropped
    (``localhost.`` is ``localhost``).
    """
    text = value.strip().lower()
    port_text: str | None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        name, rest = text[: end + 1], text[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:] if rest else None
        try:
            ipaddress.IPv6Address(name[1:-1])
        except ValueError:
            return None
    else:
        name, sep, port_text = text.partition(":")
        if not sep:
            port_text = None
        name = name.removesuffix(".")
        if not _NAME.match(name):
            return None
    if port_text is None:
        return name, None
    if not port_text.isdigit() or len(port_text) > 5 or int(port_text) > 65535:
        return None
    return name, int(port_text)


def _normal_name(entry: str) -> str:
    """A configured host name or address, as :func:`split_host` writes it."""
    entry = entry.strip().lower()
    if entry.count(":") > 1 and not entry.startswith("["):
        entry = f"[{entry}]"  # a bare IPv6 address
    return entry


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class HostRules:
    """The ``Host`` headers a server answers to.

    :param names: Answered on the server's own port (the loopback names, the bound address).
    :param any_port: Configured without a port: answered on any port.
    :param pairs: Configured as ``name:port``.
    :param any_host: ``*`` was configured: every host is answered (no check).
    :param any_ip: The server is bound to all interfaces: any IP address, on its port.
    """

    names: frozenset[str]
    any_port: frozenset[str] = frozenset()
    pairs: frozenset[tuple[str, int]] = frozenset()
    any_host: bool = False
    any_ip: bool = False
    #: Answers already worked out, by (header, server port, scheme): a few per server.
    _known: dict[tuple[str, int | None, str], bool] = field(
        default_factory=dict, compare=False, repr=False
    )
    #: The same, by the WSGI environ's (Host, ``SERVER_PORT`` or bound port, scheme).
    _known_requests: dict[tuple[str, Any, str], bool] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def build(cls, allowed: Iterable[str] = (), bound_host: str | None = None) -> HostRules:
        """The loopback names, the bound address and the *allowed* entries (``name[:port]``).

        :raises ValueError: an entry is not a host name, an address or ``*``.
        """
        names = set(LOOPBACK_NAMES)
        any_ip = False
        if bound_host is not None:
            if bound_host.strip() in _WILDCARD_BINDS:
                any_ip = True
            else:
                parsed = split_host(_normal_name(bound_host))
                if parsed is not None:
                    names.add(parsed[0])
        any_port: set[str] = set()
        pairs: set[tuple[str, int]] = set()
        any_host = False
        for entry in allowed:
            if entry.strip() == "*":
                any_host = True
                continue
            parsed = split_host(_normal_name(entry))
            if parsed is None:
                msg = f"allowed host {entry!r} is not a host name or address, with an optional port"
                raise ValueError(msg)
            name, port = parsed
            if port is None:
                any_port.add(name)
            else:
                pairs.add((name, port))
        return cls(frozenset(names), frozenset(any_port), frozenset(pairs), any_host, any_ip)

    def allows(self, header: str | None, server_port: int | None, scheme: str = "http") -> bool:
        """Whether a request with ``Host: header`` is for this server.

        A request without a ``Host`` header passes: browsers always send one. A ``Host``
        without a port means the scheme's default port.
        """
        if self.any_host or header is None:
            return True
        key = (header, server_port, scheme)
        known = self._known.get(key)
        if known is None:
            known = self._allows(header, server_port, scheme)
            if len(self._known) < _KNOWN_HOSTS:  # bounded: Host is chosen by the client
                self._known[key] = known
        return known

    def allows_request(self, environ: dict[str, Any], bound_port: int | None = None) -> bool:
        """:meth:`allows` for a WSGI request: its ``Host``, its scheme, and the server's port
        (*bound_port*, else the request's ``SERVER_PORT``)."""
        header = environ.get("HTTP_HOST")
        if self.any_host or header is None:
            return True
        # Keyed by the environ's own values: a Host seen before costs one lookup, no parsing.
        port_text = environ.get("SERVER_PORT") if bound_port is None else bound_port
        key = (header, port_text, environ["wsgi.url_scheme"])
        known = self._known_requests.get(key)
        if known is None:
            port = bound_port
            if port is None:
                try:
                    port = int(port_text or "")
                except ValueError:
                    port = None
            known = self.allows(header, port, key[2])
            if len(self._known_requests) < _KNOWN_HOSTS:  # bounded: Host is chosen by the client
                self._known_requests[key] = known
        return known

    def _allows(self, header: str, server_port: int | None, scheme: str) -> bool:
        parsed = split_host(header)
        if parsed is None:
            return False
        name, port = parsed
        if port is None:
            port = _DEFAULT_PORTS.get(scheme, 80)
        if name in self.any_port or (name, port) in self.pairs:
            return True
        own_port = server_port is None or port == server_port
        return own_port and (name in self.names or (self.any_ip and _is_ip(name)))


def _origin_netloc(origin: str) -> tuple[str, str] | None:
    """``(scheme, host[:port])`` of an ``Origin``, lower case, default port dropped."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if not scheme or not host or parts.path not in {"", "/"} or parts.query or parts.username:
        return None
    shown = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        shown = f"{shown}:{port}"
    return scheme, shown


def _host_netloc(host: str, scheme: str) -> str | None:
    parsed = split_host(host)
    if parsed is None:
        return None
    name, port = parsed
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return name
    return f"{name}:{port}"


@dataclass(frozen=True)
class OriginRules:
    """Origins trusted to use the API from a browser: cross-site writes and CORS answers.

    :param origins: ``scheme://host[:port]`` entries, normalised.
    :param any_origin: ``*`` was configured: every origin is trusted.
    """

    origins: frozenset[str] = frozenset()
    any_origin: bool = False
    #: Whether any origin is trusted (and so CORS answers are given); read on every request.
    configured: bool = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "configured", self.any_origin or bool(self.origins))

    @classmethod
    def build(cls, allowed: Iterable[str] = ()) -> OriginRules:
        """Rules from ``scheme://host[:port]`` entries or ``*``.

        :raises ValueError: an entry is not an origin (a path, a query, no scheme ...).
        """
        origins: set[str] = set()
        any_origin = False
        for entry in allowed:
            if entry.strip() == "*":
                any_origin = True
                continue
            parsed = _origin_netloc(entry)
            if parsed is None:
                msg = f"allowed origin {entry!r} is not an origin such as https://app.example"
                raise ValueError(msg)
            origins.add(f"{parsed[0]}://{parsed[1]}")
        return cls(frozenset(origins), any_origin)

    def trusts(self, origin: str | None) -> bool:
        """Whether *origin* (an ``Origin`` header) is one of the trusted origins."""
        if not origin or not self.configured:
            return False
        if self.any_origin:
            return True
        parsed = _origin_netloc(origin)
        return parsed is not None and f"{parsed[0]}://{parsed[1]}" in self.origins


def cross_site(
    method: str,
    origin: str | None,
    fetch_site: str | None,
    host: str | None,
    rules: OriginRules,
) -> bool:
    """Whether a request must be refused as a cross-site request from a browser page.

    Safe methods (GET, HEAD, OPTIONS) always pass. Otherwise: a trusted ``Origin`` passes;
    with ``Sec-Fetch-Site``, only ``same-origin`` and ``none`` (typed by the user) pass;
    without it, an ``Origin`` passes only if its host and port are the request's ``Host``
    (the scheme is not compared, so a TLS proxy in front changes nothing); without either
    header the request is not from a browser page and passes.
    """
    if method in _SAFE_METHODS:
        return False
    if rules.trusts(origin):
        return False
    if fetch_site:
        return fetch_site.strip().lower() not in {"same-origin", "none"}
    if not origin:
        return False
    parsed = _origin_netloc(origin)
    if parsed is None or host is None:
        return True
    return _host_netloc(host, parsed[0]) != parsed[1]
