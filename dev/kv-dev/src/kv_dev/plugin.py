"""pytest plugin of kv-dev: lets the tests of released kv versions run against this tree.

Up to kv-core 0.2, the repository's test helpers shipped as ``kv_core.conformance.services``,
and the tests of those releases import them from there. ``tools/compat.py`` runs such tests
against the kv-core of this tree, which no longer has that module: where kv-core lacks it,
this plugin, loaded before any conftest, makes that name :mod:`kv_dev.services`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

from . import services

OLD_NAME = "kv_core.conformance.services"


def _alias_old_name() -> None:
    try:
        found = importlib.util.find_spec(OLD_NAME)
    except ModuleNotFoundError:  # no kv-core here at all: nothing to stand in for
        return
    if found is not None:  # a kv-core that still ships it: its own module is the one
        return
    sys.modules[OLD_NAME] = services
    # ``import kv_core.conformance.services`` then reads the attribute of the package.
    setattr(importlib.import_module("kv_core.conformance"), "services", services)  # noqa: B010


_alias_old_name()
