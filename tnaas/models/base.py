"""The interface every model shares, and its implementation for exact (automaton) models.

Every model: `fit(corpus) -> self`; learned attributes end in `_`; `sample(n,
random_state=...)`; `log_prob(item)` (natural log, END included); `complete(pattern)`.
Pages, the CLI and the benchmarks use only these, never the model's type.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tnaas.data.tokens import decode
from tnaas.errors import TnaasError
from tnaas.inference.automaton import (
    group_logsumexp,
    logsumexp,
    path_log_prob,
    prefix_log_states,
    safe_log,
    sample_ids,
    sequence_log_probs,
    temper,
)
from tnaas.inference.completion import END_KEY, Completion, complete_exact
from tnaas.inference.exact_paths import make_all_paths
from tnaas.inference.lengths import NATURAL, LengthDistribution, corpus_length, log_end_weights
from tnaas.inference.patterns import parse_pattern
from tnaas.validation import check_count, check_temperature, rng_from


@dataclass(frozen=True)
class Heatmap:
    """A matrix a model wants to show: `records` of (row, column, value) triples.

    `value` is a probability (each row sums to at most 1). Titles name the axes. Plain
    tuples, so the model layer needs numpy alone and a chart is built from them directly.
    """

    title: str
    row_title: str
    column_title: str
    records: tuple[tuple[str, str, float], ...]


_TOKEN_INDEX: dict[int, tuple] = {}  # id(vocabulary) -> (vocabulary, {token: id}); a few models


def _token_index(vocabulary) -> dict:
    """{token: id} of `vocabulary`, built once per vocabulary object (a score request used to
    rebuild it per item: thousands of entries for a word model). Not kept on the model, so
    saved artifacts are unchanged; the entry holds the vocabulary, so its id stays valid."""
    entry = _TOKEN_INDEX.get(id(vocabulary))
    if entry is None or entry[0] is not vocabulary:
        if len(_TOKEN_INDEX) >= 64:
            _TOKEN_INDEX.clear()
        entry = (vocabulary, {t: i for i, t in enumerate(vocabulary)})
        _TOKEN_INDEX[id(vocabulary)] = entry
    return entry[1]


class SequenceModel:
    """Base class: what every model provides (see the module docstring)."""

    name = "model"
    smoothed = False
    exact = True  # completion is exact (automaton models) or approximate

    def fit(self, corpus, progress=None) -> SequenceModel:  # pragma: no cover - interface
        """Learn from a `Corpus`; returns self.

        `progress`, if given, is called as progress(fraction done in [0, 1], message) during
        long fits (the app shows it as a progress bar).
        """
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not hasattr(self, "token_kind_"):
            raise TnaasError(f"the {self.name} model is not fitted yet: call fit(corpus) first")

    def _remember_corpus(self, corpus) -> None:
        """Learned facts about the training corpus that every model keeps."""
        self.token_kind_ = corpus.token_kind
        self.vocabulary_ = corpus.vocabulary
        self.training_items_ = frozenset(corpus.items)
        self.training_lengths_ = np.asarray(corpus.lengths)
        longest = int(corpus.lengths.max())
        self.max_length_ = longest + max(10, longest // 4)

    def length_distribution(self, spec: LengthDistribution | str | None) -> LengthDistribution:
        """Resolve a length spec (`natural`, `corpus`, `MIN-MAX`, a length, or a
        `LengthDistribution`) against this model's training corpus."""
        from tnaas.inference.lengths import parse_length

        if spec is None:
            return NATURAL
        if isinstance(spec, LengthDistribution):
            return spec
        if str(spec).strip().lower() == "corpus":
            return corpus_length(self.training_lengths_)
        return parse_length(spec)

    def _ids(self, item: str) -> np.ndarray:
        """Token ids of `item` (-1 for unknown tokens); words and notes split on any whitespace."""
        index = _token_index(self.vocabulary_)
        tokens = tuple(item) if self.token_kind_ == "characters" else item.split()
        return np.array([index.get(t, -1) for t in tokens], dtype=np.int64)

    def log_prob_many(self, items) -> np.ndarray:
        """Natural-log probability of each item, END included (float64 (n,))."""
        return np.array([self.log_prob(item) for item in items])

    def inspect(self, limit: int = 20) -> list[Heatmap]:
        """Matrices that show what the model learned (none by default)."""
        return []


