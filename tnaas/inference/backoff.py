"""The backoff structure of an interpolated Kneser-Ney automaton, for exact inference.

KN gives every token a positive probability after every history, so an explicit lattice
has V edges per node. But a history h only *knows* a few tokens: with h' = h minus its
first token (`trie.parent`), p(w | h) = explicit(h, w) + γ(h) p(w | h'), and the next state
d(h, w) is the trie child (h, w) when it exists, else d(h', w) (`_next_table`). Let X(h) be
h's entries: the tokens with an explicit count at h, or a child (h, w). For w ∉ X(h),
p(w | h) = γ(h) p(w | h') AND d(h, w) = d(h', w): backing off is exact for those. So the
one-step operator of a state g is, exactly,

    E(g) = Σ_{w ∈ X(g), same} weight(g, w) [w → d(g, w)]
         + Σ_{w ∈ X(g), diff} p(w | g) [w → d(g, w)]  −  γ(g) p(w | g') [w → d(g', w)]
         + γ(g) E(g'),

where "same" entries have d(g, w) = d(g', w) (every entry of a full-order state) and
"diff" entries lead to the child (g, w) (a lower-order state's). The root's E is dense
over the V tokens; every other state adds only its |X(g)| entries and hands γ(g) times
its mass to its parent, so mass from many states is pooled and each lower-order state is
expanded once. The BEGIN state (its END zeroed and its row rescaled, `_begin_scale`) is
only ever the start node: it is expanded densely, never pooled. END is no token here:
`end` holds p(END | g).

Exactness of the fallback (`tnaas.inference.backoff_flow`) relies on the KN tables being
*nested*: for every state g of order >= 2, X(g) ⊆ diff-entries(g'). It holds for tries
built from counts (continuation counts marginalise each order onto its parent, and a
child (g, w) implies a child (g', w)); `backoff_structure` checks it and returns None when
it fails (a hand-made markovify JSON can break it), and callers then keep the explicit
lattice.
"""

from __future__ import annotations

import weakref

import numpy as np

