"""open_store, store URLs and password redaction."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

import kv_core
from kv_core import (
    InvalidStoreURL,
    MemoryDict,
    StoreURL,
    UnknownStoreError,
    open_store,
    redact_url,
    registered_schemes,
)


def test_memory_url_opens_memory_dict() -> None:
    """memory:// is registered by kv-core itself and opens an empty MemoryDict."""
    store = open_store("memory://")
    assert isinstance(store, MemoryDict)
    assert len(store) == 0
    assert "memory" in registered_schemes()


def test_keyword_overrides_reach_the_store() -> None:
    """Keyword arguments override the URL: here a serializer pair."""
    store = open_store("memory://", serializer=str.encode, deserializer=bytes.decode)
    store["k"] = "text"
    assert store["k"] == "text"


def test_unknown_option_lists_valid_ones() -> None:
    """An option the backend does not know is an error naming the valid options."""
    with pytest.raises(InvalidStoreURL, match="valid options: deserializer, serializer"):
        open_store("memory://?colour=blue")


@pytest.mark.parametrize(
    ("url", "package"),
    [
        ("file:///tmp/x", "kv-fs"),
        ("redis://localhost:6379/0", "kv-redis"),
        ("postgresql+psycopg://u@h/db", "kv-sql[postgres]"),
        ("http://localhost:8000", "kv-flask"),
    ],
)
def test_missing_backend_names_package(
    url: str, package: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A known scheme without its backend installed names the package to install."""
    monkeypatch.setattr(kv_core.opener, "_entry_points", dict)
    with pytest.raises(UnknownStoreError, match=package.replace("[", r"\[").replace("]", r"\]")):
        open_store(url)


def test_unknown_scheme() -> None:
    """An unknown scheme says that no installed package registers it."""
    with pytest.raises(UnknownStoreError, match=r"kv\.stores"):
        open_store("nosuchscheme://x")


def test_not_a_url() -> None:
    """A string without scheme:// is refused as a URL, and a non-str is a TypeError."""
    with pytest.raises(InvalidStoreURL):
        open_store("just-a-path")
    with pytest.raises(TypeError):
        open_store(42)  # type: ignore[arg-type]


def test_password_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    """Errors about a URL with a password show *** instead."""
    monkeypatch.setattr(kv_core.opener, "_entry_points", dict)
    with pytest.raises(UnknownStoreError) as caught:
        open_store("redis://user:s3cret@host:6379/0")
    assert "s3cret" not in str(caught.value)
    assert "user:***@host:6379" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@h:1/0", "redis://:***@h:1/0"),
        ("mysql+pymysql://root:pa%40ss@db/test?x=1", "mysql+pymysql://root:***@db/test?x=1"),
        ("postgresql://u:p@[::1]:5432/d", "postgresql://u:***@[::1]:5432/d"),
        ("sqlite:///kv.db", "sqlite:///kv.db"),
        ("memory://", "memory://"),
        ("redis://u:pw@host:notaport/0", "redis://u:***@host:notaport/0"),
        ("http://h/kv?token=abc&x=1#f", "http://h/kv?token=***&x=1#f"),
        ("memory://?password=s3cret", "memory://?password=***"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    """redact_url hides exactly the password."""
    assert redact_url(url) == shown


# Every scheme the family opens, and every character that delimits a part of a URL.
SCHEMES = sorted({*kv_core.opener._PROVIDERS, "memory", "redis+cluster", "unix"})
DELIMITERS = list("/?#@:[]%&=;+ ")


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("delimiter", DELIMITERS)
def test_password_with_a_delimiter_is_hidden(scheme: str, delimiter: str) -> None:
    """A password holding a URL delimiter, unencoded, is hidden whole; the host stays."""
    url = f"{scheme}://kv:Zq{delimiter}Xw@db.example:1234/kv?x=1"
    shown = redact_url(url)
    assert "Zq" not in shown
    assert "Xw" not in shown
    assert shown.startswith(f"{scheme}://kv:***@")
    assert "db.example:1234" in shown


@pytest.mark.parametrize("delimiter", DELIMITERS)
def test_password_with_a_delimiter_is_hidden_in_errors(delimiter: str) -> None:
    """InvalidStoreURL and UnknownStoreError messages never show such a password."""
    with pytest.raises(UnknownStoreError) as caught:
        open_store(f"nosuchscheme://kv:Zq{delimiter}Xw@db/kv")
    assert "Zq" not in str(caught.value)
    assert "Xw" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("file:///srv/a:b@c", "file:///srv/a:b@c"),
        ("sqlite:////srv/kv:1@x.db", "sqlite:////srv/kv:1@x.db"),
        ("redis://host:6379/0", "redis://host:6379/0"),
        ("redis://user@host:6379/0", "redis://user@host:6379/0"),
        ("redis://:@host", "redis://:***@host"),
    ],
)
def test_no_password_nothing_hidden(url: str, shown: str) -> None:
    """URLs without a password keep every character, ``@`` and ``:`` in paths included."""
    assert redact_url(url) == shown


