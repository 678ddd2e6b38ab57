"""The public names of kv-core: complete, sorted and documented."""

from __future__ import annotations

import dataclasses
import errno
import inspect
import pickle

import pytest

import kv_core
import kv_core.conformance
from kv_core import (
    AccessDeniedError,
    Capabilities,
    InvalidKeyError,
    KeyConflictError,
    KVError,
    MemoryDict,
    OutOfSpaceError,
    ReadOnlyError,
    StoreUnavailable,
    UnknownStoreError,
    ValueTooLargeError,
    to_bytes,
)
from kv_core.capabilities import LONE_SURROGATES, combine

# What a module holds that is not an export: ``from __future__ import annotations``, and the
# TYPE_CHECKING flag kv_core sets itself rather than import typing for it.
_NOT_EXPORTS = {"annotations", "TYPE_CHECKING"}


def _public(module: object) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name not in _NOT_EXPORTS
    }


def test_all_is_complete_and_sorted() -> None:
    """__all__ lists every public name of the package, in sorted order."""
    # kv-core's names, like the suite's, are imported on first use: resolve them all first.
    for name in kv_core.__all__:
        getattr(kv_core, name)
    assert set(kv_core.__all__) == _public(kv_core) | {"__version__"}
    assert kv_core.__all__ == sorted(kv_core.__all__)
    # The suite's names are imported on first use: resolve them all, then compare.
    for name in kv_core.conformance.__all__:
        getattr(kv_core.conformance, name)
    assert set(kv_core.conformance.__all__) == _public(kv_core.conformance)
    assert kv_core.conformance.__all__ == sorted(kv_core.conformance.__all__)


def test_public_classes_are_documented() -> None:
    """Every exported class and function has a docstring."""
    for name in kv_core.__all__:
        obj = getattr(kv_core, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), name


def test_error_family() -> None:
    """Each error is a KVError and also the builtin callers already catch."""
    assert issubclass(InvalidKeyError, KVError)
    assert issubclass(InvalidKeyError, ValueError)
    assert issubclass(KeyConflictError, InvalidKeyError)
    assert issubclass(ValueTooLargeError, ValueError)
    assert issubclass(ReadOnlyError, PermissionError)
    assert issubclass(StoreUnavailable, ConnectionError)
    assert issubclass(UnknownStoreError, LookupError)
    assert issubclass(AccessDeniedError, KVError)
    assert issubclass(AccessDeniedError, PermissionError)
    assert not issubclass(AccessDeniedError, ConnectionError)
    assert not issubclass(StoreUnavailable, KeyError)
    assert issubclass(OutOfSpaceError, KVError)
    assert issubclass(OutOfSpaceError, OSError)
    assert not issubclass(OutOfSpaceError, StoreUnavailable)


def test_out_of_space_error_is_enospc() -> None:
    """OutOfSpaceError always carries errno ENOSPC, keeps its file name and pickles."""
    error = OutOfSpaceError("the disk is full", "/srv/kv/x")
    assert error.errno == errno.ENOSPC
    assert error.strerror == "the disk is full"
    assert error.filename == "/srv/kv/x"
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.errno, copy.strerror, copy.filename) == (
        OutOfSpaceError,
        errno.ENOSPC,
        "the disk is full",
        "/srv/kv/x",
    )
    assert OutOfSpaceError("full").filename is None


def test_to_bytes() -> None:
    """Bytes pass, str is UTF-8, buffers are copied, anything else is a TypeError."""
    assert to_bytes(b"x") == b"x"
    assert to_bytes("\u00e9") == b"\xc3\xa9"
    assert to_bytes(bytearray(b"a")) == b"a"
    assert to_bytes(memoryview(b"m")) == b"m"
    for bad in (1, None, 1.0, ["x"]):
        with pytest.raises(TypeError, match="serializer="):
            to_bytes(bad)


def test_capabilities_need_every_field() -> None:
    """Capabilities has no defaults: a missing field is an error."""
    with pytest.raises(TypeError):
        Capabilities(persistent=True)  # type: ignore[call-arg]


def test_combine_takes_the_weakest() -> None:
    """Combined capabilities promise only what every part promises."""
    a = Capabilities(
        persistent=True,
        processes=True,
        ttl=False,
        history=True,
        max_key_length=255,
        max_value_size=None,
        empty_key=True,
        hierarchical_keys=False,
        invalid_keys=("x",),
        refused_characters=frozenset("\x00"),
    )
    b = Capabilities(
        persistent=False,
        processes=True,
        ttl=True,
        history=False,
        max_key_length=None,
        max_value_size=10,
        empty_key=False,
        hierarchical_keys=True,
        invalid_keys=("y",),
        refused_characters=frozenset("\\"),
    )
    both = combine([a, b])
    assert both.persistent is False
    assert both.processes is True
    assert both.max_key_length == 255
    assert both.max_value_size == 10
    assert both.empty_key is False
    assert both.hierarchical_keys is True
    assert both.invalid_keys == ("x", "y")
    assert both.refused_characters == {"\x00", "\\"}


def test_capabilities_repr_names_the_surrogates() -> None:
    """The repr lists refused characters sorted, and names the 2048 surrogates as one set."""
    caps = dataclasses.replace(
        MemoryDict.capabilities, refused_characters=frozenset("\\\x00") | LONE_SURROGATES
    )
    text = repr(caps)
    assert "refused_characters=frozenset({'\\x00', '\\\\'}) | LONE_SURROGATES" in text
    assert len(text) < 400
    assert "refused_characters=frozenset()," in repr(MemoryDict.capabilities)
