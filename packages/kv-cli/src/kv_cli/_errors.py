"""Exit codes of the kv command, and the mapping from kv errors to them."""

from __future__ import annotations

import click

from kv_core import (
    AccessDeniedError,
    InvalidKeyError,
    OutOfSpaceError,
    StoreUnavailable,
    UnknownStoreError,
    ValueTooLargeError,
)

__all__ = [
    "EXIT_DENIED",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "Exit",
    "exit_for",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_UNAVAILABLE = 4
EXIT_DENIED = 5
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C

#: The exit codes and their meaning, for ``kv --help`` and the README.
EXIT_CODES = (
    "0 ok, 1 error, 2 usage or bad input, 3 key not found, "
    "4 store unavailable (try again later), 5 access denied (credentials, rights, or no such "
    "database: retrying will not help), 130 interrupted."
)


class Exit(click.ClickException):
    """An error message on stderr and a chosen exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = code  # type: ignore[misc]  # click reads it per instance


def exit_for(exc: BaseException) -> Exit:
    """The exit a kv error deserves (see :data:`EXIT_CODES`); 1 for anything unexpected."""
    if isinstance(exc, click.ClickException):
        return exc if isinstance(exc, Exit) else Exit(exc.format_message(), exc.exit_code)
    if isinstance(exc, KeyError):
        key = exc.args[0] if exc.args else ""
        return Exit(f"no such key: {key!r}", EXIT_NOT_FOUND)
    if isinstance(exc, StoreUnavailable):
        return Exit(f"store unavailable: {exc}", EXIT_UNAVAILABLE)
    if isinstance(exc, AccessDeniedError):
        return Exit(f"access denied: {exc}", EXIT_DENIED)
    # Imported here: kv_core.urls brings the URL parser, which ``kv --help`` does without.
    from kv_core import InvalidStoreURL

    if isinstance(exc, InvalidKeyError | InvalidStoreURL | UnknownStoreError):
        return Exit(str(exc), EXIT_USAGE)
    if isinstance(exc, ValueTooLargeError):
        return Exit(f"value refused: {exc}", EXIT_USAGE)
    if isinstance(exc, OutOfSpaceError):
        return Exit(f"out of space: {exc}", EXIT_ERROR)
    return Exit(f"{type(exc).__name__}: {exc}", EXIT_ERROR)
