"""The wheels, installed one package at a time into fresh virtual environments.

The wheels and sdists of every package are built once per run (``tools/build.py``, under
a file lock, shared by the xdist workers). Each installation is a fresh, empty
``python -m venv --without-pip``, filled by ``pip --python <venv> install --find-links <dist>
<package>``: the kv packages must come from the wheels just built, everything else from the
index. Each environment is made once per run and shared, under a file lock, by the tests
that use it.

They show that a package brings in what it needs and nothing of its siblings' dependencies,
that it works once installed, and that the conformance suite of the installed kv-core runs
against the installed backend from a folder outside the repository.
"""

from __future__ import annotations

import ast
import email.parser
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import Distribution, distributions
from pathlib import Path

import pytest
from filelock import FileLock
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from kv_dev.services import REDIS

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").is_file())
REDIS_URL = REDIS.url
TOOLING = frozenset({"pip", "setuptools", "wheel"})


@dataclass(frozen=True)
class Case:
    """One installation: what to ``pip install``, and the kv and other packages it asks for.

    Everything installed must be one of *kv*, one of *roots* or what those need in turn.
    """

    key: str
    requirement: str
    kv: frozenset[str]
    roots: frozenset[str] = frozenset()


def make_case(key: str, requirement: str, kv: set[str], roots: set[str] | None = None) -> Case:
    return Case(key, requirement, frozenset(kv), frozenset(roots or ()))


CASES = {
    case.key: case
    for case in [
        make_case("kv-core", "kv-core", {"kv-core"}),
        make_case(
            "kv-core-conformance", "kv-core[conformance]", {"kv-core"}, {"pytest", "hypothesis"}
        ),
        make_case("kv-fs", "kv-fs", {"kv-core", "kv-fs"}),
        make_case("kv-redis", "kv-redis", {"kv-core", "kv-redis"}, {"redis"}),
        make_case("kv-sql", "kv-sql", {"kv-core", "kv-sql"}, {"sqlalchemy"}),
        make_case(
            "kv-sql-postgres", "kv-sql[postgres]", {"kv-core", "kv-sql"}, {"sqlalchemy", "psycopg"}
        ),
        make_case(
            "kv-flask", "kv-flask", {"kv-core", "kv-flask"}, {"flask", "requests", "waitress"}
        ),
        make_case("kv-cli", "kv-cli", {"kv-core", "kv-cli"}, {"click"}),
    ]
    if Requirement(case.requirement).name in PACKAGES
}


def module_of(package: str) -> str:
    return package.replace("-", "_")


def tree_version(package: str) -> str:
    """The version in the package's ``__about__.py``, read the way hatchling reads it."""
    about = ROOT / "packages" / package / "src" / module_of(package) / "__about__.py"
    namespace: dict[str, object] = {}
    exec(about.read_text(encoding="utf-8"), namespace)
    return str(namespace["__version__"])