class AutomatonModel(SequenceModel):
    """A model that compiles to an automaton (`automaton_`), so every answer is exact."""

    def sample(self, n: int, random_state=None, temperature: float = 1.0, length=None) -> list[str]:
        """`n` items drawn independently (duplicates possible) from the model.

        `temperature` sharpens (< 1) or flattens (> 1) every choice; `length` is a length
        distribution spec (see `length_distribution`): other than natural, lengths are drawn
        from it and items exactly from p(item | length).
        """
        self._check_fitted()
        n = check_count(n)
        rng = rng_from(random_state)
        automaton = temper(self.automaton_, check_temperature(temperature))
        lengths = self.length_distribution(length)
        if lengths.is_natural:
            ids = sample_ids(automaton, n, rng, 3 * self.max_length_)
        else:
            paths = make_all_paths(automaton, lengths.max_length)
            ids = paths.sample(None, n, rng, log_end_weights(automaton, lengths, lengths.max_length, paths))
        return decode(self.vocabulary_, self.token_kind_, ids)

    def log_prob(self, item: str) -> float:
        """Natural-log probability that the model generates exactly `item` (END included)."""
        return float(self.log_prob_many([item])[0])

    def log_prob_many(self, items) -> np.ndarray:
        """Natural-log probabilities of many items in one batched pass (float64 (n,))."""
        self._check_fitted()
        sequences = [self._ids(item) for item in items]
        if len(sequences) == 1:  # one item (a score request): a scalar walk when it has one path
            found = path_log_prob(self.automaton_, sequences[0])
            if found is not None:
                return np.array([found])
        return sequence_log_probs(self.automaton_, sequences)

    def next_token_distribution(self, prefix: str, temperature: float = 1.0) -> dict[str, float]:
        """p(next token | the item starts with `prefix`), with `END_KEY` for "the item ends".

        At a temperature T every probability is raised to 1/T and renormalised: the one
        definition of temperature every model shares (what `sample` draws from per step).
        Sorted by probability; empty when the model cannot produce `prefix` at all. Worked
        in log space, so a prefix of any length with a finite `log_prob` gets a distribution.
        """
        self._check_fitted()
        temperature = check_temperature(temperature)
        ids = self._ids(prefix) if prefix else np.zeros(0, dtype=np.int64)
        states, log_weights = prefix_log_states(self.automaton_, ids)
        if len(states) == 0:
            return {}
        log_weights = log_weights - logsumexp(log_weights)  # the belief over states, sums to 1
        edges = self.automaton_.expand(states)
        end_id = len(self.vocabulary_)
        log_mass = group_logsumexp(
            np.concatenate([edges.token, np.full(len(states), end_id)]),
            np.concatenate(
                [log_weights[edges.src] + edges.log_probs(), log_weights + safe_log(self.automaton_.end_prob(states))]
            ),
            end_id + 1,
        )
        log_mass = log_mass / temperature
        mass = np.exp(log_mass - logsumexp(log_mass))
        names = [*self.vocabulary_, END_KEY]
        dist = {names[t]: float(mass[t]) for t in np.flatnonzero(mass)}
        return dict(sorted(dist.items(), key=lambda kv: -kv[1]))

    def complete(
        self,
        pattern: str,
        top: int = 10,
        samples: int = 0,
        random_state=None,
        length=None,
        temperature: float = 1.0,
    ) -> Completion:
        """Exact answer to a masked pattern (see `tnaas.inference.patterns` and `Completion`)."""
        self._check_fitted()
        automaton = temper(self.automaton_, check_temperature(temperature))
        lengths = self.length_distribution(length)
        result = complete_exact(
            automaton,
            parse_pattern(pattern, self.token_kind_),
            self.token_kind_,
            self.max_length_,
            top=check_count(top, "top", 1000),
            samples=check_count(samples, "samples"),
            rng=rng_from(random_state),
            lengths=lengths,
            smoothed=self.smoothed,
        )
        if not result.matches:
            hint = self._case_hint(pattern, automaton, lengths)
            if hint:
                result = replace(result, message=f"{result.message} {hint}")
        return result

    def _case_hint(self, pattern: str, automaton, lengths) -> str:
        """Suggest another letter case ("Did you mean 'Pika*'?") when only case stands in the way."""
        for variant in dict.fromkeys((pattern.capitalize(), pattern.lower(), pattern.upper())):
            if variant == pattern:
                continue
            try:
                parsed = parse_pattern(variant, self.token_kind_)
                answer = complete_exact(automaton, parsed, self.token_kind_, self.max_length_, top=0, lengths=lengths)
            except TnaasError:
                continue
            if answer.matches:
                return f"Did you mean {variant!r}? (p = {answer.probability:.3g})"
        return ""
