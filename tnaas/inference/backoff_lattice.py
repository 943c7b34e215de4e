"""The completion lattice of a Kneser-Ney automaton without its V edges per node.

Same nodes, same answers and the same public interface as `tnaas.inference.lattice.Lattice`
(`log_z`, `probability`, `running_mass`, `end_log_mass`/`end_mass`/`end_posterior`,
`token_posteriors`, `sample`, `top`), but no edge is stored: each step goes through the
pooled backoff operator of `tnaas.inference.backoff_flow` (cost ≈ V per distinct DFA state
plus the entries of the active states, not frontier x V), compiled once per distinct
frontier (`tnaas.inference.backoff_step.Step`) and shared by the forward, backward and
A*-bound passes. Frontiers repeat (a `%` saturates after a few tokens): equal frontiers
are one key array and one `Step`, and a saturated step's cells share its arrays. What is
stored per step: the frontier (keys q * n + s, log α, log end weight) and its *cells* (one
per (source DFA state, destination), with its token and exact log mass), for the
posteriors. Sampling and the k-best search expand the few nodes they visit densely
(`backoff_search`).

All weights are natural logs; each step is computed in linear bands (see `backoff_flow`),
so nothing is lost however small. α and β of a step are kept as (linear values, one log
scale) while a single band holds them (the usual case: no exp or log per node and step),
else as logs, band by band; `log_alpha` / `log_beta` read either as logs (`LogView`).
Memory is bounded by `max_entries` stored frontier nodes and cells (a cell whose next
node and token are shared counts a third), work by `max_work` units
(`backoff_budget`: estimated up front from the structure, then counted as the forward
pass goes, for all three passes): beyond either a `TnaasError` says what to change, up
front or as soon as the frontier saturates when the remaining steps are sure to exceed it.
"""

from __future__ import annotations

import numpy as np

from tnaas.errors import TnaasError
from tnaas.inference.automaton import safe_log
from tnaas.inference.backoff import BackoffStructure, backoff_structure
from tnaas.inference.backoff_budget import BUILD_COST, MAX_BACKOFF_WORK, PASSES, WorkBudget, estimate_lattice_work
from tnaas.inference.backoff_flow import (
    KeyIndex,
    band_width,
    bands,
    exact_log_pull,
    log_add,
    log_scaled,
    read_logs,
    scaled,
    take_logs,
    unique_inverse,
    with_ends,
)
from tnaas.inference.backoff_step import Step
from tnaas.inference.log_flow import log_dot, log_group_sum
from tnaas.inference.patterns import PatternDFA

MAX_BACKOFF_ENTRIES = 12_000_000  # stored frontier nodes + cells (~24 bytes each: ~300 MB)
MAX_KEPT_POOL = 6_000_000  # compiled steps' terms kept between passes (~40 bytes each); beyond, rebuilt
RECENT_STEPS = 2  # steps built last, at hand even beyond MAX_KEPT_POOL (`_numbered_step`)


_ADVICE = "use fewer unknown positions (`*`/`%`), a shorter pattern, or a smaller state size"


class LogView:
    """Per-t float64 arrays read as natural logs (`view[t]`), kept as logs or as (linear
    values, log scale) pairs (`backoff_flow.scaled`); `sentinel`: the linear values end
    with one extra entry (0, "absent"), left out when read. `take(t, index)` reads only
    some entries (index -1: absent, -inf)."""

    def __init__(self, items: list, sentinel: bool = False):
        self.items, self.sentinel = items, sentinel

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, t: int) -> np.ndarray:
        return read_logs(self.items[t], self.sentinel)

    def __iter__(self):
        return (self[t] for t in range(len(self)))

    def take(self, t: int, index: np.ndarray) -> np.ndarray:
        """log values at `index` (int64, any shape; -1 reads -inf)."""
        return take_logs(self.items[t], index, self.sentinel)


