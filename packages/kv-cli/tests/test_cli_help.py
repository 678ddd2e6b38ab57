"""``kv --help`` without click: the same page as click's, the same schemes as importlib.metadata."""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from unittest import mock

import click.formatting
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kv_core
from kv_cli import _entry, _schemes
from kv_cli._main import main as run_click_command

from .conftest import KV

PROGS = ["kv", "python -m kv_cli", "p" * 40]


def clicks_page(prog: str, columns: int) -> str:
    """What the click command prints for ``PROG --help`` on a terminal *columns* wide.

    (Not through click's CliRunner, which lays pages out 80 wide, not as a terminal would.)
    """
    out = io.StringIO()
    with (
        mock.patch.dict(os.environ, {"COLUMNS": str(columns)}),
        mock.patch.object(sys, "argv", ["kv", "--help"]),
        redirect_stdout(out),
    ):
        assert run_click_command(prog) == 0
    return out.getvalue()


@pytest.mark.parametrize("prog", PROGS)
@pytest.mark.parametrize("columns", [80, 81, 132, 500])
def test_the_page_is_clicks_page(prog: str, columns: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """On 80 columns or more, the page kept as text is the one click renders, to the byte."""
    monkeypatch.setenv("COLUMNS", str(columns))
    expected = clicks_page(prog, columns)
    page = _entry.help_page(prog)
    body = expected[len(f"Usage: {prog}") :].partition("Store URL schemes installed here:\n")
    assert page == expected, "kv --help changed: set kv_cli._entry._PAGE to\n" + "".join(body[:2])


@pytest.mark.parametrize(
    ("prog", "columns"), [("kv", 79), ("kv", 50), ("p" * 41, 80), ("k\tv", 80)]
)
def test_narrow_terminals_and_odd_names_are_left_to_click(
    prog: str, columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page click lays out narrower, or with a usage line of its own, is not guessed."""
    monkeypatch.setenv("COLUMNS", str(columns))
    assert _entry.help_page(prog) is None


@pytest.mark.parametrize("columns", ["", "0", "-3", "x", "79", "80", "200"])
def test_columns_are_found_as_shutil_finds_them(
    columns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The width click would ask shutil for, without importing shutil."""
    import shutil

    monkeypatch.setenv("COLUMNS", columns)
    assert _entry._columns() == shutil.get_terminal_size().columns


SCHEME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789+.*", min_size=1, max_size=80)


@settings(max_examples=300, deadline=None)
@given(st.lists(SCHEME, min_size=1, max_size=40))
def test_the_schemes_are_broken_into_lines_as_click_breaks_them(schemes: list[str]) -> None:
    """The list of schemes wraps as click's write_text wraps it, or is left to click."""
    text = ", ".join(f"{scheme}://" for scheme in schemes)
    formatter = click.formatting.HelpFormatter(width=_entry._WIDEST)
    with formatter.section("Store URL schemes installed here"):
        formatter.write_text(text)
    expected = formatter.getvalue().partition(":\n")[2]
    wrapped = _entry._wrapped(text)
    if any(len(word) > _entry._WIDEST - 2 for word in text.split(" ")):
        assert wrapped is None
    else:
        assert wrapped == expected


@pytest.mark.parametrize("text", ["x-store://", "a://,  b://", "caf\u00e9://", "a\tb://", ""])
def test_scheme_lists_with_other_breaking_rules_are_left_to_click(text: str) -> None:
    """Hyphens (which textwrap breaks at), runs of spaces, tabs, non-ASCII: click lays out."""
    assert _entry._wrapped(text) is None


def _run(
    *code_and_args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(code_and_args),
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80", **(env or {})},
        check=False,
    )


CLICK_HELP = """
import sys
from kv_cli._main import main
sys.argv = ["kv", *sys.argv[1:]]
sys.exit(main())
"""

FAST_HELP = """
import json, sys
from kv_cli._entry import main
sys.argv = ["kv", *sys.argv[1:]]
code = main()
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
sys.exit(code)
"""


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_the_console_script_prints_clicks_page(flag: str) -> None:
    """``kv --help`` (and ``-h``) print what the click command prints, and exit 0."""
    fast = _run(str(KV), flag)
    slow = _run(sys.executable, "-c", CLICK_HELP, flag)
    assert (fast.returncode, fast.stdout, fast.stderr) == (0, slow.stdout, "")
    assert slow.returncode == 0
    assert "memory://" in fast.stdout


def test_python_m_kv_cli_prints_clicks_page() -> None:
    """Under ``python -m kv_cli`` the usage line names that."""
    done = _run(sys.executable, "-m", "kv_cli", "--help")
    assert done.returncode == 0
    assert done.stdout == clicks_page("python -m kv_cli", 80)


def test_the_help_imports_neither_click_nor_importlib_metadata() -> None:
    """The page and its schemes come without click, importlib.metadata, typing or kv-core."""
    done = _run(sys.executable, "-c", FAST_HELP, "--help")
    assert done.returncode == 0
    assert "Store URL schemes installed here" in done.stdout
    modules = set(json.loads(done.stderr.strip().splitlines()[-1]))
    heavy = ["click", "importlib.metadata", "typing", "inspect", "kv_core", "shutil"]
    assert sorted(m for m in heavy if m in modules) == []


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--help"], {"COLUMNS": "60"}),
        (["--url", "memory://", "--help"], {}),
        (["get", "--help"], {}),
        (["--help", "--help"], {}),
    ],
)
def test_other_command_lines_go_to_click(args: list[str], env: dict[str, str]) -> None:
    """A narrow page, options before --help, a command's help: all click's, as before."""
    fast = _run(str(KV), *args, env=env)
    slow = _run(sys.executable, "-c", CLICK_HELP, *args, env=env)
    assert fast.returncode == slow.returncode == 0
    assert fast.stdout == slow.stdout
    assert fast.stdout.startswith("Usage: kv")


