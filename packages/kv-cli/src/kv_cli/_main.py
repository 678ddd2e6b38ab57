"""The ``kv`` command."""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

import kv_core

from .__about__ import __version__
from ._errors import (
    EXIT_CODES,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    Exit,
    exit_for,
)
from ._history import history_of, parse_moment, snapshot_of, version_record
from ._output import encode_value, is_printable_text, shown_on_terminal
from ._schemes import scheme_list

if TYPE_CHECKING:
    from kv_core import Store

# kv-core's names are read as attributes of the package when a command runs, and the modules
# of single commands (copy, check, bench) imported by that command: ``kv --help`` and the
# quick commands need neither the URL parser, the store protocol nor dataclasses.

__all__ = ["DEFAULT_URL", "cli", "main"]

#: The store used when neither --url nor KV_URL names one: a SQLite file here (kv-sql).
DEFAULT_URL = "sqlite:///kv.sqlite3"
_LOG_HANDLER = "kv-serve"

F = TypeVar("F", bound=Callable[..., Any])

# Where a --url given after the subcommand is kept (ctx.meta is shared by the whole run).
_SUBCOMMAND_URL = "kv_cli.url"


@contextmanager
def _opened(url: str) -> Iterator[Store]:
    """Open *url*, turn kv errors into exit codes, and close the store afterwards."""
    # Any failure becomes a one-line message and an exit code, never a traceback: a backend
    # may raise its driver's errors for a malformed URL.
    try:
        store = kv_core.open_store(url)
    except Exception as exc:
        raise exit_for(exc) from exc
    try:
        yield store
    except click.exceptions.Exit:
        raise
    except Exception as exc:
        raise exit_for(exc) from exc
    finally:
        with suppress(Exception):  # the error that brought us here is the one to report
            store.close()


def _url(ctx: click.Context, given: str | None = None) -> str:
    """The store URL: *given* (a URL argument), --url after the subcommand, or the group's."""
    after: str | None = ctx.meta.get(_SUBCOMMAND_URL)
    if given and after and given != after:
        msg = "give the store once: as the URL argument or as --url"
        raise click.UsageError(msg, ctx)
    url: str = given or after or ctx.obj["url"]
    return url


