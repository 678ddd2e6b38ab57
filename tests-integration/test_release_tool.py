"""tools/release.py, tools/check_changelogs.py and tools/compat.py, on throwaway repositories.

Every test makes its own small monorepo (``packaging/fake_repo.py``) in ``tmp_path``; none
runs a tool against this repository.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "packaging"))

from fake_repo import FakeRepo, run_tool

ABOUT = "packages/kv-demo/src/kv_demo/__about__.py"
DEMO_LOG = "packages/kv-demo/CHANGELOG.md"


@pytest.fixture
def repo(tmp_path: Path) -> FakeRepo:
    return FakeRepo(tmp_path / "repo")


def record(repo: FakeRepo) -> dict[str, dict[str, str]]:
    path = repo.path / "tools" / "releases.json"
    return json.loads(path.read_text()) if path.exists() else {}


# tools/release.py


def test_release_bumps_moves_entries_records_commits_and_tags(repo: FakeRepo) -> None:
    """A minor release bumps __about__, moves the entries, commits, tags and records it."""
    repo.add_entry("kv-demo", "- Shout louder.")
    repo.commit("kv-demo: shout louder")

    done = repo.tool("release.py", "kv-demo", "minor", "--date", "2026-11-27")

    assert done.returncode == 0, done.stderr
    assert repo.read(ABOUT) == '__version__ = "0.2.0"\n'
    log = repo.read(DEMO_LOG)
    assert "## [Unreleased]\n\n## [0.2.0] - 2026-11-27\n\n### Changed\n- Shout louder.\n" in log
    assert log.index("## [0.2.0]") < log.index("## [0.1.0] - 2026-01-01")
    root_log = repo.read("CHANGELOG.md")
    assert "## Releases\n\n- kv-demo 0.2.0 (2026-11-27), tag kv-demo-v0.2.0\n" in root_log
    tagged = repo.git("rev-parse", "kv-demo-v0.2.0^{commit}")
    assert repo.git("log", "-1", "--format=%s", tagged) == "Release kv-demo 0.2.0"
    assert record(repo) == {"kv-demo": {"0.2.0": tagged}}
    assert repo.git("log", "-1", "--format=%s") == "Record kv-demo 0.2.0 in tools/releases.json"
    assert repo.git("status", "--porcelain") == ""


def test_release_refuses_an_empty_unreleased_section(repo: FakeRepo) -> None:
    """With no entry under Unreleased the release exits 1, says why and changes nothing."""
    before = repo.git("rev-parse", "HEAD")

    done = repo.tool("release.py", "kv-demo", "patch")

    assert done.returncode == 1
    assert "no entry under '## [Unreleased]'" in done.stderr
    assert "packages/kv-demo/CHANGELOG.md" in done.stderr
    assert repo.git("status", "--porcelain") == ""
    assert repo.git("rev-parse", "HEAD") == before
    assert repo.git("tag", "--list") == ""


def test_release_commits_only_its_own_files(repo: FakeRepo) -> None:
    """Work in progress elsewhere (staged or not) stays out of the release commits."""
    repo.add_entry("kv-demo")
    repo.commit("entry")
    repo.write("packages/kv-core/src/kv_core/__init__.py", "# someone else's edit\n")
    repo.write("packages/kv-core/README.md", "# staged by someone else\n")
    repo.git("add", "packages/kv-core/README.md")

    done = repo.tool("release.py", "kv-demo", "patch")

    assert done.returncode == 0, done.stderr
    changed = repo.git("show", "--name-only", "--format=", "kv-demo-v0.1.1^{commit}").splitlines()
    assert sorted(changed) == sorted(["CHANGELOG.md", ABOUT, DEMO_LOG])
    assert repo.git("diff", "--cached", "--name-only") == "packages/kv-core/README.md"
    assert repo.git("diff", "--name-only") == "packages/kv-core/src/kv_core/__init__.py"


@pytest.mark.parametrize(
    ("bump", "expected"), [("major", "1.0.0"), ("patch", "0.1.1"), ("0.3.0", "0.3.0")]
)
def test_release_computes_the_new_version(repo: FakeRepo, bump: str, expected: str) -> None:
    """major, patch and an explicit X.Y.Z give the version expected from 0.1.0."""
    repo.add_entry("kv-demo")

    done = repo.tool("release.py", "kv-demo", bump, "--no-git")

    assert done.returncode == 0, done.stderr
    assert repo.read(ABOUT) == f'__version__ = "{expected}"\n'


def test_release_refuses_a_version_that_is_not_newer(repo: FakeRepo) -> None:
    """An explicit version at or below the current one is refused."""
    repo.add_entry("kv-demo")
    log = repo.read(DEMO_LOG)

    done = repo.tool("release.py", "kv-demo", "0.1.0")

    assert done.returncode == 1
    assert "not newer than the current 0.1.0" in done.stderr
    assert repo.read(DEMO_LOG) == log


def test_release_refuses_an_unknown_package(repo: FakeRepo) -> None:
    """A misspelt package name is refused, naming the packages there are."""
    done = repo.tool("release.py", "kv-dmeo", "patch")

    assert done.returncode == 1
    assert "kv-core, kv-demo" in done.stderr


def test_release_without_git_changes_files_only(repo: FakeRepo) -> None:
    """--no-git writes the three files and neither commits, tags nor records."""
    repo.add_entry("kv-demo")
    before = repo.git("rev-parse", "HEAD")

    done = repo.tool("release.py", "kv-demo", "patch", "--no-git", "--date", "2026-02-03")

    assert done.returncode == 0, done.stderr
    assert repo.git("rev-parse", "HEAD") == before
    assert repo.git("tag", "--list") == ""
    assert record(repo) == {}
    assert "- kv-demo 0.1.1 (2026-02-03), tag kv-demo-v0.1.1" in repo.read("CHANGELOG.md")


def test_second_release_goes_first_in_the_releases_section(repo: FakeRepo) -> None:
    """The root CHANGELOG lists releases newest first, in one Releases section."""
    for line in ("- One.", "- Two."):
        repo.add_entry("kv-demo", line)
        repo.commit(line)
        assert repo.tool("release.py", "kv-demo", "patch", "--date", "2026-03-04").returncode == 0

    root_log = repo.read("CHANGELOG.md")
    assert root_log.count("## Releases") == 1
    assert root_log.index("kv-demo 0.1.2") < root_log.index("kv-demo 0.1.1")
    assert list(record(repo)["kv-demo"]) == ["0.1.1", "0.1.2"]


def test_record_writes_the_current_version_at_head(repo: FakeRepo) -> None:
    """`record` stores each package's version at HEAD without bumping it, and tags it."""
    head = repo.git("rev-parse", "HEAD")

    done = repo.tool("release.py", "record", "--all", "--date", "2026-11-26")

    assert done.returncode == 0, done.stderr
    assert record(repo) == {"kv-core": {"0.1.0": head}, "kv-demo": {"0.1.0": head}}
    assert repo.read(ABOUT) == '__version__ = "0.1.0"\n'
    assert repo.git("rev-parse", "kv-core-v0.1.0^{commit}") == head
    assert "- kv-core 0.1.0 (2026-11-26), tag kv-core-v0.1.0" in repo.read("CHANGELOG.md")
    assert repo.git("status", "--porcelain") == ""
    again = repo.tool("release.py", "record", "kv-core")
    assert again.returncode == 0, again.stderr
    assert "already recorded" in again.stdout
    assert record(repo)["kv-core"] == {"0.1.0": head}


