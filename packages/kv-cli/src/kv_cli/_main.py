"""The ``kv`` command."""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from kv_core import Store, open_store, redact_url

from .__about__ import __version__
from ._bench import bench_store
from ._copy import copy_store
from ._errors import EXIT_ERROR, EXIT_USAGE, Exit, exit_for

__all__ = ["DEFAULT_URL", "cli", "main"]

#: The store used when neither --url nor KV_URL names one: a SQLite file here (kv-sql).
DEFAULT_URL = "sqlite:///kv.sqlite3"
_LOG_HANDLER = "kv-serve"


@contextmanager
def _opened(url: str) -> Iterator[Store]:
    """Open *url*, turn kv errors into exit codes, and close the store afterwards."""
    # Any failure becomes a one-line message and an exit code, never a traceback: a backend
    # may raise its driver's errors for a malformed URL.
    try:
        store = open_store(url)
    except Exception as exc:
        raise exit_for(exc) from exc
    try:
        yield store
    except click.exceptions.Exit:
        raise
    except Exception as exc:
        raise exit_for(exc) from exc
    finally:
        store.close()


def _url(ctx: click.Context) -> str:
    url: str = ctx.obj["url"]
    return url


def _encode_for_json(value: bytes) -> dict[str, str]:
    try:
        return {"encoding": "utf-8", "value": value.decode("utf-8")}
    except UnicodeDecodeError:
        return {"encoding": "base64", "value": base64.b64encode(value).decode("ascii")}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    """Read, write, list, copy, serve and check kv stores.

    Exit codes: 0 ok, 1 error, 2 usage or bad input, 3 key not found, 4 store unavailable.
    """
    ctx.ensure_object(dict)
    ctx.obj["url"] = url


@cli.command()
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (base64 for binary values).")
@click.pass_context
def get(ctx: click.Context, key: str, as_json: bool) -> None:
    """Print the value of KEY, byte for byte."""
    with _opened(_url(ctx)) as store:
        value: bytes = store[key]
    if as_json:
        click.echo(json.dumps({"key": key, **_encode_for_json(value)}))
    else:
        sys.stdout.buffer.write(value)
        sys.stdout.buffer.flush()


@cli.command(name="set")
@click.argument("key")
@click.argument("value", required=False)
@click.pass_context
def set_(ctx: click.Context, key: str, value: str | None) -> None:
    """Store VALUE under KEY; with no VALUE, or '-', read it from standard input."""
    data = sys.stdin.buffer.read() if value in (None, "-") else os.fsencode(value or "")
    with _opened(_url(ctx)) as store:
        store[key] = data


@cli.command()
@click.argument("key")
@click.pass_context
def rm(ctx: click.Context, key: str) -> None:
    """Delete KEY."""
    with _opened(_url(ctx)) as store:
        del store[key]


@cli.command()
@click.argument("prefix", default="")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def ls(ctx: click.Context, prefix: str, as_json: bool) -> None:
    """List the keys (that start with PREFIX), sorted."""
    with _opened(_url(ctx)) as store:
        keys = sorted(store.keys_with_prefix(prefix))
    if as_json:
        click.echo(json.dumps(keys))
    else:
        for key in keys:
            click.echo(key)


@cli.command()
@click.argument("source")
@click.argument("target")
@click.option("--batch", default=500, show_default=True, help="Keys per read and write.")
def cp(source: str, target: str, batch: int) -> None:
    """Copy every key of the store at SOURCE into the store at TARGET (URLs).

    Existing keys in TARGET are overwritten; running it again finishes an interrupted copy.
    A progress bar is shown when standard error is a terminal.
    """
    if batch < 1:
        msg = "--batch must be at least 1"
        raise Exit(msg, EXIT_USAGE)
    with _opened(source) as src, _opened(target) as dst:
        if sys.stderr.isatty():
            total = len(src)
            with click.progressbar(length=total, label="copying", file=sys.stderr) as bar:
                copied = copy_store(src, dst, batch_size=batch, progress=bar.update)
        else:
            copied = copy_store(src, dst, batch_size=batch)
    click.echo(f"copied {copied} keys from {redact_url(source)} to {redact_url(target)}", err=True)


def _print_server_logs(*, access_log: bool) -> None:
    """Show the server's logs on standard error: the access log, errors, waitress's warnings."""
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


