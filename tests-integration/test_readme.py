"""What the root README says about the repository is true: demo, ports, ignores, metadata."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
KV = Path(sys.executable).with_name("kv")
PACKAGES = sorted(p.parent.name for p in (ROOT / "packages").glob("*/pyproject.toml"))


def readme_block(marker: str) -> list[str]:
    """The lines of the shell block after ``<!-- marker -->``, as ``.ci/run`` reads it."""
    lines = README.splitlines()
    start = lines.index(f"<!-- {marker} -->")
    fence = start + 1
    assert lines[fence].startswith("```")
    end = next(i for i in range(fence + 1, len(lines)) if lines[i].startswith("```"))
    return lines[fence + 1 : end]


def run_demo(tmp_path: Path, port: int) -> subprocess.CompletedProcess[str]:
    """The demo as .ci/run runs it, minus its first line (the install), on *port*.

    ``.venv/bin/kv`` is this test run's own kv command.
    """
    install, *rest = readme_block("demo-command")
    assert install.startswith("python3 -m venv .venv && .venv/bin/pip install")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "bin").symlink_to(KV.parent)
    env = {k: v for k, v in os.environ.items() if k not in ("KV_URL", "KV_TOKEN")}
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(rest)],
        cwd=tmp_path,
        env={**env, "PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def needs_curl() -> None:
    if shutil.which("curl") is None:
        pytest.skip("the demo uses curl, which is not installed here")


@pytest.mark.usefixtures("needs_curl")
def test_demo_on_another_port(tmp_path: Path) -> None:
    """PORT moves the demo to another port, and it prints the value back twice."""
    done = run_demo(tmp_path, free_port())
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["hello, kv", "hello, kv"]


@pytest.mark.usefixtures("needs_curl")
def test_demo_fails_loudly_when_the_port_is_taken(tmp_path: Path) -> None:
    """A port held by something that never answers: the demo fails at once, saying why."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = run_demo(tmp_path, port)
    assert done.returncode != 0
    assert "already in use" in done.stderr
    assert f"is port {port} taken" in done.stderr
    assert "hello, kv" not in done.stdout


def test_readme_says_how_long_the_tests_take() -> None:
    """The README gives the time of its test command on two cores."""
    after = README.split("<!-- test-command -->", 1)[1]
    assert "on two cores" in after.split("## ", 1)[0].lower()


def test_gitignore_covers_the_demo_database_and_its_sidecars(tmp_path: Path) -> None:
    """kv.sqlite3 and its -wal, -shm and -journal files are never committed."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    names = ["kv.sqlite3", "kv.sqlite3-wal", "kv.sqlite3-shm", "kv.sqlite3-journal"]
    done = subprocess.run(
        [git, "check-ignore", "--no-index", *names], cwd=ROOT, capture_output=True, text=True
    )
    assert done.stdout.split() == names


@pytest.mark.parametrize("package", PACKAGES)
def test_every_pyproject_has_urls(package: str) -> None:
    """Each distribution links its home, source folder, changelog and issues, all in one repo."""
    with (ROOT / "packages" / package / "pyproject.toml").open("rb") as file:
        urls = tomllib.load(file)["project"]["urls"]
    assert set(urls) == {"Homepage", "Documentation", "Source", "Changelog", "Issues"}
    home = urls["Homepage"]
    assert home.startswith("https://")
    assert urls["Source"] == f"{home}/tree/main/packages/{package}"
    assert urls["Changelog"] == f"{home}/blob/main/packages/{package}/CHANGELOG.md"
    assert urls["Documentation"].startswith(urls["Source"])
    assert urls["Issues"] == f"{home}/issues"


def test_build_tool_says_what_it_needs(tmp_path: Path) -> None:
    """tools/build.py without PyPA build (no site-packages) exits 2 naming what to install."""
    done = subprocess.run(
        [sys.executable, "-S", str(ROOT / "tools" / "build.py"), "--outdir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "pip install build" in done.stderr
    assert list(tmp_path.iterdir()) == []