def test_record_changes_nothing_when_a_package_is_not_committed(repo: FakeRepo) -> None:
    """A package missing from the commit fails the whole record: no file, tag or commit."""
    repo.add_package("kv-new", code="", test="")
    before = repo.git("rev-parse", "HEAD")

    done = repo.tool("release.py", "record", "--all")

    assert done.returncode == 1
    assert "packages/kv-new/src/kv_new/__about__.py" in done.stderr
    assert record(repo) == {}
    assert repo.git("tag", "--list") == ""
    assert repo.git("rev-parse", "HEAD") == before
    assert repo.git("status", "--porcelain", "--untracked-files=no") == ""


# tools/check_changelogs.py


def test_check_passes_packages_with_no_record(repo: FakeRepo) -> None:
    """Before any release is recorded every package passes, and the check says so."""
    repo.write("packages/kv-demo/src/kv_demo/extra.py", "X = 1\n")

    done = repo.tool("check_changelogs.py")

    assert done.returncode == 0, done.stderr
    assert "kv-demo: no release recorded" in done.stdout


@pytest.mark.parametrize(
    "change",
    [
        "packages/kv-demo/src/kv_demo/__init__.py",
        "packages/kv-demo/src/kv_demo/new_module.py",
        "packages/kv-demo/pyproject.toml",
    ],
)
def test_check_names_a_changed_package_without_an_entry(repo: FakeRepo, change: str) -> None:
    """A changed source file, a new one or pyproject.toml needs an Unreleased entry."""
    assert repo.tool("release.py", "record", "--all").returncode == 0
    path = repo.path / change
    path.write_text((path.read_text() if path.exists() else "") + "\n# changed\n")

    done = repo.tool("check_changelogs.py")

    assert done.returncode == 1
    assert "kv-demo: source changed since 0.1.0" in done.stderr
    assert "kv-core" not in done.stderr
    repo.add_entry("kv-demo")
    assert repo.tool("check_changelogs.py").returncode == 0


