"""kv_core's list of well-known schemes is the list of schemes the packages register."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from kv_core.opener import _PROVIDERS, ANY_DRIVER, ENTRY_POINT_GROUP, registered_schemes

ROOT = Path(__file__).resolve().parents[1]


def _declared() -> dict[str, str]:
    """Each scheme of the ``kv.stores`` group, from every package's pyproject.toml, with the
    distribution that declares it."""
    declared: dict[str, str] = {}
    for pyproject in sorted(ROOT.glob("packages/*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        for scheme in project.get("entry-points", {}).get(ENTRY_POINT_GROUP, {}):
            assert scheme not in declared, f"{scheme} is declared twice"
            declared[scheme] = project["name"]
    return declared


def test_known_schemes_are_the_declared_entry_points() -> None:
    """Every scheme kv_core names a package for is declared by that package, and back."""
    declared = _declared()
    named = {scheme for scheme in declared if not scheme.endswith(ANY_DRIVER)}
    assert set(_PROVIDERS) == named
    for scheme, provider in _PROVIDERS.items():
        assert re.sub(r"\[.*\]$", "", provider) == declared[scheme], scheme


def test_every_driver_family_has_a_named_scheme() -> None:
    """A ``name+*`` entry point is for a family kv_core can name the package of."""
    for scheme, distribution in _declared().items():
        if scheme.endswith(ANY_DRIVER):
            family = scheme.removesuffix(ANY_DRIVER)
            assert re.sub(r"\[.*\]$", "", _PROVIDERS[family]) == distribution, scheme


def test_installed_schemes_are_the_declared_ones() -> None:
    """With every package installed (this repository's venv), the opener sees all of them."""
    assert sorted(_declared()) == registered_schemes()
