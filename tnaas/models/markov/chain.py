"""markovify's chain as an automaton: probabilities are transition counts / state total."""

from __future__ import annotations

import numpy as np

from tnaas.errors import TnaasError
from tnaas.inference.automaton import Edges, ragged_arange
from tnaas.models.markov.ngram import HistoryTrie

_LOOKUP_CHUNK = 1 << 18  # transitions per batch when compiling their destination states


class ChainAutomaton:
    """The unsmoothed order-k chain over the order-k nodes of a `HistoryTrie`.

    Compiled once into CSR arrays (int64/float64, one entry per observed transition) so
    that expanding a batch of states is a few vectorised gathers.
    """

    def __init__(self, trie: HistoryTrie):
        self.trie = trie
        self.vocabulary = trie.counts.vocabulary
        self.n_states = trie.n_nodes
        end_id = len(self.vocabulary)
        owner = np.repeat(np.arange(trie.n_nodes, dtype=np.int32), np.diff(trie.edge_start))
        totals = np.bincount(owner, weights=trie.edge_count, minlength=trie.n_nodes)
        is_end = trie.edge_token == end_id
        self._end = np.zeros(trie.n_nodes)
        self._end[owner[is_end]] = trie.edge_count[is_end] / totals[owner[is_end]]
        keep = ~is_end
        del is_end
        owner = owner[keep]
        # Token and state ids fit in int32: half the memory of the two largest arrays;
        # `expand` widens what it returns.
        self._token = trie.edge_token[keep].astype(np.int32, copy=False)
        self._prob = trie.edge_count[keep].astype(np.float64)
        np.divide(self._prob, totals[owner], out=self._prob)  # in place: one array less at the peak
        del keep, totals
        self._start = np.zeros(trie.n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner, minlength=trie.n_nodes), out=self._start[1:])
        self._dst = np.empty(len(owner), dtype=np.int32)
        for at in range(0, len(owner), _LOOKUP_CHUNK):  # chunks bound the lookup's temporaries
            part = slice(at, at + _LOOKUP_CHUNK)
            self._dst[part] = trie.child(trie.parent[owner[part]], self._token[part])
        if (self._dst < 0).any():
            raise TnaasError("inconsistent chain: a transition leads to a state the chain never defines")

    def start(self) -> tuple[np.ndarray, np.ndarray]:
        """The single BEGIN state with probability 1."""
        return np.array([self.trie.begin_state]), np.ones(1)

    def expand(self, states: np.ndarray, tokens: np.ndarray | None = None) -> Edges:
        """Observed transitions out of `states` (int64 (n,)), only to `tokens` if given."""
        states = np.asarray(states, dtype=np.int64)
        counts = self._start[states + 1] - self._start[states]
        index = ragged_arange(self._start[states], counts)
        src = np.repeat(np.arange(len(states)), counts)
        edges = Edges(src, self._token[index].astype(np.int64), self._dst[index].astype(np.int64), self._prob[index])
        if tokens is not None:
            edges = edges.take(np.isin(edges.token, tokens))
        return edges

    def end_prob(self, states: np.ndarray) -> np.ndarray:
        """Probability of the END token after each of `states`, float64 (n,)."""
        return self._end[np.asarray(states, dtype=np.int64)]
