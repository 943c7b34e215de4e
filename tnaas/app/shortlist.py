"""The Generate page's shortlist: items the user ticked, kept across seeds and settings."""

from __future__ import annotations

import pandas as pd


def update_shortlist(shortlist: list[str], edited: pd.DataFrame) -> list[str]:
    """The shortlist after the user's ticks in the `keep` column of `edited` (columns keep, item).

    Unticked items leave; ticked ones join at the end in table order; order and uniqueness
    are kept, and items not in the table (an earlier seed's) stay.
    """
    kept = set(edited.loc[edited["keep"], "item"])
    dropped = set(edited.loc[~edited["keep"], "item"])
    result = [item for item in shortlist if item not in dropped]
    return result + [item for item in edited["item"] if item in kept and item not in result]
