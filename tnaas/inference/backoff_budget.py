"""The work budget of the Kneser-Ney backoff engines: a deterministic count, not a clock.

A unit of work is one term of the backoff operator touched by one pass (`Step.work`: pool
nodes, entry, root, direct and negative terms, output cells); compiling a step costs
`BUILD_COST` units per term it lays out (measured: building is ~10x one pass over it). On
the bundled corpora a unit costs ~6-13 ns of CPU, so `MAX_BACKOFF_WORK` is ~7-15 s: set so
that `%` with length control is answered on every bundled corpus at every state size up to 6
(the costliest, notes at k = 6, needs 1.03e9 units, ~7 CPU s), as is any tech pattern of
up to `MAX_PATTERN_TOKENS` characters at k <= 6 (64 unknowns at k = 6: ~0.93e9).

`backoff_lattice` counts as its forward pass proceeds and charges each step for all three
passes at once (forward, backward, A* bounds: the same steps again), plus the rebuilds of
steps too large to keep; once its frontier repeats it knows every remaining step's cost
and refuses then. `backoff_lengths` knows its cost up front from the structure's sizes
(one step over every state, `BackoffStructure.step_work`, for each length, three passes).
Either way an over-large request is refused early, with the same answer on every machine.
"""

from __future__ import annotations

import numpy as np

from tnaas.errors import TnaasError

MAX_BACKOFF_WORK = 1_200_000_000  # units (see the module docstring): ~7-15 s of CPU
BUILD_COST = 10  # units per term of a compiled step, for building it
PASSES = 3  # forward, backward and A* bounds each go through every step once


class WorkBudget:
    """A running count of work units against `limit`; `charge` raises past it.

    `advice`: what the user should change, for the message (one clause).
    """

    def __init__(self, limit: int, advice: str):
        self.limit, self.advice, self.used = int(limit), advice, 0

    def charge(self, units: float, ahead: float = 0.0) -> None:
        """Add `units` done (or committed to); refuse when they, plus `ahead` units sure
        to follow, exceed the limit."""
        self.used += int(units)
        if self.used + ahead > self.limit:
            raise TnaasError(
                f"this request needs more than {self.limit:,} units of work with this smoothed model "
                f"(about {int(self.used + ahead):,}): {self.advice}"
            )


def estimate_lattice_work(structure, dfa, steps: int, keep_limit: float, passes: int = PASSES) -> float:
    """Work units a `BackoffLattice` of `steps` tokens under `dfa` will need, from the
    structure's sizes alone (an estimate, float): each DFA state reachable after t tokens
    holds at most the states of order <= t + 1 whose last token leads into it
    (`BackoffStructure.work_tables`); a pooled DFA state costs their units plus the root's
    V, a literal-only one two units per state and literal. Steps are built whenever the
    reachable set changes or the orders still grow, and gone through `passes` times; once
    the kept steps pass `keep_limit` (sizes ~3 units each), each later pass rebuilds them."""
    S = structure
    free, begun = S.work_tables()
    n_class = dfa.delta.shape[1]
    # per token class (tokens of one class lead to the same DFA states): (classes, k + 1)
    free = np.stack([np.bincount(dfa.token_class, weights=free[:, j], minlength=n_class) for j in range(S.k + 1)], 1)
    begun = np.stack([np.bincount(dfa.token_class, weights=begun[:, j], minlength=n_class) for j in range(S.k + 1)], 1)
    n_lit = len(dfa.literal_ids)
    reach = np.zeros(len(dfa.delta), dtype=bool)
    reach[0] = True
    total, previous, kept = float(S.V) * (passes + BUILD_COST), None, 0.0  # t = 0: BEGIN's dense row
    for t in range(1, steps):
        into = np.zeros((len(dfa.delta), n_class))  # 1 where a class leads into a state
        nxt = dfa.delta[np.flatnonzero(reach)]  # (sources, classes)
        rows, classes = np.nonzero(nxt >= 0)
        into[nxt[rows, classes], classes] = 1.0
        reach = into.any(axis=1)
        if not reach.any():
            break
        held = into @ free[:, min(t + 1, S.k)] + (into @ begun[:, t + 1] if t + 1 <= S.k else 0.0)
        # a literal-only state: about a quarter of a state's units are its node and cell
        cost = np.where(dfa.allows_any, held + S.V + 1, held / 4.0 * 2 * n_lit)
        work = float(cost[reach].sum())
        key = (reach.tobytes(), into.tobytes(), min(t + 1, S.k + 1))
        total += passes * work
        if key != previous:
            kept += 3.0 * work
            total += BUILD_COST * work * (1 if kept <= keep_limit else passes)
        previous = key
    return total
