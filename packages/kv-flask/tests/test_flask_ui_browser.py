"""The key browser page in a real headless Chromium (Debian's chromium and chromium-driver,
driven by selenium): listing, viewing, editing with a conflict, creating, deleting, history
and snapshots, hostile keys and values, and the keyboard.

Without the browser these tests skip, saying what to install; in CI (``CI=true``) they fail.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kv_core import MemoryDict
from kv_flask import ServerThread

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TOKEN = "browser-token"
WAIT = 10


def _browser_or_skip(paths: tuple[str, ...] = (CHROMIUM, CHROMEDRIVER)) -> None:
    """Skip (fail, in CI) unless the browser, its driver and selenium are installed."""
    missing = [path for path in paths if not os.path.exists(path)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install 'kv-flask[test]')")
    if missing:
        msg = (
            f"the browser tests need {', '.join(missing)}: apt-get install chromium chromium-driver"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)


def test_a_missing_browser_fails_in_ci_and_skips_elsewhere(monkeypatch, tmp_path):
    """Without chromium the tests skip saying what to install; with CI=true they fail."""
    absent = str(tmp_path / "chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium chromium-driver"):
        _browser_or_skip((absent,))
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium chromium-driver"):
        _browser_or_skip((absent,))


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must never download a browser
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # the tests run as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture(scope="module")
def memory_store() -> MemoryDict:
    return MemoryDict()


@pytest.fixture(scope="module")
def memory_server(memory_store: MemoryDict) -> Iterator[ServerThread]:
    with ServerThread(memory_store, threads=4, ui=True, token=TOKEN, list_limit=10) as running:
        yield running


@pytest.fixture
def kv(memory_store: MemoryDict) -> MemoryDict:
    """The module's MemoryDict, emptied: the tests of one module run one after another."""
    memory_store.clear()
    return memory_store


@pytest.fixture(scope="module")
def sql_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    kv_sql = pytest.importorskip("kv_sql")
    path = tmp_path_factory.mktemp("ui") / "kv.db"
    with kv_sql.GenericSqlDict(f"sqlite:///{path}", "kv") as store:
        yield store


@pytest.fixture(scope="module")
def sql_server(sql_store: Any) -> Iterator[ServerThread]:
    with ServerThread(sql_store, threads=4, ui=True) as running:
        yield running


# -- helpers -----------------------------------------------------------------------------------


def _wait(driver: Any, condition: Callable[[Any], Any]) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT).until(condition)


def _el(driver: Any, element_id: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


def _open(driver: Any, server: ServerThread, *, token: str | None = TOKEN) -> None:
    """Load the page with *token* already in the tab's sessionStorage; wait until it is ready."""
    page = f"{server.url}/_kv/ui/"
    driver.get(page)
    if token is None:
        driver.execute_script("sessionStorage.clear()")
    else:
        driver.execute_script("sessionStorage.setItem('kv-ui-token', arguments[0])", token)
    driver.get(page)
    _wait(driver, lambda d: d.execute_script("return document.body.dataset.ready === '1'"))


def _buttons(driver: Any) -> list[Any]:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, "#key-list button")


def _shown(driver: Any) -> list[str]:
    return [button.text for button in _buttons(driver)]


def _entry(driver: Any, *, key: str | None = None, folder: str | None = None) -> Any:
    """The listing's button for *key* (or *folder*), once it is there."""

    def find(d: Any) -> Any:
        for button in _buttons(d):
            if key is not None and button.get_attribute("data-key") == key:
                return button
            if folder is not None and button.get_attribute("data-folder") == folder:
                return button
        return False

    return _wait(driver, find)


def _view(driver: Any, key: str) -> None:
    """Open *key* from the listing and wait for the viewer to show it."""
    _entry(driver, key=key).click()
    _wait(driver, lambda d: _el(d, "viewer-title").text.startswith(key))


def _message(driver: Any, words: str) -> str:
    return str(_wait(driver, lambda d: words in _el(d, "message").text and _el(d, "message").text))


