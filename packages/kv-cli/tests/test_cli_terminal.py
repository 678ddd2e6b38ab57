"""What kv writes to a real terminal (a pty), to pipes and files, and Ctrl-C."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kv_core import open_store

from .conftest import KV, Run, run_on_terminal

# Clears the screen, retitles the window, rings the bell: what a terminal obeys.
HOSTILE = b"\x1b[2J\x1b]0;owned\x07\x9b6n"


@pytest.fixture
def stored(file_url: str) -> str:
    """A file store holding text, a hostile value and binary data."""
    with open_store(file_url) as store:
        store.set_many(
            {
                "text": "h\u00e9llo\n\tworld\r\n".encode(),
                "hostile": HOSTILE,
                "c1": "\u009b2J".encode(),
                "escapes": b"\x1b[2J\x1b]0;owned\x07",
                "binary": bytes(range(256)),
                "bad-utf8": b"caf\xe9",
            }
        )
    return file_url


def test_text_is_printed_on_a_terminal(stored: str, tmp_path: Path) -> None:
    """Printable UTF-8 (tabs and line ends included) goes to the terminal as it is."""
    run = run_on_terminal("--url", stored, "get", "text", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "h\u00e9llo".encode() in run.terminal


@pytest.mark.parametrize("key", ["hostile", "escapes", "c1", "binary", "bad-utf8"])
def test_other_bytes_are_refused_on_a_terminal(stored: str, tmp_path: Path, key: str) -> None:
    """Escape sequences, C1 controls, binary and broken UTF-8 never reach the terminal."""
    run = run_on_terminal("--url", stored, "get", key, cwd=tmp_path)
    assert run.returncode == 1
    assert b"\x1b" not in run.terminal
    assert b"\x9b" not in run.terminal
    assert run.terminal.strip() == b""
    message = run.stderr.decode()
    assert "not printable text" in message
    for way in ("--output FILE", "--json", "pipe"):
        assert way in message
    assert "Traceback" not in message


def test_the_message_itself_is_harmless_on_a_terminal(stored: str, tmp_path: Path) -> None:
    """With stderr on the terminal too, the refusal shows no byte of the value."""
    run = run_on_terminal("--url", stored, "get", "hostile", cwd=tmp_path, stderr_on_terminal=True)
    assert run.returncode == 1
    assert b"not printable text" in run.terminal
    assert b"\x1b]0;owned" not in run.terminal


def test_output_dash_prints_to_the_terminal_anyway(stored: str, tmp_path: Path) -> None:
    """--output - is the explicit way to send the bytes to the terminal."""
    run = run_on_terminal("--url", stored, "get", "binary", "--output", "-", cwd=tmp_path)
    assert run.returncode == 0
    assert b"\x1b" in run.terminal


def test_json_is_safe_on_a_terminal(stored: str, tmp_path: Path) -> None:
    """--json escapes what a terminal would obey, in text and in binary values."""
    for key, encoding in (("escapes", b"utf-8"), ("c1", b"utf-8"), ("hostile", b"base64")):
        run = run_on_terminal("--url", stored, "get", key, "--json", cwd=tmp_path)
        assert run.returncode == 0
        assert b"\x1b" not in run.terminal
        assert b"\x9b" not in run.terminal
        assert b'"encoding": "' + encoding + b'"' in run.terminal


def test_pipes_and_files_get_the_exact_bytes(run_kv: Run, stored: str, tmp_path: Path) -> None:
    """To a pipe, or with --output FILE, every value is written byte for byte."""
    assert run_kv("--url", stored, "get", "hostile").stdout == HOSTILE
    out = tmp_path / "out.bin"
    result = run_kv("--url", stored, "get", "binary", "-o", str(out))
    assert (result.returncode, result.stdout) == (0, b"")
    assert out.read_bytes() == bytes(range(256))


def test_output_file_is_left_alone_when_the_key_is_missing(
    run_kv: Run, stored: str, tmp_path: Path
) -> None:
    """A missing key exits 3 and does not create or truncate the output file."""
    out = tmp_path / "keep.txt"
    out.write_bytes(b"precious")
    assert run_kv("--url", stored, "get", "nope", "--output", str(out)).returncode == 3
    assert out.read_bytes() == b"precious"


def test_output_file_that_cannot_be_written(run_kv: Run, stored: str, tmp_path: Path) -> None:
    """An output path in a missing folder is an error in one line, exit 1."""
    result = run_kv("--url", stored, "get", "text", "-o", str(tmp_path / "no" / "such" / "f"))
    assert result.returncode == 1
    assert b"cannot write" in result.stderr
    assert b"Traceback" not in result.stderr


def test_ls_escapes_control_characters_on_a_terminal(
    run_kv: Run, file_url: str, tmp_path: Path
) -> None:
    """Keys with escape sequences are shown as \\xNN on a terminal, raw in a pipe."""
    with open_store(file_url) as store:
        store["evil\x1b]0;owned\x07"] = b"v"
        store["plain"] = b"v"
    run = run_on_terminal("--url", file_url, "ls", cwd=tmp_path)
    assert run.returncode == 0
    assert b"\x1b" not in run.terminal
    assert b"evil\\x1b]0;owned\\x07" in run.terminal
    assert b"plain" in run.terminal
    assert run_kv("--url", file_url, "ls").stdout == b"evil\x1b]0;owned\x07\nplain\n"


def test_ctrl_c_exits_130_without_a_traceback(tmp_path: Path) -> None:
    """^C typed on the terminal stops kv serve with exit code 130 and no traceback."""
    run = run_on_terminal(
        "serve",
        "memory://",
        "--port",
        "0",
        cwd=tmp_path,
        stderr_on_terminal=True,
        interrupt_when=b"serving memory://",
    )
    assert run.returncode == 130, run.terminal[-2000:]
    assert b"Traceback" not in run.terminal
    assert b"KeyboardInterrupt" not in run.terminal


def test_broken_pipe_is_quiet(run_kv: Run, file_url: str, tmp_path: Path) -> None:
    """kv ls | head: when the reader goes away early, no traceback and no noise."""
    with open_store(file_url) as store:
        store.set_many({f"key-{i:06d}": b"v" for i in range(20_000)})
    done = subprocess.run(
        f"'{KV}' --url '{file_url}' ls | head -n 1",
        shell=True,
        capture_output=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.stdout == b"key-000000\n"
    assert b"Traceback" not in done.stderr
    assert b"BrokenPipe" not in done.stderr
