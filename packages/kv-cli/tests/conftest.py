"""Fixtures for driving the real ``kv`` console script in subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from kv_core.conformance.services import port_open, service_missing, unique_name

KV = Path(sys.executable).with_name("kv")
REDIS_URL = os.environ.get("KV_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

Run = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture
def run_kv(tmp_path: Path) -> Run:
    """Run ``kv ARGS`` in a temp folder with no KV_URL; returns the completed process."""

    def run(
        *args: str, stdin: bytes = b"", env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[bytes]:
        environ = {k: v for k, v in os.environ.items() if k not in ("KV_URL", "KV_TOKEN")}
        environ.update(env or {})
        return subprocess.run(
            [str(KV), *args],
            input=stdin,
            capture_output=True,
            cwd=tmp_path,
            env=environ,
            timeout=timeout,
            check=False,
        )

    return run


@pytest.fixture
def file_url(tmp_path: Path) -> str:
    """A file:// store in this test's temp folder."""
    return f"file://{tmp_path}/store?durable=0"


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A redis:// URL with a key prefix of this test's own; its keys are removed afterwards."""
    if not port_open(REDIS_URL):
        service_missing("Redis", "KV_TEST_REDIS_URL", f"nothing answers at {REDIS_URL}")
    prefix = unique_name("kvcli") + ":"
    yield f"{REDIS_URL}?prefix={prefix}"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.unlink(*keys[start : start + 500])
    finally:
        client.close()