def _png() -> bytes:
    """A valid 2x2 red PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# -- memory store: listing and viewing ---------------------------------------------------------


def test_asks_for_the_token_and_keeps_it_for_the_tab(driver, memory_server, kv):
    """Without a token the page asks for one; once given, it lists the keys."""
    kv["hello"] = b"world"
    _open(driver, memory_server, token=None)
    _wait(driver, lambda d: _el(d, "token-form").is_displayed())
    assert "token" in _el(driver, "message").text
    _el(driver, "token-input").send_keys(TOKEN)
    _el(driver, "token-submit").click()
    _entry(driver, key="hello")
    stored = driver.execute_script("return sessionStorage.getItem('kv-ui-token')")
    assert stored == TOKEN


def test_lists_folders_and_pages_through_the_cursor(driver, memory_server, kv):
    """Keys with '/' show as folders; more keys than a page come with 'More keys'."""
    for name in ("a/1", "a/2", "a/3", "b/x/y"):
        kv[name] = b"v"
    for number in range(25):
        kv[f"top{number:02d}"] = b"v"
    _open(driver, memory_server)
    _entry(driver, key="top05")
    assert _shown(driver)[:2] == ["a/", "b/"]
    assert len(_shown(driver)) == 8  # a page of 10 keys: 4 in folders, 6 top-level
    assert _el(driver, "count").text == "29 keys in the store"
    more = _el(driver, "more")
    while more.is_displayed():
        before = len(_buttons(driver))
        more.click()
        _wait(driver, lambda d, n=before: len(_buttons(d)) > n or not more.is_displayed())
    assert _shown(driver) == ["a/", "b/", *(f"top{n:02d}" for n in range(25))]
    _entry(driver, folder="a/").click()
    _wait(driver, lambda d: _shown(d) == ["1", "2", "3"])
    _entry(driver, key="a/2")
    from selenium.webdriver.common.by import By

    crumbs = driver.find_elements(By.CSS_SELECTOR, "#crumbs button")
    assert [crumb.text for crumb in crumbs] == ["All keys", "a"]
    crumbs[0].click()
    _wait(driver, lambda d: _shown(d)[:2] == ["a/", "b/"])


def test_search_by_prefix(driver, memory_server, kv):
    """The prefix box lists only the keys that start with it."""
    for name in ("apple", "apricot", "banana", "ap/x"):
        kv[name] = b"v"
    _open(driver, memory_server)
    _entry(driver, key="banana")
    from selenium.webdriver.common.keys import Keys

    _el(driver, "prefix-input").send_keys("apr", Keys.ENTER)
    _wait(driver, lambda d: _shown(d) == ["icot"] or _shown(d) == ["apricot"])
    assert _entry(driver, key="apricot")
    assert "matching" in _el(driver, "crumbs").text


def test_shows_text_hex_and_images_with_size_and_etag(driver, memory_server, kv):
    """UTF-8 values as text, other bytes as a hex dump, image bytes as a preview."""
    kv["doc/text"] = "grüße\nline two".encode()
    kv["doc/binary"] = b"\x00\xff\x10kv\x80"
    kv["doc/red.png"] = _png()
    _, version = kv.get_with_version("doc/text")
    _open(driver, memory_server)
    _entry(driver, folder="doc/").click()
    _view(driver, "doc/text")
    assert _el(driver, "value-text").text == "grüße\nline two"
    assert _el(driver, "meta-size").text == "16 bytes"
    assert _el(driver, "meta-etag").text == f'"{version}"'
    assert not _el(driver, "value-hex").is_displayed()

    _view(driver, "doc/binary")
    hex_dump = _el(driver, "value-hex").text
    assert hex_dump.startswith("00000000  00 ff 10 6b 76 80")
    assert hex_dump.endswith("..kv.")
    assert not _el(driver, "value-text").is_displayed()
    assert _el(driver, "meta-kind").text == "hex dump (binary)"

    _view(driver, "doc/red.png")
    image = _el(driver, "value-image")
    assert image.is_displayed()
    assert image.get_attribute("src").startswith("blob:")
    _wait(driver, lambda d: d.execute_script("return arguments[0].naturalWidth", image) == 2)
    assert _el(driver, "meta-kind").text == "image (image/png)"


def test_the_page_keeps_to_its_content_security_policy(driver, memory_server, kv):
    """Listing, a text value and an image preview raise no CSP violation or script error."""
    kv["pic.png"] = _png()
    kv["text"] = b"t"
    _open(driver, memory_server)
    driver.get_log("browser")  # what earlier tests left
    _open(driver, memory_server)
    _view(driver, "pic.png")
    _wait(
        driver,
        lambda d: d.execute_script("return arguments[0].naturalWidth", _el(d, "value-image")),
    )
    _view(driver, "text")
    problems = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert problems == []


def test_the_page_under_a_url_prefix(driver):
    """Mounted under a prefix, the page finds the API under the same prefix."""
    store = MemoryDict()
    store["under/prefix"] = b"found"
    with ServerThread(store, threads=2, ui=True, url_prefix="/kv/api") as server:
        _open(driver, server, token=None)
        _entry(driver, folder="under/").click()
        _view(driver, "under/prefix")
        assert _el(driver, "value-text").text == "found"


def test_download_saves_the_value(driver, memory_server, kv, tmp_path):
    """'Download' saves the value's exact bytes, named after the key's last segment."""
    value = bytes(range(256))
    kv["files/all.bin"] = value
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)}
    )
    _open(driver, memory_server)
    _entry(driver, folder="files/").click()
    _view(driver, "files/all.bin")
    link = _el(driver, "download")
    assert link.get_attribute("download") == "all.bin"
    link.click()
    saved = tmp_path / "all.bin"
    _wait(driver, lambda d: saved.exists() and saved.read_bytes() == value)


# -- memory store: writes ------------------------------------------------------------------------


def _edit(driver: Any, text: str) -> None:
    _el(driver, "edit").click()
    box = _el(driver, "edit-value")
    _wait(driver, lambda d: box.is_displayed())
    box.clear()
    box.send_keys(text)
    _el(driver, "save").click()


def test_edit_saves_the_value(driver, memory_server, kv):
    """Edit, then Save, writes the new text (with If-Match) and shows it."""
    kv["note"] = b"first"
    _open(driver, memory_server)
    _view(driver, "note")
    _edit(driver, "second")
    _message(driver, "Saved")
    assert kv["note"] == b"second"
    assert _el(driver, "value-text").text == "second"


def test_edit_with_a_conflict_does_not_overwrite(driver, memory_server, kv):
    """A value changed behind the page's back is not overwritten: the page says why."""
    kv["shared"] = b"mine"
    _open(driver, memory_server)
    _view(driver, "shared")
    kv["shared"] = b"theirs"
    _edit(driver, "overwrite attempt")
    text = _message(driver, "Conflict")
    assert "not saved" in text
    assert "error" in _el(driver, "message").get_attribute("class")
    assert kv["shared"] == b"theirs"
    assert _el(driver, "edit-value").get_attribute("value") == "overwrite attempt"
    _el(driver, "reload").click()
    _wait(driver, lambda d: _el(d, "value-text").text == "theirs")


