"""Length control for Kneser-Ney without dense transitions: `AllPaths` over the backoff
operator.

`tnaas.inference.any_length.AllPaths` expands every state over every token once (n_states
x V edges: refused on word corpora). Here each step goes through the pooled backoff
operator of `tnaas.inference.backoff_flow` with the pattern `%` (one DFA state): forward
passes give p_chain(length = λ), backward messages over every state give exact draws from
p(T | λ) p(λ) (dense rows only for the few states draws sit at). Same interface and the
same distribution as `AllPaths`. Memory: one compiled step over every state (its terms,
about the trie's entries) plus backward messages kept every sqrt(horizon) steps
(checkpoints; `MAX_MESSAGE_CELLS`), each stretch between them recomputed when read.
Work is known up front from the structure's sizes (`backoff_budget`): a request over
`MAX_BACKOFF_WORK` units is refused before any step.
"""

from __future__ import annotations

import numpy as np

from tnaas.errors import TnaasError
from tnaas.inference.automaton import safe_log
from tnaas.inference.backoff import BackoffStructure, backoff_structure
from tnaas.inference.backoff_budget import BUILD_COST, MAX_BACKOFF_WORK, PASSES, WorkBudget
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
from tnaas.inference.patterns import any_sequence_dfa

MAX_MESSAGE_CELLS = 40_000_000  # states x steps of stored backward messages (~320 MB)


class BackoffAllPaths:
    """Length-conditioned passes of a KN automaton (module docstring).

    `max_length`: the longest item considered, in tokens. `structure`: the automaton's
    `BackoffStructure` (looked up when None).
    """

    def __init__(
        self, automaton, max_length: int, structure: BackoffStructure | None = None, max_work: int = MAX_BACKOFF_WORK
    ):
        self.structure = structure or backoff_structure(automaton)
        if self.structure is None:
            raise TnaasError("these passes need an untempered Kneser-Ney model")
        # known up front (`backoff_budget`): a step over every state for each length, in the
        # forward pass, the backward one and its checkpointed recomputation, plus building
        # the steps (one per frontier while the forward one grows, about k + 1, and the full one)
        self.budget = WorkBudget(max_work, "choose shorter lengths (or natural ones), or a smaller state size")
        step = self.structure.step_work()
        self.budget.charge(step * (PASSES * int(max_length) + BUILD_COST * (self.structure.k + 2)))
        self.automaton = automaton
        self.max_length = int(max_length)
        self.dfa = any_sequence_dfa(self.structure.V)
        self.width = band_width(self.structure)
        self.start_states, self.start_probs = automaton.start()

    def length_log_probs(self) -> np.ndarray:
        """log p(the automaton stops after exactly λ tokens), λ = 0..max_length (float64)."""
        S = self.structure
        log_end = safe_log(S.end)
        keys = np.array([S.begin], dtype=np.int64)
        alpha = (np.ones(1), 0.0)  # (linear values, log scale) while one band holds α, else logs
        out = np.full(self.max_length + 1, -np.inf)
        step = None
        for t in range(self.max_length + 1):
            if len(keys) == 0:
                break
            if isinstance(alpha, tuple):
                total = float(np.einsum("i,i", alpha[0], S.end[keys]))
                out[t] = np.log(total) + alpha[1] if total > 0 else -np.inf
            else:
                out[t] = log_dot(alpha, log_end[keys])
            if t == self.max_length:
                break
            found, found_log = [], []
            if step is None or not np.array_equal(step.s, keys):  # (a saturated frontier: one Step)
                step = Step(S, self.dfa, np.zeros(len(keys), dtype=np.int64), keys)
            if isinstance(alpha, tuple):
                kept, value = step.forward(S, self.dfa, alpha[0])
                found.append(step.cell_next[kept])
                shift = alpha[1]
            else:
                for shift, idx in bands(alpha, self.width):
                    a = np.zeros(len(keys))
                    a[idx] = np.exp(alpha[idx] - shift)
                    kept, value = step.forward(S, self.dfa, a)
                    found.append(step.cell_next[kept])
                    found_log.append(np.log(value) + shift)
            cell_keys = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
            keys, group = unique_inverse(cell_keys, S.n)
            if len(found) == 1:  # one band: positive linear sums, no cancellation, no underflow
                alpha = scaled(np.bincount(group, weights=value, minlength=len(keys)), shift, self.width)
            else:
                alpha = log_group_sum(group, np.concatenate(found_log) if found_log else np.zeros(0), len(keys))
        return out

    def length_probs(self) -> np.ndarray:
        """p(the automaton stops after exactly λ tokens), λ = 0..max_length (float64)."""
        return np.exp(self.length_log_probs())

    def sample(
        self, end_weight: np.ndarray | None, n: int, rng: np.random.Generator, log_end_weight: np.ndarray | None = None
    ) -> list[np.ndarray]:
        """`n` exact draws whose probability of ending after t tokens is multiplied by
        `end_weight[t]` (or exp(`log_end_weight[t]`)), as `AllPaths.sample`."""
        from tnaas.inference.backoff_search import sample_lattice

        if log_end_weight is None:
            log_end_weight = safe_log(np.asarray(end_weight, dtype=np.float64))
        return sample_lattice(_Messages(self, np.asarray(log_end_weight, dtype=np.float64)), n, rng)


