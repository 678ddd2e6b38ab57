"""Opening FlaskKvDict from http:// and https:// URLs through kv_core.open_store."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kv_core import InvalidStoreURL, open_store, registered_schemes
from kv_flask import FlaskKvDict, ServerThread


def test_schemes_are_registered():
    """http and https are in the kv.stores entry points."""
    assert {"http", "https"} <= set(registered_schemes())


def test_open_with_token_env_and_timeout(store, monkeypatch):
    """token_env names the variable holding the token; timeout is read as seconds."""
    monkeypatch.setenv("KV_TEST_TOKEN", "env-token")
    with ServerThread(store, threads=2, token="env-token", url_prefix="/kv") as server:
        url = f"{server.url}?token_env=KV_TEST_TOKEN&timeout=5"
        with open_store(url) as kv:
            assert isinstance(kv, FlaskKvDict)
            assert kv.base_url == server.url
            kv["k"] = b"v"
            assert kv["k"] == b"v"
        assert store["k"] == b"v"


def test_connect_read_timeout_pair(server):
    """timeout=connect,read gives a pair."""
    with open_store(f"{server.url}?timeout=1.5,7") as kv:
        assert kv._timeout == (1.5, 7.0)


def test_keyword_overrides_win(server):
    """Keyword arguments override URL options."""
    with open_store(f"{server.url}?timeout=3", timeout=9.0) as kv:
        assert kv._timeout == 9.0


@pytest.mark.parametrize(
    "query",
    ["?token=abc", "?bogus=1", "?timeout=soon", "?token_env=KV_SURELY_UNSET_VARIABLE"],
)
def test_bad_options_are_refused(query):
    """A token in the URL, unknown options, bad timeouts and unset variables are refused."""
    with pytest.raises(InvalidStoreURL):
        open_store(f"http://127.0.0.1:9/{query}")


def test_credentials_in_url_are_refused_without_showing_them():
    """user:password@ in the URL is refused and the password is not echoed."""
    with pytest.raises(InvalidStoreURL) as info:
        open_store("http://user:hunter2@127.0.0.1:9/")
    assert "hunter2" not in str(info.value)


CLIENT_ONLY = """
import sys
from kv_core import open_store
from kv_flask import FlaskKvDict
with open_store(sys.argv[1]) as kv:
    kv["k"] = b"v"
    assert kv["k"] == b"v"
with FlaskKvDict(sys.argv[1]) as kv:
    assert kv.capabilities.max_key_length > 0
print(sorted(name for name in ("flask", "waitress", "werkzeug") if name in sys.modules))
"""


def test_opening_an_http_url_imports_no_server(server):
    """Opening and using an http:// store imports neither Flask, Werkzeug nor waitress."""
    done = subprocess.run(
        [sys.executable, "-c", CLIENT_ONLY, f"{server.url}/"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert server.app.extensions["kv"]["kv"].store["k"] == b"v"