def _stop_on_sigterm() -> Any:
    """Make SIGTERM stop the server as Ctrl-C does; returns the handler it replaced."""

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread (an embedding test runner): leave it alone
        return None


@cli.command()
@click.argument("url", required=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, help="Port to listen on.")
@click.option(
    "--token",
    envvar="KV_TOKEN",
    default=None,
    help="Bearer token every request must carry (also from KV_TOKEN).",
)
@click.option("--threads", default=8, show_default=True, help="Requests served at once.")
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
    type=int,
    default=None,
    help="Largest request body, in bytes.  [default: 16 MiB]",
)
@click.option(
    "--connection-limit",
    type=int,
    default=None,
    help="Most connections open at once, idle ones included.  [default: 1000]",
)
@click.option(
    "--idle-timeout",
    type=int,
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
) -> None:
    """Serve the store at URL (default: --url) over HTTP with a production WSGI server.

    Says "serving ... on URL" once the port is bound, prints the access log on standard
    error, and on Ctrl-C or SIGTERM stops, closes the store and exits 0.
    """
    try:
        from kv_flask import serve as serve_store
    except ImportError as exc:
        msg = "kv serve needs kv-flask: pip install kv-flask"
        raise Exit(msg, EXIT_ERROR) from exc
    target = url or _url(ctx)
    shown = redact_url(target)
    bound = False

    def ready(server_url: str) -> None:
        nonlocal bound
        bound = True
        click.echo(f"serving {shown} on {server_url}", err=True)

    _print_server_logs(access_log=access_log)
    previous = _stop_on_sigterm()
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
                )
            except ValueError as exc:
                if bound:
                    raise
                raise click.UsageError(str(exc)) from exc
            except OSError as exc:
                if bound:
                    raise
                msg = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
                raise Exit(msg, EXIT_ERROR) from exc
    except KeyboardInterrupt:
        pass  # before or after serving: waitress itself ends its loop on one, quietly
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    click.echo(f"stopped; {shown} closed", err=True)


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("url", required=False)
@click.option(
    "--factory",
    metavar="MODULE:CALLABLE",
    default=None,
    help="Check the stores this callable makes instead of a URL.",
)
@click.option("--quick", is_flag=True, help="Skip the 10 MB value and the process tests.")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def check(
    ctx: click.Context,
    url: str | None,
    factory: str | None,
    quick: bool,
    pytest_args: tuple[str, ...],
) -> None:
    """Run the conformance suite against the store at URL, which must be empty.

    Extra arguments go to pytest (for example ``-x`` or ``-n 2``).
    """
    if importlib.util.find_spec("pytest") is None or importlib.util.find_spec("hypothesis") is None:
        msg = "kv check needs the suite: pip install 'kv-core[conformance]'"
        raise Exit(msg, EXIT_ERROR)
    if factory:
        target, what = ["--kv-factory", factory], factory
    else:
        chosen = url or _url(ctx)
        target, what = ["--kv-store", chosen], redact_url(chosen)
    args = [*target, "-q", "-p", "no:cacheprovider", *pytest_args]
    if quick:
        args += ["-m", "not kv_slow and not kv_processes"]
    # A fresh interpreter, so pytest can rewrite the suite's asserts (this one imported it).
    code = subprocess.run([sys.executable, "-m", "pytest", *args], check=False).returncode  # noqa: S603
    verdict = "conforms" if code == 0 else "does NOT conform"
    click.echo(f"{what} {verdict} to the kv store contract", err=True)
    ctx.exit(0 if code == 0 else EXIT_ERROR)


@cli.command()
@click.argument("url", required=False)
@click.option("--count", default=200, show_default=True, help="Operations per measurement.")
@click.option("--size", default=100, show_default=True, help="Value size in bytes.")
@click.pass_context
def bench(ctx: click.Context, url: str | None, count: int, size: int) -> None:
    """Print a short table of median latencies for the store at URL."""
    target = url or _url(ctx)
    with _opened(target) as store:
        rows = bench_store(store, count=count, size=size)
    click.echo(f"{redact_url(target)}: {count} operations, {size} B values")
    for name, micros in rows:
        click.echo(f"  {name:<20} {micros:>10.1f} µs")


def main() -> Any:
    """Entry point of the ``kv`` console script."""
    return cli(prog_name="kv")
