"""Values computed once per object while it lives (cache keys of workloads, cards, catalogues and constraints, the
time model's view of a card): a plan reads them thousands of times for a few hundred objects.

The memo holds the object beside its value, so the object's id cannot be reused by another while the entry stands,
and a hit checks identity. Bounded: a full memo is emptied.
"""
from __future__ import annotations

MAX_OBJECTS = 16_384


def per_object(memo: dict, obj, make):
    """make(obj), computed once per object kept in `memo`."""
    hit = memo.get(id(obj))
    if hit is not None and hit[0] is obj:
        return hit[1]
    if len(memo) >= MAX_OBJECTS:
        memo.clear()
    value = make(obj)
    memo[id(obj)] = (obj, value)
    return value
