"""Build a wheel and an sdist of every package (or of the ones named) into ``dist/``.

Usage: ``python tools/build.py [PACKAGE ...] [--outdir DIR] [--no-isolation]``, e.g.
``python tools/build.py kv-core kv-redis``. Each package is built in isolation by PyPA
``build``, from its own folder, with its own version, README, license and ``py.typed``.
``--no-isolation`` builds with the hatchling installed here instead of a fresh one per
build, which is several times faster (the packaging tests use it when they can).

It needs PyPA ``build`` (``pip install build``; ``requirements-dev.txt`` has it). An isolated
build also fetches hatchling from the package index, once per build; ``--no-isolation``
needs ``pip install hatchling`` instead, and no index.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "packages"


def package_names() -> list[str]:
    """Every distribution in ``packages/``."""
    return sorted(p.name for p in PACKAGES.iterdir() if (p / "pyproject.toml").is_file())


def build(names: list[str], outdir: Path, *, isolation: bool = True) -> list[Path]:
    """Build *names* into *outdir*; return the files made."""
    outdir.mkdir(parents=True, exist_ok=True)
    before = set(outdir.iterdir())
    options = [] if isolation else ["--no-isolation"]
    for name in names:
        print(f"building {name}", file=sys.stderr, flush=True)
        command = [sys.executable, "-m", "build", *options, "--sdist", "--wheel"]
        subprocess.run(
            [*command, "--outdir", str(outdir)],
            cwd=PACKAGES / name,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return sorted(set(outdir.iterdir()) - before)


def _needed(*, isolation: bool) -> list[str]:
    return ["build"] if isolation else ["build", "hatchling"]


def _have(module: str) -> bool:
    # Not in this script's folder: this script is a module named "build" there.
    here = Path(__file__).resolve().parent
    path = [entry for entry in sys.path if Path(entry or ".").resolve() != here]
    return importlib.machinery.PathFinder.find_spec(module, path) is not None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the command."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packages", nargs="*", help="package names (default: all)")
    parser.add_argument("--outdir", type=Path, default=ROOT / "dist", help="where to put them")
    parser.add_argument(
        "--no-isolation",
        action="store_true",
        help="build with the hatchling installed here (faster; it must be installed)",
    )
    args = parser.parse_args(argv)
    missing = [name for name in _needed(isolation=not args.no_isolation) if not _have(name)]
    if missing:
        print(
            f"tools/build.py needs {' and '.join(missing)}: "
            f"{sys.executable} -m pip install {' '.join(missing)}",
            file=sys.stderr,
        )
        return 2
    known = package_names()
    unknown = sorted(set(args.packages) - set(known))
    if unknown:
        parser.error(f"unknown package(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    for path in build(args.packages or known, args.outdir, isolation=not args.no_isolation):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
