"""Check that every package changed since its last recorded release has a changelog entry.

Usage: ``python tools/check_changelogs.py [PACKAGE ...]``.

For each package, the newest version in ``tools/releases.json`` names a commit. If the
package's ``src/`` or ``pyproject.toml`` differs between that commit and the working tree
(committed or not, new files included) while its CHANGELOG has no entry under
``## [Unreleased]``, the check fails and names the package. A package with no recorded
release passes, and is listed as such. A recorded commit missing from the clone (a shallow
CI checkout) is an error that says to fetch the full history.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from release import (
    RECORD,
    Package,
    ReleaseError,
    git,
    latest_recorded,
    load_record,
    package_names,
    unreleased_entries,
)

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["check", "has_commit", "main", "source_changed"]


def source_changed(package: Package, commit: str) -> bool:
    """Whether the package's source differs from *commit*, in the index, tree or new files."""
    paths = package.source_paths
    diff = git(package.root, "diff", "--name-only", commit, "--", *paths)
    new = git(package.root, "ls-files", "--others", "--exclude-standard", "--", *paths)
    return bool(diff or new)


def check(root: Path, names: Sequence[str]) -> list[str]:
    """Print one line per package; return the problems (empty when all is well)."""
    record = load_record(root)
    problems: list[str] = []
    for name in names:
        package = Package(root, name)
        latest = latest_recorded(record, name)
        if latest is None:
            print(f"{name}: no release recorded in {RECORD.as_posix()} yet; nothing to check")
            continue
        version, commit = latest
        if not has_commit(root, commit):
            problems.append(
                f"{name}: commit {commit[:12]} recorded for {version} is not in this clone; "
                "fetch the full history (git fetch --unshallow --tags, or a checkout with "
                "fetch-depth: 0) and run again"
            )
            continue
        if not source_changed(package, commit):
            print(f"{name}: unchanged since {version} ({commit[:12]})")
            continue
        changelog = package.changelog
        where = package.relative(changelog)
        if not changelog.is_file():
            problems.append(f"{name}: source changed since {version} but {where} is missing")
            continue
        try:
            entries = unreleased_entries(changelog.read_text(encoding="utf-8"))
        except ReleaseError as exc:
            problems.append(f"{name}: {where}: {exc}")
            continue
        if not entries:
            problems.append(
                f"{name}: source changed since {version} ({commit[:12]}) but {where} has no "
                "entry under '## [Unreleased]'"
            )
            continue
        print(f"{name}: changed since {version}; {len(entries)} Unreleased entries")
    return problems


def has_commit(root: Path, commit: str) -> bool:
    """Whether *commit* is in the clone (a shallow clone lacks the older ones)."""
    done = subprocess.run(
        ["git", "cat-file", "-e", f"{commit}^{{commit}}"],
        cwd=root,
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the command."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packages", nargs="*", help="package names (default: all)")
    args = parser.parse_args(argv)
    try:
        problems = check(ROOT, args.packages or package_names(ROOT))
    except ReleaseError as exc:
        print(f"check_changelogs: {exc}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} package(s) need a changelog entry or history", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