def test_create_a_key_and_never_overwrite_one(driver, memory_server, kv):
    """'New key' creates with If-None-Match: *; an existing key is left as it is."""
    kv["taken"] = b"old"
    _open(driver, memory_server)
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, "#create summary").click()
    _el(driver, "create-key").send_keys("fresh/key")
    _el(driver, "create-value").send_keys("new value")
    _el(driver, "create-button").click()
    _message(driver, "Created")
    assert kv["fresh/key"] == b"new value"
    _wait(driver, lambda d: _el(d, "viewer-title").text == "fresh/key")
    _el(driver, "create-key").send_keys("taken")
    _el(driver, "create-value").send_keys("clobber")
    _el(driver, "create-button").click()
    _message(driver, "already exists")
    assert kv["taken"] == b"old"


def test_delete_asks_to_confirm_and_checks_the_version(driver, memory_server, kv):
    """Delete needs a second click; a value changed meanwhile is not deleted."""
    kv["bye"] = b"v"
    kv["keep"] = b"v"
    _open(driver, memory_server)
    _view(driver, "bye")
    _el(driver, "delete").click()
    assert "bye" in kv
    _el(driver, "delete-confirm").click()
    _message(driver, "Deleted")
    assert "bye" not in kv
    _wait(driver, lambda d: _shown(d) == ["keep"])
    _view(driver, "keep")
    kv["keep"] = b"changed"
    _el(driver, "delete").click()
    _el(driver, "delete-confirm").click()
    _message(driver, "Conflict")
    assert kv["keep"] == b"changed"


def test_hostile_keys_and_values_are_shown_as_text(driver, memory_server, kv):
    """Markup in a key or a value is shown literally and never runs."""
    key = '<img src=x onerror="window.kvPwned=1">'
    value = "<script>window.kvPwned=2</script><img src=x onerror=window.kvPwned=3>"
    kv[key] = value
    kv["<b>bold"] = b"<i>not italic</i>"
    kv["<u>folder</u>x"] = b"v"
    _open(driver, memory_server)
    assert _entry(driver, key=key).text == key
    _view(driver, key)
    assert _el(driver, "viewer-title").text == key
    assert _el(driver, "value-text").text == value
    assert _entry(driver, folder="<u>folder</").text == "<u>folder</"
    _view(driver, "<b>bold")
    assert _el(driver, "value-text").text == "<i>not italic</i>"
    from selenium.webdriver.common.by import By

    assert driver.find_elements(By.CSS_SELECTOR, "img[src='x'], script:not([src]), b, i, u") == []
    assert driver.execute_script("return window.kvPwned") is None