class _Messages:
    """Backward messages over every state, shaped like a `BackoffLattice` for the sampler
    (node i after t tokens is state i, DFA state 0).

    Messages are kept only every `stride` steps (checkpoints); the sampler reads them in
    increasing t, and each stretch between checkpoints is recomputed once from the one
    after it: one more backward pass for sqrt(horizon) times less memory.
    """

    def __init__(self, paths: BackoffAllPaths, log_end_weight: np.ndarray):
        S = paths.structure
        horizon = len(log_end_weight) - 1
        self.stride = max(1, int(np.ceil(np.sqrt(horizon + 1))))
        if S.n * 2 * (self.stride + 1) > MAX_MESSAGE_CELLS:
            raise TnaasError(
                f"length control needs messages over {S.n:,} states for {horizon + 1} lengths with this smoothed "
                f"model (the limit is {MAX_MESSAGE_CELLS:,} cells): choose shorter lengths or a smaller state size"
            )
        self.paths, self.structure, self.dfa = paths, S, paths.dfa
        everything = np.arange(S.n, dtype=np.int64)
        self.keys = [everything] * (horizon + 1)
        self.log_alpha = [None] * (horizon + 1)  # only its length is read
        self.cells = [None] * horizon
        self.log_end = _EndLogs(safe_log(S.end), log_end_weight)
        self._log_end_weight = log_end_weight
        # one compiled step over every state (BEGIN is expanded directly: `backoff_flow`)
        self._step_op = Step(S, self.dfa, np.zeros(S.n, dtype=np.int64), everything)
        self._lookup = KeyIndex(everything).find(self._step_op.cell_next)
        # messages as (linear values + a last 0, log scale) while one band holds them, else logs
        current = log_scaled(self.log_end[horizon], paths.width, sentinel=True)
        self._checkpoints = {horizon: current}
        for t in range(horizon - 1, -1, -1):
            current = self._step(t, current)
            if t % self.stride == 0:
                self._checkpoints[t] = current
        self._segment: dict[int, object] = {}
        self.start_node = S.begin
        self.log_z = float(take_logs(self._checkpoints[0], np.array([S.begin]), sentinel=True)[0])

    @property
    def log_beta(self) -> _Messages:
        """The messages, read as `log_beta[t]` like a lattice's (a property, not an attribute:
        `self.log_beta = self` would be a reference cycle, and every call's compiled step and
        checkpoints would then wait for the cyclic garbage collector, hundreds of MB each)."""
        return self

    def key_index(self, t: int) -> KeyIndex:
        """The `KeyIndex` of the nodes after t tokens: every state, at every t (one table)."""
        if not hasattr(self, "_index"):
            self._index = KeyIndex(self.keys[0])
        return self._index

    def _step(self, t: int, following):
        """β_t over every state from β_(t+1) (each as `backoff_flow.with_ends` gives it, or logs)."""
        S, paths = self.structure, self.paths
        if isinstance(following, tuple):  # one band, linear: no exp, no log
            value, bad = self._step_op.backward(following[0][self._lookup])
            if not bad.any():
                found = with_ends(value, following[1], S.end, self._log_end_weight[t], paths.width)
                if found is not None:
                    return found
        log_next = read_logs(following, sentinel=True)
        everything = self.keys[0]
        q = np.zeros(S.n, dtype=np.int64)
        inflow = None
        bad = np.zeros(S.n, dtype=bool)
        for shift, idx in bands(log_next, paths.width):
            b = np.zeros(S.n + 1)  # the last: absent, weight 0
            b[:-1][idx] = np.exp(log_next[idx] - shift)
            value, cancelled = self._step_op.backward(b[self._lookup])
            part = safe_log(value) + shift
            inflow = part if inflow is None else log_add(inflow, part)
            bad |= cancelled
        if inflow is None:
            inflow = np.full(S.n, -np.inf)
        if bad.any():
            inflow[bad] = exact_log_pull(S, self.dfa, q[bad], everything[bad], everything, log_next)
        return log_scaled(log_add(self.log_end[t], inflow), paths.width, sentinel=True)

    def _message(self, t: int):
        """β_t as stored: a checkpoint, or its stretch recomputed (once per stretch)."""
        if t in self._checkpoints:
            return self._checkpoints[t]
        if t not in self._segment:
            low = (t // self.stride) * self.stride
            high = min(low + self.stride, len(self.keys) - 1)
            self._segment = {}
            current = self._checkpoints[high]
            for u in range(high - 1, low, -1):
                current = self._step(u, current)
                self._segment[u] = current
        return self._segment[t]

    def __getitem__(self, t: int) -> np.ndarray:
        """log beta_t (float64 (n_states,))."""
        return read_logs(self._message(t), sentinel=True)

    def take(self, t: int, index: np.ndarray) -> np.ndarray:
        """log beta_t at `index` only (int64, any shape; -1: absent, -inf)."""
        return take_logs(self._message(t), index, sentinel=True)


class _EndLogs:
    """log p(END | state) + the length weight of t, read as `log_end[t]` (float64
    (n_states,)), made when read (not one array per length)."""

    def __init__(self, log_end: np.ndarray, log_end_weight: np.ndarray):
        self.log_end, self.weight = log_end, log_end_weight

    def __len__(self) -> int:
        return len(self.weight)

    def __getitem__(self, t: int) -> np.ndarray:
        return self.log_end + self.weight[t]
