"""Sums of products along edges, kept in log space without paying log-space prices.

Forward and backward passes over a lattice all compute, for every node g on one side,

    log Σ_{e: group[e] = g} exp(log_v[via[e]] + log p_e),

where `log_v` are the log weights of the nodes on the other side. A linear pass scaled by
one factor per step loses every term that falls below ~1e-308 relative to the step's
largest, and such a term can be the only one a node gets (then the node is lost, and later
the path through it may be the best). Logsumexp per group is exact but costs an `exp` per
edge and a scattered maximum. `push` does the linear pass and checks it: only a step where
some term underflows although its log is finite is redone with the per-group logsumexp,
so common queries pay a compare per edge and extreme ones are still exact.
"""

from __future__ import annotations

import numpy as np

from tnaas.inference.automaton import group_logsumexp, safe_log

# Terms at least this large (relative to the step's largest, which is 1) are normal
# doubles with full precision; a smaller one may be a rounded subnormal or an underflow.
TINY = 1e-280


def scaled(log_v: np.ndarray) -> tuple[float, np.ndarray]:
    """(shift, exp(log_v - shift)) with shift = max(log_v) (0 when all are -inf or empty)."""
    top = float(np.max(log_v)) if len(log_v) else -np.inf
    shift = top if np.isfinite(top) else 0.0
    return shift, np.exp(log_v - shift)


def push(
    log_v: np.ndarray,
    via: np.ndarray,
    prob: np.ndarray,
    log_prob: np.ndarray | None,
    group: np.ndarray,
    n_groups: int,
    sorted_groups: bool = False,
) -> np.ndarray:
    """log Σ over edges e of group g of v[via[e]] p_e, for g < n_groups (float64, -inf: none).

    `log_v`: float64 (n,) node log weights; `via`, `group`: int (e,) each edge's node on
    the weighted side and the node it adds to; `prob`: float64 (e,) edge probabilities;
    `log_prob`: their logs where more precise than log(prob) (None: log(prob)).
    `sorted_groups`: `group` is ascending (edges grouped by it), so the exact fallback can
    use a segmented reduction. Exact to rounding whatever the magnitudes (module docstring).
    """
    shift, v = scaled(log_v)
    terms = v[via] * prob
    small = terms < TINY
    if small.any():
        log_small = log_prob[small] if log_prob is not None else safe_log(prob[small])
        if np.isfinite(log_v[via[small]] + log_small).any():  # an underflow, not a true zero
            log_p = log_prob if log_prob is not None else safe_log(prob)
            return log_group_sum(group, log_v[via] + log_p, n_groups, sorted_groups)
    return shift + safe_log(np.bincount(group, weights=terms, minlength=n_groups))


def log_group_sum(group: np.ndarray, values: np.ndarray, n_groups: int, sorted_groups: bool = False) -> np.ndarray:
    """log Σ exp(values[i]) over i with group[i] = g (float64 (n_groups,), -inf when empty)."""
    if not sorted_groups or len(group) == 0:
        return group_logsumexp(np.asarray(group, dtype=np.int64), values, n_groups)
    first = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    top = np.maximum.reduceat(values, first)
    shift = np.where(np.isfinite(top), top, 0.0)
    counts = np.diff(np.r_[first, len(group)])
    total = np.add.reduceat(np.exp(values - np.repeat(shift, counts)), first)
    out = np.full(n_groups, -np.inf)
    out[group[first]] = shift + safe_log(total)
    return out


def log_dot(log_a: np.ndarray, log_b: np.ndarray) -> float:
    """log Σ exp(log_a + log_b) of two float64 (n,) log vectors (-inf when empty)."""
    values = log_a + log_b
    top = float(np.max(values)) if len(values) else -np.inf
    if not np.isfinite(top):
        return -np.inf
    return top + float(np.log(np.add.reduce(np.exp(values - top))))