def _url_option(command: F) -> F:
    """Accept ``--url`` after the subcommand too (``kv get --url URL KEY``)."""

    def remember(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value is not None:
            ctx.meta[_SUBCOMMAND_URL] = value

    option = click.option(
        "--url",
        "subcommand_url",
        metavar="URL",
        default=None,
        expose_value=False,
        callback=remember,
        help="The store to use (the same as kv --url, which it overrides).",
    )
    return option(command)


class _Group(click.Group):
    """The kv group: its help lists the store schemes installed here."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        with formatter.section("Store URL schemes installed here"):
            formatter.write_text(scheme_list())


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=f"""Read, write, list, copy, serve and check kv stores.

    Every command works on the store at --url (given before or after the command, or in
    KV_URL), by default the SQLite file kv.sqlite3 here.

    Exit codes: {EXIT_CODES}""",
)
@click.option(
    "--url",
    envvar="KV_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="The store to use (also from KV_URL).",
)
@click.version_option(__version__, prog_name="kv")
@click.pass_context
def cli(ctx: click.Context, url: str) -> None:
    """The ``kv`` command group; its help text is set above, with the exit codes."""
    ctx.ensure_object(dict)
    ctx.obj["url"] = url


def _write_out(data: bytes, output: str | None, *, what: str) -> None:
    """Write *data* to *output* (a file, or ``-`` for standard output come what may), or to
    standard output, refusing to put anything but text on a terminal."""
    if output is not None and output != "-":
        try:
            Path(output).write_bytes(data)
        except OSError as exc:
            msg = f"cannot write {output}: {exc.strerror or exc}"
            raise Exit(msg, EXIT_ERROR) from exc
        return
    if output is None and sys.stdout.isatty() and not is_printable_text(data):
        msg = (
            f"{what} is not printable text ({len(data)} bytes) and standard output is a "
            "terminal, which could obey it: write it to a file with --output FILE, print it "
            "as JSON with --json, or pipe it (| xxd); --output - prints it here anyway"
        )
        raise Exit(msg, EXIT_ERROR)
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


_OUTPUT = click.option(
    "-o",
    "--output",
    metavar="FILE",
    type=click.Path(dir_okay=False, allow_dash=True),
    default=None,
    help="Write the value to FILE ('-': standard output, even a terminal).",
)


@cli.command()
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (base64 for binary values).")
@click.option(
    "--at",
    metavar="TIME",
    callback=parse_moment,
    default=None,
    help="The value as it was at this ISO 8601 time (naive: UTC), on stores with history.",
)
@_OUTPUT
@_url_option
@click.pass_context
def get(
    ctx: click.Context, key: str, as_json: bool, at: datetime | None, output: str | None
) -> None:
    """Print the value of KEY, byte for byte (on a terminal, only if it is text)."""
    target = _url(ctx)
    with _opened(target) as store:
        if at is None:
            value: bytes = store[key]
        else:
            past = snapshot_of(store, at, kv_core.redact_url(target))
            try:
                value = past[key]
            except KeyError:
                msg = f"no such key at {at.isoformat()}: {key!r}"
                raise Exit(msg, EXIT_NOT_FOUND) from None
            finally:
                past.close()
    data = (json.dumps({"key": key, **encode_value(value)}) + "\n").encode() if as_json else value
    _write_out(data, output, what=f"the value of {key!r}")


@cli.command(name="set")
@click.argument("key")
@click.argument("value", required=False)
@_url_option
@click.pass_context
def set_(ctx: click.Context, key: str, value: str | None) -> None:
    """Store VALUE under KEY; with no VALUE, or '-', read it from standard input."""
    data = sys.stdin.buffer.read() if value in (None, "-") else os.fsencode(value or "")
    with _opened(_url(ctx)) as store:
        store[key] = data


@cli.command()
@click.argument("key")
@_url_option
@click.pass_context
def rm(ctx: click.Context, key: str) -> None:
    """Delete KEY."""
    with _opened(_url(ctx)) as store:
        del store[key]


@cli.command()
@click.argument("prefix", default="")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@_url_option
@click.pass_context
def ls(ctx: click.Context, prefix: str, as_json: bool) -> None:
    """List the keys (that start with PREFIX), sorted.

    On a terminal, control characters in keys are shown as \\xNN.
    """
    with _opened(_url(ctx)) as store:
        keys = sorted(store.keys_with_prefix(prefix))
    if as_json:
        click.echo(json.dumps(keys))
        return
    show = shown_on_terminal if sys.stdout.isatty() else str
    for key in keys:
        click.echo(show(key))


@cli.command()
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, values included.")
@_url_option
@click.pass_context
def history(ctx: click.Context, key: str, as_json: bool) -> None:
    """List every version of KEY, oldest first, on stores that keep history (SQL).

    One line each: sequence number, time written (UTC), and the size, or 'deleted'.
    """
    target = _url(ctx)
    with _opened(target) as store:
        versions = history_of(store, key, kv_core.redact_url(target))
    if not versions:
        msg = f"no such key: {key!r} (it has no history)"
        raise Exit(msg, EXIT_NOT_FOUND)
    if as_json:
        click.echo(json.dumps([version_record(version) for version in versions]))
        return
    for version in versions:
        created = version.created.isoformat() if version.created is not None else "-"
        what = "deleted" if version.deleted else f"{len(version.value)} bytes"
        click.echo(f"{version.sequence_number}\t{created}\t{what}")


@cli.command()
@click.argument("source")
@click.argument("target")
@click.option(
    "--batch",
    default=500,
    show_default=True,
    type=click.IntRange(min=1),
    help="Keys per read and write.",
)
@click.option(
    "--overwrite/--no-overwrite",
    default=True,
    show_default=True,
    help="Replace keys TARGET already has, or keep them (to resume a copy).",
)
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Report keys TARGET refuses and copy the others (then exit 1).",
)
def cp(source: str, target: str, batch: int, overwrite: bool, skip_invalid: bool) -> None:
    """Copy every key of the store at SOURCE into the store at TARGET (URLs).

    Existing keys in TARGET are overwritten (--no-overwrite keeps them); running it again
    finishes an interrupted copy. A progress bar is shown when standard error is a terminal.
    """
    options: dict[str, Any] = {
        "batch_size": batch,
        "overwrite": overwrite,
        "skip_invalid": skip_invalid,
    }
    from ._copy import CopyRefused, copy_store

    route = f"from {kv_core.redact_url(source)} to {kv_core.redact_url(target)}"
    with _opened(source) as src, _opened(target) as dst:
        try:
            if sys.stderr.isatty():
                total = len(src)
                with click.progressbar(length=total, label="copying", file=sys.stderr) as bar:
                    result = copy_store(src, dst, progress=bar.update, **options)
            else:
                result = copy_store(src, dst, **options)
        except CopyRefused as exc:
            msg = (
                f"{exc}; copied {exc.copied} keys {route} before it. --skip-invalid copies "
                "the keys it takes and lists the others"
            )
            raise Exit(msg, EXIT_USAGE) from exc
    for key, reason in result.refused:
        click.echo(f"refused {key!r}: {reason}", err=True)
    said = [f"copied {result.copied} keys {route}"]
    if result.kept:
        said.append(f"kept {result.kept} keys the target already had")
    if result.refused:
        said.append(f"the target refused {len(result.refused)} keys (listed above)")
    click.echo("; ".join(said), err=True)
    if result.refused:
        raise click.exceptions.Exit(EXIT_ERROR)


def _print_server_logs(*, access_log: bool) -> None:
    """Show the server's logs on standard error: the access log, errors, waitress's warnings."""
    import logging  # only ``kv serve`` logs: the other commands start without it

    access = logging.getLogger("kv_flask.access")
    access.propagate = False
    access.setLevel(logging.INFO if access_log else logging.WARNING)
    plain = logging.StreamHandler(sys.stderr)
    plain.setFormatter(logging.Formatter("%(message)s"))
    labelled = logging.StreamHandler(sys.stderr)
    labelled.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    for name, level, handler in (
        ("kv_flask.access", access.level, plain),
        ("kv_flask", logging.INFO, labelled),
        ("waitress", logging.WARNING, labelled),
    ):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        for old in [h for h in logger.handlers if h.get_name() == _LOG_HANDLER]:
            logger.removeHandler(old)  # a second serve in one process (tests) replaces them
        handler.set_name(_LOG_HANDLER)
        logger.addHandler(handler)
    # serve() says where it listens; this command says it itself, with the store's URL.
    logging.getLogger("kv_flask.serve").setLevel(logging.WARNING)


def _stop_on_sigterm(terminated: list[bool]) -> Any:
    """Make SIGTERM stop the server as Ctrl-C does, noting it in *terminated*.

    Returns the handler it replaced.
    """

    def stop(signum: int, frame: Any) -> None:
        terminated.append(True)
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread (an embedding test runner): leave it alone
        return None


@cli.command()
@click.argument("url", required=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free one).",
)
@click.option(
    "--token",
    envvar="KV_TOKEN",
    default=None,
    help="Bearer token every request must carry (also from KV_TOKEN).",
)
@click.option(
    "--threads",
    default=8,
    show_default=True,
    type=click.IntRange(min=1),
    help="Requests served at once.",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    envvar="KV_ALLOWED_HOSTS",
    metavar="NAME[:PORT]",
    help="Another Host name to answer to, besides the bound address and localhost "
    "(repeatable; also KV_ALLOWED_HOSTS, separated by spaces or commas).",
)
@click.option(
    "--allowed-origin",
    "allowed_origins",
    multiple=True,
    envvar="KV_ALLOWED_ORIGINS",
    metavar="ORIGIN",
    help="A web origin (https://app.example) trusted to write from a browser and given "
    "CORS answers (repeatable; also KV_ALLOWED_ORIGINS).",
)
@click.option(
    "--max-content-length",
    type=click.IntRange(min=1),
    default=None,
    help="Largest request body, in bytes.  [default: 16 MiB]",
)
@click.option(
    "--connection-limit",
    type=click.IntRange(min=1),
    default=None,
    help="Most connections open at once, idle ones included.  [default: 1000]",
)
@click.option(
    "--idle-timeout",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Seconds a silent connection is kept open.",
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="Print one line per request on standard error.",
)
@click.option("--log-keys", is_flag=True, help="Show keys in the access log (default: <key>).")
@click.option(
    "--ui/--no-ui",
    default=False,
    envvar="KV_UI",
    show_default=True,
    help="Serve the key browser page at /_kv/ui/ (also KV_UI=1); it asks for the token.",
)
@_url_option
@click.pass_context
def serve(
    ctx: click.Context,
    url: str | None,
    host: str,
    port: int,
    token: str | None,
    threads: int,
    allowed_hosts: tuple[str, ...],
    allowed_origins: tuple[str, ...],
    max_content_length: int | None,
    connection_limit: int | None,
    idle_timeout: int,
    access_log: bool,
    log_keys: bool,
    ui: bool,
) -> None:
    """Serve the store at URL (default: --url) over HTTP with a production WSGI server.

    Says "serving ... on URL" once the port is bound, prints the access log on standard
    error, and on Ctrl-C or SIGTERM stops and closes the store (exit 130 after Ctrl-C, 0 after
    SIGTERM).
    """
    try:
        from kv_flask import serve as serve_store
    except ImportError as exc:
        msg = "kv serve needs kv-flask: pip install kv-flask"
        raise Exit(msg, EXIT_ERROR) from exc
    target = _url(ctx, url)
    shown = kv_core.redact_url(target)
    bound = False

    def ready(server_url: str) -> None:
        nonlocal bound
        bound = True
        click.echo(f"serving {shown} on {server_url}", err=True)
        if ui:
            click.echo(f"key browser: {server_url}_kv/ui/", err=True)

    _print_server_logs(access_log=access_log)
    terminated: list[bool] = []
    previous = _stop_on_sigterm(terminated)
    try:
        with _opened(target) as store:
            try:
                serve_store(
                    store,
                    host,
                    port,
                    ready=ready,
                    token=token,
                    threads=threads,
                    allowed_hosts=allowed_hosts,
                    allowed_origins=allowed_origins,
                    max_content_length=max_content_length,
                    connection_limit=connection_limit,
                    idle_timeout=idle_timeout,
                    log_keys=log_keys,
                    ui=ui,
                )
            except ValueError as exc:
                if bound:
                    raise
                raise click.UsageError(str(exc)) from exc
            except OSError as exc:
                if bound:
                    raise
                reason = exc.strerror or str(exc)
                if exc.errno == errno.EADDRINUSE:
                    reason = "the address is already in use: choose another with --port"
                msg = f"cannot listen on {host}:{port}: {reason}"
                raise Exit(msg, EXIT_ERROR) from exc
    except KeyboardInterrupt:
        pass  # before or after serving: waitress itself ends its loop on one, quietly
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    click.echo(f"stopped; {shown} closed", err=True)
    if not terminated:
        # Ctrl-C, which waitress turns into a quiet return: exit as an interrupted command.
        ctx.exit(EXIT_INTERRUPTED)


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("url", required=False)
@click.option(
    "--factory",
    metavar="MODULE:CALLABLE",
    default=None,
    help="Check the stores this callable makes instead of a URL.",
)
@click.option("--quick", is_flag=True, help="Skip the 10 MB value and the process tests.")
@click.option(
    "--skip-check",
    "skip_checks",
    metavar="NAME",
    multiple=True,
    help="For an http(s):// URL: a protocol check not to run (repeatable).",
)
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
@_url_option
@click.pass_context
def check(
    ctx: click.Context,
    url: str | None,
    factory: str | None,
    quick: bool,
    skip_checks: tuple[str, ...],
    pytest_args: tuple[str, ...],
) -> None:
    """Run the conformance suite against the store at URL, which must be empty.

    For an http:// or https:// URL, first check the server itself against the kv HTTP
    protocol (kv-flask's PROTOCOL.md) with raw HTTP, then run the suite through the client.
    Prints which parts of the contract failed, if any (pytest's full report with -v).
    Extra arguments go to pytest (for example -x or -n 2). Exit codes: 0 conforms, 1 does
    not conform, 2 the store cannot be checked (bad URL, not empty), 4 unavailable.
    """
    if url is not None and url.startswith("-"):
        # No URL given: click put the first pytest option in its place.
        pytest_args, url = (url, *pytest_args), None
    from ._check import check_store

    target = None if factory else _url(ctx, url)
    code, verdict = check_store(
        target, factory, quick=quick, pytest_args=pytest_args, skip_checks=skip_checks
    )
    for line in verdict:
        click.echo(line, err=True)
    ctx.exit(code)


@cli.command()
@click.argument("url", required=False)
@click.option(
    "--count",
    default=200,
    show_default=True,
    type=click.IntRange(min=1),
    help="Operations per measurement.",
)
@click.option(
    "--size",
    default=100,
    show_default=True,
    type=click.IntRange(min=0),
    help="Value size in bytes.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@_url_option
@click.pass_context
def bench(ctx: click.Context, url: str | None, count: int, size: int, as_json: bool) -> None:
    """Print p50 (median) and p99 latencies of common operations on the store at URL.

    It writes keys of its own under kv-bench/ and removes them afterwards, with their
    history on stores that keep one.
    """
    from ._bench import bench_store

    target = _url(ctx, url)
    with _opened(target) as store:
        rows = bench_store(store, count=count, size=size)
    if as_json:
        operations = [
            {"name": row.name, "p50_us": row.p50, "p99_us": row.p99, "samples": row.samples}
            for row in rows
        ]
        document = {"url": kv_core.redact_url(target), "count": count, "size": size}
        click.echo(json.dumps({**document, "operations": operations}))
        return
    click.echo(f"{kv_core.redact_url(target)}: {count} operations each, {size} B values")
    click.echo(f"  {'operation':<20} {'p50 (median) µs':>16} {'p99 µs':>10}")
    for row in rows:
        click.echo(f"  {row.name:<20} {row.p50:>16.1f} {row.p99:>10.1f}")


def main(prog_name: str = "kv") -> int:
    """Run the ``kv`` command on ``sys.argv``; the exit code.

    The console script's entry point, :func:`kv_cli._entry.main`, calls it for every command
    line but a plain ``kv --help``. Ctrl-C ends any command with exit code 130 and no
    traceback.
    """
    try:
        result = cli.main(prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):
            return EXIT_INTERRUPTED
        click.echo("Aborted!", err=True)
        return EXIT_ERROR
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return result if isinstance(result, int) else 0
