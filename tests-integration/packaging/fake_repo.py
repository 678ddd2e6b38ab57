"""A throwaway monorepo shaped like this one, for testing the tools in ``tools/`` on it.

It holds two tiny hatchling packages, ``kv-core`` (a ``greet`` function) and the backend
``kv-demo`` (``shout``, which calls ``greet``), each with a version in ``__about__.py``, a
CHANGELOG in Keep a Changelog form, and a test; and a copy of this repository's release,
changelog-check and compatibility tools. Nothing here ever touches the real repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["TOOLS", "FakeRepo"]

REPO = Path(__file__).resolve().parents[2]
TOOLS = ("release.py", "check_changelogs.py", "compat.py")

# Commits need an author; CI machines and fresh containers often have none configured.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "kv tests",
    "GIT_AUTHOR_EMAIL": "kv-tests@example.invalid",
    "GIT_COMMITTER_NAME": "kv tests",
    "GIT_COMMITTER_EMAIL": "kv-tests@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}

PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.26"]
build-backend = "hatchling.build"

[project]
name = "{name}"
dynamic = ["version"]
description = "{name}, for testing the release tools"
readme = "README.md"
license = "MIT"
requires-python = ">=3.11"
dependencies = [{dependencies}]
{extra}
[tool.hatch.version]
path = "src/{module}/__about__.py"

[tool.hatch.build.targets.wheel]
packages = ["src/{module}"]
"""

CHANGELOG = """\
# Changelog

All notable changes to {name} are recorded here.

## [Unreleased]

## [0.1.0] - 2026-01-01

### Added
- Add {name}.
"""

ROOT_CHANGELOG = """\
# Changelog

This file records what changes across the repository.

## [Unreleased]

### Added
- Create the repository.
"""

ROOT_PYPROJECT = """\
[tool.pytest.ini_options]
addopts = ["--import-mode=importlib", "--strict-markers"]
filterwarnings = ["error"]
markers = ["kv_slow: large values", "kv_processes: spawns processes"]
"""


class FakeRepo:
    """A git repository at *path* with ``packages/kv-core`` and ``packages/kv-demo``.

    :param path: An empty folder to make the repository in.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.write("pyproject.toml", ROOT_PYPROJECT)
        self.write("CHANGELOG.md", ROOT_CHANGELOG)
        self.write(".gitignore", "__pycache__/\n")
        (path / "tools").mkdir()
        for tool in TOOLS:
            shutil.copy(REPO / "tools" / tool, path / "tools" / tool)
        self.add_package(
            "kv-core",
            code='def greet(name: str) -> str:\n    return f"hello {name}"\n',
            extra='\n[project.optional-dependencies]\nconformance = ["pytest>=8"]\n',
            test="from kv_core import greet\n\n\ndef test_greet():\n"
            '    assert greet("x") == "hello x"\n',
        )
        self.add_package(
            "kv-demo",
            code="from kv_core import greet\n\n\ndef shout(name: str) -> str:\n"
            "    return greet(name).upper()\n",
            dependencies='"kv-core>=0.1,<1"',
            extra='\n[project.entry-points."kv.stores"]\ndemo = "kv_demo:shout"\n',
            test="from kv_demo import shout\n\n\ndef test_shout():\n"
            '    assert shout("x") == "HELLO X"\n',
        )
        self.commit("Start the fake repository")

    def add_package(
        self, name: str, *, code: str, test: str, dependencies: str = "", extra: str = ""
    ) -> None:
        """Write package *name* at version 0.1.0 with *code* in its ``__init__.py``."""
        module = name.replace("-", "_")
        base = f"packages/{name}"
        self.write(
            f"{base}/pyproject.toml",
            PYPROJECT.format(name=name, module=module, dependencies=dependencies, extra=extra),
        )
        self.write(f"{base}/README.md", f"# {name}\n\nA package for testing the tools.\n")
        self.write(f"{base}/CHANGELOG.md", CHANGELOG.format(name=name))
        self.write(f"{base}/src/{module}/__about__.py", '__version__ = "0.1.0"\n')
        self.write(f"{base}/src/{module}/__init__.py", code)
        self.write(f"{base}/src/{module}/py.typed", "")
        self.write(f"{base}/tests/test_{module}_conformance.py", test)

    def write(self, relative: str, text: str) -> Path:
        """Write *text* to the file at *relative*, making folders as needed."""
        path = self.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def read(self, relative: str) -> str:
        """The text of the file at *relative*."""
        return (self.path / relative).read_text(encoding="utf-8")

    def add_entry(self, name: str, line: str = "- Change something.") -> None:
        """Put *line* under ``### Changed`` in the Unreleased section of *name*'s CHANGELOG."""
        relative = f"packages/{name}/CHANGELOG.md"
        text = self.read(relative).replace(
            "## [Unreleased]\n", f"## [Unreleased]\n\n### Changed\n{line}\n", 1
        )
        self.write(relative, text)

    def git(self, *args: str) -> str:
        """Run git in the repository; its stdout."""
        done = subprocess.run(
            ["git", *args],
            cwd=self.path,
            env={**os.environ, **GIT_ENV},
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def commit(self, message: str) -> str:
        """Commit everything in the fake repository (it is nobody else's); the commit."""
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def tool(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``tools/<name>`` of the fake repository with *args*, as a user would."""
        return run_tool(self.path, name, args)


def run_tool(root: Path, name: str, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run ``root/tools/<name>`` with this interpreter; it never raises on failure."""
    return subprocess.run(
        [sys.executable, str(root / "tools" / name), *args],
        cwd=root,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=False,
    )
