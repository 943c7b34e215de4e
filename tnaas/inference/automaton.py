"""The state machine every exact model compiles to, and batched sampling from it.

An automaton has integer states, a start distribution, and from each state a set of
edges (token, next state, probability) plus a probability of ending there. Markov chains
(plain or smoothed) and HMMs all compile to this, so one inference engine serves them all.

Forward passes here (`sequence_log_probs`, `prefix_log_states`) keep every path weight in
log space: a scaled linear pass loses any state whose weight relative to the best one
drops below ~1e-308 within a step, and on long or unlikely items (HMM emissions of 1e-300
are normal after EM) that state can be the one that matters a few tokens later.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np

from tnaas.errors import TnaasError

MAX_SAMPLE_CELLS = 2_000_000  # running samples x vocabulary per sampling batch (~100 MB of edges)


@dataclass(frozen=True)
class Edges:
    """Outgoing edges of a batch of states, grouped by source (`src` ascending).

    `src`: int64 (e,), index into the `states` array that was expanded; `token`: int64
    (e,) token ids; `dst`: int64 (e,) state ids; `prob`: float64 (e,) probabilities.
    `log_prob`: float64 (e,) their natural logs when the automaton knows them more
    precisely than `log(prob)` (an HMM edge B·A can underflow to 0 where its log is
    finite); None means `log(prob)`. Read it through `log_probs()`.
    """

    src: np.ndarray
    token: np.ndarray
    dst: np.ndarray
    prob: np.ndarray
    log_prob: np.ndarray | None = None

    def log_probs(self) -> np.ndarray:
        """Natural log of every edge's probability, float64 (e,) (-inf for 0)."""
        return self.log_prob if self.log_prob is not None else safe_log(self.prob)

    def take(self, keep: np.ndarray) -> Edges:
        """The edges selected by a boolean mask or an index array."""
        log_prob = None if self.log_prob is None else self.log_prob[keep]
        return Edges(self.src[keep], self.token[keep], self.dst[keep], self.prob[keep], log_prob)

    def with_prob(self, prob: np.ndarray, log_prob: np.ndarray | None = None) -> Edges:
        """The same edges with other probabilities (float64 (e,)) and optionally their logs."""
        return Edges(self.src, self.token, self.dst, prob, log_prob)

    def destinations(self, index: np.ndarray) -> np.ndarray:
        """`dst[index]`: what a sampler needs of the edges it picked."""
        return self.dst[index]


class LazyEdges:
    """`Edges` whose destinations are worked out only when asked for.

    Smoothed models have an edge to every token from every state and finding each edge's
    destination costs a trie walk; a sampler needs the destinations of the few edges it
    picks, so `destinations(index)` computes just those (`dst` computes them all).
    `resolve(edge indices) -> destination states` does the work.
    """

    def __init__(self, src: np.ndarray, token: np.ndarray, prob: np.ndarray, resolve, log_prob=None):
        self.src, self.token, self.prob = src, token, prob
        self.log_prob = log_prob
        self._resolve = resolve

    def log_probs(self) -> np.ndarray:
        """Natural log of every edge's probability, float64 (e,) (see `Edges.log_prob`)."""
        return self.log_prob if self.log_prob is not None else safe_log(self.prob)

    @cached_property
    def dst(self) -> np.ndarray:
        """Every edge's destination state, int64 (e,)."""
        return self._resolve(np.arange(len(self.src)))

    def destinations(self, index: np.ndarray) -> np.ndarray:
        """Destinations of the edges at `index` only."""
        return self._resolve(np.asarray(index, dtype=np.int64))

    def take(self, keep: np.ndarray) -> LazyEdges:
        """The edges selected by a boolean mask or an index array, still lazy."""
        kept = np.arange(len(self.src))[keep]
        log_prob = None if self.log_prob is None else self.log_prob[keep]
        return LazyEdges(self.src[keep], self.token[keep], self.prob[keep], lambda i: self._resolve(kept[i]), log_prob)

    def with_prob(self, prob: np.ndarray, log_prob: np.ndarray | None = None) -> LazyEdges:
        """The same edges with other probabilities (and optionally their logs), still lazy."""
        return LazyEdges(self.src, self.token, prob, self._resolve, log_prob)


