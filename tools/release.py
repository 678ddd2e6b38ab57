"""Cut a release of one package, or record the version a package has now.

Usage::

    python tools/release.py PACKAGE {major|minor|patch|X.Y.Z} [--date YYYY-MM-DD] [--no-git]
    python tools/release.py record PACKAGE [PACKAGE ...] [--all] [--commit REV] [--no-git]

A release bumps ``packages/PACKAGE/src/<module>/__about__.py``, moves the entries under
``## [Unreleased]`` of the package's CHANGELOG under ``## [X.Y.Z] - date`` (leaving an empty
Unreleased section), adds ``- PACKAGE X.Y.Z (date), tag PACKAGE-vX.Y.Z`` to the ``## Releases``
section of the root CHANGELOG, commits "Release PACKAGE X.Y.Z" (only those three files),
tags it ``PACKAGE-vX.Y.Z``, then records ``{package: {version: commit}}`` in
``tools/releases.json`` and commits that. It refuses, changing nothing, a release whose
Unreleased section has no entry.

``record`` writes the version a package has at ``--commit`` (default ``HEAD``) into
``tools/releases.json`` without bumping anything, tags that commit and adds the root
CHANGELOG line if they are missing: for versions released before this tool existed.

``--no-git`` changes the files only: nothing is committed, tagged or recorded (run
``record`` once the release commit exists).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "Package",
    "ReleaseError",
    "bump_version",
    "latest_recorded",
    "load_record",
    "package_names",
    "parse_version",
    "split_unreleased",
    "unreleased_entries",
]

ROOT = Path(__file__).resolve().parent.parent
RECORD = Path("tools") / "releases.json"

_VERSION_RE = re.compile(r"""^(__version__\s*=\s*)(["'])([^"']+)\2""", re.MULTILINE)
_UNRELEASED_RE = re.compile(r"^## \[Unreleased\][^\n]*\n", re.MULTILINE | re.IGNORECASE)
_NEXT_SECTION_RE = re.compile(r"^## ", re.MULTILINE)
_ENTRY_RE = re.compile(r"^\s*[-*+] +\S", re.MULTILINE)


class ReleaseError(Exception):
    """A release or record that must not go ahead; the message says why."""


def parse_version(text: str) -> tuple[int, int, int]:
    """``"1.2.3"`` as ``(1, 2, 3)``; only plain X.Y.Z versions are released here."""
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", text.strip())
    if not match:
        msg = f"{text!r} is not a version of the form X.Y.Z"
        raise ReleaseError(msg)
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def bump_version(current: str, how: str) -> str:
    """The version after *current* for *how* (``major``, ``minor``, ``patch`` or X.Y.Z)."""
    major, minor, patch = parse_version(current)
    if how == "major":
        return f"{major + 1}.0.0"
    if how == "minor":
        return f"{major}.{minor + 1}.0"
    if how == "patch":
        return f"{major}.{minor}.{patch + 1}"
    if parse_version(how) <= (major, minor, patch):
        msg = f"version {how} is not newer than the current {current}"
        raise ReleaseError(msg)
    return how


def split_unreleased(changelog: str) -> tuple[str, str, str]:
    """Cut *changelog* into (up to and with the Unreleased heading, its body, the rest)."""
    heading = _UNRELEASED_RE.search(changelog)
    if heading is None:
        msg = "the CHANGELOG has no '## [Unreleased]' section"
        raise ReleaseError(msg)
    following = _NEXT_SECTION_RE.search(changelog, heading.end())
    end = following.start() if following else len(changelog)
    return changelog[: heading.end()], changelog[heading.end() : end], changelog[end:]


def unreleased_entries(changelog: str) -> list[str]:
    """The list items (``- ...``) under ``## [Unreleased]``."""
    _, body, _ = split_unreleased(changelog)
    return [line.strip() for line in body.splitlines() if _ENTRY_RE.match(line)]


def move_unreleased(changelog: str, version: str, date: str) -> str:
    """*changelog* with its Unreleased entries moved under ``## [version] - date``."""
    head, body, rest = split_unreleased(changelog)
    if not unreleased_entries(changelog):
        msg = "no entry under '## [Unreleased]'"
        raise ReleaseError(msg)
    section = f"## [{version}] - {date}\n\n{body.strip()}\n\n"
    return f"{head}\n{section}{rest}".rstrip("\n") + "\n"


def add_release_line(changelog: str, line: str) -> str:
    """*changelog* with *line* first in its ``## Releases`` section (made at the end if new)."""
    if line in changelog.splitlines():
        return changelog
    heading = re.search(r"^## Releases[ \t]*\n", changelog, re.MULTILINE)
    if heading is None:
        return f"{changelog.rstrip()}\n\n## Releases\n\n{line}\n"
    following = _NEXT_SECTION_RE.search(changelog, heading.end())
    end = following.start() if following else len(changelog)
    first = re.search(r"^[-*] ", changelog[heading.end() : end], re.MULTILINE)
    if first is not None:  # newest first, above the older lines
        at = heading.end() + first.start()
        return f"{changelog[:at]}{line}\n{changelog[at:]}"
    body = changelog[heading.end() : end].strip()
    body = f"{body}\n\n{line}" if body else line
    rest = f"\n{changelog[end:]}" if changelog[end:] else ""
    return f"{changelog[: heading.end()]}\n{body}\n{rest}"


def release_line(name: str, version: str, date: str) -> str:
    """The root CHANGELOG's line for a release."""
    return f"- {name} {version} ({date}), tag {tag_name(name, version)}"


def tag_name(name: str, version: str) -> str:
    """The git tag of a release: ``<package>-v<version>``."""
    return f"{name}-v{version}"


def package_names(root: Path) -> list[str]:
    """Every distribution in ``root/packages``."""
    packages = root / "packages"
    return sorted(p.name for p in packages.iterdir() if (p / "pyproject.toml").is_file())


class Package:
    """One distribution under ``packages/``: its files and its version.

    :param root: The repository's top folder.
    :param name: The distribution's name, which is also its folder, e.g. ``"kv-redis"``.
    """

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.name = name
        self.dir = root / "packages" / name
        if not (self.dir / "pyproject.toml").is_file():
            known = ", ".join(package_names(root))
            msg = f"no package {name!r} in {root / 'packages'}; choose from {known}"
            raise ReleaseError(msg)
        with (self.dir / "pyproject.toml").open("rb") as file:
            project = tomllib.load(file)
        about = project.get("tool", {}).get("hatch", {}).get("version", {}).get("path")
        if not about:
            msg = f"{name}: pyproject.toml has no [tool.hatch.version] path"
            raise ReleaseError(msg)
        self.about = self.dir / about
        self.changelog = self.dir / "CHANGELOG.md"

    def relative(self, path: Path) -> str:
        """*path* relative to the repository, in git's spelling."""
        return path.relative_to(self.root).as_posix()

    @property
    def source_paths(self) -> list[str]:
        """What makes the distribution: a change here needs a changelog entry."""
        return [self.relative(self.dir / "src"), self.relative(self.dir / "pyproject.toml")]

    @property
    def version(self) -> str:
        """The version in ``__about__.py`` in the working tree."""
        return version_in(self.about.read_text(encoding="utf-8"), self.relative(self.about))

    def version_at(self, commit: str) -> str:
        """The version in ``__about__.py`` at *commit*."""
        path = self.relative(self.about)
        text = git(self.root, "show", f"{commit}:{path}")
        return version_in(text, f"{commit}:{path}")


def version_in(text: str, where: str) -> str:
    """The ``__version__`` string assigned in *text*."""
    match = _VERSION_RE.search(text)
    if match is None:
        msg = f"no __version__ = '...' in {where}"
        raise ReleaseError(msg)
    return match.group(3)


def git(root: Path, *args: str, check: bool = True) -> str:
    """Run git in *root*; its stdout, stripped. A failure is a ReleaseError with stderr."""
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        msg = f"git {' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}"
        raise ReleaseError(msg)
    return done.stdout.strip()


def load_record(root: Path) -> dict[str, dict[str, str]]:
    """``tools/releases.json``: ``{package: {version: commit}}``, empty when missing."""
    path = root / RECORD
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        msg = f"{path} must hold an object of {{package: {{version: commit}}}}"
        raise ReleaseError(msg)
    return {str(k): {str(v): str(c) for v, c in dict(vs).items()} for k, vs in data.items()}


def save_record(root: Path, record: dict[str, dict[str, str]]) -> None:
    """Write ``tools/releases.json``, packages and versions sorted, oldest version first."""
    ordered = {
        name: dict(sorted(versions.items(), key=lambda item: parse_version(item[0])))
        for name, versions in sorted(record.items())
    }
    text = json.dumps(ordered, indent=2) + "\n"
    (root / RECORD).write_text(text, encoding="utf-8")


def latest_recorded(record: dict[str, dict[str, str]], name: str) -> tuple[str, str] | None:
    """The newest (version, commit) recorded for *name*, or None."""
    versions = record.get(name) or {}
    if not versions:
        return None
    newest = max(versions, key=parse_version)
    return newest, versions[newest]


def commit_files(root: Path, message: str, paths: Sequence[str]) -> str:
    """Commit exactly *paths* (others' staged or unstaged work stays out); the new commit."""
    git(root, "add", "--", *paths)
    git(root, "commit", "-q", "-m", message, "--", *paths)
    return git(root, "rev-parse", "HEAD")


def release(root: Path, name: str, how: str, *, date: str, use_git: bool) -> str:
    """Cut release *how* of package *name*; the new version."""
    package = Package(root, name)
    current = package.version
    version = bump_version(current, how)
    tag = tag_name(name, version)
    if not package.changelog.is_file():
        msg = f"{name} has no CHANGELOG.md ({package.relative(package.changelog)})"
        raise ReleaseError(msg)
    changelog = package.changelog.read_text(encoding="utf-8")
    if not unreleased_entries(changelog):
        msg = (
            f"refusing to release {name} {version}: "
            f"{package.relative(package.changelog)} has no entry under '## [Unreleased]'; "
            "add one line per change (Added / Changed / Fixed / Security) first"
        )
        raise ReleaseError(msg)
    if version in load_record(root).get(name, {}):
        msg = f"{name} {version} is already recorded in {RECORD.as_posix()}"
        raise ReleaseError(msg)
    if use_git and git(root, "tag", "--list", tag):
        msg = f"tag {tag} already exists"
        raise ReleaseError(msg)

    # Every check is done: from here on, write.
    new_changelog = move_unreleased(changelog, version, date)
    about_text = package.about.read_text(encoding="utf-8")
    new_about = _VERSION_RE.sub(
        lambda m: f"{m.group(1)}{m.group(2)}{version}{m.group(2)}", about_text, count=1
    )
    root_changelog = root / "CHANGELOG.md"
    root_text = root_changelog.read_text(encoding="utf-8") if root_changelog.is_file() else ""
    package.about.write_text(new_about, encoding="utf-8")
    package.changelog.write_text(new_changelog, encoding="utf-8")
    root_changelog.write_text(
        add_release_line(root_text or "# Changelog\n", release_line(name, version, date)),
        encoding="utf-8",
    )
    if not use_git:
        print(
            f"{name} {current} -> {version}: files changed only; commit them, then record the "
            f"release with: python tools/release.py record {name}"
        )
        return version
    files = [package.relative(package.about), package.relative(package.changelog), "CHANGELOG.md"]
    commit = commit_files(root, f"Release {name} {version}", files)
    git(root, "tag", "-a", tag, "-m", f"{name} {version}", commit)
    record_version(root, name, version, commit)
    commit_files(root, f"Record {name} {version} in {RECORD.as_posix()}", [RECORD.as_posix()])
    print(f"{name} {current} -> {version}: commit {commit[:12]}, tag {tag}")
    return version


def record_version(root: Path, name: str, version: str, commit: str) -> None:
    """Put ``{name: {version: commit}}`` into ``tools/releases.json``."""
    record = load_record(root)
    record.setdefault(name, {})[version] = commit
    save_record(root, record)


def record_current(
    root: Path, names: Sequence[str], *, rev: str, date: str, use_git: bool, tag: bool
) -> None:
    """Record the version each of *names* has at *rev*, without bumping it."""
    commit = git(root, "rev-parse", "--verify", f"{rev}^{{commit}}")
    record = load_record(root)
    new: list[tuple[str, str]] = []
    # Read every version before writing anything, so one bad package changes nothing.
    for name in names:
        version = Package(root, name).version_at(commit)
        parse_version(version)
        known = record.get(name, {}).get(version)
        if known:
            # A release's commit never moves: recording again later must not rewrite it.
            print(f"{name} {version} is already recorded at {known[:12]}; left as it is")
        else:
            new.append((name, version))
    if not new:
        return
    root_changelog = root / "CHANGELOG.md"
    text = root_changelog.read_text(encoding="utf-8") if root_changelog.is_file() else ""
    # Each line goes first in the Releases section: add them last to first.
    for name, version in reversed(new):
        if tag_name(name, version) not in text:
            text = add_release_line(text or "# Changelog\n", release_line(name, version, date))
    root_changelog.write_text(text, encoding="utf-8")
    for name, version in new:
        record.setdefault(name, {})[version] = commit
        if tag and use_git and not git(root, "tag", "--list", tag_name(name, version)):
            git(root, "tag", "-a", tag_name(name, version), "-m", f"{name} {version}", commit)
        print(f"recorded {name} {version} at {commit[:12]}")
    save_record(root, record)
    if use_git:
        listed = ", ".join(f"{name} {version}" for name, version in new)
        commit_files(root, f"Record released {listed}", [RECORD.as_posix(), "CHANGELOG.md"])


def _record_command(args: Sequence[str], today: str) -> None:
    parser = argparse.ArgumentParser(
        prog="release.py record",
        description="Record the version packages have at a commit, without bumping it.",
    )
    parser.add_argument("packages", nargs="*", help="package names")
    parser.add_argument("--all", action="store_true", help="every package")
    parser.add_argument("--commit", default="HEAD", help="the commit to record (HEAD)")
    parser.add_argument("--date", default=today, help="date of the root CHANGELOG line (today)")
    parser.add_argument("--no-git", action="store_true", help="write files only")
    parser.add_argument("--no-tag", action="store_true", help="do not tag the commit")
    opts = parser.parse_args(args)
    names = package_names(ROOT) if opts.all else opts.packages
    if not names:
        parser.error("name the packages to record, or --all")
    record_current(
        ROOT, names, rev=opts.commit, date=opts.date, use_git=not opts.no_git, tag=not opts.no_tag
    )


def _release_command(args: Sequence[str], today: str) -> None:
    parser = argparse.ArgumentParser(
        prog="release.py", description="Release one package (or: release.py record --help)."
    )
    parser.add_argument("package", help="the package to release, e.g. kv-redis")
    parser.add_argument("bump", help="major, minor, patch or an explicit X.Y.Z")
    parser.add_argument("--date", default=today, help="release date, YYYY-MM-DD (today)")
    parser.add_argument("--no-git", action="store_true", help="write files only")
    opts = parser.parse_args(args)
    try:
        dt.date.fromisoformat(opts.date)
    except ValueError:
        parser.error(f"--date {opts.date!r} is not YYYY-MM-DD")
    release(ROOT, opts.package, opts.bump, date=opts.date, use_git=not opts.no_git)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the command."""
    args = list(sys.argv[1:] if argv is None else argv)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    try:
        if args[:1] == ["record"]:
            _record_command(args[1:], today)
        else:
            _release_command(args, today)
    except ReleaseError as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