def test_shell_completion_is_left_to_click() -> None:
    """With _KV_COMPLETE set, the shell gets click's completion script, not the page."""
    done = _run(str(KV), "--help", env={"_KV_COMPLETE": "bash_source"})
    assert done.returncode == 0
    assert "_kv_completion" in done.stdout
    assert "Usage:" not in done.stdout


def test_a_closed_pipe_exits_1_quietly() -> None:
    """``kv --help`` into a pipe nobody reads: exit 1 and no traceback, as click does."""
    results = []
    for command in ([str(KV), "--help"], [sys.executable, "-c", CLICK_HELP, "--help"]):
        read, write = os.pipe()
        os.close(read)
        try:
            done = subprocess.run(command, stdout=write, stderr=subprocess.PIPE, check=False)
        finally:
            os.close(write)
        results.append((done.returncode, done.stderr))
    assert results[0] == results[1] == (1, b"")


# The scheme reader, held to importlib.metadata.


def test_the_installed_schemes_are_importlib_metadatas() -> None:
    """Here, the reader answers without falling back, and as importlib.metadata does."""
    assert _schemes._read() == kv_core.registered_schemes()
    assert _schemes.installed_schemes() == kv_core.registered_schemes()


def metadata_schemes() -> list[str]:
    """What importlib.metadata finds on the current sys.path (kv_core's answer)."""
    importlib.invalidate_caches()
    return sorted({ep.name for ep in importlib.metadata.entry_points(group="kv.stores")})


@contextmanager
def on_sys_path(*entries: str) -> Iterator[None]:
    with mock.patch.object(sys, "path", list(entries)):
        importlib.invalidate_caches()
        yield
    importlib.invalidate_caches()


def entry_points(groups: dict[str, list[str]], *, junk: bool = False) -> str:
    """An entry_points.txt with *groups*, and comments and blank lines if *junk*."""
    lines = ["# made by a test", ""] if junk else []
    for group, names in groups.items():
        lines.append(f"[{group}]")
        lines.extend(f"  {name} =  pkg.mod:open{i}  " for i, name in enumerate(names))
        if junk:  # ";" starts no comment there: that is an entry point named "; semi"
            lines.extend(["", "# another comment", "; semi = pkg:x"])
    return "\n".join(lines) + "\n"


DIST_NAMES = ["kv_one", "kv-one", "KV.One", "other", "Other_Pkg", "third"]
DIST = st.tuples(
    st.integers(0, 2),  # which sys.path folder
    st.sampled_from(DIST_NAMES),
    st.sampled_from(["1.0", "2.0"]),
    st.sampled_from([".dist-info", ".egg-info"]),
    st.none()
    | st.dictionaries(
        st.sampled_from(["kv.stores", "console_scripts", "kv.stores.extra"]),
        st.lists(st.sampled_from(["memory", "x+*", "s3", "file", "y.z"]), max_size=3),
        max_size=2,
    ),
    st.booleans(),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(DIST, max_size=8), st.booleans())
