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
    """Subclass this in a test module, declare ``capabilities`` and a ``store_factory`` fixture.

    ::

        class TestMyStore(StoreConformance):
            capabilities = Capabilities(persistent=True, processes=True, ttl=False,
                history=False, max_key_length=255, max_value_size=None, empty_key=True,
                hierarchical_keys=False, invalid_keys=(),
                refused_characters=frozenset())

            @pytest.fixture
            def store_factory(self, tmp_path_factory):
                made = []
                def make():
                    made.append(MyStore(tmp_path_factory.mktemp("kv")))
                    return made[-1]
                yield make
                for store in made:
                    store.close()

            def opener(self, store):
                return functools.partial(MyStore, store.path)

    Tests skip only where a declared capability says a behaviour does not apply, and the
    unavailability test where the backend gives no ``kv_unavailable_store`` fixture (a
    store whose server is down; see :class:`UnavailabilityTests`).
    """

    def test_declared_capabilities_match_store(self, store: MutableMapping[Any, Any]) -> None:
        """What the test class declares is what the store itself declares."""
        declared = getattr(store, "capabilities", None)
        if declared is None and not isinstance(store, Store):
            return  # a plain MutableMapping: the test class declares for it
        assert isinstance(declared, Capabilities), (
            f"{type(store).__name__}.capabilities is {declared!r}, not a Capabilities(...) "
            "with every field stated"
        )
        assert declared == self.capabilities