def test_store_url_parts() -> None:
    """StoreURL splits scheme and options and can drop the options."""
    parsed = StoreURL.parse("Redis://h:1/0?prefix=app:&sliding=1")
    assert parsed.scheme == "redis"
    assert parsed.options == {"prefix": "app:", "sliding": "1"}
    assert parsed.without_query() == "redis://h:1/0"
    assert parsed.options_with({"sliding": False}) == {"prefix": "app:", "sliding": False}


@pytest.mark.parametrize(
    ("text", "value"), [("1", True), ("yes", True), ("False", False), ("0", False), (True, True)]
)
def test_parse_bool(text: object, value: bool) -> None:
    """Boolean options accept the usual spellings."""
    assert kv_core.parse_bool("opt", text) is value


def test_parse_bool_refuses_other_text() -> None:
    """Anything else is an InvalidStoreURL naming the option."""
    with pytest.raises(InvalidStoreURL, match="durable"):
        kv_core.parse_bool("durable", "maybe")


def test_misspelt_scheme_suggests_the_nearest_and_lists_the_installed() -> None:
    """A typo in the scheme names the scheme meant and every installed one."""
    with pytest.raises(UnknownStoreError) as caught:
        open_store("memroy://")
    message = str(caught.value)
    assert "did you mean memory://?" in message
    assert f"installed schemes: {', '.join(registered_schemes())}" in message


def test_misspelt_scheme_of_a_missing_backend_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The nearest known scheme is suggested with its package when that is not installed."""
    monkeypatch.setattr(
        kv_core.opener, "_entry_points", lambda: {"memory": _entry("memory", "open_memory_url")}
    )
    with pytest.raises(UnknownStoreError, match=r"did you mean redis:// \(install kv-redis\)\?"):
        open_store("reddis://localhost")


def _entry(name: str, function: str) -> EntryPoint:
    return EntryPoint(name=name, value=f"kv_core.memory:{function}", group="kv.stores")


def test_a_plus_star_entry_opens_every_driver_variant(monkeypatch: pytest.MonkeyPatch) -> None:
    """A package registering ``name+*`` gets ``name+anything`` URLs it does not list."""
    monkeypatch.setattr(
        kv_core.opener,
        "_entry_points",
        lambda: {"demo": _entry("demo", "open_memory_url"), "demo+*": _entry("demo+*", "x")},
    )
    calls: list[str] = []

    def opener(url: str, **overrides: object) -> MemoryDict:
        calls.append(url)
        return MemoryDict()

    monkeypatch.setattr(kv_core.memory, "x", opener, raising=False)
    assert isinstance(open_store("demo+driver://"), MemoryDict)
    assert calls == ["demo+driver://"]
    calls.clear()
    open_store("demo://")
    assert calls == []  # the exact name wins


def test_a_plus_variant_without_a_star_entry_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``name+*``, ``name+driver`` is not sent to the package of ``name``."""
    monkeypatch.setattr(
        kv_core.opener, "_entry_points", lambda: {"demo": _entry("demo", "open_memory_url")}
    )
    with pytest.raises(UnknownStoreError, match="demo"):
        open_store("demo+driver://")