def test_check_counts_committed_changes_and_ignores_tests(repo: FakeRepo) -> None:
    """Committed source changes count; a change to tests/ alone needs no entry."""
    assert repo.tool("release.py", "record", "--all").returncode == 0
    repo.write("packages/kv-demo/tests/test_more.py", "def test_more():\n    pass\n")
    repo.commit("more tests")
    assert repo.tool("check_changelogs.py").returncode == 0

    repo.write("packages/kv-core/src/kv_core/more.py", "Y = 2\n")
    repo.commit("more core")
    done = repo.tool("check_changelogs.py", "kv-core")
    assert done.returncode == 1
    assert "kv-core: source changed since 0.1.0" in done.stderr


def test_check_uses_the_newest_recorded_release(repo: FakeRepo) -> None:
    """After a release, only changes made since that release need an entry."""
    repo.write("packages/kv-demo/src/kv_demo/more.py", "Z = 3\n")
    repo.add_entry("kv-demo")
    repo.commit("more demo")
    assert repo.tool("release.py", "record", "kv-demo").returncode == 0
    assert repo.tool("release.py", "kv-demo", "patch").returncode == 0

    done = repo.tool("check_changelogs.py")

    assert done.returncode == 0, done.stderr
    assert "kv-demo: unchanged since 0.1.1" in done.stdout


def test_check_asks_for_full_history_in_a_shallow_clone(repo: FakeRepo, tmp_path: Path) -> None:
    """A recorded commit missing from a shallow clone fails with a hint to fetch it."""
    assert repo.tool("release.py", "record", "--all").returncode == 0
    repo.write("packages/kv-demo/README.md", "# changed\n")
    repo.commit("later")
    shallow = tmp_path / "shallow"
    repo.git("clone", "-q", "--depth", "1", f"file://{repo.path}", str(shallow))

    done = run_tool(shallow, "check_changelogs.py", [])

    assert done.returncode == 1
    assert "is not in this clone" in done.stderr
    assert "git fetch --unshallow" in done.stderr


# tools/compat.py


@pytest.mark.compat
def test_compat_passes_when_nothing_is_recorded(repo: FakeRepo) -> None:
    """With no record both directions say "no release recorded" and pass."""
    done = repo.tool("compat.py")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "no release recorded of kv-core" in done.stdout
    assert "kv-demo (newest release) with kv-core from this tree: no release recorded" in (
        done.stdout
    )


@pytest.mark.compat
def test_compat_skips_combinations_the_normal_run_covers(repo: FakeRepo) -> None:
    """After recording, with only READMEs changed since, both combinations equal the working
    tree and are not rebuilt."""
    assert repo.tool("release.py", "record", "--all").returncode == 0
    repo.write("packages/kv-core/README.md", "# kv-core\n\nBetter words.\n")
    repo.write("packages/kv-demo/README.md", "# kv-demo\n\nBetter words.\n")
    repo.commit("READMEs")

    done = repo.tool("compat.py")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "kv-core is unchanged since then" in done.stdout
    assert "kv-demo is unchanged since then" in done.stdout


