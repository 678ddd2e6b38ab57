"""Key edge cases: every distinct string is a distinct key, exactly as given."""

from __future__ import annotations

from ._base import SuiteBase

__all__ = ["KeyTests"]

from ..store import Store

UNICODE_KEYS = [
    "\u00e9",  # é, NFC
    "e\u0301",  # é, NFD: a different key
    "\u212b",  # Å, angstrom sign
    "\u00c5",  # Å, letter
    "\u65e5\u672c\u8a9e",
    "\U0001f600 emoji",
    "\u05e9\u05dc\u05d5\u05dd",  # right to left
    "\u0130",  # İ, dotted capital I
    "\u00df",  # ß
]
CASE_AND_SPACE_KEYS = ["a", "A", "a ", "a  ", " a", "\ta", "ss", "SS", "Ss", "i", "I"]
PATTERN_KEYS = ["%", "_", "*", "?", "[", "]", "\\", "a%", "a_", "a*", "a?", "a[b]", "[!a]", "^$"]
NESTED_PREFIX_KEYS = ["p", "pa", "pab", "pabc", "q"]


# Keys every store must hold, unless it declares the key invalid: the suite does not let a
# store's own validation excuse it from normal forms, padding or pattern characters.
REQUIRED_KEYS = [
    *UNICODE_KEYS,
    *CASE_AND_SPACE_KEYS,
    *[k for k in PATTERN_KEYS if "\\" not in k],
    *NESTED_PREFIX_KEYS,
]


class KeyTests(SuiteBase):
    """Unicode normal forms, case, whitespace and pattern characters are all literal."""

    def test_required_keys_are_accepted(self, store: Store) -> None:
        """Every edge-case key the suite uses is held, unless the store declares it invalid."""
        required = [k for k in REQUIRED_KEYS if k not in self.capabilities.invalid_keys]
        for index, key in enumerate(required):
            store[key] = f"v{index}".encode()
        for index, key in enumerate(required):
            assert store[key] == f"v{index}".encode(), key
        assert len(store) == len(required)

    def _round_trip(self, store: Store, keys: list[str]) -> None:
        valid = self.valid_keys(store, keys)
        for index, key in enumerate(valid):
            store[key] = f"value {index}".encode()
        assert len(store) == len(valid)
        assert sorted(store) == sorted(valid)
        for index, key in enumerate(valid):
            assert store[key] == f"value {index}".encode(), f"wrong value for {key!r}"
            assert key in store

    def test_unicode_keys_are_distinct(self, store: Store) -> None:
        """NFC and NFD forms, and look-alike code points, are different keys."""
        self._round_trip(store, UNICODE_KEYS)

    def test_case_and_whitespace_are_significant(self, store: Store) -> None:
        """'a', 'A', 'a ' and ' a' are four keys (no case folding, no space padding)."""
        self._round_trip(store, CASE_AND_SPACE_KEYS)

    def test_pattern_characters_are_literal(self, store: Store) -> None:
        """SQL LIKE and glob characters in keys mean themselves."""
        self._round_trip(store, PATTERN_KEYS)

    def test_keys_that_prefix_each_other(self, store: Store) -> None:
        """Keys that are prefixes of one another are independent."""
        self._round_trip(store, NESTED_PREFIX_KEYS)
        del store["pa"]
        assert sorted(store) == sorted(k for k in NESTED_PREFIX_KEYS if k != "pa")

    def test_prefix_listing_treats_patterns_literally(self, store: Store) -> None:
        """A prefix holding % _ * ? [ ] lists only keys that literally start with it."""
        keys = self.valid_keys(
            store, ["x%1", "xa1", "x_1", "xb1", "x*1", "x?1", "x[1", "x]1", "xc1", "x\\1"]
        )
        for key in keys:
            store[key] = b"v"
        for prefix in ("x%", "x_", "x*", "x?", "x[", "x]", "x\\"):
            if not self.is_valid_key(store, prefix + "1"):
                continue
            assert sorted(store.keys_with_prefix(prefix)) == [prefix + "1"], prefix
