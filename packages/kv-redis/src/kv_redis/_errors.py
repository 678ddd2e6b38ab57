"""Turning redis-py's exceptions into the kv error family.

::

    redis-py raises                                   RedisDict raises
    AuthenticationError (WRONGPASS, NOAUTH),          kv_core.AccessDeniedError
      NOPERM (an ACL forbids the command or key),
      "DB index is out of range" (no such database)
    ConnectionError (refused, reset, loading,         kv_core.StoreUnavailable
      max connections), TimeoutError, BUSY,
      CLUSTERDOWN, MASTERDOWN, TRYAGAIN, uncovered slot,
      no reachable cluster node
    READONLY on a write (a replica)                   kv_core.ReadOnlyError
    OOM (over maxmemory, nothing to evict)            kv_core.OutOfSpaceError
    GETEX refused (old server, read-only replica)     kv_redis.SlidingExpiryUnsupported
    "invalid bulk length" (over proto-max-bulk-len)   kv_core.ValueTooLargeError
    anything else                                     passed through unchanged

The driver's exception is always the ``__cause__``.
"""

from __future__ import annotations

from redis import exceptions as rx

from kv_core import (
    AccessDeniedError,
    OutOfSpaceError,
    ReadOnlyError,
    StoreUnavailable,
    UnsupportedError,
    ValueTooLargeError,
)

__all__ = ["DRIVER_ERRORS", "SlidingExpiryUnsupported", "translate"]


class SlidingExpiryUnsupported(UnsupportedError):
    """The server refused GETEX, so a read cannot reset the lifetime of its key.

    Raised instead of reading without sliding: a server older than Redis 6.2, or a read-only
    replica (GETEX writes the new expiry). Open replicas with ``sliding_expiry=False``.
    """


#: What a call into redis-py may raise that :func:`translate` looks at.
DRIVER_ERRORS: tuple[type[Exception], ...] = (rx.RedisError, rx.RedisClusterException, OSError)

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    rx.ConnectionError,  # includes AuthenticationError, BusyLoadingError, MaxConnectionsError
    rx.TimeoutError,  # not a ConnectionError in redis-py
    rx.ClusterDownError,  # includes MASTERDOWN
    rx.TryAgainError,
    rx.SlotNotCoveredError,
    ConnectionError,  # the builtin, from sockets
    TimeoutError,
)


# The server said no, and will say it again until the URL or the ACL changes.
_DENIED: tuple[type[BaseException], ...] = (
    rx.AuthenticationError,  # WRONGPASS, NOAUTH, AUTH without a password set
    rx.AuthenticationWrongNumberOfArgsError,  # a user name sent to a server before Redis 6
    rx.NoPermissionError,  # NOPERM: the ACL user may not run this command or touch this key
)


def _denied(exc: BaseException) -> bool:
    if isinstance(exc, _DENIED):
        return True
    # SELECT of a database number the server does not have (when the client connects).
    return isinstance(exc, rx.ResponseError) and "DB INDEX IS OUT OF RANGE" in str(exc).upper()


_OUT_OF_MEMORY: tuple[type[BaseException], ...] = tuple(
    error for error in (getattr(rx, "OutOfMemoryError", None),) if error is not None
)


def translate(exc: BaseException, command: str, target: str) -> BaseException:
    """The kv error to raise for *exc*, raised by *command*; *exc* itself if it has none.

    :param target: What the store talks to, for the message (never a password).
    """
    if _denied(exc):
        msg = f"Redis at {target} refused access ({command}): {type(exc).__name__}: {exc}"
        return AccessDeniedError(msg)
    if isinstance(exc, _UNAVAILABLE) or (
        # "Redis Cluster cannot be connected": no startup node answered.
        isinstance(exc, rx.RedisClusterException) and isinstance(exc.__cause__, _UNAVAILABLE)
    ):
        msg = f"Redis at {target} is unavailable ({command}): {type(exc).__name__}: {exc}"
        return StoreUnavailable(msg)
    if isinstance(exc, rx.ResponseError):
        text = str(exc)
        upper = text.upper()
        # redis-py drops the "OOM" error code from the text (and has a class for it since 4.x).
        if isinstance(exc, _OUT_OF_MEMORY) or "USED MEMORY > 'MAXMEMORY'" in upper:
            msg = f"Redis at {target} is out of memory (maxmemory) for {command}: {text}"
            return OutOfSpaceError(msg)
        if "IS BUSY" in upper:
            msg = f"Redis at {target} is busy running a script ({command}): {text}"
            return StoreUnavailable(msg)
        if command == "GETEX" and (isinstance(exc, rx.ReadOnlyError) or "UNKNOWN COMMAND" in upper):
            msg = (
                f"sliding_expiry needs GETEX, which Redis at {target} refused ({text}); "
                "it needs Redis >= 6.2 on a primary. Open read-only replicas with "
                "sliding_expiry=False."
            )
            return SlidingExpiryUnsupported(msg)
        if isinstance(exc, rx.ReadOnlyError):
            msg = f"Redis at {target} is a read-only replica; {command} is a write: {text}"
            return ReadOnlyError(msg)
        if "EXCEEDS MAXIMUM ALLOWED SIZE" in upper or "INVALID BULK LENGTH" in upper:
            msg = f"Redis at {target} refused the value as too large: {text}"
            return ValueTooLargeError(msg)
        if command == "GETDEL" and "UNKNOWN COMMAND" in upper:
            msg = f"pop needs GETDEL, which Redis at {target} lacks (Redis >= 6.2): {text}"
            return UnsupportedError(msg)
    return exc
