"""The error tree drawn in kv_core.errors' docstring is the tree of its classes."""

from __future__ import annotations

import builtins
import re

import kv_core
import kv_core.errors
import kv_core.urls
from kv_core.errors import KVError

# One line of the drawing: its depth (where the branch starts), the class, its builtin base.
_BRANCH = re.compile(r"^(?P<indent>[ │]*)[├└]── (?P<name>\w+)(?: \((?P<builtin>\w+)\))?")


def _drawn() -> dict[str, tuple[str, str | None]]:
    """Each class the docstring draws: its parent in the drawing, and its builtin if shown."""
    doc = kv_core.errors.__doc__ or ""
    parents: dict[int, str] = {}
    drawn: dict[str, tuple[str, str | None]] = {}
    for line in doc.splitlines():
        found = _BRANCH.match(line.strip("\n")[4:])  # the drawing is indented by four
        if not found:
            continue
        depth = len(found["indent"])
        name = found["name"]
        parents[depth + 4] = name
        drawn[name] = (parents.get(depth, "Exception"), found["builtin"])
    return drawn


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


def _kv_parent(cls: type) -> str:
    parents = [base for base in cls.__bases__ if issubclass(base, KVError)]
    assert len(parents) == 1, cls
    return parents[0].__name__


def _builtin_base(cls: type) -> str | None:
    bases = [base.__name__ for base in cls.__bases__ if not issubclass(base, KVError)]
    assert len(bases) <= 1, cls
    return bases[0] if bases else None


def test_the_drawing_names_every_exported_error() -> None:
    """The docstring draws exactly the classes kv_core.errors exports."""
    assert set(_drawn()) == set(kv_core.errors.__all__)


def test_the_drawing_is_the_class_tree() -> None:
    """Each drawn class has the drawn parent and the drawn builtin base."""
    drawn = _drawn()
    assert drawn["KVError"] == ("Exception", None)
    for name, (parent, builtin) in drawn.items():
        if name == "KVError":
            continue
        cls = getattr(kv_core.errors, name)
        assert _kv_parent(cls) == parent, name
        assert _builtin_base(cls) == builtin, name


def test_every_kv_core_error_is_in_kv_core_errors() -> None:
    """Walking KVError's subclasses finds no kv_core error defined outside kv_core.errors."""
    ours = {cls for cls in _subclasses(KVError) if cls.__module__.startswith("kv_core")}
    exported = {getattr(kv_core.errors, name) for name in kv_core.errors.__all__} - {KVError}
    assert ours == exported
    assert {cls.__module__ for cls in ours} == {"kv_core.errors"}


def test_every_error_has_a_builtin_base() -> None:
    """Every error of the family is also a builtin exception more specific than Exception."""
    for cls in _subclasses(KVError):
        builtin_ancestors = [
            base
            for base in cls.__mro__
            if getattr(builtins, base.__name__, None) is base
            and base not in (Exception, BaseException, object)
        ]
        assert builtin_ancestors, cls


def test_moved_names_are_the_same_classes() -> None:
    """InvalidStoreURL is importable from kv_core.urls and kv_core: one class everywhere."""
    assert kv_core.urls.InvalidStoreURL is kv_core.errors.InvalidStoreURL
    assert kv_core.InvalidStoreURL is kv_core.errors.InvalidStoreURL
    error = kv_core.urls.InvalidStoreURL("bad")
    assert isinstance(error, kv_core.errors.InvalidStoreURL)
    assert isinstance(error, ValueError)


def test_conflicts() -> None:
    """A failed HTTP precondition is a ConflictError; both are KVErrors and RuntimeErrors."""
    error = kv_core.PreconditionFailed("changed")
    assert isinstance(error, kv_core.ConflictError)
    assert isinstance(error, KVError)
    assert isinstance(error, RuntimeError)
    assert not isinstance(error, kv_core.StoreUnavailable)


def test_unsupported_and_protocol_errors() -> None:
    """UnsupportedError is a NotImplementedError; ProtocolError a RuntimeError."""
    assert issubclass(kv_core.UnsupportedError, NotImplementedError)
    assert issubclass(kv_core.ProtocolError, RuntimeError)
    assert not issubclass(kv_core.ProtocolError, ConnectionError)
