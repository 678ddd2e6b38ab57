"""StoreConformance: the whole suite in one class for a backend to subclass."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from ..capabilities import Capabilities
from ..store import Store
from ._base import SuiteBase
from ._batch import BatchTests
from ._cas import CompareAndSetTests
from ._concurrency import ConcurrencyTests
from ._errors import ErrorContractTests
from ._keys import KeyTests
from ._mapping import MappingTests
from ._model import ModelTests
from ._persistence import PersistenceTests
from ._stateful import StatefulTests
from ._unavailable import UnavailabilityTests
from ._values import ValueTests

__all__ = ["StoreConformance"]


class StoreConformance(
    MappingTests,
    ModelTests,
    ErrorContractTests,
    KeyTests,
    ValueTests,
    BatchTests,
    CompareAndSetTests,
    ConcurrencyTests,
    PersistenceTests,
    StatefulTests,
    UnavailabilityTests,
    SuiteBase,
):
    """Subclass this in a test module with a ``store_factory`` fixture (and an ``opener``).

    ::

        class TestMyStore(StoreConformance):
            @pytest.fixture
            def store_factory(self, tmp_path_factory):
                return lambda: MyStore(tmp_path_factory.mktemp("kv"))

            def opener(self, store):
                return functools.partial(MyStore, store.path)

    The suite makes every store through ``store_factory``, reopens it through ``opener``
    (for persistence, and in spawned processes) and closes all of them when each test ends;
    a factory yields instead of returning when it has something to remove afterwards (a
    table, a key prefix, a server). What it tests is what the first store of each test
    declares (``MyStore.capabilities``); a class attribute ``capabilities =
    Capabilities(...)`` takes its place, for a plain ``MutableMapping``, and is checked
    against the store's own declaration.

    Tests skip only where a declared capability says a behaviour does not apply, and the
    unavailability test where the backend gives no ``kv_unavailable_store`` fixture (a
    store whose server is down; see :class:`UnavailabilityTests`).
    """

    def test_declared_capabilities_match_store(self, store: MutableMapping[Any, Any]) -> None:
        """What the test class declares, if it does, is what the store itself declares."""
        declared = getattr(store, "capabilities", None)
        if declared is None and not isinstance(store, Store):
            return  # a plain MutableMapping: the test class declares for it
        assert isinstance(declared, Capabilities), (
            f"{type(store).__name__}.capabilities is {declared!r}, not a Capabilities(...) "
            "with every field stated"
        )
        assert declared == self.capabilities