class Automaton(Protocol):
    """What the inference engine needs from a model (see module docstring)."""

    vocabulary: tuple[str, ...]
    n_states: int

    def start(self) -> tuple[np.ndarray, np.ndarray]:
        """Start states (int64 (m,)) and their probabilities (float64 (m,))."""

    def expand(self, states: np.ndarray, tokens: np.ndarray | None = None) -> Edges:
        """Edges out of `states` (int64 (n,)), only for `tokens` when given."""

    def end_prob(self, states: np.ndarray) -> np.ndarray:
        """Probability of ending in each of `states`, float64 (n,)."""

    # Optional: `edge_count(states, tokens) -> int`, the number of edges `expand` would
    # return, cheap to compute; the lattice uses it to refuse an oversized query up front.
    # Optional: `deterministic: bool` (default True), whether the state after a prefix is a
    # function of its tokens. Only then is tempering the edges (`temper`) the same as
    # tempering p(next token | prefix); `temper` refuses automata that say False.


def safe_log(x: np.ndarray) -> np.ndarray:
    """`np.log(x)` with log 0 = -inf and no warning."""
    with np.errstate(divide="ignore"):
        return np.log(x)


def logsumexp(values: np.ndarray) -> float:
    """log Σ exp(values) of float64 (k,) logs, shifted by the maximum (-inf when empty or all -inf)."""
    top = float(np.max(values)) if len(values) else -np.inf
    if top == -np.inf:
        return -np.inf
    return top + float(np.log(np.sum(np.exp(values - top))))