def test_the_reader_agrees_with_importlib_metadata(
    dists: list[tuple[int, str, str, str, dict[str, list[str]] | None, bool]], cwd_first: bool
) -> None:
    """Over made-up sys.path folders with clashing names, versions, egg-info, files without
    entry points, comments and empty or missing folders: the same schemes."""
    with tempfile.TemporaryDirectory() as top:
        folders = [Path(top, f"path{i}") for i in range(3)]
        for folder in folders[:2]:
            folder.mkdir()
        for where, name, version, suffix, groups, junk in dists:
            folder = folders[min(where, 1)]
            info = folder / f"{name}-{version}{suffix}"
            if info.exists():
                continue
            info.mkdir()
            if groups is not None:
                (info / "entry_points.txt").write_text(entry_points(groups, junk=junk))
        entries = [str(folder) for folder in folders]
        previous = os.getcwd()
        os.chdir(folders[0])
        try:
            with on_sys_path(*(["", *entries] if cwd_first else entries)):
                assert _schemes._read() == metadata_schemes()
        finally:
            os.chdir(previous)


def test_a_zip_on_sys_path_is_read_by_importlib_metadata(tmp_path: Path) -> None:
    """Distributions inside a zip archive: the reader defers, the answer is the same."""
    archive = tmp_path / "dists.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("zipped-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: zipped\n")
        zipped.writestr("zipped-1.0.dist-info/entry_points.txt", "[kv.stores]\nzipped = m:f\n")
    with on_sys_path(str(archive)):
        with pytest.raises(_schemes._Unsure):
            _schemes._read()
        assert _schemes.installed_schemes() == metadata_schemes() == ["zipped"]


def test_an_egg_on_sys_path_is_read_by_importlib_metadata(tmp_path: Path) -> None:
    """An ``.egg`` folder on sys.path: the reader defers to importlib.metadata."""
    egg = tmp_path / "eggy-1.0.egg"
    (egg / "EGG-INFO").mkdir(parents=True)
    (egg / "EGG-INFO" / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: eggy\n")
    (egg / "EGG-INFO" / "entry_points.txt").write_text("[kv.stores]\neggy = m:f\n")
    with on_sys_path(str(egg)):
        with pytest.raises(_schemes._Unsure):
            _schemes._read()
        assert _schemes.installed_schemes() == metadata_schemes() == ["eggy"]


def test_another_distribution_finder_is_asked_through_importlib_metadata(
    tmp_path: Path,
) -> None:
    """A finder on sys.meta_path with distributions of its own: importlib.metadata asks it."""

    class Finder:
        @staticmethod
        def find_spec(*args: object) -> None:
            return None

        @staticmethod
        def find_distributions(context: object = None) -> list[importlib.metadata.Distribution]:
            info = tmp_path / "found-1.0.dist-info"
            info.mkdir(exist_ok=True)
            (info / "entry_points.txt").write_text("[kv.stores]\nfound = m:f\n")
            return [importlib.metadata.PathDistribution(info)]

    with on_sys_path(), mock.patch.object(sys, "meta_path", [Finder, *sys.meta_path]):
        with pytest.raises(_schemes._Unsure):
            _schemes._read()
        assert _schemes.installed_schemes() == metadata_schemes() == ["found"]


@pytest.mark.parametrize(
    ("folder", "text"),
    [
        ("bad-1.0.dist-info", "[kv.stores]\nno equals sign here\n"),
        ("Upper-1.0.DIST-INFO", "[kv.stores]\nupper = m:f\n"),
        ("-1.0.dist-info", "[kv.stores]\nnameless = m:f\n"),
    ],
)
def test_what_the_reader_cannot_follow_goes_to_importlib_metadata(
    tmp_path: Path, folder: str, text: str
) -> None:
    """A line importlib.metadata fails on, a name it reads from the metadata file: deferred."""
    (tmp_path / folder).mkdir()
    (tmp_path / folder / "entry_points.txt").write_text(text)
    (tmp_path / folder / "METADATA").write_text("Metadata-Version: 2.1\nName: Upper\n")
    with on_sys_path(str(tmp_path)), pytest.raises(_schemes._Unsure):
        _schemes._read()
