"""The Markov chain model: markovify's chain, optionally with Kneser-Ney smoothing."""

from __future__ import annotations

import json

import numpy as np

from tnaas.errors import TnaasError
from tnaas.inference.completion import END_KEY
from tnaas.models.base import AutomatonModel, Heatmap
from tnaas.models.markov.chain import ChainAutomaton
from tnaas.models.markov.kneser_ney import KneserNeyAutomaton
from tnaas.models.markov.ngram import BEGIN, END, HistoryTrie, NgramCounts, count_ngrams

MIN_STATE_SIZE, MAX_STATE_SIZE = 1, 6
SMOOTHINGS = {"none": ChainAutomaton, "kneser-ney": KneserNeyAutomaton}


class MarkovModel(AutomatonModel):
    """An order-`state_size` Markov chain over tokens.

    With `smoothing="none"` it is exactly markovify's `Chain` (same states, counts and
    probabilities); `"kneser-ney"` gives every known token a positive probability after
    every history (interpolated modified Kneser-Ney).

    >>> from tnaas.data.corpus import load_bundled
    >>> model = MarkovModel(state_size=3).fit(load_bundled("pokemon"))
    >>> len(model.sample(5, random_state=0))
    5
    """

    name = "markov"

    def __init__(self, state_size: int = 3, smoothing: str = "none"):
        self.state_size = state_size
        self.smoothing = smoothing

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

    def fit(self, corpus, progress=None) -> MarkovModel:
        """Count the corpus's transitions (markovify's `Chain.build`, vectorised).

        Counting is fast, so `progress` is accepted (shared interface) but not called.
        """
        self._check_params()
        self._remember_corpus(corpus)
        self._compile(count_ngrams(corpus.encoded, int(self.state_size)))
        return self

    def _compile(self, counts: NgramCounts) -> None:
        self.counts_ = counts
        self.trie_ = HistoryTrie.build(counts)
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
        """The chain as markovify's `Chain.to_json()` text (load with `Chain.from_json`)."""
        self._check_fitted()
        counts = self.counts_
        names = list(counts.vocabulary) + [END, BEGIN]
        model: dict[tuple, dict] = {}
        for context, nxt, count in zip(counts.contexts.tolist(), counts.next_ids.tolist(), counts.counts.tolist()):
            model.setdefault(tuple(names[t] for t in context), {})[names[nxt]] = count
        return json.dumps([[list(state), follow] for state, follow in model.items()])

    @classmethod
    def from_markovify_json(cls, text: str, token_kind: str | None = None, smoothing: str = "none") -> MarkovModel:
        """A fitted model from markovify's `Chain.to_json()` or `Text.to_json()` output.

        `token_kind` defaults to characters when every token is one character, else
        words. The model has no training items, so the novelty filter has nothing to
        compare with and the `corpus` length distribution is unavailable.
        """
        from tnaas.data.tokens import check_kind

        try:
            data = json.loads(text)
            if isinstance(data, dict) and "chain" in data:  # markovify.Text
                data = json.loads(data["chain"]) if isinstance(data["chain"], str) else data["chain"]
            rows = _markovify_rows(data)
        except (ValueError, TypeError, KeyError, IndexError) as error:
            raise TnaasError(f"not a markovify model: {error}") from None
        if not rows:
            raise TnaasError("the markovify model is empty")
        state_size = len(rows[0][0])
        if not MIN_STATE_SIZE <= state_size <= MAX_STATE_SIZE:
            raise TnaasError(f"not a usable markovify model: state size {state_size} (tnaas supports 1 to 6)")
        tokens = sorted({t for state, nxt, _ in rows for t in (*state, nxt)} - {BEGIN, END})
        kind = check_kind(token_kind) if token_kind else ("characters" if all(len(t) == 1 for t in tokens) else "words")
        index = {t: i for i, t in enumerate(tokens)}
        index[END], index[BEGIN] = len(tokens), len(tokens) + 1
        if any(len(state) != state_size for state, _, _ in rows):
            raise TnaasError("not a markovify model: states of different sizes")
        counts = NgramCounts(
            tuple(tokens),
            state_size,
            np.array([[index[t] for t in state] for state, _, _ in rows], dtype=np.int32).reshape(-1, state_size),
            np.array([index[nxt] for _, nxt, _ in rows], dtype=np.int32),
            np.array([count for _, _, count in rows], dtype=np.int64),
        )
        model = cls(state_size=state_size, smoothing=smoothing)
        model._check_params()
        model.token_kind_ = kind
        model.vocabulary_ = tuple(tokens)
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


def _markovify_rows(data) -> list[tuple[tuple[str, ...], str, int]]:
    """(state, next, count) rows from markovify's list-of-pairs or dict JSON, plain or
    compiled ([tokens, cumulative counts])."""
    pairs = data.items() if isinstance(data, dict) else data
    rows = []
    for state, follow in pairs:
        state = tuple(state) if not isinstance(state, str) else tuple(json.loads(state))
        if isinstance(follow, dict):
            items = follow.items()
        else:  # compiled: [choices, cumulative weights]
            choices, cumulative = follow
            items = zip(choices, np.diff([0, *cumulative]).tolist())
        for nxt, count in items:
            if isinstance(count, bool) or not float(count).is_integer() or count <= 0:
                raise ValueError(f"counts must be positive whole numbers, not {count!r}")
            rows.append((state, str(nxt), int(count)))
    return rows
