"""Interpolated modified Kneser-Ney smoothing of a Markov chain, as an automaton.

Chen & Goodman's modified KN: three discounts per order (for counts 1, 2 and 3+; their
closed-form estimate, or a table chosen on held-out data by `kn_tuning`, optionally with
a Pitman-Yor strength per row),
continuation counts below the top order (histories that start with BEGIN included: raw
counts there predict held-out items worse, see benchmarks/results/bench_nll.md), and a
uniform distribution over tokens + END at the bottom. Every known token gets a positive
probability after every history, and END a positive probability after every history but
BEGIN's (no training item is empty, so neither is any generated one).

A state is the longest suffix of the context that was seen in training: the KN
distribution of an unseen history equals that of its longest seen suffix, so this is
exact and keeps the lattice as small as the trie.
"""

from __future__ import annotations

import numpy as np

from tnaas.errors import TnaasError
from tnaas.inference.automaton import Edges, LazyEdges
from tnaas.models.markov.kn_tuning import check_discounts, check_strengths, count_class, discount_rows, kn_levels
from tnaas.models.markov.ngram import HistoryTrie

MAX_DENSE_CELLS = 30_000_000  # states x tokens of one expansion (~240 MB of float64)
# Models with at most this many states x outcomes are tabulated whole on first use (at most
# 48 MB: float64 probabilities + int32 next states), so that every expansion is a gather.
MAX_TABLE_CELLS = 1 << 22
_DEFAULT_DISCOUNTS = np.array([0.5, 1.0, 1.5])


