"""The Markov chain model: markovify's chain, optionally with Kneser-Ney smoothing."""

from __future__ import annotations

import numpy as np

from tnaas.errors import TnaasError
from tnaas.inference.completion import END_KEY
from tnaas.models.base import AutomatonModel, Heatmap
from tnaas.models.markov.budget import check_fit_budget
from tnaas.models.markov.chain import ChainAutomaton
from tnaas.models.markov.kn_tuning import tuned_parameters
from tnaas.models.markov.kneser_ney import KneserNeyAutomaton
from tnaas.models.markov.markovify_json import chain_json, parse_chain
from tnaas.models.markov.ngram import MAX_STATE_SIZE, MIN_STATE_SIZE, HistoryTrie, NgramCounts, count_ngrams

SMOOTHINGS = {"none": ChainAutomaton, "kneser-ney": KneserNeyAutomaton}
# Kneser-Ney discounts: Chen & Goodman's estimate from the counts, or discounts and strengths
# chosen by seeded 5-fold cross-validation over the training items (`kn_tuning`;
# benchmarks/results/bench_nll.md).
DISCOUNTS = ("closed-form", "tuned")


class MarkovModel(AutomatonModel):
    """An order-`state_size` Markov chain over tokens.

    With `smoothing="none"` it is exactly markovify's `Chain` (same states, counts and
    probabilities); `"kneser-ney"` gives every known token a positive probability after
    every history (interpolated modified Kneser-Ney), with `discounts="closed-form"`
    (Chen & Goodman's estimate) or `"tuned"` (chosen by 5-fold cross-validation over the
    training items, then the whole corpus refitted with them; `kn_tuning`). The discounts in
    use are `kn_discounts_` (None: the closed form); tuned ones come with a Pitman-Yor
    strength per row, `kn_strengths_` (`kn_tuning.tuned_parameters`).

    >>> from tnaas.data.corpus import load_bundled
    >>> model = MarkovModel(state_size=3).fit(load_bundled("pokemon"))
    >>> len(model.sample(5, random_state=0))
    5
    """

    name = "markov"

    def __init__(self, state_size: int = 3, smoothing: str = "none", discounts: str = "closed-form"):
        self.state_size = state_size
        self.smoothing = smoothing
        self.discounts = discounts

    @property
    def smoothed(self) -> bool:
        """True when unseen transitions get probability (Kneser-Ney)."""
        return self.smoothing != "none"

    def _check_params(self) -> None:
        k = self.state_size
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not MIN_STATE_SIZE <= k <= MAX_STATE_SIZE:
            raise TnaasError(f"state size must be a whole number from {MIN_STATE_SIZE} to {MAX_STATE_SIZE}, not {k!r}")
        if self.smoothing not in SMOOTHINGS:
            raise TnaasError(f"unknown smoothing {self.smoothing!r}: choose {' or '.join(SMOOTHINGS)}")
        if not isinstance(self.discounts, str) or self.discounts not in DISCOUNTS:
            raise TnaasError(f"unknown discounts {str(self.discounts)[:20]!r}: choose {' or '.join(DISCOUNTS)}")

    def fit(self, corpus, progress=None) -> MarkovModel:
        """Count the corpus's transitions (markovify's `Chain.build`, vectorised).

        Counting is fast, so `progress` is accepted (shared interface) but not called.
        """
        self._check_params()
        counts = count_ngrams(corpus.encoded, int(self.state_size))
        check_fit_budget(counts, self.smoothing)  # before the trie and tables are allocated
        self._remember_corpus(corpus)
        self.kn_discounts_ = self.kn_strengths_ = None
        if self.smoothing == "kneser-ney" and self.discounts == "tuned":
            tuned = tuned_parameters(corpus.encoded, int(self.state_size))  # None: too few items
            if tuned is not None:
                self.kn_discounts_, self.kn_strengths_ = tuned
        self._compile(counts)
        return self

    def _compile(self, counts: NgramCounts) -> None:
        self.counts_ = counts
        self.trie_ = HistoryTrie.build(counts)
        if self.smoothing == "kneser-ney":
            self.automaton_ = KneserNeyAutomaton(
                self.trie_, getattr(self, "kn_discounts_", None), getattr(self, "kn_strengths_", None)
            )
        else:
            self.automaton_ = SMOOTHINGS[self.smoothing](self.trie_)

    def inspect(self, limit: int = 20) -> list[Heatmap]:
        """The transition matrix: for the `limit` most frequent states (token x token at
        state size 1), the probability of each next token (the 30 most common), END included."""
        self._check_fitted()
        counts = self.counts_
        names = list(counts.vocabulary) + [END_KEY, "·"]  # "·" marks BEGIN padding
        trie = self.trie_
        top_nodes = np.flatnonzero(trie.order == self.state_size)
        totals = np.add.reduceat(trie.edge_count, trie.edge_start[top_nodes]) if len(top_nodes) else np.zeros(0)
        top_nodes = top_nodes[np.argsort(-totals, kind="stable")[:limit]]
        token_totals = np.bincount(counts.next_ids, weights=counts.counts, minlength=len(names))
        columns = set(np.argsort(-token_totals, kind="stable")[:30].tolist())
        rows = []
        for node in top_nodes:
            label = (
                "".join(names[t] for t in _history_tokens(trie, node))
                if self.token_kind_ == "characters"
                else " ".join(names[t] for t in _history_tokens(trie, node))
            )
            edges = self.automaton_.expand(np.array([node]))
            dist = dict(zip(edges.token.tolist(), edges.prob.tolist()))
            dist[len(counts.vocabulary)] = float(self.automaton_.end_prob(np.array([node]))[0])
            for token, p in dist.items():
                if token in columns and p > 0:
                    rows.append((label, names[token], float(p)))
        title = f"Transition matrix (state size {self.state_size})"
        return [Heatmap(title, "state (last tokens)", "next token", tuple(rows))]

    # ------------------------------------------------------------ markovify JSON
    def to_markovify_json(self) -> str:
        """The chain as markovify's `Chain.to_json()` text (load with `Chain.from_json`).

        Refused (`TnaasError`) when a token is markovify's `___BEGIN__` or `___END__`
        marker, which markovify would read as the start or end of an item.
        """
        self._check_fitted()
        return chain_json(self.counts_)

    @classmethod
    def from_markovify_json(cls, text: str, token_kind: str | None = None, smoothing: str = "none") -> MarkovModel:
        """A fitted model from markovify's `Chain.to_json()` or `Text.to_json()` output.

        The whole file is validated first (limits and rules: `markovify_json`); any
        problem is one `TnaasError`. `token_kind` defaults to characters when every token
        is one character, else words. The model has no training items, so the novelty
        filter has nothing to compare with and the `corpus` length distribution is
        unavailable.
        """
        kind, counts = parse_chain(text, token_kind)
        model = cls(state_size=counts.state_size, smoothing=smoothing)
        model._check_params()
        model.token_kind_ = kind
        model.vocabulary_ = counts.vocabulary
        model.training_items_ = frozenset()
        model.training_lengths_ = np.zeros(0, dtype=np.int64)
        model.max_length_ = 60 if kind == "characters" else 120
        model._compile(counts)
        model._check_it_ends()
        return model

    def _check_it_ends(self) -> None:
        """Refuse a chain (from JSON) that has no BEGIN state or can run forever."""
        if self.trie_.begin_state < 0:
            raise TnaasError("not a usable markovify model: it has no BEGIN state to start from")
        states = np.flatnonzero(self.trie_.order == self.state_size)
        edges = self.automaton_.expand(states)
        can_end = np.zeros(self.trie_.n_nodes, dtype=bool)
        can_end[states] = self.automaton_.end_prob(states) > 0
        while True:  # a state can end if it can step to a state that can end
            reach = np.zeros(self.trie_.n_nodes, dtype=bool)
            reach[states[edges.src[can_end[edges.dst]]]] = True
            if not (reach & ~can_end).any():
                break
            can_end |= reach
        if not can_end[states].all():
            raise TnaasError("not a usable markovify model: from some states it can never reach END")


def _history_tokens(trie: HistoryTrie, node: int) -> list[int]:
    """Token ids of a trie node's history, first to last."""
    tokens = []
    while node > 0:
        tokens.append(int(trie.first[node]))
        node = int(trie.parent[node])
    return tokens
