"""Every package's errors belong to kv_core's one family, each with a builtin base."""

from __future__ import annotations

import builtins

import kv_cli._copy
import kv_core.errors
import kv_flask
import kv_fs
import kv_redis
import kv_sql
from kv_core.errors import KVError

_PACKAGES = (kv_cli._copy, kv_flask, kv_fs, kv_redis, kv_sql)


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


def test_every_package_error_has_a_builtin_base() -> None:
    """No package raises an error that is only a KVError: each is also a specific builtin."""
    assert _PACKAGES
    for cls in _subclasses(KVError):
        if not cls.__module__.startswith("kv_"):
            continue
        builtin = [
            base
            for base in cls.__mro__
            if getattr(builtins, base.__name__, None) is base
            and base not in (Exception, BaseException, object)
        ]
        assert builtin, f"{cls.__module__}.{cls.__qualname__}"


def test_moved_errors_keep_their_old_names() -> None:
    """kv_flask.PreconditionFailed is the class in kv_core.errors, a ConflictError."""
    assert kv_flask.PreconditionFailed is kv_core.errors.PreconditionFailed
    assert issubclass(kv_flask.PreconditionFailed, kv_core.errors.ConflictError)


def test_sliding_expiry_unsupported_is_an_unsupported_error() -> None:
    """kv_redis's own error is an UnsupportedError, and still a RuntimeError."""
    assert issubclass(kv_redis.SlidingExpiryUnsupported, kv_core.errors.UnsupportedError)
    assert issubclass(kv_redis.SlidingExpiryUnsupported, RuntimeError)
