"""The tables the pages show: generated items with their scores, and a model comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tnaas.app.display import nats


def generation_table(model, items) -> pd.DataFrame:
    """Items with their log-probability (nats, END included) and whether they are new.

    Columns: item, log_prob, status ("new" or "in corpus", against the model's training items).
    """
    items = list(items)
    log_probs = model.log_prob_many(items) if items else np.zeros(0)
    return pd.DataFrame(
        {
            "item": items,
            "log_prob": log_probs,
            "status": ["in corpus" if item in model.training_items_ else "new" for item in items],
        }
    )


def comparison_frame(rows) -> pd.DataFrame:
    """`ComparisonRow`s as numbers, one row per model (every field a column; inf and NaN kept).

    What the charts draw and the CSV download holds.
    """
    return pd.DataFrame([row.to_dict() for row in rows])


def comparison_table(rows) -> pd.DataFrame:
    """`ComparisonRow`s as the page shows them: NLL and perplexity as text ("∞" when a
    held-out item is impossible, blank for an unavailable model), novelty and diversity in
    percent (0-100), fit time in seconds.

    Columns: model, nll, perplexity, novelty, diversity, fit_seconds, completion, note.
    """
    return pd.DataFrame(
        {
            "model": [row.model for row in rows],
            "nll": [nats(row.nll_per_token) for row in rows],
            "perplexity": [nats(row.perplexity, 2) for row in rows],
            "novelty": [100 * row.novelty for row in rows],
            "diversity": [100 * row.diversity for row in rows],
            "fit_seconds": [row.fit_seconds for row in rows],
            "completion": ["" if row.note else "exact" if row.exact else "approximate" for row in rows],
            "note": [row.note for row in rows],
        }
    )


def as_csv(frame: pd.DataFrame) -> bytes:
    """A table as UTF-8 CSV bytes, without the index (infinite values are written as ``inf``)."""
    return frame.to_csv(index=False).encode("utf-8")


def as_txt(items) -> bytes:
    """Items as UTF-8 text, one per line."""
    return "".join(f"{item}\n" for item in items).encode("utf-8")
