"""Run each backend's tests against other kv-core versions than the one in this tree.

Usage: ``python tools/compat.py [BACKEND ...] [--direction forward|reverse|both] [--full]``.

- forward: each backend as it is in the working tree, against the *oldest* kv-core its
  ``kv-core`` range admits among the versions recorded in ``tools/releases.json``. That
  kv-core is built from its recorded commit (``git archive`` of ``packages/kv-core``).
- reverse: each backend's newest recorded release, built from its recorded commit, against
  kv-core as it is in the working tree, provided that kv-core is within the released range
  (outside it, pip never combines the two, so there is nothing to break).

Each combination gets a fresh virtual environment with both wheels, the backend's
extras (all but ``bench``), ``kv-core[conformance]``, ``pytest-timeout`` and the repository's
test support (``dev/kv-dev`` from the working tree: the tests of this tree import
``kv_dev.services``, and its pytest plugin serves those helpers to released tests under their
old name, ``kv_core.conformance.services``). Only the
backend's conformance test modules (``tests/test_*conformance*.py``) run, with
``-m "not kv_slow and not kv_processes"``, to keep CI time sane; ``--full`` runs all of its
tests. A missing record is reported as "no release recorded" and passes; a combination
identical to the working tree (nothing changed since the recorded commit) is already
tested by the normal run and is skipped unless ``--force``.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.version import Version
from release import RECORD, Package, ReleaseError, git, latest_recorded, load_record, package_names

__all__ = ["Outcome", "backends", "main", "run_checks"]

ROOT = Path(__file__).resolve().parent.parent
CORE = "kv-core"
DEV = Path("dev") / "kv-dev"
QUICK_MARKERS = "not kv_slow and not kv_processes"
SKIPPED_EXTRAS = frozenset({"bench"})


@dataclass
class Outcome:
    """What one combination came to: passed (or nothing to check), or failed, and why."""

    name: str
    ok: bool
    message: str


def backends(root: Path) -> list[str]:
    """Packages that register a ``kv.stores`` entry point and depend on kv-core."""
    found = []
    for name in package_names(root):
        project = _pyproject(root / "packages" / name / "pyproject.toml")
        points = project.get("entry-points", {}).get("kv.stores")
        if name != CORE and points and _core_requirement(project) is not None:
            found.append(name)
    return found


def _pyproject(path: Path) -> dict[str, Any]:
    with path.open("rb") as file:
        project: dict[str, Any] = tomllib.load(file).get("project", {})
    return project


def _pyproject_at(root: Path, commit: str, path: str) -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads(git(root, "show", f"{commit}:{path}")).get(
        "project", {}
    )
    return project


def _core_requirement(project: dict[str, Any]) -> Requirement | None:
    for text in project.get("dependencies", []) or []:
        requirement = Requirement(str(text))
        if requirement.name == CORE:
            return requirement
    return None


def _extras(project: dict[str, Any]) -> list[str]:
    """The extras worth installing for tests: not ``bench``, none that pulls in a sibling."""
    chosen = []
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    for extra, requirements in sorted(optional.items()):
        siblings = [r for r in requirements if Requirement(r).name.startswith("kv-")]
        if extra not in SKIPPED_EXTRAS and all(Requirement(r).name == CORE for r in siblings):
            chosen.append(extra)
    return chosen


def _has_commit(root: Path, commit: str) -> bool:
    done = subprocess.run(
        ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=root, capture_output=True
    )
    return done.returncode == 0


def _unchanged_since(root: Path, commit: str, paths: Sequence[str]) -> bool:
    """Whether *paths* in the working tree (new files included) are as they were at *commit*."""
    diff = git(root, "diff", "--name-only", commit, "--", *paths)
    new = git(root, "ls-files", "--others", "--exclude-standard", "--", *paths)
    return not diff and not new


def _installed_part(name: str, *, tests: bool = False) -> list[str]:
    """What of package *name* a combination installs (and, with *tests*, runs)."""
    base = f"packages/{name}"
    return [f"{base}/src", f"{base}/pyproject.toml", *([f"{base}/tests"] if tests else [])]


def _export(root: Path, commit: str, paths: Sequence[str], into: Path) -> Path:
    """``git archive`` *paths* at *commit* into *into*; *into*."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, "--", *paths],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def _build_wheel(source: Path, outdir: Path) -> Path:
    outdir.mkdir(parents=True, exist_ok=True)
    before = set(outdir.glob("*.whl"))
    # With hatchling at hand, skip making an isolated build environment per wheel.
    isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-isolation"]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            *isolation,
            "--wheel",
            "--outdir",
            str(outdir),
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        msg = f"building {source} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        raise ReleaseError(msg)
    (wheel,) = set(outdir.glob("*.whl")) - before
    return wheel


