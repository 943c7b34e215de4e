"""Generation as users want it: distinct items, new ones only unless asked otherwise."""

from __future__ import annotations

from tnaas.errors import NotEnoughNovelItems
from tnaas.validation import check_count, rng_from

MAX_DRAWS_PER_ITEM = 50  # try budget: draws per requested item before giving up
MIN_DRAWS = 1_000


def generate(
    model, n: int, random_state=None, temperature: float = 1.0, length=None, include_existing: bool = False
) -> list[str]:
    """`n` distinct items sampled from a fitted model, in order of first appearance.

    By default only items not in the training corpus count (the novelty filter). Draws
    stop after `max(MIN_DRAWS, MAX_DRAWS_PER_ITEM * n)`; if fewer than `n` qualifying
    items turned up, `NotEnoughNovelItems` carries the ones found.
    """
    n = check_count(n)
    rng = rng_from(random_state)
    existing = frozenset() if include_existing else model.training_items_
    budget = max(MIN_DRAWS, MAX_DRAWS_PER_ITEM * n)
    found: dict[str, None] = {}
    draws = 0
    while len(found) < n and draws < budget:
        batch_size = min(budget - draws, max(64, 2 * (n - len(found))))
        for item in model.sample(batch_size, random_state=rng, temperature=temperature, length=length):
            if item not in existing:
                found.setdefault(item)
                if len(found) == n:
                    break
        draws += batch_size
    items = list(found)
    if len(items) < n:
        what = "distinct items" if include_existing else "new items (not in the corpus)"
        hint = "" if include_existing else "; allow existing items, raise the temperature or lower the state size"
        raise NotEnoughNovelItems(f"found only {len(items)} of {n} {what} in {draws:,} draws{hint}", items)
    return items
