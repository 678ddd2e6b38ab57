"""Take the screenshot of kv-flask's key browser page shown in its README.

Usage: ``python tools/ui_screenshot.py [--out packages/kv-flask/docs/ui.png]``.

Serves a kv-sql store (SQLite, in a temporary folder) holding sample keys, some with several
versions, with the page on (``ui=True``), opens the page in Debian's headless Chromium
(``apt-get install chromium chromium-driver``; selenium from kv-flask's ``test`` extra),
opens one key with its versions, and saves a PNG.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from kv_flask import ServerThread
from kv_sql import GenericSqlDict

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "packages" / "kv-flask" / "docs" / "ui.png"
SAMPLE = {
    "config/app.json": b'{"theme": "dark", "retries": 3}',
    "config/feature-flags": b"search=on\nexport=off\n",
    "sessions/2f9c1a": b"\x80\x04\x95\x1a\x00\x00\x00\x00\x00\x00\x00}\x94",
    "sessions/7be210": b"\x80\x04\x95\x0b\x00\x00\x00\x00\x00\x00\x00",
    "users/alice": b'{"name": "Alice", "role": "admin"}',
    "users/bob": b'{"name": "Bob", "role": "viewer"}',
    "README": b"Keys with '/' show as folders.",
}
KEY = "config/app.json"
VERSIONS = (
    b'{"theme": "light"}',
    b'{"theme": "light", "retries": 5}',
    b'{"theme": "dark", "retries": 3}',
)


def take(out: Path) -> None:
    """Serve the sample store, open the page in headless Chromium and save a PNG at *out*."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must never download a browser
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--window-size=1200,900", "--disable-gpu"):
        options.add_argument(argument)
    with (
        tempfile.TemporaryDirectory() as folder,
        GenericSqlDict(f"sqlite:///{folder}/kv.db", "kv") as store,
    ):
        for value in VERSIONS:
            store[KEY] = value
            time.sleep(0.01)
        for key, value in SAMPLE.items():
            if key != KEY:
                store[key] = value
        with ServerThread(store, ui=True) as server:
            driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
            try:
                driver.get(f"{server.url}/_kv/ui/")
                wait = WebDriverWait(driver, 10)
                wait.until(lambda d: d.execute_script("return document.body.dataset.ready"))
                wait.until(
                    lambda d: d.find_element(By.CSS_SELECTOR, '[data-folder="config/"]')
                ).click()
                wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f'[data-key="{KEY}"]')).click()
                wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#history-list li"))
                driver.execute_script("document.activeElement.blur()")
                out.parent.mkdir(parents=True, exist_ok=True)
                driver.save_screenshot(str(out))
            finally:
                driver.quit()


def main() -> None:
    """Parse the command line and take the screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to save the PNG")
    args = parser.parse_args()
    take(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