def _venv(where: Path, requirements: Sequence[str]) -> Path:
    """A fresh virtual environment at *where* with *requirements*; its python."""
    # No pip inside: this interpreter's pip installs into it (--python), which is much faster
    # than seeding every environment with its own pip.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
         "--disable-pip-version-check", *requirements],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        msg = f"pip install {' '.join(requirements)} failed:\n{done.stderr[-4000:]}"
        raise ReleaseError(msg)
    return python


def _test_files(tests: Path, *, full: bool) -> list[str]:
    conformance = sorted(tests.glob("test_*conformance*.py"))
    if full or not conformance:
        return [str(tests)]
    return [str(path) for path in conformance]


def _run_tests(python: Path, files: list[str], *, cwd: Path, full: bool) -> bool:
    command = [str(python), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *files]
    if not full:
        command += ["-m", QUICK_MARKERS]
    print(f"  $ {' '.join(command)}  (in {cwd})", flush=True)
    return subprocess.run(command, cwd=cwd, check=False).returncode == 0


def _installed_version(python: Path, dist: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({dist!r}))"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


class Checker:
    """Builds what the combinations need, once each, under *work*.

    :param root: The repository.
    :param work: A scratch folder for exports, wheels and environments.
    """

    def __init__(self, root: Path, work: Path, *, full: bool, force: bool) -> None:
        self.root = root
        self.work = work
        self.full = full
        self.force = force
        self.record = load_record(root)
        self._wheels: dict[str, Path] = {}

    def current_wheel(self, name: str) -> Path:
        """The wheel of *name* as it is in the working tree."""
        if name not in self._wheels:
            source = self.root / "packages" / name
            self._wheels[name] = _build_wheel(source, self.work / "wheels" / "current" / name)
        return self._wheels[name]

    def dev_wheels(self) -> list[Path]:
        """The wheel of the test support, ``dev/kv-dev`` in the working tree, if it has one."""
        source = self.root / DEV
        if not (source / "pyproject.toml").is_file():
            return []
        if "kv-dev" not in self._wheels:
            outdir = self.work / "wheels" / "current" / "kv-dev"
            self._wheels["kv-dev"] = _build_wheel(source, outdir)
        return [self._wheels["kv-dev"]]

    def recorded_wheel(self, name: str, commit: str) -> Path:
        """The wheel of *name* built from ``packages/<name>`` at *commit*."""
        key = f"{name}@{commit}"
        if key not in self._wheels:
            tree = _export(self.root, commit, [f"packages/{name}"], self.work / key)
            wheel = _build_wheel(tree / "packages" / name, self.work / "wheels" / key)
            self._wheels[key] = wheel
        return self._wheels[key]

    def forward(self, name: str) -> Outcome:
        """*name* from the working tree against the oldest recorded kv-core it admits."""
        label = f"{name} (this tree) with the oldest kv-core it admits"
        project = _pyproject(self.root / "packages" / name / "pyproject.toml")
        requirement = _core_requirement(project)
        assert requirement is not None
        recorded = self.record.get(CORE, {})
        admitted = sorted((v for v in recorded if Version(v) in requirement.specifier), key=Version)
        if not admitted:
            why = f"no release recorded of kv-core in {RECORD.as_posix()} within {requirement}"
            return Outcome(label, True, f"{why}; nothing to check")
        oldest = admitted[0]
        commit = recorded[oldest]
        label = f"{name} (this tree) with kv-core {oldest} ({commit[:12]})"
        if not _has_commit(self.root, commit):
            return Outcome(label, False, _fetch_message(commit))
        if not self.force and _unchanged_since(self.root, commit, _installed_part(CORE)):
            return Outcome(
                label,
                True,
                "kv-core is unchanged since then (src/, pyproject.toml): the normal run tests it",
            )
        core = self.recorded_wheel(CORE, commit)
        backend = self.current_wheel(name)
        return self._check(
            label,
            core=core,
            core_version=oldest,
            backend=backend,
            extras=_extras(project),
            tests=self.root / "packages" / name / "tests",
            cwd=self.root,
        )

    def reverse(self, name: str) -> Outcome:
        """The newest recorded release of *name* against kv-core from the working tree."""
        label = f"{name} (newest release) with kv-core from this tree"
        latest = latest_recorded(self.record, name)
        if latest is None:
            return Outcome(label, True, f"no release recorded in {RECORD.as_posix()}")
        version, commit = latest
        label = f"{name} {version} ({commit[:12]}) with kv-core from this tree"
        if not _has_commit(self.root, commit):
            return Outcome(label, False, _fetch_message(commit))
        if not self.force and _unchanged_since(
            self.root, commit, _installed_part(name, tests=True)
        ):
            return Outcome(
                label,
                True,
                f"{name} is unchanged since then (src/, pyproject.toml, tests/): "
                "the normal run tests it",
            )
        project = _pyproject_at(self.root, commit, f"packages/{name}/pyproject.toml")
        requirement = _core_requirement(project)
        core_version = Package(self.root, CORE).version
        if requirement is None or core_version not in requirement.specifier:
            why = f"kv-core {core_version} is outside {name} {version}'s range ({requirement})"
            return Outcome(label, True, f"{why}: pip never installs them together")
        tree = _export(
            self.root, commit, [f"packages/{name}", "pyproject.toml"], self.work / f"old-{name}"
        )
        backend = _build_wheel(tree / "packages" / name, self.work / "wheels" / f"old-{name}")
        return self._check(
            label,
            core=self.current_wheel(CORE),
            core_version=core_version,
            backend=backend,
            extras=_extras(project),
            tests=tree / "packages" / name / "tests",
            cwd=tree,
        )

    def _check(
        self,
        label: str,
        *,
        core: Path,
        core_version: str,
        backend: Path,
        extras: list[str],
        tests: Path,
        cwd: Path,
    ) -> Outcome:
        print(f"{label}: installing {core.name} and {backend.name}", flush=True)
        venv = Path(tempfile.mkdtemp(prefix="venv-", dir=self.work))
        wanted = f"{backend}[{','.join(extras)}]" if extras else str(backend)
        # Wheels named by path: pip takes kv-core from this file, never from an index.
        dev = [str(wheel) for wheel in self.dev_wheels()]
        python = _venv(venv, [f"{core}[conformance]", wanted, *dev, "pytest-timeout"])
        installed = _installed_version(python, CORE)
        if installed != core_version:
            return Outcome(label, False, f"installed kv-core {installed}, not {core_version}")
        if not tests.is_dir():
            return Outcome(label, True, "the backend has no tests folder; installed fine")
        passed = _run_tests(python, _test_files(tests, full=self.full), cwd=cwd, full=self.full)
        shutil.rmtree(venv, ignore_errors=True)
        return Outcome(label, passed, "tests passed" if passed else "tests FAILED")