def modified_discounts(counts: np.ndarray) -> np.ndarray:
    """Chen & Goodman's D1, D2, D3+ from the counts of one order (float64 (3,)).

    Falls back to (0.5, 1.0, 1.5) where the count-of-counts are too sparse to estimate.
    """
    n = np.array([(counts == r).sum() for r in (1, 2, 3, 4)], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = n[0] / (n[0] + 2 * n[1])
        d = np.array([1 - 2 * y * n[1] / n[0], 2 - 3 * y * n[2] / n[1], 3 - 4 * y * n[3] / n[2]])
    # D_r needs n_r and n_(r+1), and every D needs Y, i.e. n_1 > 0 (SRILM refuses otherwise)
    sparse = (n[:3] == 0) | (n[1:] == 0) | (n[0] == 0)
    bad = sparse | ~np.isfinite(d) | (d <= 0)
    d[bad] = _DEFAULT_DISCOUNTS[bad]
    return np.minimum(d, [1.0, 2.0, 3.0])


def _check_size(n_states: int, n_columns: int) -> None:
    if n_states * n_columns > MAX_DENSE_CELLS:
        raise TnaasError(
            f"too large for the smoothed model: {n_states:,} states x {n_columns:,} tokens "
            f"(the limit is {MAX_DENSE_CELLS:,}); use fewer unknown tokens or the natural length, "
            "a smaller state size, or no smoothing"
        )


class KneserNeyAutomaton:
    """Interpolated modified Kneser-Ney over the histories of a `HistoryTrie`.

    Per history h: p(w | h) = max(c(h, w) - D(c), 0) / c(h) + gamma(h) p(w | h minus its
    first token), down to a uniform distribution over the V tokens and END. The BEGIN state
    gives END zero (renormalised) unless an empty item was seen.

    With `strengths` (a Pitman-Yor concentration theta per row of `discounts`, chosen by
    `kn_tuning.tuned_parameters`): p(w | h) = max(c(h, w) - D, 0) / (theta + c(h)) +
    (theta + sum D) / (theta + c(h)) p(w | h'), the same "explicit part + gamma(h) p(w | h')"
    form (so the backoff engines apply unchanged); theta = 0 is plain Kneser-Ney. Without
    them the arithmetic is exactly the closed form's (and no attribute is added, so saved
    snapshots of such models are unchanged).
    """

    def __init__(self, trie: HistoryTrie, discounts: np.ndarray | None = None, strengths: np.ndarray | None = None):
        self.trie = trie
        self.vocabulary = trie.counts.vocabulary
        self.n_states = trie.n_nodes
        self.k = trie.counts.state_size
        self.n_outcomes = len(self.vocabulary) + 1  # tokens + END
        n = trie.n_nodes
        levels = kn_levels(trie, self._lower_order_counts)  # orders k..0
        if discounts is None:  # Chen & Goodman's closed form, per order
            self.discounts = np.array([modified_discounts(used) for _, _, used in levels[::-1]])
        else:  # chosen elsewhere (`kn_tuning`): (rows, classes), each class r in (0, r]
            self.discounts = check_discounts(discounts, self.k)
        if strengths is not None:
            if discounts is None:
                raise TnaasError("Kneser-Ney strengths need their discounts table")
            self.strengths = check_strengths(strengths, self.discounts)
        rows_node = [node for node, _, _ in levels]
        rows_token = [token for _, token, _ in levels]
        rows_count = [used for _, _, used in levels]
        node = np.concatenate(rows_node)
        token = np.concatenate(rows_token)
        count = np.concatenate(rows_count)
        order = np.lexsort((token, node))
        node, token, count = node[order], token[order], count[order]
        classes = count_class(count, self.discounts.shape[1])
        followers = np.bincount(node, minlength=n)  # distinct tokens after each history
        node_row = discount_rows(trie, len(self.discounts), followers)
        discount = self.discounts[node_row[node], classes]
        total = np.bincount(node, weights=count, minlength=n)
        if (total[np.unique(node)] <= 0).any() or total[0] <= 0:
            raise TnaasError("cannot smooth an empty chain")
        self._token = token
        self._gamma = np.zeros(n)
        np.add.at(self._gamma, node, discount)
        if strengths is None:
            self._weight = (count - discount) / total[node]
            with np.errstate(divide="ignore", invalid="ignore"):
                self._gamma = np.where(total > 0, self._gamma / total, 1.0)
        else:  # theta + c(h) > 0 and theta + sum D > 0 (`check_strengths`): all positive
            theta = self.strengths[node_row]
            self._weight = (count - discount) / (theta[node] + total[node])
            with np.errstate(divide="ignore", invalid="ignore"):
                self._gamma = np.where(total > 0, (theta + self._gamma) / (theta + total), 1.0)
        self._start = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(node, minlength=n), out=self._start[1:])
        # Interpolation gives END some mass after every history, BEGIN's included, but an
        # empty item was never seen (a corpus has none): END right after BEGIN gets zero and
        # the rest of the BEGIN state's row is scaled up to sum to one again.
        self._begin_scale = 1.0
        begin = trie.begin_state
        end_id = len(self.vocabulary)
        if begin >= 0 and end_id not in trie.edge_token[trie.edge_start[begin] : trie.edge_start[begin + 1]]:
            self._begin_scale = 1.0 / (1.0 - self._dense(np.array([begin]), np.array([end_id]))[0, 0])
        # Small models are tabulated once, here: every later call reads, nothing is cached
        # lazily, so a fitted model shared between app sessions is never changed.
        self._tables: tuple[np.ndarray, np.ndarray] | None = None
        if self.n_states * self.n_outcomes <= MAX_TABLE_CELLS:
            self._tables = (
                self._dense(np.arange(self.n_states), np.arange(self.n_outcomes)),
                self._next_table(),
            )

    def _lower_order_counts(self, node: np.ndarray, raw: np.ndarray, distinct: np.ndarray) -> np.ndarray:
        """The counts that a history below the top order uses for (node[i], token[i]):
        here continuation counts N1+(. h w) (`distinct`), not `raw` counts c(h w).

        Histories that start with BEGIN are no exception: their only left neighbour is
        BEGIN, so each of their counts is 1 and such a history spreads its mass evenly over
        the tokens that followed it. Measured on held-out splits of every bundled corpus at
        state sizes 2-6 (3 seeds), that beats raw counts in 70 of 90 cases, by 0.01-0.09
        nats/token at k >= 4 on the name corpora; only the small verse test sets (sonnets)
        lean the other way (benchmarks/results/bench_nll.md). A method so that the
        benchmark can measure the other convention by overriding it.
        """
        return distinct

    # -------------------------------------------------------------- distributions
    def dense(self, states: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """p(columns[c] | states[i]) as float64 (len(states), len(columns)).

        `columns` are outcome ids (tokens 0..V-1, END = V). Computed order by order from
        the root up, sharing each ancestor's row among its descendants.
        """
        states = np.asarray(states, dtype=np.int64)
        columns = np.asarray(columns, dtype=np.int64)
        _check_size(len(states), len(columns))
        tables = self._tabulated()
        if tables:
            return tables[0][np.ix_(states, columns)]
        return self._dense(states, columns)

    def _dense(self, states: np.ndarray, columns: np.ndarray) -> np.ndarray:
        # Each row depends only on its own state, so computing a batch or the whole table
        # gives the same numbers bit for bit.
        column_of = np.full(self.n_outcomes, -1, dtype=np.int64)
        column_of[columns] = np.arange(len(columns))
        ancestors = [np.unique(states)]
        while len(ancestors[-1]):
            up = self.trie.parent[ancestors[-1]]
            ancestors.append(np.unique(up[up >= 0]))
        nodes_all = np.unique(np.concatenate(ancestors))
        order_all = self.trie.order[nodes_all]
        out = np.empty((len(states), len(columns)))
        state_order = self.trie.order[states]
        parent_nodes = parent_rows = None
        for j in range(self.k + 1):  # root first: each order builds on its parents' rows
            nodes = nodes_all[order_all == j]
            if j == 0:
                rows = np.full((len(nodes), len(columns)), self._gamma[0] / self.n_outcomes)
            else:
                parents = np.searchsorted(parent_nodes, self.trie.parent[nodes])
                rows = self._gamma[nodes][:, None] * parent_rows[parents]
            self._add_counts(rows, nodes, column_of)
            here = state_order == j
            out[here] = rows[np.searchsorted(nodes, states[here])]
            parent_nodes, parent_rows = nodes, rows
        if self._begin_scale != 1.0:  # no empty item: END impossible right after BEGIN
            begin = states == self.trie.begin_state
            out[begin] *= self._begin_scale
            out[np.ix_(begin, columns == len(self.vocabulary))] = 0.0
        return out

    def _add_counts(self, block: np.ndarray, nodes: np.ndarray, column_of: np.ndarray) -> None:
        counts = self._start[nodes + 1] - self._start[nodes]
        within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        entry = np.repeat(self._start[nodes], counts) + within
        row = np.repeat(np.arange(len(nodes)), counts)
        column = column_of[self._token[entry]]
        hit = column >= 0
        np.add.at(block, (row[hit], column[hit]), self._weight[entry][hit])

    # --------------------------------------------------------------- transitions
    def next_state(self, states: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """The longest seen suffix of (state history + token), for each pair (int64 (n,)).

        `tokens` are token ids 0..V-1.
        """
        tables = self._tabulated()
        if tables:
            return tables[1][np.asarray(states, dtype=np.int64), np.asarray(tokens, dtype=np.int64)].astype(np.int64)
        return self._next_state(states, tokens)

    def _next_state(self, states: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        trie = self.trie
        current = np.asarray(states, dtype=np.int64).copy()
        tokens = np.asarray(tokens, dtype=np.int64)
        full = trie.order[current] == self.k
        current[full] = trie.parent[current[full]]
        result = np.zeros(len(current), dtype=np.int64)
        pending = np.arange(len(current))
        while len(pending):
            found = trie.child(current[pending], tokens[pending])
            hit = found >= 0
            result[pending[hit]] = found[hit]
            pending = pending[~hit]
            current[pending] = trie.parent[current[pending]]
            pending = pending[current[pending] >= 0]  # below the root: stay at the root
        return result

    def _tabulated(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(p(outcome | state) float64 (states, V + 1), next state int32 (states, V)), or None
        when the model has more than `MAX_TABLE_CELLS` cells (then rows are computed on demand)."""
        return self._tables

    def _next_table(self) -> np.ndarray:
        """`next_state` for every (state, token) at once, int32 (states, V).

        Row by row from the root up: after history h, token w leads to the child (h, w) if
        it was seen, else to wherever it leads after h minus its first token; a full-order
        state continues as its parent does (its history minus the first token).
        """
        trie = self.trie
        n_tokens = len(self.vocabulary)
        table = np.zeros((self.n_states, n_tokens), dtype=np.int32)
        prefix, last = np.divmod(trie.child_keys, trie.radix)
        for j in range(self.k + 1):
            nodes = np.flatnonzero(trie.order == j)
            if j > 0:
                table[nodes] = table[trie.parent[nodes]]
            if j < self.k:
                here = (trie.order[prefix] == j) & (last < n_tokens)  # BEGIN never follows
                table[prefix[here], last[here]] = trie.child_nodes[here]
        return table

    # ---------------------------------------------------------- automaton protocol
    def start(self) -> tuple[np.ndarray, np.ndarray]:
        """The single BEGIN state with probability 1."""
        return np.array([self.trie.begin_state]), np.ones(1)

    def edge_count(self, states: np.ndarray, tokens: np.ndarray | None = None) -> int:
        """How many edges `expand(states, tokens)` returns: every (state, token) pair, as
        smoothing leaves no zeros."""
        return len(states) * (len(self.vocabulary) if tokens is None else len(np.unique(tokens)))

    def expand(self, states: np.ndarray, tokens: np.ndarray | None = None) -> Edges:
        """Every token (or only `tokens`) after each state: smoothing leaves no zeros."""
        states = np.asarray(states, dtype=np.int64)
        columns = np.arange(len(self.vocabulary)) if tokens is None else np.unique(np.asarray(tokens, dtype=np.int64))
        src = np.repeat(np.arange(len(states)), len(columns))
        token = np.tile(columns, len(states))
        tables = self._tabulated()
        if tables and tokens is None:  # every token: whole rows of the tables, no 2-D indexing
            _check_size(len(states), len(columns))
            probs = tables[0][states, : len(columns)]
            dst = tables[1][states].reshape(-1).astype(np.int64)
        else:  # destinations on demand: a sampler needs only the picked edges' (see LazyEdges)
            probs = self.dense(states, columns)
            return LazyEdges(src, token, probs.reshape(-1), lambda i: self.next_state(states[src[i]], token[i]))
        return Edges(src, token, dst, probs.reshape(-1))

    def end_prob(self, states: np.ndarray) -> np.ndarray:
        """p(END | state) for each state, float64 (n,)."""
        return self.dense(states, np.array([len(self.vocabulary)]))[:, 0]