from tnaas.inference.automaton import ragged_arange

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class BackoffStructure:
    """Entries, destinations and backoff weights of a KN automaton (module docstring).

    Per state (n,): `parent`, `order`, `gamma`, `end` (p(END | g)), `last` (the token
    that leads into it, -1 for the root) and `prefix` (the state it is the child of).
    Entries in CSR over states (`start` (n + 1,)): `token`, `prob` = p(w | g), `dst` =
    d(g, w), `parent_prob` = p(w | g'), `parent_dst` = d(g', w), `weight` = the explicit
    part p(w | g) - γ(g) p(w | g'), `diff` (bool). `root_prob`, `root_dst` (V,): the root.
    """

    def __init__(self, automaton):
        self.automaton = automaton
        trie = automaton.trie
        self.n = n = automaton.n_states
        self.V = V = len(automaton.vocabulary)
        self.k = automaton.k
        self.parent = trie.parent.astype(np.int64)
        self.order = trie.order.astype(np.int64)
        self.gamma = np.asarray(automaton._gamma, dtype=np.float64)
        self.begin = int(trie.begin_state)
        prefix, last = np.divmod(trie.child_keys, trie.radix)
        self.last = np.full(n, -1, dtype=np.int64)
        self.prefix = np.full(n, -1, dtype=np.int64)
        self.last[trie.child_nodes] = last
        self.prefix[trie.child_nodes] = prefix
        self.root_prob = automaton._dense(np.array([0]), np.arange(V))[0]
        self.root_dst = automaton.next_state(np.zeros(V, dtype=np.int64), np.arange(V))
        self._build_entries(automaton, trie, prefix, last)
        self.end = automaton.end_prob(np.arange(n))
        self.begin_prob = automaton.dense(np.array([self.begin]), np.arange(V))[0]
        self.begin_dst = automaton.next_state(np.full(V, self.begin), np.arange(V))
        positive = self.prob[self.prob > 0]
        self.min_prob = float(min(positive.min() if len(positive) else 1.0, self.root_prob.min()))
        self.nested = self._check_nested()

    def _build_entries(self, automaton, trie, prefix, last) -> None:
        n, V = self.n, self.V
        start = np.asarray(automaton._start, dtype=np.int64)
        owner = np.repeat(np.arange(n), np.diff(start))
        token = np.asarray(automaton._token, dtype=np.int64)
        keep = (token < V) & (owner > 0)
        keys = owner[keep] * V + token[keep]
        # a child (g, w) without an explicit count is an entry too (weight 0): its destination differs
        child = (prefix > 0) & (last < V) & (self.order[np.maximum(prefix, 0)] < self.k)
        all_keys = np.union1d(keys, prefix[child] * V + last[child])
        explicit = np.zeros(len(all_keys))
        explicit[np.searchsorted(all_keys, keys)] = np.asarray(automaton._weight)[keep]
        g, w = np.divmod(all_keys, V)
        self.keys = all_keys  # g * V + w, ascending: entries grouped by state, tokens ascending
        self.token = w
        self.start = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(g, minlength=n), out=self.start[1:])
        self.dst = automaton.next_state(g, w)
        self.parent_dst = automaton.next_state(self.parent[g], w)
        self.diff = self.dst != self.parent_dst
        self.prob = np.zeros(len(g))
        self.parent_prob = np.zeros(len(g))
        for j in range(1, self.k + 1):  # lower orders first: p(w | g') is then known
            here = self.order[g] == j
            self.parent_prob[here] = self.pair_prob(self.parent[g[here]], w[here])
            # the automaton's own arithmetic (gamma * parent row + explicit): the same numbers
            self.prob[here] = self.gamma[g[here]] * self.parent_prob[here] + explicit[here]
        self.weight = explicit

    def pair_prob(self, states: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """p(tokens[i] | states[i]) for pairs (float64 (m,)); entries of lower orders than
        the states' must already be filled in (true once built). The BEGIN state's are its
        own (rescaled) row's."""
        states = np.asarray(states, dtype=np.int64).copy()
        tokens = np.asarray(tokens, dtype=np.int64)
        out = np.zeros(len(states))
        factor = np.ones(len(states))
        begin = states == self.begin
        if begin.any() and hasattr(self, "begin_prob"):  # (built after the entries)
            out[begin] = self.begin_prob[tokens[begin]]
        pending = np.flatnonzero(~begin) if hasattr(self, "begin_prob") else np.arange(len(states))
        while len(pending):
            cur = states[pending]
            at_root = cur == 0
            done = pending[at_root]
            out[done] = factor[done] * self.root_prob[tokens[done]]
            pending, cur = pending[~at_root], cur[~at_root]
            key = cur * self.V + tokens[pending]
            at = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
            found = self.keys[at] == key
            hit = pending[found]
            out[hit] = factor[hit] * self.prob[at[found]]
            pending, cur = pending[~found], cur[~found]
            factor[pending] *= self.gamma[cur]
            states[pending] = self.parent[cur]
        return out

    def _check_nested(self) -> bool:
        g = np.repeat(np.arange(self.n), np.diff(self.start))
        deep = self.order[g] >= 2
        want = self.parent[g[deep]] * self.V + self.token[deep]
        diff_keys = self.keys[self.diff]
        if len(want) == 0:
            return True
        if len(diff_keys) == 0:
            return False
        at = np.minimum(np.searchsorted(diff_keys, want), len(diff_keys) - 1)
        return bool((diff_keys[at] == want).all())

    def step_work(self) -> int:
        """Work units (`backoff_budget`) of one pass through the step over every state with
        the pattern `%`: every state pooled (n nodes, n cells at most), its entries and
        negative terms, the root's V options and BEGIN's V direct ones."""
        return int(2 * self.n + len(self.keys) + np.count_nonzero(self.diff) + 2 * self.V)

    def work_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """Work units of the states a step may hold, by last token and order (for
        `backoff_budget.estimate_lattice_work`): (free (V, k + 1): over the states with last
        token w and order <= j not starting with BEGIN; begun (V, k + 1): over the states
        with last token w and order exactly j starting with BEGIN, reached only after
        j - 1 tokens). A state's units: its pool node, a cell, its entries and negative
        terms. Computed once (float64)."""
        if getattr(self, "_work_tables", None) is None:
            first = np.arange(self.n)  # each state's order-1 suffix-of-prefix: its first token
            for _ in range(self.k):
                deeper = self.order[first] > 1
                first = np.where(deeper, self.prefix[np.maximum(first, 0)], first)
            begun = first == self.begin
            units = (
                2.0
                + np.diff(self.start)
                + np.bincount(np.repeat(np.arange(self.n), np.diff(self.start))[self.diff], minlength=self.n)
            )
            inner = (self.last >= 0) & (self.last < self.V)
            shape = (self.V, self.k + 1)
            free, own = np.zeros(shape), np.zeros(shape)
            at = inner & ~begun
            np.add.at(free, (self.last[at], self.order[at]), units[at])
            at = inner & begun
            np.add.at(own, (self.last[at], self.order[at]), units[at])
            self._work_tables = np.cumsum(free, axis=1), own
        return self._work_tables

    def entries_of(self, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(owner index into `states`, entry index) of every entry of `states` (int64 (e,))."""
        counts = self.start[states + 1] - self.start[states]
        return np.repeat(np.arange(len(states)), counts), ragged_arange(self.start[states], counts)

    def find(self, states: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """Entry index of (states[i], tokens[i]), -1 where the state has no entry for it."""
        key = np.asarray(states, dtype=np.int64) * self.V + tokens
        if len(self.keys) == 0:
            return np.full(len(key), -1)
        at = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
        return np.where(self.keys[at] == key, at, -1)

    def dense_rows(self, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(p(w | states[i]) float64 (m, V), d(states[i], w) int64 (m, V)) for every token.

        Built from the root down each state's chain of suffixes (the automaton's own
        arithmetic: γ times the parent's row, plus the explicit part); the BEGIN state's
        row is the automaton's (rescaled, END zeroed).
        """
        states = np.asarray(states, dtype=np.int64)
        m = len(states)
        if m == 1 and int(states[0]) != self.begin:
            return self._dense_row(int(states[0]))
        probs = np.tile(self.root_prob, (m, 1))
        dsts = np.tile(self.root_dst, (m, 1))
        chain = [states]
        while (chain[-1] > 0).any():
            chain.append(np.where(chain[-1] > 0, self.parent[np.maximum(chain[-1], 0)], -1))
        for level in reversed(chain[:-1]):  # the order-1 suffixes first
            rows = np.flatnonzero(level > 0)
            nodes = level[rows]
            probs[rows] *= self.gamma[nodes][:, None]
            owner, entry = self.entries_of(nodes)
            r, w = rows[owner], self.token[entry]
            probs[r, w] += self.weight[entry]
            dsts[r, w] = self.dst[entry]
        begin = states == self.begin
        if begin.any():
            probs[begin] = self.begin_prob
            dsts[begin] = self.begin_dst
        return probs, dsts

    def _dense_row(self, state: int) -> tuple[np.ndarray, np.ndarray]:
        """`dense_rows` of one state (not BEGIN), the same arithmetic in the same order,
        with each level's entries as one slice (the A* search asks one node at a time)."""
        chain = []
        while state > 0:
            chain.append(state)
            state = int(self.parent[state])
        probs, dsts = self.root_prob.copy(), self.root_dst.copy()
        for node in reversed(chain):  # the order-1 suffix first
            probs *= self.gamma[node]
            lo, hi = self.start[node], self.start[node + 1]
            w = self.token[lo:hi]
            probs[w] += self.weight[lo:hi]
            dsts[w] = self.dst[lo:hi]
        return probs[None, :], dsts[None, :]


def backoff_structure(automaton) -> BackoffStructure | None:
    """The (cached) `BackoffStructure` of an untempered `KneserNeyAutomaton`, or None when
    the automaton is anything else or its tables are not nested (module docstring)."""
    from tnaas.models.markov.kneser_ney import KneserNeyAutomaton

    if type(automaton) is not KneserNeyAutomaton or automaton.trie.begin_state < 0:
        return None
    found = _CACHE.get(automaton)
    if found is None:
        found = BackoffStructure(automaton)
        _CACHE[automaton] = found
    return found if found.nested else None