def test_usable_by_keyboard(driver, memory_server, kv):
    """Search, open a key, edit and save it without the mouse."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    kv["kb/one"] = b"typed"
    kv["other"] = b"x"
    _open(driver, memory_server)
    _entry(driver, key="other")
    _el(driver, "prefix-input").send_keys("kb/", Keys.ENTER)
    _entry(driver, key="kb/one")
    active = driver.switch_to.active_element

    def tab_to(check: Callable[[Any], bool]) -> Any:
        for _ in range(20):
            ActionChains(driver).send_keys(Keys.TAB).perform()
            element = driver.switch_to.active_element
            if check(element):
                return element
        pytest.fail("Tab never reached the element")

    assert active.get_attribute("id") == "prefix-input"
    tab_to(lambda e: e.get_attribute("data-key") == "kb/one")
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    _wait(driver, lambda d: _el(d, "viewer-title").text == "kb/one")
    assert driver.switch_to.active_element.get_attribute("id") == "viewer-title"
    tab_to(lambda e: e.get_attribute("id") == "edit")
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    _wait(driver, lambda d: d.switch_to.active_element.get_attribute("id") == "edit-value")
    ActionChains(driver).send_keys(" by keyboard").perform()
    tab_to(lambda e: e.get_attribute("id") == "save")
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    _message(driver, "Saved")
    assert kv["kb/one"] == b"typed by keyboard"


# -- a store with history (kv-sql on SQLite) ---------------------------------------------------


def _now_after_a_moment() -> str:
    time.sleep(0.02)
    moment = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    time.sleep(0.02)
    return moment


def test_history_lists_versions_and_shows_an_old_one(driver, sql_server, sql_store):
    """A key's versions are listed with their times, newest first; each can be viewed."""
    sql_store["hist/k"] = b"version one"
    sql_store["hist/k"] = b"version two"
    sql_store["hist/k"] = b"version three"
    first = sql_store.history("hist/k")[0]
    _open(driver, sql_server, token=None)
    _entry(driver, folder="hist/").click()
    _view(driver, "hist/k")
    assert _el(driver, "value-text").text == "version three"
    assert not _el(driver, "token-form").is_displayed()  # a server without a token
    assert not _el(driver, "edit-form").is_displayed()
    from selenium.webdriver.common.by import By

    rows = _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#history-list li"))
    assert len(rows) == 3
    oldest = rows[-1]
    assert oldest.get_attribute("data-sequence") == str(first.sequence_number)
    assert first.created.isoformat()[:19] in oldest.text
    assert "11 bytes" in oldest.text
    oldest.find_element(By.CSS_SELECTOR, "button.view-version").click()
    _wait(driver, lambda d: _el(d, "value-text").text == "version one")
    assert f"version #{first.sequence_number}" in _el(driver, "viewer-title").text
    assert not _el(driver, "edit").is_displayed()


def test_snapshot_shows_the_store_as_it_was(driver, sql_server, sql_store):
    """'Store as of' lists and shows the keys as they were then, read only; 'Present' returns."""
    from selenium.webdriver.common.keys import Keys

    for key in list(sql_store):
        del sql_store[key]
    sql_store["snap/a"] = b"then"
    sql_store["snap/gone"] = b"was here"
    moment = _now_after_a_moment()
    sql_store["snap/a"] = b"now"
    del sql_store["snap/gone"]
    sql_store["snap/new"] = b"later"
    _open(driver, sql_server, token=None)
    _entry(driver, folder="snap/").click()
    _wait(driver, lambda d: _shown(d) == ["a", "new"])
    _el(driver, "as-of-input").send_keys(moment, Keys.ENTER)
    _wait(driver, lambda d: _el(d, "snapshot-banner").is_displayed())
    assert moment in _el(driver, "snapshot-banner").text
    _wait(driver, lambda d: _shown(d) == ["a", "gone"])
    assert _el(driver, "count").text == f"2 keys in the store as of {moment}"
    assert not _el(driver, "create").is_displayed()
    _view(driver, "snap/a")
    assert _el(driver, "value-text").text == "then"
    assert not _el(driver, "edit").is_enabled()
    _el(driver, "as-of-clear").click()
    _wait(driver, lambda d: _shown(d) == ["a", "new"])
    assert not _el(driver, "snapshot-banner").is_displayed()


def test_the_time_picker_fills_in_a_utc_time(driver, sql_server, sql_store):
    """A local time picked in the date-time picker becomes the UTC time shown; long ago, the
    snapshot is empty."""
    sql_store["picked"] = b"v"
    _open(driver, sql_server, token=None)
    _entry(driver, key="picked")
    picker = _el(driver, "as-of-picker")
    assert picker.get_attribute("type") == "datetime-local"
    driver.execute_script(
        "arguments[0].value = '2001-02-03T04:05:06';"
        "arguments[0].dispatchEvent(new Event('change'));",
        picker,
    )
    offset = driver.execute_script("return new Date(2001, 1, 3, 4, 5, 6).getTimezoneOffset()")
    local = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC) + timedelta(minutes=offset)
    expected = local.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert _el(driver, "as-of-input").get_attribute("value") == expected
    _el(driver, "as-of-show").click()
    _wait(driver, lambda d: _el(d, "count").text == f"0 keys in the store as of {expected}")
    assert _el(driver, "key-list").text == "No keys here."
    _el(driver, "as-of-clear").click()
    _entry(driver, key="picked")