def _fetch_message(commit: str) -> str:
    return (
        f"commit {commit[:12]} is not in this clone; fetch the full history "
        "(git fetch --unshallow --tags, or fetch-depth: 0) and run again"
    )


def run_checks(
    root: Path,
    names: Sequence[str],
    directions: Sequence[str],
    work: Path,
    *,
    full: bool,
    force: bool,
) -> list[Outcome]:
    """Run the combinations asked for; one outcome each."""
    checker = Checker(root, work, full=full, force=force)
    outcomes = []
    for name in names:
        for direction in directions:
            check = checker.forward if direction == "forward" else checker.reverse
            try:
                outcome = check(name)
            except (ReleaseError, subprocess.CalledProcessError) as exc:
                outcome = Outcome(f"{name} ({direction})", False, str(exc))
            state = "ok" if outcome.ok else "FAILED"
            print(f"{state}: {outcome.name}: {outcome.message}", flush=True)
            outcomes.append(outcome)
    return outcomes


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the command."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backends", nargs="*", help="backend packages (default: all)")
    parser.add_argument("--direction", choices=["forward", "reverse", "both"], default="both")
    parser.add_argument("--full", action="store_true", help="run all the backend's tests")
    parser.add_argument("--force", action="store_true", help="also run unchanged combinations")
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: a temporary one)")
    args = parser.parse_args(argv)
    known = backends(ROOT)
    unknown = sorted(set(args.backends) - set(known))
    if unknown:
        parser.error(f"not backend(s): {', '.join(unknown)}; choose from {', '.join(known)}")
    directions = ["forward", "reverse"] if args.direction == "both" else [args.direction]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="kv-compat-"))
    try:
        outcomes = run_checks(
            ROOT, args.backends or known, directions, work, full=args.full, force=args.force
        )
    except (ReleaseError, subprocess.CalledProcessError) as exc:
        print(f"compat: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    failed = [outcome for outcome in outcomes if not outcome.ok]
    for outcome in failed:
        print(f"error: {outcome.name}: {outcome.message}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
