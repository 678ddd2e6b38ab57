"""Markers of the cross-package tests; every one of them runs in the normal (and CI) run."""

from __future__ import annotations

import pytest

MARKERS = {
    "packaging": "builds the wheels and installs them into fresh virtual environments",
    "compat": "runs backends against other kv-core versions, from the release record",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
