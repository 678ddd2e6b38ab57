"""The repository's own test support and tools: one list of them, and nothing of it released."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "dev" / "kv-dev"
sys.path.insert(0, str(ROOT / "tools"))

from release import package_names  # noqa: E402


def _toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as file:
        return tomllib.load(file)


def _kv_dev() -> dict[str, Any]:
    project: dict[str, Any] = _toml(DEV / "pyproject.toml")["project"]
    return project


def _requirement_lines() -> list[str]:
    text = (ROOT / "requirements-dev.txt").read_text(encoding="utf-8")
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def test_requirements_dev_names_only_editable_paths() -> None:
    """requirements-dev.txt installs the packages and kv-dev, and lists no tool of its own."""
    lines = _requirement_lines()
    assert all(line.startswith("-e ") for line in lines), lines
    for line in lines:
        target = line.removeprefix("-e ").split("[")[0]
        assert (ROOT / target / "pyproject.toml").is_file(), line
    dev = [line for line in lines if line.startswith("-e dev/kv-dev")]
    assert dev == ["-e dev/kv-dev[test,lint,types]"]


def test_hatch_envs_take_their_tools_from_kv_dev() -> None:
    """No hatch environment lists a dependency of its own; the features it asks kv-dev for
    exist, so both installers read the one list in dev/kv-dev/pyproject.toml."""
    envs = _toml(ROOT / "hatch.toml")["envs"]
    extras = set(_kv_dev()["optional-dependencies"])
    for name, env in envs.items():
        assert "dependencies" not in env, name
        assert "extra-dependencies" not in env, name
        for member in env.get("workspace", {}).get("members", []):
            if isinstance(member, dict) and member["path"] == "dev/kv-dev":
                assert set(member.get("features", [])) <= extras, name
    default = envs["default"]["workspace"]["members"]
    assert {"path": "dev/kv-dev", "features": ["test"]} in default


def test_dev_tools_are_listed_once() -> None:
    """Each tool is in one kv-dev extra only, and no package's own extras repeat them."""
    seen: dict[str, str] = {}
    for extra, requirements in _kv_dev()["optional-dependencies"].items():
        for text in requirements:
            name = Requirement(text).name
            assert name not in seen, f"{name} is in both {seen[name]} and {extra}"
            seen[name] = extra


def test_kv_dev_is_never_released() -> None:
    """kv-dev is outside packages/: the release and build tools and the record ignore it,
    and its classifier makes an index refuse an upload."""
    assert "kv-dev" not in package_names(ROOT)
    assert "kv-dev" not in json.loads((ROOT / "tools" / "releases.json").read_text())
    assert "Private :: Do Not Upload" in _kv_dev()["classifiers"]


def test_the_public_suite_carries_no_repository_support() -> None:
    """kv_core.conformance holds the suite, the plugin and faults, not the repository's
    service helpers (those are kv_dev.services)."""
    conformance = ROOT / "packages" / "kv-core" / "src" / "kv_core" / "conformance"
    assert not (conformance / "services.py").exists()
    old = "kv_core.conformance" + ".services import"
    used = [
        path.relative_to(ROOT).as_posix()
        for folder in ("packages", "tests-integration", "tools", "examples")
        for path in (ROOT / folder).rglob("*.py")
        if old in path.read_text(encoding="utf-8")
    ]
    assert used == []