def group_logsumexp(group: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """log Σ exp(values[i]) over the i with `group[i] == g`, for g < n_groups.

    `group`: int64 (k,); `values`: float64 (k,) logs (-inf allowed). Returns float64
    (n_groups,), -inf for empty groups. Shifted by each group's maximum, so nothing that
    is representable relative to the group's total underflows.
    """
    top = np.full(n_groups, -np.inf)
    np.maximum.at(top, group, values)
    shift = np.where(np.isfinite(top), top, 0.0)
    total = np.bincount(group, weights=np.exp(values - shift[group]), minlength=n_groups)
    return shift + safe_log(total)


def ragged_arange(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenate `arange(starts[i], starts[i] + counts[i])` over i (int64 (sum(counts),))."""
    counts = np.asarray(counts, dtype=np.int64)
    within = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(np.asarray(starts, dtype=np.int64), counts) + within


class Tempered:
    """A deterministic automaton whose every choice is sharpened (T < 1) or flattened (T > 1).

    Each state's options (edges and ending) get probability p**(1/T), renormalised per
    state; the start distribution likewise. T = 1 gives the automaton back unchanged. The
    one definition of temperature in TNaaS is per step on p(next token | prefix) (END
    included); when the state is a function of the prefix (Markov chains) a state's
    options ARE that distribution, so this is it exactly. Worked in log space, so an edge
    whose probability underflows to 0 but whose log is finite still gets its p**(1/T).
    """

    def __init__(self, base: Automaton, temperature: float):
        self.base = base
        self.temperature = float(temperature)
        self.vocabulary = base.vocabulary
        self.n_states = base.n_states

    def _log_norm(self, states: np.ndarray) -> np.ndarray:
        edges = self.base.expand(states)
        n = len(states)
        scaled = np.concatenate([edges.log_probs(), safe_log(self.base.end_prob(states))]) / self.temperature
        total = group_logsumexp(np.concatenate([edges.src, np.arange(n)]), scaled, n)
        # A state with no options at all (a history the chain never continues from) stays
        # without options instead of turning into 0/0.
        return np.where(np.isfinite(total), total, 0.0)

    def start(self):
        states, probs = self.base.start()
        weights = safe_log(probs) / self.temperature
        return states, np.exp(weights - logsumexp(weights))

    def expand(self, states, tokens=None):
        edges = self.base.expand(states, tokens)
        log_prob = edges.log_probs() / self.temperature - self._log_norm(states)[edges.src]
        return edges.with_prob(np.exp(log_prob), log_prob)

    def end_prob(self, states):
        return np.exp(safe_log(self.base.end_prob(states)) / self.temperature - self._log_norm(states))

    @property
    def edge_count(self):
        """The base's optional edge counter (tempering changes no edge), or None."""
        return getattr(self.base, "edge_count", None)


def temper(automaton: Automaton, temperature: float) -> Automaton:
    """`automaton` at the given temperature (itself when the temperature is 1).

    Refused (`TnaasError`) for an automaton that is not deterministic (an HMM): there the
    next-token distribution mixes hidden states by their posterior, and tempering that
    mixture gives a model that no finite automaton represents (see `Tempered`).
    """
    if temperature == 1:
        return automaton
    if not getattr(automaton, "deterministic", True):
        raise TnaasError(
            f"temperature {temperature:g} needs temperature 1 here: this model has hidden states, so its "
            "tempered next-token distribution is no finite automaton and exact completion or "
            "length-controlled generation cannot use it (plain generation can)"
        )
    return Tempered(automaton, temperature)


def choose(owner: np.ndarray, weights: np.ndarray, n_owners: int, picks: np.ndarray, rng) -> np.ndarray:
    """Draw one option per pick, with probability proportional to weight among its owner's.

    Option i belongs to `owner[i]` (ascending, int64 (o,)) and has `weights[i]` (o,).
    `picks`: int64 (m,) the owner of each draw. Returns int64 (m,) option indices.
    """
    counts = np.bincount(owner, minlength=n_owners)
    start = np.zeros(n_owners + 1, dtype=np.int64)
    np.cumsum(counts, out=start[1:])
    cumulative = np.cumsum(weights)
    before = np.concatenate([[0.0], cumulative])[start[:-1]]  # mass before each owner's slice
    total = np.bincount(owner, weights=weights, minlength=n_owners)
    target = before[picks] + rng.random(len(picks)) * total[picks]
    chosen = np.searchsorted(cumulative, target, side="right")
    # Rounding can land a hair outside the owner's slice: clamp back into it.
    return np.clip(chosen, start[picks], start[picks] + counts[picks] - 1)


def sample_ids(automaton: Automaton, n: int, rng: np.random.Generator, max_length: int) -> list[np.ndarray]:
    """Draw `n` token-id sequences by running the automaton until it ends.

    Runs are drawn in parallel, one vectorised step per token. A run still going after
    `max_length` tokens is redrawn, so the result is exactly the automaton's distribution
    conditioned on length <= `max_length` (in practice the condition is never active).
    """
    # Each step expands every running state over the vocabulary (smoothed models: every
    # token), so big vocabularies run in smaller batches to bound memory.
    batch = max(64, MAX_SAMPLE_CELLS // max(1, len(automaton.vocabulary)))
    return redraw_until(n, lambda size: _sample_batch(automaton, min(batch, size), rng, max_length), max_length)


def redraw_until(n: int, draw, max_length: int) -> list:
    """Collect `n` finished runs from `draw(size) -> list of runs or None` (None: the run
    hit the `max_length` cap and is redrawn, which conditions on length <= max_length).

    A sharpened model can lock into a loop that never ends: if almost every run hits the
    cap, a `TnaasError` says so instead of spinning forever.
    """
    results: list = []
    drawn = 0
    while len(results) < n:
        runs = draw(n - len(results))
        drawn += len(runs)
        results.extend(run for run in runs if run is not None)
        if len(results) < n and drawn >= 20 * n + 1000 and len(results) < 0.01 * drawn:
            raise TnaasError(
                f"the model keeps going past {max_length} tokens in almost every run "
                "(at this temperature it loops); raise the temperature"
            )
    return results


def _sample_batch(automaton: Automaton, n: int, rng, max_length: int) -> list[np.ndarray | None]:
    start_states, start_probs = automaton.start()
    states = start_states[rng.choice(len(start_states), size=n, p=start_probs)]
    tokens = np.full((n, max_length), -1, dtype=np.int64)
    lengths = np.full(n, -1, dtype=np.int64)
    active = np.arange(n)
    for step in range(max_length + 1):
        if len(active) == 0:
            break
        unique, inverse = np.unique(states[active], return_inverse=True)
        edges = automaton.expand(unique)
        end = automaton.end_prob(unique)
        if step == max_length:  # at the cap only ending is accepted; other runs are redrawn
            ends = rng.random(len(active)) < end[inverse]
            lengths[active[ends]] = step
            break
        # Options per unique state: its edges, then "end" (token -1).
        owner = np.concatenate([edges.src, np.arange(len(unique))])
        weights = np.concatenate([edges.prob, end])
        option_token = np.concatenate([edges.token, np.full(len(unique), -1)])
        option_edge = np.concatenate([np.arange(len(edges.src)), np.full(len(unique), -1)])
        order = np.argsort(owner, kind="stable")
        owner, weights, option_token, option_edge = (
            owner[order],
            weights[order],
            option_token[order],
            option_edge[order],
        )
        picked = choose(owner, weights, len(unique), inverse.reshape(-1), rng)
        token = option_token[picked]
        done = token < 0
        lengths[active[done]] = step
        go = ~done
        tokens[active[go], step] = token[go]
        states[active[go]] = edges.destinations(option_edge[picked[go]])
        active = active[go]
    return [tokens[i, : lengths[i]].copy() if lengths[i] >= 0 else None for i in range(n)]


def sequence_log_probs(automaton: Automaton, sequences: list[np.ndarray]) -> np.ndarray:
    """Natural-log probability of each token-id sequence, END included (float64 (n,)).

    A batched forward pass over all sequences at once, in log space (see the module
    docstring); ids < 0 (unknown tokens) and impossible transitions give -inf. Exact for
    nondeterministic automata (HMMs) too.
    """
    n = len(sequences)
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    width = int(lengths.max()) if n else 0
    tokens = np.full((n, width + 1), -1, dtype=np.int64)
    for i, seq in enumerate(sequences):
        tokens[i, : len(seq)] = seq
    start_states, start_probs = automaton.start()
    item = np.repeat(np.arange(n), len(start_states))
    state = np.tile(np.asarray(start_states, dtype=np.int64), n)
    log_weight = np.tile(safe_log(np.asarray(start_probs, dtype=np.float64)), n)
    result = np.full(n, -np.inf)
    for t in range(width + 1):
        ending = lengths[item] == t
        if ending.any():
            log_end = log_weight[ending] + safe_log(automaton.end_prob(state[ending]))
            mass = group_logsumexp(item[ending], log_end, n)
            done = np.unique(item[ending])
            result[done] = mass[done]
            item, state, log_weight = item[~ending], state[~ending], log_weight[~ending]
        if len(item) == 0:
            break
        wanted = tokens[item, t]
        unique, inverse = np.unique(state, return_inverse=True)
        edges = automaton.expand(unique, np.unique(wanted[wanted >= 0]))
        counts = np.bincount(edges.src, minlength=len(unique))
        starts = np.cumsum(counts) - counts
        per_entry = counts[inverse]
        entry = np.repeat(np.arange(len(item)), per_entry)
        edge = ragged_arange(starts[inverse], per_entry)
        match = edges.token[edge] == wanted[entry]
        entry, edge = entry[match], edge[match]
        key = item[entry] * automaton.n_states + edges.dst[edge]
        unique_key, group = np.unique(key, return_inverse=True)
        log_weight = group_logsumexp(group, log_weight[entry] + edges.log_probs()[edge], len(unique_key))
        item, state = unique_key // automaton.n_states, unique_key % automaton.n_states
        keep = log_weight > -np.inf
        item, state, log_weight = item[keep], state[keep], log_weight[keep]
    return result


def path_log_prob(automaton: Automaton, ids: np.ndarray) -> float | None:
    """`sequence_log_probs(automaton, [ids])[0]` for one sequence, by a scalar walk.

    When the automaton has one start state and at most one edge per (state, token) (Markov
    chains), the sequence has one path and its log probability is the same sum of logs,
    added in the same order, as the batched pass computes (bitwise equal), at a fraction
    of its cost for one short item. None when the walk meets a branch (an HMM): the caller
    uses `sequence_log_probs` then.
    """
    if not getattr(automaton, "deterministic", True):
        return None
    states, probs = automaton.start()
    if len(states) != 1:
        return None
    state = np.asarray(states, dtype=np.int64)
    log_weight = float(safe_log(np.asarray(probs, dtype=np.float64))[0])
    for token in np.asarray(ids, dtype=np.int64).tolist():
        if token < 0 or log_weight == -np.inf:
            return -np.inf
        edges = automaton.expand(state, np.array([token]))
        if len(edges.src) > 1:
            return None
        if len(edges.src) == 0:
            return -np.inf
        log_weight = log_weight + float(edges.log_probs()[0])
        state = np.asarray(edges.dst, dtype=np.int64)
    if log_weight == -np.inf:
        return -np.inf
    return log_weight + float(safe_log(automaton.end_prob(state))[0])


def prefix_log_states(automaton: Automaton, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the automaton can be after emitting the token ids `ids` from the start.

    Returns (states int64 (m,), log weights float64 (m,)): the natural log of the joint
    probability of the prefix and each state, kept in log space so that a long prefix (or
    a state far less likely than the best) never underflows to 0. No states (m = 0) when
    the prefix is impossible; an unknown token, id < 0, is impossible.
    """
    states, weights = automaton.start()
    states = np.asarray(states, dtype=np.int64)
    log_weights = safe_log(np.asarray(weights, dtype=np.float64))
    for token in np.asarray(ids, dtype=np.int64):
        if token < 0 or len(states) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        edges = automaton.expand(states, np.array([token]))
        unique, group = np.unique(edges.dst, return_inverse=True)
        log_weights = group_logsumexp(group, log_weights[edges.src] + edges.log_probs(), len(unique))
        keep = log_weights > -np.inf
        states, log_weights = unique[keep], log_weights[keep]
    return states, log_weights
