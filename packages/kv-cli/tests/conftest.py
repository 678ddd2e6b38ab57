"""Fixtures for driving the real ``kv`` console script in subprocesses."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from kv_dev.services import REDIS, unique_name

KV = Path(sys.executable).with_name("kv")
REDIS_URL = REDIS.url

Run = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture
def run_kv(tmp_path: Path) -> Run:
    """Run ``kv ARGS`` in a temp folder with no KV_URL; returns the completed process."""

    def run(
        *args: str, stdin: bytes = b"", env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [str(KV), *args],
            input=stdin,
            capture_output=True,
            cwd=tmp_path,
            env=_clean_env(env),
            timeout=timeout,
            check=False,
        )

    return run


def _clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("KV_URL", "KV_TOKEN")}
    environ.update(extra or {})
    return environ


@dataclass
class TerminalRun:
    """A finished ``kv`` run whose standard input and output were a terminal.

    :param returncode: The exit code (negative: killed by that signal).
    :param terminal: Every byte the process wrote to the terminal.
    :param stderr: Its standard error, when that was a pipe (else on the terminal).
    """

    returncode: int
    terminal: bytes
    stderr: bytes


def _take_terminal() -> None:
    # In the child, a session leader of its own: make the pty its controlling terminal, so
    # that ^C typed on it is a SIGINT to the command, as in a shell.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_on_terminal(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    stderr_on_terminal: bool = False,
    interrupt_when: bytes | None = None,
    timeout: float = 60,
) -> TerminalRun:
    """Run ``kv ARGS`` with a pty as its terminal (stdin and stdout, stderr if asked).

    With *interrupt_when*, type Ctrl-C on the terminal once that text has appeared there.
    """
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [str(KV), *args],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal if stderr_on_terminal else subprocess.PIPE,
        cwd=cwd,
        env=_clean_env(env),
        start_new_session=True,
        preexec_fn=_take_terminal,  # an ioctl only: safe in a child of a threaded process
    )
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # EIO: every process holding the terminal has closed it
                    break
                if not chunk:
                    break
                seen += chunk
                if interrupt_when is not None and interrupt_when in seen:
                    os.write(controller, b"\x03")
                    interrupt_when = None
            elif process.poll() is not None:
                break
        else:
            process.kill()
            pytest.fail(f"kv {' '.join(args)} did not finish in {timeout} s: {seen[-2000:]!r}")
        stderr = process.stderr.read() if process.stderr is not None else b""
        returncode = process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
        os.close(controller)
    return TerminalRun(returncode, seen, stderr)


@pytest.fixture
def file_url(tmp_path: Path) -> str:
    """A file:// store in this test's temp folder."""
    return f"file://{tmp_path}/store?durable=0"


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A redis:// URL with a key prefix of this test's own; its keys are removed afterwards."""
    REDIS.require()
    prefix = unique_name("kvcli") + ":"
    yield f"{REDIS_URL}?prefix={prefix}"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.unlink(*keys[start : start + 500])
    finally:
        client.close()