@pytest.fixture(scope="session")
def shared_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder all xdist workers of this run share (the pytest-xdist recipe)."""
    base = tmp_path_factory.getbasetemp()
    # Without xdist the base is this run's own; its parent would hold earlier runs too.
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def dist(shared_tmp: Path) -> Path:
    """Wheels and sdists of every package, built once per run by ``tools/build.py``."""
    out = shared_tmp / "kv-dist"
    with FileLock(str(shared_tmp / "kv-dist.lock")):
        if not (out / ".complete").exists():
            shutil.rmtree(out, ignore_errors=True)
            # Without isolation when hatchling is here: one build environment per package
            # and kind would cost more than the rest of the file.
            fast = [] if importlib.util.find_spec("hatchling") is None else ["--no-isolation"]
            done = subprocess.run(
                [sys.executable, str(ROOT / "tools" / "build.py"), "--outdir", str(out), *fast],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                pytest.fail(f"tools/build.py failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
            (out / ".complete").touch()
    return out


def wheel_of(dist: Path, package: str) -> Path:
    (wheel,) = dist.glob(f"{module_of(package)}-{tree_version(package)}-*.whl")
    return wheel


class Venv:
    """A virtual environment made once per run for one :class:`Case`, shared by the tests."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.python = path / "bin" / "python"

    def run(self, *args: str, cwd: Path | None = None, check: bool = True) -> str:
        env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        done = subprocess.run(
            [str(self.python), *args], cwd=cwd, env=env, capture_output=True, text=True
        )
        if check and done.returncode != 0:
            output = f"{done.stdout[-6000:]}\n{done.stderr[-4000:]}"
            pytest.fail(f"{' '.join(args)} failed ({done.returncode}):\n{output}")
        return done.stdout + done.stderr

    def pip_install(self, dist: Path, *requirements: str, report: Path | None = None) -> None:
        """Install into this environment with the test run's own pip (``pip --python``)."""
        extra = ["--report", str(report)] if report else []
        command = [sys.executable, "-m", "pip", "--python", str(self.python), "install", "-q"]
        command += ["--disable-pip-version-check", "--find-links", str(dist), *extra]
        done = subprocess.run([*command, *requirements], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(f"pip install {' '.join(requirements)} failed:\n{done.stderr[-4000:]}")

    def distributions(self) -> dict[str, Distribution]:
        (site,) = self.path.glob("lib/python3*/site-packages")
        return {canonicalize_name(d.metadata["Name"]): d for d in distributions(path=[str(site)])}


def make_venv(
    shared_tmp: Path, dist: Path, case: Case, *, conformance: bool = False, key: str | None = None
) -> Venv:
    """The environment of *case*, made (once) with only its requirement installed.

    With *conformance*, ``kv-core[conformance]`` is added afterwards, for running the suite;
    what the requirement alone brought was saved before, in ``installed.json``. *key* names
    an environment of its own for *case*, which tests can add to without touching the one
    the installation tests inspect.
    """
    venv = Venv(shared_tmp / "venvs" / (key or case.key))
    with FileLock(str(venv.path) + ".lock"):
        if not (venv.path / "installed.json").exists():
            shutil.rmtree(venv.path, ignore_errors=True)
            # Fresh and empty: no pip or setuptools inside, so whatever is there, pip put there
            # for the requirement (and creating it takes a fraction of a second).
            subprocess.run(
                [sys.executable, "-m", "venv", "--without-pip", str(venv.path)], check=True
            )
            venv.pip_install(dist, case.requirement, report=venv.path / "report.json")
            names = sorted(venv.distributions())
            (venv.path / "installed.json").write_text(json.dumps(names))
        if conformance and not (venv.path / "conformance.done").exists():
            venv.pip_install(dist, "kv-core[conformance]")
            (venv.path / "conformance.done").touch()
    return venv


def reachable(installed: dict[str, Distribution], roots: list[Requirement]) -> set[str]:
    """Names of the distributions *roots* need, following installed metadata and markers."""
    seen: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    stack = list(roots)
    while stack:
        requirement = stack.pop()
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        names.add(name)
        found = installed.get(name)
        for text in (found.requires or []) if found else []:
            if active(text, requirement.extras or {""}):
                stack.append(Requirement(text))
    return names


def wheel_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(archive.read(name).decode("utf-8"))


# The wheels themselves


@pytest.mark.parametrize("package", PACKAGES)
def test_wheel_carries_version_readme_license_and_types(dist: Path, package: str) -> None:
    """Each wheel has its own version, its README as description, LICENSE and py.typed."""
    wheel = wheel_of(dist, package)
    metadata = wheel_metadata(wheel)
    readme = (ROOT / "packages" / package / "README.md").read_text(encoding="utf-8")

    assert metadata["Name"] == package
    assert metadata["Version"] == tree_version(package)
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert str(metadata.get_payload()).strip() == readme.strip()
    assert metadata["License-Expression"] == "MIT"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert f"{module_of(package)}/py.typed" in names
    assert f"{module_of(package)}/__about__.py" in names
    assert not [n for n in names if "/tests/" in n or n.startswith("tests/")]


@pytest.mark.parametrize("package", PACKAGES)
def test_sdist_carries_version_readme_and_license(dist: Path, package: str) -> None:
    """Each sdist has its own version in PKG-INFO, its pyproject, README and LICENSE."""
    stem = f"{module_of(package)}-{tree_version(package)}"
    with tarfile.open(dist / f"{stem}.tar.gz") as sdist:
        names = set(sdist.getnames())
        pkg_info = sdist.extractfile(f"{stem}/PKG-INFO")
        assert pkg_info is not None
        metadata = email.parser.Parser().parsestr(pkg_info.read().decode("utf-8"))
    assert metadata["Version"] == tree_version(package)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        assert f"{stem}/{name}" in names


@pytest.mark.parametrize("package", PACKAGES)
def test_wheel_asks_for_siblings_by_range(dist: Path, package: str) -> None:
    """Sibling requirements are ``>=X.Y,<X+1`` ranges that admit the sibling's version."""
    metadata = wheel_metadata(wheel_of(dist, package))
    for text in metadata.get_all("Requires-Dist") or []:
        requirement = Requirement(text)
        if requirement.name not in PACKAGES:
            continue
        specs = {spec.operator: Version(spec.version) for spec in requirement.specifier}
        assert set(specs) == {">=", "<"}, f"{package}: {text} is not a >=X.Y,<X+1 range"
        lower, upper = specs[">="], specs["<"]
        assert upper == Version(str(lower.major + 1)), f"{package}: {text} spans a major"
        sibling = Version(tree_version(requirement.name))
        assert sibling in requirement.specifier, f"{package}: {text} excludes {sibling}"


# Installing one package


@pytest.mark.parametrize("key", sorted(CASES))
def test_install_brings_only_what_the_package_needs(shared_tmp: Path, dist: Path, key: str) -> None:
    """pip brings the package, kv-core from dist/ and its own dependencies, nothing else."""
    case = CASES[key]
    venv = make_venv(shared_tmp, dist, case)
    installed = set(json.loads((venv.path / "installed.json").read_text())) - TOOLING
    report = json.loads((venv.path / "report.json").read_text())
    metadata = wheel_metadata(wheel_of(dist, Requirement(case.requirement).name))

    kv = {name for name in installed if name.startswith("kv-")}
    assert kv == case.kv
    for item in report["install"]:
        name = canonicalize_name(item["metadata"]["name"])
        if name in PACKAGES:
            assert item["download_info"]["url"].startswith(dist.as_uri()), item["download_info"]
            assert item["metadata"]["version"] == tree_version(name)
    # What the wheel itself asks for, beyond its kv siblings, is exactly the expected roots:
    # a new dependency is a decision, made here too.
    extras = Requirement(case.requirement).extras or {""}
    asked = [
        Requirement(text)
        for text in metadata.get_all("Requires-Dist") or []
        if canonicalize_name(Requirement(text).name) not in PACKAGES and active(text, extras)
    ]
    assert {canonicalize_name(r.name) for r in asked} == case.roots
    third_party = installed - kv
    needed = reachable(venv.distributions(), asked)
    assert third_party <= needed, f"{key} brought what it does not need: {third_party - needed}"
    assert case.roots <= third_party


def active(text: str, extras: set[str]) -> bool:
    """Whether the requirement *text* applies here when *extras* are asked for."""
    marker = Requirement(text).marker
    return marker is None or any(marker.evaluate({"extra": extra}) for extra in extras)


# Using what was installed


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working folder outside the repository, so nothing of the tree can be imported."""
    assert not tmp_path.resolve().is_relative_to(ROOT)
    return tmp_path


# Run with the kv-redis environment's own redis client: the test run needs none of its own.
DELETE_PREFIX = """
import sys
import redis
client = redis.Redis.from_url(sys.argv[1])
keys = list(client.scan_iter(match=sys.argv[2] + "*", count=500))
if keys:
    client.unlink(*keys)
client.close()
"""


@pytest.fixture
def redis_venv(shared_tmp: Path, dist: Path) -> Venv:
    """The environment holding kv-redis alone (and the suite, added after the check)."""
    REDIS.require()
    return make_venv(shared_tmp, dist, CASES["kv-redis"], conformance=True)


@pytest.fixture
def redis_prefix(redis_venv: Venv) -> Iterator[str]:
    """A key prefix nobody else uses; its keys are deleted afterwards (never FLUSHDB)."""
    prefix = f"kv_packaging_{uuid.uuid4().hex[:12]}:"
    yield prefix
    redis_venv.run("-c", DELETE_PREFIX, REDIS_URL, prefix)


ROUND_TRIP = """
import sys
import kv_core
with kv_core.open_store(sys.argv[1]) as store:
    store["greeting/one"] = b"hello"
    assert store["greeting/one"] == b"hello", store["greeting/one"]
    assert list(store) == ["greeting/one"], list(store)
    del store["greeting/one"]
    assert len(store) == 0
print("round trip ok")
"""


def round_trip(venv: Venv, url: str, cwd: Path) -> None:
    assert "round trip ok" in venv.run("-c", ROUND_TRIP, url, cwd=cwd)


def conformance(venv: Venv, url: str, cwd: Path) -> str:
    """Run the installed suite against *url*, from *cwd*, without the 10 MB tests; its output."""
    args = ["-m", "pytest", "-p", "no:cacheprovider", "-q", "-x", "-m", "not kv_slow"]
    output = venv.run(*args, "--kv-store", url, cwd=cwd)
    assert " passed" in output, output[-4000:]
    return output


def test_installed_kv_fs_works(shared_tmp: Path, dist: Path, outside: Path) -> None:
    """kv-fs, installed alone, stores and reads back a value in a temporary folder."""
    venv = make_venv(shared_tmp, dist, CASES["kv-fs"])
    round_trip(venv, f"file://{outside}/store?durable=0", outside)


def test_installed_kv_fs_passes_the_installed_suite(
    shared_tmp: Path, dist: Path, outside: Path
) -> None:
    """The suite from the installed kv-core runs against installed kv-fs, outside the repo."""
    venv = make_venv(shared_tmp, dist, CASES["kv-fs"], conformance=True)
    output = conformance(venv, f"file://{outside}/suite?durable=0", outside)
    assert "kv store TestCommandLineStore: Capabilities(persistent=True" in output


def test_installed_kv_redis_works(redis_venv: Venv, redis_prefix: str, outside: Path) -> None:
    """kv-redis, installed alone, stores and reads back a value on the real Redis."""
    round_trip(redis_venv, f"{REDIS_URL}?prefix={redis_prefix}", outside)


def test_installed_kv_redis_passes_the_installed_suite(
    redis_venv: Venv, redis_prefix: str, outside: Path
) -> None:
    """The installed suite runs against installed kv-redis under a private key prefix."""
    conformance(redis_venv, f"{REDIS_URL}?prefix={redis_prefix}", outside)


def test_installed_kv_sql_works(shared_tmp: Path, dist: Path, outside: Path) -> None:
    """kv-sql, installed alone, stores and reads back a value in SQLite."""
    venv = make_venv(shared_tmp, dist, CASES["kv-sql"])
    round_trip(venv, f"sqlite:///{outside}/kv.db?table=round_trip", outside)


def test_installed_kv_sql_passes_the_installed_suite(
    shared_tmp: Path, dist: Path, outside: Path
) -> None:
    """The installed suite runs against installed kv-sql on SQLite, outside the repo."""
    venv = make_venv(shared_tmp, dist, CASES["kv-sql"], conformance=True)
    conformance(venv, f"sqlite:///{outside}/suite.db?table=suite", outside)


def test_installed_kv_core_passes_its_own_suite(
    shared_tmp: Path, dist: Path, outside: Path
) -> None:
    """kv-core[conformance] alone runs the suite against its MemoryDict."""
    venv = make_venv(shared_tmp, dist, CASES["kv-core-conformance"])
    conformance(venv, "memory://", outside)


def test_installed_kv_flask_serves_and_reads(shared_tmp: Path, dist: Path, outside: Path) -> None:
    """kv-flask, installed alone, serves a MemoryDict and its HTTP client reads it back; the
    wheel carries the key browser page's files."""
    venv = make_venv(shared_tmp, dist, CASES["kv-flask"])
    script = (
        "import urllib.request\n"
        "from kv_core import MemoryDict\n"
        "from kv_flask import FlaskKvDict, ServerThread\n"
        "with ServerThread(MemoryDict(), ui=True) as server:\n"
        "    client = FlaskKvDict(server.url)\n"
        "    client['a/b'] = b'over http'\n"
        "    assert client['a/b'] == b'over http'\n"
        "    client.close()\n"
        "    for name in ('', 'ui.js', 'ui.css', 'favicon.svg'):\n"
        "        with urllib.request.urlopen(f'{server.url}/_kv/ui/{name}') as page:\n"
        "            assert page.status == 200 and page.read(), name\n"
        "print('round trip ok')\n"
    )
    assert "round trip ok" in venv.run("-c", script, cwd=outside)


SERVE_MEMORY = """
import sys
from kv_core import MemoryDict
from kv_flask import ServerThread
with ServerThread(MemoryDict(), threads=6) as server:
    print(server.url, flush=True)
    sys.stdin.read()  # serve until the test closes our stdin
"""


def test_installed_kv_flask_passes_the_installed_suite(
    shared_tmp: Path, dist: Path, outside: Path
) -> None:
    """The installed suite runs over HTTP against an installed kv-flask server."""
    venv = make_venv(shared_tmp, dist, CASES["kv-flask"], conformance=True)
    with subprocess.Popen(
        [str(venv.python), "-c", SERVE_MEMORY],
        cwd=outside,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # waitress logs its queue depth under load
        text=True,
    ) as server:
        assert server.stdin is not None
        assert server.stdout is not None
        try:
            url = server.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:"), url
            conformance(venv, url, outside)
        finally:
            server.stdin.close()
            server.wait(timeout=30)


def test_installed_kv_cli_runs(shared_tmp: Path, dist: Path, outside: Path) -> None:
    """kv-cli, installed alone, gives a working ``kv`` command with its own version, and
    ``kv check`` says what to install for the suite."""
    venv = make_venv(shared_tmp, dist, CASES["kv-cli"])
    kv = str(venv.path / "bin" / "kv")
    done = subprocess.run([kv, "--version"], cwd=outside, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert tree_version("kv-cli") in done.stdout
    listed = subprocess.run([kv, "--help"], cwd=outside, capture_output=True, text=True)
    assert "memory://" in listed.stdout
    assert "redis://" not in listed.stdout  # only what is installed
    check = subprocess.run([kv, "check", "memory://"], cwd=outside, capture_output=True, text=True)
    assert check.returncode == 1
    assert "pip install 'kv-core[conformance]'" in check.stderr
    assert "Traceback" not in check.stderr


# What every install carries: the pytest plugin, for projects that never asked for it

THEIR_TEST = """
def test_their_own_code():
    assert 1 + 1 == 2
"""

# What loading the plugin adds to what pytest itself imported: outside the standard library
# and kv_core, nothing.
PLUGIN_IMPORTS = """
import sys
import pytest
before = set(sys.modules)
import kv_core.conformance.plugin
new = {name.split(".")[0] for name in set(sys.modules) - before}
print(sorted(new - set(sys.stdlib_module_names) - {"kv_core"}))
"""


@pytest.fixture
def plain_pytest_venv(shared_tmp: Path, dist: Path) -> Venv:
    """kv-fs installed alone, then pytest, as another project would: no Hypothesis."""
    venv = make_venv(shared_tmp, dist, CASES["kv-fs"], key="kv-fs-with-pytest")
    with FileLock(str(venv.path) + ".lock"):
        if not (venv.path / "pytest.done").exists():
            venv.pip_install(dist, "pytest")
            (venv.path / "pytest.done").touch()
    assert "hypothesis" not in venv.distributions()
    return venv


def test_installing_kv_breaks_no_other_test_run(plain_pytest_venv: Venv, outside: Path) -> None:
    """Another project's pytest run passes with kv-core's plugin loaded and no Hypothesis,
    and shows nothing of kv."""
    (outside / "test_theirs.py").write_text(THEIR_TEST)
    output = plain_pytest_venv.run("-m", "pytest", "-p", "no:cacheprovider", cwd=outside)
    assert "1 passed" in output
    assert "kv conformance" not in output  # pytest's own header names the plugin: no more
    assert "kv store" not in output
    imported = plain_pytest_venv.run("-c", PLUGIN_IMPORTS, cwd=outside)
    assert ast.literal_eval(imported.strip()) == []


def test_asking_for_the_suite_without_the_extra(plain_pytest_venv: Venv, outside: Path) -> None:
    """--kv-store without kv-core[conformance] stops at once, saying what to install."""
    for option, value in (("--kv-store", "memory://"), ("--kv-factory", "kv_core:MemoryDict")):
        output = plain_pytest_venv.run(
            "-m", "pytest", "-p", "no:cacheprovider", option, value, cwd=outside, check=False
        )
        assert "pip install 'kv-core[conformance]'" in output
        assert "Traceback" not in output
    imported = plain_pytest_venv.run(
        "-c", "from kv_core.conformance import StoreConformance", cwd=outside, check=False
    )
    assert "pip install 'kv-core[conformance]'" in imported


# What kv-sql says when a database driver is missing

MISSING_DRIVER = """
import sys
from kv_core import UnknownStoreError, open_store
try:
    open_store(sys.argv[1])
except UnknownStoreError as exc:
    print(exc)
"""


@pytest.mark.parametrize(
    ("url", "extra"),
    [
        ("mysql://root@127.0.0.1:1/test", "kv-sql[mysql]"),
        ("mysql+pymysql://root@127.0.0.1:1/test", "kv-sql[mysql]"),
        ("mariadb://root@127.0.0.1:1/test", "kv-sql[mysql]"),
        ("postgresql://u@127.0.0.1:1/test", "kv-sql[postgres]"),
        ("postgres://u@127.0.0.1:1/test", "kv-sql[postgres]"),
        ("postgresql+psycopg://u@127.0.0.1:1/test", "kv-sql[postgres]"),
    ],
)
def test_kv_sql_alone_names_the_extra_for_a_driver(
    shared_tmp: Path, dist: Path, outside: Path, url: str, extra: str
) -> None:
    """kv-sql without its extras: opening a server URL names the extra to install."""
    venv = make_venv(shared_tmp, dist, CASES["kv-sql"])
    output = venv.run("-c", MISSING_DRIVER, url, cwd=outside)
    assert f"pip install '{extra}'" in output, output


# Upgrading one backend


def bumped(version: str, part: str) -> str:
    major, minor, patch = (int(x) for x in version.split("."))
    return f"{major}.{minor + 1}.0" if part == "minor" else f"{major}.{minor}.{patch + 1}"


def build_variant(package: str, version: str, out: Path, *, core_floor: str | None = None) -> None:
    """Build *package* as if released at *version* (needing kv-core >= *core_floor*)."""
    source = out / "src" / f"{package}-{version}"
    shutil.copytree(
        ROOT / "packages" / package, source, ignore=shutil.ignore_patterns("tests", "__pycache__")
    )
    about = source / "src" / module_of(package) / "__about__.py"
    about.write_text(f'__version__ = "{version}"\n')
    if core_floor:
        pyproject = source / "pyproject.toml"
        major = int(core_floor.split(".")[0])
        text = re.sub(
            r'"kv-core>=[^"]*"', f'"kv-core>={core_floor},<{major + 1}"', pyproject.read_text()
        )
        pyproject.write_text(text)
    fast = [] if importlib.util.find_spec("hatchling") is None else ["--no-isolation"]
    subprocess.run(
        [sys.executable, "-m", "build", *fast, "--wheel", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
    )


def test_upgrading_one_backend_leaves_the_others_alone(
    dist: Path, tmp_path: Path, outside: Path
) -> None:
    """With kv-fs and kv-redis installed, upgrading kv-redis moves kv-core only when the
    new kv-redis needs a newer one, never kv-fs, and kv-fs keeps working."""
    core, fs, redis = (tree_version(p) for p in ("kv-core", "kv-fs", "kv-redis"))
    newer = tmp_path / "newer"
    build_variant("kv-redis", bumped(redis, "patch"), newer)
    build_variant("kv-core", bumped(core, "minor"), newer)
    build_variant("kv-redis", bumped(redis, "minor"), newer, core_floor=bumped(core, "minor"))
    venv = Venv(tmp_path / "venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv.path)], check=True)
    venv.pip_install(dist, "kv-fs", "kv-redis")

    def versions() -> dict[str, str]:
        found = venv.distributions()
        return {name: found[name].version for name in ("kv-core", "kv-fs", "kv-redis")}

    assert versions() == {"kv-core": core, "kv-fs": fs, "kv-redis": redis}
    venv.pip_install(newer, "--upgrade", f"kv-redis=={bumped(redis, 'patch')}")
    assert versions() == {"kv-core": core, "kv-fs": fs, "kv-redis": bumped(redis, "patch")}
    venv.pip_install(newer, "--upgrade", "kv-redis")
    assert versions() == {
        "kv-core": bumped(core, "minor"),
        "kv-fs": fs,
        "kv-redis": bumped(redis, "minor"),
    }
    check = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv.python), "check"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout
    round_trip(venv, f"file://{outside}/store?durable=0", outside)


# Compatibility with the recorded releases


def compat_backends() -> list[str]:
    found = []
    for package in PACKAGES:
        with (ROOT / "packages" / package / "pyproject.toml").open("rb") as file:
            project = tomllib.load(file)["project"]
        if package != "kv-core" and "kv.stores" in project.get("entry-points", {}):
            found.append(package)
    return found


@pytest.mark.compat
@pytest.mark.timeout(540)  # one backend's suite, serially, in a venv it builds: minutes under load
@pytest.mark.parametrize("direction", ["forward", "reverse"])
@pytest.mark.parametrize("backend", compat_backends())
def test_backend_works_with_the_recorded_releases(
    backend: str, direction: str, tmp_path: Path
) -> None:
    """tools/compat.py: the backend against the oldest recorded kv-core it admits (forward),
    or its newest recorded release against kv-core from this tree (reverse)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "compat.py"), backend, "--direction", direction,
         "--workdir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=480,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "ok: " in done.stdout