@pytest.mark.compat
def test_compat_runs_the_backend_against_the_oldest_recorded_core(
    repo: FakeRepo, tmp_path: Path
) -> None:
    """A compatible kv-core change: this tree's backend passes on kv-core 0.1.0 built from
    its recorded commit."""
    assert repo.tool("release.py", "record", "--all").returncode == 0
    core_init = repo.path / "packages/kv-core/src/kv_core/__init__.py"
    core_init.write_text(core_init.read_text() + "\n\ndef wave() -> str:\n    return 'o/'\n")
    repo.commit("kv-core: wave")

    done = repo.tool("compat.py", "--workdir", str(tmp_path / "work"))

    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok: kv-demo (this tree) with kv-core 0.1.0" in done.stdout
    assert "1 passed" in done.stdout


@pytest.mark.compat
def test_compat_fails_when_core_breaks_a_released_backend(repo: FakeRepo, tmp_path: Path) -> None:
    """kv-core dropping what released kv-demo 0.1.0 calls fails the reverse check, and a
    backend needing newer kv-core than its range admits fails the forward check."""
    assert repo.tool("release.py", "record", "--all").returncode == 0
    repo.write(
        "packages/kv-core/src/kv_core/__init__.py",
        "def wave(name: str) -> str:\n    return f'o/ {name}'\n",
    )
    repo.write(
        "packages/kv-demo/src/kv_demo/__init__.py",
        "from kv_core import wave\n\n\ndef shout(name: str) -> str:\n"
        "    return wave(name).upper()\n",
    )
    repo.write(
        "packages/kv-demo/tests/test_kv_demo_conformance.py",
        "from kv_demo import shout\n\n\ndef test_shout():\n    assert shout('x') == 'O/ X'\n",
    )
    repo.commit("kv-core: greet becomes wave")

    done = repo.tool("compat.py", "--workdir", str(tmp_path / "work"))

    assert done.returncode == 1
    assert "FAILED: kv-demo (this tree) with kv-core 0.1.0" in done.stdout
    assert "FAILED: kv-demo 0.1.0" in done.stdout
    assert "ImportError" in done.stdout


@pytest.mark.compat
def test_compat_skips_a_core_outside_the_released_range(repo: FakeRepo) -> None:
    """A new kv-core major is outside released kv-demo's range: nothing to combine."""
    assert repo.tool("release.py", "record", "--all").returncode == 0
    repo.write("packages/kv-core/src/kv_core/__about__.py", '__version__ = "1.0.0"\n')
    demo = repo.path / "packages/kv-demo/src/kv_demo/__init__.py"
    demo.write_text(demo.read_text() + "\n# changed since 0.1.0\n")
    repo.commit("kv-core 1.0.0")

    done = repo.tool("compat.py", "--direction", "reverse")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "kv-core 1.0.0 is outside kv-demo 0.1.0's range" in done.stdout


@pytest.mark.compat
def test_compat_asks_for_full_history_in_a_shallow_clone(repo: FakeRepo, tmp_path: Path) -> None:
    """A recorded commit missing from a shallow clone fails both directions with a hint."""
    assert repo.tool("release.py", "record", "--all").returncode == 0
    core = repo.path / "packages/kv-core/src/kv_core/__init__.py"
    core.write_text(core.read_text() + "\n# later\n")
    demo = repo.path / "packages/kv-demo/src/kv_demo/__init__.py"
    demo.write_text(demo.read_text() + "\n# later\n")
    repo.commit("later")
    shallow = tmp_path / "shallow"
    repo.git("clone", "-q", "--depth", "1", f"file://{repo.path}", str(shallow))

    done = run_tool(shallow, "compat.py", [])

    assert done.returncode == 1
    assert done.stderr.count("is not in this clone; fetch the full history") == 2
