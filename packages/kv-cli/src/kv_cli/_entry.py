"""The ``kv`` console script: its entry point, and ``kv --help`` without loading click.

Asking for the help page is what people do first, and click with what it imports (inspect,
typing, uuid ...) costs about four times the interpreter's own start. So when the command
line is ``--help`` or ``-h`` alone, the terminal is 80 columns or wider (or there is none)
and no shell completion is asked for, :func:`main` prints the page click renders then, kept
here as text (:data:`_PAGE`) and held to click's rendering of :data:`kv_cli._main.cli` by
the tests; the installed schemes it ends with are read as :mod:`kv_cli._schemes` reads them.
Every other command line goes to the click command in :mod:`kv_cli._main`.
"""

from __future__ import annotations

import os
import sys

__all__ = ["help_page", "main"]

_HELP_ARGS = (["--help"], ["-h"])
#: The widest page click lays out (its ``max_content_width``, 80, less 2), reached on
#: terminals of 80 columns or more and when standard output is not a terminal.
_WIDEST = 78
_TERMINAL = 80
# A longer program name would push the usage line past the page's width.
_LONGEST_PROG = 40

# The page as click renders it _WIDEST wide, between "Usage: PROG" and the list of schemes.
# tests/test_cli_help.py holds it to click's page: when a command or its help changes, the
# test fails and shows the page to paste here.
_PAGE = """\
 [OPTIONS] COMMAND [ARGS]...

  Read, write, list, copy, serve and check kv stores.

  Every command works on the store at --url (given before or after the
  command, or in KV_URL), by default the SQLite file kv.sqlite3 here.

  Exit codes: 0 ok, 1 error, 2 usage or bad input, 3 key not found, 4 store
  unavailable (try again later), 5 access denied (credentials, rights, or no
  such database: retrying will not help), 130 interrupted.

Options:
  --url TEXT  The store to use (also from KV_URL).  [default:
              sqlite:///kv.sqlite3]
  --version   Show the version and exit.
  -h, --help  Show this message and exit.

Commands:
  bench    Print p50 (median) and p99 latencies of common operations on...
  check    Run the conformance suite against the store at URL, which must...
  cp       Copy every key of the store at SOURCE into the store at TARGET...
  get      Print the value of KEY, byte for byte (on a terminal, only if...
  history  List every version of KEY, oldest first, on stores that keep...
  ls       List the keys (that start with PREFIX), sorted.
  rm       Delete KEY.
  serve    Serve the store at URL (default: --url) over HTTP with a...
  set      Store VALUE under KEY; with no VALUE, or '-', read it from...

Store URL schemes installed here:
"""


def main(prog_name: str = "kv") -> int:
    """Entry point of the ``kv`` console script (and of ``python -m kv_cli``); the exit code.

    ``kv --help`` and ``kv -h`` are answered here when :func:`help_page` can; everything
    else runs the click command (:func:`kv_cli._main.main`). Ctrl-C ends any command with
    exit code 130 and no traceback.
    """
    if (
        sys.argv[1:] in _HELP_ARGS
        and sys.stdout is not None
        and not os.environ.get(_completion_variable(prog_name))
    ):
        page = help_page(prog_name)
        if page is not None:
            return _show(page)
    from ._main import main as run_command

    return run_command(prog_name)


def help_page(prog_name: str = "kv") -> str | None:
    """What ``PROG --help`` prints, newline ended, or None where only click can lay it out:
    on a terminal narrower than 80 columns, for a long program name, or when an installed
    scheme has characters the line breaking below does not handle as click's does."""
    if _columns() < _TERMINAL or len(prog_name) > _LONGEST_PROG or not prog_name.isprintable():
        return None
    from ._schemes import scheme_list

    schemes = _wrapped(scheme_list())
    if schemes is None:
        return None
    return f"Usage: {prog_name}{_PAGE}{schemes}"


def _wrapped(text: str) -> str | None:
    """*text* broken into lines indented by 2, as click's ``write_text`` breaks it; None
    where that needs textwrap's finer rules (hyphens, words too long for a line)."""
    room = _WIDEST - 2
    words = text.split(" ")
    if not text or not text.isascii() or not text.isprintable() or "-" in text:
        return None
    if any(not word or len(word) > room for word in words):
        return None
    lines = [words[0]]
    for word in words[1:]:
        if len(lines[-1]) + 1 + len(word) <= room:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return "".join(f"  {line}\n" for line in lines)


def _columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` finds it (which click asks):
    COLUMNS, else standard output's terminal, else 80. shutil itself imports archivers."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        size = os.get_terminal_size(sys.__stdout__.fileno())  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return _TERMINAL
    return size.columns or _TERMINAL


def _completion_variable(prog_name: str) -> str:
    """The variable through which a shell asks click to complete (``_KV_COMPLETE``)."""
    name = prog_name.replace("-", "_").replace(".", "_")
    return f"_{name}_COMPLETE".upper()


def _show(page: str) -> int:
    """Print *page* as click's echo does; when the reader has gone (``kv --help | true``),
    exit 1 without a traceback, as click does."""
    try:
        sys.stdout.write(page)
        sys.stdout.flush()
    except BrokenPipeError:
        # Nothing more reaches that pipe; point it at /dev/null so that the interpreter's
        # last flush has nowhere to fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 1
    return 0
