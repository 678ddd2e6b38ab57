"""Exit codes of the kv command, and the mapping from kv errors to them."""

from __future__ import annotations

import click

from kv_core import InvalidKeyError, InvalidStoreURL, StoreUnavailable, UnknownStoreError

__all__ = ["EXIT_ERROR", "EXIT_NOT_FOUND", "EXIT_OK", "EXIT_UNAVAILABLE", "EXIT_USAGE", "Exit"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_UNAVAILABLE = 4


class Exit(click.ClickException):
    """An error message on stderr and a chosen exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = code  # type: ignore[misc]  # click reads it per instance


def exit_for(exc: BaseException) -> Exit:
    """The exit a kv error deserves: 3 missing, 4 unavailable, 2 bad input, 1 the rest."""
    if isinstance(exc, click.ClickException):
        return exc if isinstance(exc, Exit) else Exit(exc.format_message(), exc.exit_code)
    if isinstance(exc, KeyError):
        key = exc.args[0] if exc.args else ""
        return Exit(f"no such key: {key!r}", EXIT_NOT_FOUND)
    if isinstance(exc, StoreUnavailable):
        return Exit(f"store unavailable: {exc}", EXIT_UNAVAILABLE)
    if isinstance(exc, InvalidKeyError | InvalidStoreURL | UnknownStoreError):
        return Exit(str(exc), EXIT_USAGE)
    return Exit(f"{type(exc).__name__}: {exc}", EXIT_ERROR)
