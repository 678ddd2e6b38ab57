"""What a store declares about itself, read by users and by the conformance suite."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["LONE_SURROGATES", "Capabilities", "combine"]

#: The code points U+D800 to U+DFFF, each alone a ``str`` with no UTF-8 form: refused by
#: every store that stores keys as UTF-8 (a file name, a SQL column, a URL).
LONE_SURROGATES: frozenset[str] = frozenset(map(chr, range(0xD800, 0xE000)))


@dataclass(frozen=True, kw_only=True, repr=False)
class Capabilities:
    """What a store supports. Every field must be given: nothing is assumed.

    :param persistent: Data survives ``close()`` and is seen by a store opened again on the
        same storage.
    :param processes: Several processes may use the same storage at once.
    :param ttl: Values can expire by themselves.
    :param history: Old versions of a value are kept and can be read.
    :param max_key_length: The longest key of ASCII letters (no ``/``) the store holds; one
        letter more raises ``InvalidKeyError``. ``None``: no limit of the store's own. A
        store whose limit is in bytes (a file name is at most 255 bytes of UTF-8) holds
        fewer non-ASCII characters; its documentation says how many.
    :param max_value_size: The largest value, in bytes, the store accepts. ``None``: no
        limit of its own (the suite tries values up to 10 MB).
    :param empty_key: ``""`` is a valid key.
    :param hierarchical_keys: ``/`` separates levels, so ``a`` and ``a/b`` cannot both exist.
    :param invalid_keys: Examples of keys the store refuses with ``InvalidKeyError``.
    :param refused_characters: Every character that makes a key invalid wherever it appears
        (``InvalidKeyError`` on every operation), such as NUL or
        :data:`LONE_SURROGATES`. Exact, not examples: any other character is held in a key
        that is otherwise valid. ``/`` in a store with ``hierarchical_keys`` is a separator,
        not a character of this set. ``None`` (the default, for stores written before
        kv-core 0.3): not declared; the conformance suite then skips its character checks
        and says so, and a kv-flask server publishes no set. Every store should declare it.
    :param compare_and_set: ``get_with_version``, ``set_if`` and ``delete_if`` work, natively
        and atomically: as safe across processes (and hosts) as the store's plain writes
        are. ``False`` (the default, so stores written for kv-core 0.3 keep building
        theirs): they raise :class:`~kv_core.UnsupportedError`.
    """

    persistent: bool
    processes: bool
    ttl: bool
    history: bool
    max_key_length: int | None
    max_value_size: int | None
    empty_key: bool
    hierarchical_keys: bool
    invalid_keys: tuple[str, ...]
    refused_characters: frozenset[str] | None = None
    compare_and_set: bool = False

    def __repr__(self) -> str:
        # Sorted, and the 2048 surrogates named rather than listed: the repr is printed in
        # the conformance suite's report header.
        parts = []
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "refused_characters":
                value = _describe_characters(value)
            else:
                value = repr(value)
            parts.append(f"{item.name}={value}")
        return f"Capabilities({', '.join(parts)})"


def _describe_characters(characters: frozenset[str] | None) -> str:
    if characters is None:
        return "None"
    rest = characters
    named = ""
    if characters >= LONE_SURROGATES:
        rest = characters - LONE_SURROGATES
        named = "LONE_SURROGATES"
    listed = f"frozenset({{{', '.join(map(repr, sorted(rest)))}}})" if rest else ""
    if listed and named:
        return f"{listed} | {named}"
    return listed or named or "frozenset()"


def _min_limit(limits: list[int | None]) -> int | None:
    known = [limit for limit in limits if limit is not None]
    return min(known) if known else None


def _union_declared(sets: list[frozenset[str] | None]) -> frozenset[str] | None:
    """All the declared characters; ``None`` if any part declares none (not known)."""
    if any(chars is None for chars in sets):
        return None
    return frozenset().union(*(chars for chars in sets if chars is not None))


def combine(parts: list[Capabilities]) -> Capabilities:
    """What a store built over all of *parts* can promise: the weakest of each field."""
    if not parts:
        msg = "combine() needs at least one Capabilities"
        raise ValueError(msg)
    invalid: dict[str, None] = {}
    for part in parts:
        invalid.update(dict.fromkeys(part.invalid_keys))
    return Capabilities(
        persistent=all(p.persistent for p in parts),
        processes=all(p.processes for p in parts),
        ttl=any(p.ttl for p in parts),
        history=all(p.history for p in parts),
        max_key_length=_min_limit([p.max_key_length for p in parts]),
        max_value_size=_min_limit([p.max_value_size for p in parts]),
        empty_key=all(p.empty_key for p in parts),
        hierarchical_keys=any(p.hierarchical_keys for p in parts),
        invalid_keys=tuple(invalid),
        refused_characters=_union_declared([p.refused_characters for p in parts]),
        compare_and_set=all(p.compare_and_set for p in parts),
    )
