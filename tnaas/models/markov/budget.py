"""The memory budget of fitting a Markov chain, estimated from its counts before allocating.

Fitting counts the corpus's (state, next token) rows first (memory linear in the corpus),
then builds a trie of every history and, for Kneser-Ney, per-history tables. Those last two
grow with the number of distinct histories, which the counts bound before anything is
allocated: at order j there are at most min(distinct states, (V + 2)^j) histories. The bytes
per history were measured (`benchmarks/bench_memory.py`: 70-120 unsmoothed, 220-280 with
Kneser-Ney, on characters, words and notes); the estimate uses the high end.
"""

from __future__ import annotations

import os

import numpy as np

from tnaas.errors import TooCostly
from tnaas.models.markov.ngram import NgramCounts

BYTES_PER_HISTORY = {"none": 130, "kneser-ney": 300}
DEFAULT_BUDGET_MB = 500


def fit_budget_bytes() -> int:
    """Bytes one fit may take: `TNAAS_FIT_BUDGET_MB` (default 500 MB)."""
    try:
        megabytes = float(os.environ.get("TNAAS_FIT_BUDGET_MB", DEFAULT_BUDGET_MB))
    except ValueError:
        megabytes = DEFAULT_BUDGET_MB
    return int(megabytes * 2**20)


def history_bound(counts: NgramCounts) -> int:
    """An upper bound on the histories (trie nodes) the chain of `counts` will have."""
    contexts = counts.contexts
    if len(contexts) == 0:
        return 1
    # Rows come sorted by state, so changes between neighbours count distinct states (if they
    # did not, this would only overcount: still a bound).
    states = 1 + int(np.count_nonzero((contexts[1:] != contexts[:-1]).any(axis=1)))
    radix = len(counts.vocabulary) + 2
    return 1 + sum(min(states, radix**order) for order in range(1, counts.state_size + 1))


def check_fit_budget(counts: NgramCounts, smoothing: str) -> int:
    """The estimated bytes of building the chain; `TooCostly` (naming what to change) past the budget."""
    estimate = history_bound(counts) * BYTES_PER_HISTORY[smoothing]
    budget = fit_budget_bytes()
    if estimate > budget:
        fixes = "a lower state size" + (", no smoothing" if smoothing != "none" else "") + " or a smaller file"
        raise TooCostly(
            f"fitting this chain would take about {estimate / 2**20:,.0f} MB, over the "
            f"{budget / 2**20:,.0f} MB budget of one fit: use {fixes}"
        )
    return estimate
