"""The state machine every exact model compiles to, and batched sampling from it.

An automaton has integer states, a start distribution, and from each state a set of
edges (token, next state, probability) plus a probability of ending there. Markov chains
(plain or smoothed) and HMMs all compile to this, so one inference engine serves them all.
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
    """

    src: np.ndarray
    token: np.ndarray
    dst: np.ndarray
    prob: np.ndarray

    def take(self, keep: np.ndarray) -> Edges:
        """The edges selected by a boolean mask or an index array."""
        return Edges(self.src[keep], self.token[keep], self.dst[keep], self.prob[keep])

    def with_prob(self, prob: np.ndarray) -> Edges:
        """The same edges with other probabilities (float64 (e,))."""
        return Edges(self.src, self.token, self.dst, prob)

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

    def __init__(self, src: np.ndarray, token: np.ndarray, prob: np.ndarray, resolve):
        self.src, self.token, self.prob = src, token, prob
        self._resolve = resolve

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
        return LazyEdges(self.src[keep], self.token[keep], self.prob[keep], lambda i: self._resolve(kept[i]))

    def with_prob(self, prob: np.ndarray) -> LazyEdges:
        """The same edges with other probabilities, still lazy."""
        return LazyEdges(self.src, self.token, prob, self._resolve)


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


def ragged_arange(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenate `arange(starts[i], starts[i] + counts[i])` over i (int64 (sum(counts),))."""
    counts = np.asarray(counts, dtype=np.int64)
    within = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(np.asarray(starts, dtype=np.int64), counts) + within


class Tempered:
    """An automaton whose every choice is sharpened (T < 1) or flattened (T > 1).

    Each state's options (edges and ending) get probability p**(1/T), renormalised per
    state; the start distribution likewise. T = 1 gives the automaton back unchanged.
    """

    def __init__(self, base: Automaton, temperature: float):
        self.base = base
        self.temperature = float(temperature)
        self.vocabulary = base.vocabulary
        self.n_states = base.n_states

    def _norm(self, states: np.ndarray) -> np.ndarray:
        edges = self.base.expand(states)
        total = np.bincount(edges.src, weights=edges.prob ** (1 / self.temperature), minlength=len(states)).astype(
            float
        )
        total += self.base.end_prob(states) ** (1 / self.temperature)
        # A state with no options at all (a history the chain never continues from) stays
        # without options instead of turning into 0/0.
        return np.where(total > 0, total, 1.0)

    def start(self):
        states, probs = self.base.start()
        weights = probs ** (1 / self.temperature)
        return states, weights / weights.sum()

    def expand(self, states, tokens=None):
        edges = self.base.expand(states, tokens)
        norm = self._norm(states)
        return edges.with_prob(edges.prob ** (1 / self.temperature) / norm[edges.src])

    def end_prob(self, states):
        return self.base.end_prob(states) ** (1 / self.temperature) / self._norm(states)

    @property
    def edge_count(self):
        """The base's optional edge counter (tempering changes no edge), or None."""
        return getattr(self.base, "edge_count", None)


def temper(automaton: Automaton, temperature: float) -> Automaton:
    """`automaton` at the given temperature (itself when the temperature is 1)."""
    return automaton if temperature == 1 else Tempered(automaton, temperature)


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

    A batched forward pass over all sequences at once; ids < 0 (unknown tokens) and
    impossible transitions give -inf. Exact for nondeterministic automata (HMMs) too.
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
    weight = np.tile(np.asarray(start_probs, dtype=np.float64), n)
    log_scale = np.zeros(n)
    result = np.full(n, -np.inf)
    for t in range(width + 1):
        ending = lengths[item] == t
        if ending.any():
            mass = np.bincount(item[ending], weights=weight[ending] * automaton.end_prob(state[ending]), minlength=n)
            done = np.unique(item[ending])
            with np.errstate(divide="ignore"):
                result[done] = np.log(mass[done]) + log_scale[done]
            item, state, weight = item[~ending], state[~ending], weight[~ending]
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
        weight = np.bincount(group, weights=weight[entry] * edges.prob[edge])
        item, state = unique_key // automaton.n_states, unique_key % automaton.n_states
        total = np.bincount(item, weights=weight, minlength=n)
        alive = total > 0
        log_scale[alive] += np.log(total[alive])
        weight = weight / total[item]
        keep = weight > 0
        item, state, weight = item[keep], state[keep], weight[keep]
    return result


def prefix_states(automaton: Automaton, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the automaton can be after emitting the token ids `ids` from the start.

    Returns (states int64 (m,), weights float64 (m,)): the joint probability of the prefix
    and each state (all zero weights when the prefix is impossible; an unknown token, id
    < 0, is impossible).
    """
    states, weights = automaton.start()
    states = np.asarray(states, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.float64)
    for token in np.asarray(ids, dtype=np.int64):
        if token < 0 or len(states) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        edges = automaton.expand(states, np.array([token]))
        unique, group = np.unique(edges.dst, return_inverse=True)
        weights = np.bincount(group, weights=weights[edges.src] * edges.prob, minlength=len(unique))
        states = unique
    return states, weights