class EndView:
    """log p(END | node) [accepting] plus the length weight of t, read as `log_end[t]`
    (float64 (f,)): kept as (the step's array, the weight), so equal frontiers share one
    array, and read as that very array when the weight is 0 (natural lengths; do not
    write into what it gives)."""

    def __init__(self):
        self.items: list[tuple[np.ndarray, float]] = []

    def append(self, base: np.ndarray, weight: float) -> None:
        self.items.append((base, float(weight)))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, t: int) -> np.ndarray:
        base, weight = self.items[t]
        return base if weight == 0.0 else base + weight


def _logsumexp(x: np.ndarray) -> float:
    return log_dot(np.asarray(x, dtype=np.float64), np.zeros(len(x)))


class BackoffLattice:
    """The pattern-constrained lattice of a KN automaton (module docstring).

    Arguments as `Lattice`'s (`end_weight` or its log `log_end_weight`, float64
    (max_length + 1,)); `structure` is the automaton's `BackoffStructure` (looked up when
    None). Refused with a `TnaasError` for an automaton that has none.
    """

    def __init__(
        self,
        automaton,
        dfa: PatternDFA,
        end_weight: np.ndarray | None = None,
        max_entries: int = MAX_BACKOFF_ENTRIES,
        backward: bool = True,
        log_end_weight: np.ndarray | None = None,
        structure: BackoffStructure | None = None,
        max_work: int = MAX_BACKOFF_WORK,
    ):
        if log_end_weight is None:
            if end_weight is None:
                raise TnaasError("a lattice needs its end weights (end_weight or log_end_weight)")
            log_end_weight = safe_log(np.asarray(end_weight, dtype=np.float64))
        self.structure = structure or backoff_structure(automaton)
        if self.structure is None:
            raise TnaasError("this lattice needs an untempered Kneser-Ney model")
        self.automaton = automaton
        self.dfa = dfa
        self.log_end_weight = np.asarray(log_end_weight, dtype=np.float64)
        self.max_length = len(self.log_end_weight) - 1
        self.width = band_width(self.structure)
        self.keys: list[np.ndarray] = []  # q * n + s of each node, ascending, per t
        # α per t: (linear values, log scale) while one magnitude band holds it, else logs
        self._alpha: list = []
        self.log_alpha = LogView(self._alpha)  # read as logs
        # log p(END) [accepting] + the length weight per t, made when read (`EndView`)
        self.log_end = EndView()
        self._ends: list = []  # per t, the nodes whose log_end is finite (index array or slice)
        self.cells: list[tuple] = []  # (next node, token, mass: (linear, log scale) or logs) per step
        self.frontier_ids: list[int] = []  # which distinct frontier the nodes after t tokens are
        self._frontiers: dict = {}
        self._frontier_keys: list[np.ndarray] = []
        self._steps: dict[int, Step] = {}
        self._lookups: dict[tuple[int, int], np.ndarray] = {}
        self._kept = 0
        self._recent: list[tuple[int, Step]] = []  # the last RECENT_STEPS built (kept or not), oldest first
        self._last_lookup: tuple[tuple[int, int], np.ndarray | None] = ((-1, -1), None)
        self._range = np.arange(0)
        self._known_ids: dict[int, tuple[np.ndarray, int]] = {}  # id(array): (the array, its number)
        self._indexes: dict[int, KeyIndex] = {}
        self._index_cells = 0
        # work units (`backoff_budget`), all charged in the forward pass: each step for every
        # pass that will go through it, and the rebuilds of the steps not kept
        self.passes = PASSES if backward else 1
        self.budget = WorkBudget(max_work, _ADVICE)
        self.estimated_work = estimate_lattice_work(self.structure, dfa, self.max_length, MAX_KEPT_POOL, self.passes)
        self.budget.charge(0, self.estimated_work)  # refused before any step when surely too large
        self._end_log_mass = np.full(self.max_length + 1, -np.inf)
        self._counting = True
        self._forward(max_entries)
        self._counting = False
        for step in self._steps.values():  # (the later passes need less of each step)
            step.release_forward()
        self.log_z = _logsumexp(self._end_log_mass[: len(self.log_alpha)])
        if backward and self.log_z > -np.inf:
            self._backward()

    # ----------------------------------------------------------------- forward pass
    def node_q_s(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """(DFA states, KN states) of the nodes after t tokens, int64 (f,) each."""
        return np.divmod(self.keys[t], self.structure.n)

    @property
    def states(self) -> list[np.ndarray]:
        """The KN state of each node, per t (as `Lattice.states`)."""
        return [k % self.structure.n for k in self.keys]

    def _forward(self, max_entries: int) -> None:
        S, dfa = self.structure, self.dfa
        keys = np.array([S.begin], dtype=np.int64)  # DFA state 0, the BEGIN state
        alpha = (np.ones(1), 0.0)  # (linear values, log scale), or log α when too wide for one band
        log_accepting = safe_log(dfa.accepting.astype(np.float64))
        stored = 0
        for t in range(self.max_length + 1):
            if len(keys) == 0:
                break
            self.keys.append(keys)
            self._alpha.append(alpha)
            stored += len(keys)
            weight = self.log_end_weight[t]
            if t == self.max_length:
                q, s = np.divmod(keys, S.n)
                self.log_end.append(safe_log(S.end[s]) + log_accepting[q], weight)
                self._ends.append(np.flatnonzero(self.log_end[-1] > -np.inf))
                self._end_log_mass[t] = self._end_mass(t, S.end[s] * dfa.accepting[q], weight)
                break
            step = self._step_of(t, keys)
            self.log_end.append(step.log_end, weight)  # (a saturated frontier's steps: one array)
            self._ends.append(step.ends)
            self._end_log_mass[t] = self._end_mass(t, step.end, weight)
            self.budget.charge(self.passes * step.work())
            parts = []  # (shift, kept cell indices, their linear values) per band
            if isinstance(alpha, tuple):  # already one band, linear: no exp
                parts.append((alpha[1], *step.forward(S, dfa, alpha[0])))
            else:
                for shift, idx in bands(alpha, self.width):
                    if isinstance(idx, slice):  # (every node in this band)
                        a = np.exp(alpha - shift)
                    else:
                        a = np.zeros(len(keys))
                        a[idx] = np.exp(alpha[idx] - shift)
                    parts.append((shift, *step.forward(S, dfa, a)))
            shared = False  # a single band whose kept cells are the step's cached ones
            if len(parts) == 1:
                shift, kept, value = parts[0]
                cached = step.kept_cells
                shared = cached is not None and (
                    cached[0] is kept
                    or (
                        len(cached[0]) == len(kept)
                        and (len(kept) == len(step.cells) or np.array_equal(cached[0], kept))
                    )
                )
                if not shared:
                    every = len(kept) == len(step.cells)  # (then no gathers: the step's arrays)
                    cached = (
                        kept,
                        step.cell_next if every else step.cell_next[kept],
                        step.cell_token if every else step.cell_token[kept],
                        None,
                    )
                    step.kept_cells = cached
                _, cell_keys, cell_token, groups = cached
            else:
                cell_keys = np.concatenate([step.cell_next[kept] for _, kept, _ in parts])
                cell_token = np.concatenate([step.cell_token[kept] for _, kept, _ in parts])
                cell_log = np.concatenate([np.log(value) + shift for shift, _, value in parts])
            # stored entries: a frontier node (its key, log α, log end, log β), a cell (its
            # next node, token and log mass; only the log when the rest is shared)
            stored += len(cell_keys) / 3 if shared else len(cell_keys)  # (the nodes: counted above)
            saturated = t > 0 and self.frontier_ids[t - 1] == self.frontier_ids[t]
            # a frontier equal to the one before maps to itself again (the same cells are
            # positive, exactly): every remaining step costs at least this, and the last
            # frontier its nodes, so refuse now rather than after the work
            least = len(keys) + max(len(kept) for _, kept, _ in parts) / 3 if parts else len(keys)
            ahead = least * (self.max_length - t - 1) + len(keys)
            if len(parts) > 1:  # (each further band is one more pass through the step)
                self.budget.charge(self.passes * step.work() * (len(parts) - 1))
            if saturated:  # every remaining step is this one again
                self.budget.charge(0, self.passes * step.work() * (self.max_length - t - 1))
            if stored > max_entries or (saturated and stored + ahead > max_entries):
                raise TnaasError(
                    f"this query needs more than {max_entries:,} lattice entries with this smoothed model: "
                    "use fewer `*`/`%` (or a fixed length), or a smaller state size"
                )
            if len(parts) == 1 and step.next_increasing:
                # one band, one cell per next node (a `%` after a while): the sums are the cells
                keys, dst = cell_keys, self._arange(len(cell_keys))
                alpha = scaled(value, shift, self.width)
                cell = alpha if isinstance(alpha, tuple) else (value, shift)  # (shared when it can be)
            elif len(parts) == 1:  # one band: positive linear sums, no cancellation, no underflow
                if groups is None:  # (the grouping of these cells, computed once per step)
                    groups = unique_inverse(cell_keys, len(dfa.delta) * S.n)
                    step.kept_cells = (*step.kept_cells[:3], groups)
                keys, dst = groups
                alpha = scaled(np.bincount(dst, weights=value, minlength=len(keys)), shift, self.width)
                cell = (value, shift)
            else:
                keys, dst = unique_inverse(cell_keys, len(dfa.delta) * S.n)
                alpha = log_group_sum(dst, cell_log, len(keys))
                cell = cell_log
            keys = self._frontier_keys[self._frontier_id(keys)]  # equal frontiers: one array
            if self._frontier_id(keys) != self.frontier_ids[t]:  # (a step left behind: the later
                step.release_forward()  # passes need less of it; rebuilt if its frontier comes back)
            self.cells.append((dst, cell_token, cell))
        self.cells = self.cells[: len(self._alpha) - 1]
        self.entries = stored  # what `max_entries` bounds (nodes, and cells; shared cells as 1/3)

    def _end_mass(self, t: int, end: np.ndarray, weight: float) -> float:
        """log Σ α_t(node) p(END | node) [node accepting] times exp(weight), from the linear
        p(END) times acceptance `end` (float64 (f,)) (a dot product when α_t is linear)."""
        alpha = self._alpha[t]
        if weight == -np.inf:
            return -np.inf
        if isinstance(alpha, tuple):
            total = float(np.einsum("i,i", alpha[0], end))  # (np.dot: BLAS threads, several times slower here)
            return float(np.log(total)) + alpha[1] + weight if total > 0 else -np.inf
        ends = self._ends[t]  # (only the nodes that may end: the rest are -inf)
        return log_dot(alpha[ends], self.log_end[t][ends])

    def _arange(self, m: int) -> np.ndarray:
        """A read-only view of 0..m-1 (int64), shared between steps."""
        if len(self._range) < m:
            self._range = np.arange(max(m, 2 * len(self._range)))
            self._range.flags.writeable = False
        return self._range[:m]

    def _frontier_id(self, keys: np.ndarray) -> int:
        """A number naming the distinct key array `keys` (equal frontiers, equal numbers)."""
        known = self._known_ids.get(id(keys))
        if known is not None and known[0] is keys:
            return known[1]
        number = self._new_frontier_id(keys)
        self._known_ids[id(keys)] = (keys, number)
        return number

    def _new_frontier_id(self, keys: np.ndarray) -> int:
        bucket = self._frontiers.setdefault((len(keys), hash(keys.tobytes())), [])
        for number, seen in bucket:
            if np.array_equal(seen, keys):
                return number
        number = len(self._frontier_keys)
        bucket.append((number, keys))
        self._frontier_keys.append(keys)
        return number

    def _step_of(self, t: int, keys: np.ndarray) -> Step:
        """The compiled `Step` of the nodes after t tokens (`keys`), numbering their frontier."""
        number = self._frontier_id(keys)
        self.frontier_ids.append(number)
        return self._numbered_step(number, keys)

    def _numbered_step(self, number: int, keys: np.ndarray) -> Step:
        """The `Step` of distinct frontier `number`: one per frontier, kept for the later
        passes while the kept ones stay under `MAX_KEPT_POOL` (else rebuilt when asked;
        the last `RECENT_STEPS` built are always at hand: a saturated frontier is built
        once, and the backward pass starts with the forward pass's last two, the saturated
        step and the one before it)."""
        found = self._steps.get(number)
        if found is None:
            found = next((step for seen, step in reversed(self._recent) if seen == number), None)
        if found is not None and self._counting and found.released:  # (a frontier seen again)
            self._steps.pop(number, None)  # (its share of `MAX_KEPT_POOL` stays counted)
            found = None
        if found is None:
            found = Step(self.structure, self.dfa, *np.divmod(keys, self.structure.n))
            kept = self._kept + found.size() <= MAX_KEPT_POOL
            if self._counting:  # (a step not kept is built again by each later pass)
                self.budget.charge(BUILD_COST * found.work() * (1 if kept else self.passes))
            if kept:
                self._kept += found.size()
                self._steps[number] = found
            self._recent = [*self._recent, (number, found)][-RECENT_STEPS:]
        return found

    def step(self, t: int) -> Step:
        """The compiled `Step` of the nodes after t tokens (kept, or rebuilt)."""
        return self._numbered_step(self.frontier_ids[t], self.keys[t])

    def cell_lookup(self, t: int, step: Step) -> np.ndarray:
        """Index of each cell of step t's next node among the nodes after t + 1 tokens
        (-1: absent), int64; shared by the steps with the same pair of frontiers."""
        pair = (self.frontier_ids[t], self._frontier_id(self.keys[t + 1]))
        found = self._lookups.get(pair)
        if found is None and self._last_lookup[0] == pair:
            found = self._last_lookup[1]
        if found is None:
            found = self.key_index(t + 1).find(step.cell_next)
            if pair[0] in self._steps:
                self._lookups[pair] = found
            self._last_lookup = (pair, found)
        return found

    def key_index(self, t: int) -> KeyIndex:
        """A `KeyIndex` of the nodes after t tokens (one per distinct frontier, kept while
        the kept ones stay under `MAX_KEPT_POOL` table cells)."""
        number = self._frontier_id(self.keys[t])
        found = self._indexes.get(number)
        if found is None:
            found = KeyIndex(self.keys[t])
            size = len(found.keys) if found.table is None else len(found.table)
            if self._index_cells + size <= MAX_KEPT_POOL:
                self._index_cells += size
                self._indexes[number] = found
        return found

    def kept_key_index(self, t: int) -> KeyIndex | None:
        """The `KeyIndex` of the nodes after t tokens if the backward pass kept one, else None
        (never builds one: a search expanding a few nodes does better with a binary search)."""
        if t >= len(self.keys):
            return None
        return self._indexes.get(self._frontier_id(self.keys[t]))

    @property
    def probability(self) -> float:
        """p(pattern), float (0.0 when below the smallest double: `log_z` holds it)."""
        return float(np.exp(self.log_z))

    @property
    def log_scale(self) -> list[float]:
        """log of the total forward mass after t tokens, per t (floats)."""
        return [_logsumexp(a) for a in self.log_alpha]

    @property
    def running_mass(self) -> float:
        """Probability of matching prefixes still running after `max_length` tokens (an
        upper bound on what the length cap leaves out; as `Lattice.running_mass`)."""
        if len(self.log_alpha) <= self.max_length:
            return 0.0
        _, s = self.node_q_s(self.max_length)
        with np.errstate(divide="ignore"):
            log_going = np.log1p(-self.structure.end[s])
        return float(np.exp(log_dot(self.log_alpha[self.max_length], log_going)))

    # ---------------------------------------------------------------- backward pass
    def _backward(self) -> None:
        """β_t(node) = p(a matching finish | node after t tokens), per t: (linear values with
        a last 0 for "absent", log scale) while one magnitude band holds it, else logs;
        `log_beta[t]` reads them as logs."""
        S, dfa = self.structure, self.dfa
        horizon = len(self._alpha) - 1
        self._beta: list = [None] * (horizon + 1)
        self.log_beta = LogView(self._beta, sentinel=True)
        self._beta[horizon] = log_scaled(self.log_end[horizon], self.width, sentinel=True)
        for t in range(horizon - 1, -1, -1):
            step = self.step(t)
            lookup = self.cell_lookup(t, step)
            following = self._beta[t + 1]
            if isinstance(following, tuple):  # one band, linear: no exp, no log
                value, bad = step.backward(following[0][lookup])
                end = step.end if len(self._ends[t]) else None
                found = None if bad.any() else with_ends(value, following[1], end, self.log_end_weight[t], self.width)
                if found is not None:
                    self._beta[t] = found
                    continue
            next_keys, log_next = self.keys[t + 1], self.log_beta[t + 1]
            inflow = None
            bad = np.zeros(len(self.keys[t]), dtype=bool)
            for shift, idx in bands(log_next, self.width):
                b = np.zeros(len(next_keys) + 1)  # the last: absent, weight 0
                if isinstance(idx, slice):  # (every node in this band)
                    np.exp(log_next - shift, out=b[:-1])
                else:
                    b[:-1][idx] = np.exp(log_next[idx] - shift)
                value, cancelled = step.backward(b[lookup])
                part = safe_log(value) + shift
                inflow = part if inflow is None else np.logaddexp(inflow, part)
                bad |= cancelled
            if inflow is None:
                inflow = np.full(len(self.keys[t]), -np.inf)
            if bad.any():
                q, s = self.node_q_s(t)
                inflow[bad] = exact_log_pull(S, dfa, q[bad], s[bad], next_keys, log_next)
            ends = self._ends[t]
            if len(ends) == len(inflow):
                inflow = log_add(self.log_end[t], inflow)
            elif len(ends):
                inflow[ends] = log_add(self.log_end[t][ends], inflow[ends])
            self._beta[t] = log_scaled(inflow, self.width, sentinel=True)

    def end_log_mass(self) -> np.ndarray:
        """log p(the item matches and has length t), t = 0..max_length (float64)."""
        return self._end_log_mass.copy()

    def end_mass(self) -> np.ndarray:
        """p(the item matches and has length t), t = 0..max_length (float64)."""
        return np.exp(self.end_log_mass())

    def end_posterior(self) -> np.ndarray:
        """p(length = t | pattern), t = 0..max_length (float64)."""
        return np.exp(self.end_log_mass() - self.log_z)

    def token_posteriors(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per position t: (token ids, p(token at t | pattern)) (as `Lattice.token_posteriors`)."""
        if self.log_z == -np.inf:
            raise TnaasError("no item matches the pattern: there is no posterior")
        out = []
        for t, (dst, token, cell) in enumerate(self.cells):
            following = self._beta[t + 1]
            weight = None
            if isinstance(cell, tuple) and isinstance(following, tuple):
                value, shift = cell
                lift = shift + following[1] - self.log_z
                if lift < 700:  # (exp(lift) finite)
                    beta = following[0][dst]
                    product = value * beta
                    weight = product * np.exp(lift)
                    # a product below the normal doubles lost digits: redo those in logs
                    small = np.flatnonzero((product < 1e-290) & (value > 0) & (beta > 0))
                    if len(small):
                        weight[small] = np.exp(np.log(value[small]) + np.log(beta[small]) + lift)
            if weight is None:
                log_mass = read_logs(cell)
                weight = np.exp(log_mass + self.log_beta[t + 1][dst] - self.log_z)
            weights = np.bincount(token, weights=weight, minlength=self.structure.V)
            ids = np.flatnonzero(weights > 0)
            out.append((ids, weights[ids]))
        return out

    # --------------------------------------------------- samples and k-best (dense)
    def sample(self, n: int, rng: np.random.Generator) -> list[np.ndarray]:
        """`n` exact draws of token-id sequences from p(item | pattern)."""
        from tnaas.inference.backoff_search import sample_lattice

        return sample_lattice(self, n, rng)

    def top(self, k: int) -> tuple[list[tuple[np.ndarray, float]], bool]:
        """The k most probable matching items, exactly, descending (as `Lattice.top`)."""
        from tnaas.inference.backoff_search import top_lattice

        return top_lattice(self, k)
