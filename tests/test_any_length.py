"""Length-conditioned generation without a pattern (`tnaas.inference.any_length`) at full scale.

Exactness against brute force is in test_lengths.py; here: agreement with the pattern
lattice, which computes the same numbers by another route, and bundled-size smoothed
models, whose any-length lattice would be too big to store.
"""

from __future__ import annotations

import numpy as np
import pytest

from tnaas.data.corpus import load_bundled
from tnaas.inference.any_length import AllPaths
from tnaas.inference.automaton import temper
from tnaas.inference.lattice import Lattice
from tnaas.inference.patterns import any_sequence_dfa
from tnaas.models.markov import MarkovModel


@pytest.mark.parametrize("smoothing", ["none", "kneser-ney"])
@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_length_probabilities_agree_with_the_pattern_lattice(smoothing, temperature):
    model = MarkovModel(2, smoothing).fit(load_bundled("ikea"))
    automaton = temper(model.automaton_, temperature)
    lattice = Lattice(automaton, any_sequence_dfa(len(model.vocabulary_)), np.ones(16), backward=False)
    np.testing.assert_allclose(AllPaths(automaton, 15).length_probs(), lattice.end_mass(), rtol=1e-10, atol=1e-15)


def test_smoothed_tech_follows_the_corpus_length_distribution():
    corpus = load_bundled("tech")
    model = MarkovModel(3, "kneser-ney").fit(corpus)
    drawn = model.sample(4000, random_state=0, length="corpus")
    got = np.bincount([len(item) for item in drawn], minlength=31)[:31] / len(drawn)
    want = np.bincount(corpus.lengths, minlength=31)[:31] / len(corpus.items)
    # 4,000 draws: every length share within 3 standard errors of the corpus's share.
    tolerance = 3 * np.sqrt(want * (1 - want) / len(drawn)) + 1e-3
    assert np.all(np.abs(got - want) <= tolerance)


def test_an_oversized_smoothed_query_is_refused_before_it_is_built(monkeypatch):
    """Two unknown words after a smoothed word history need vocabulary-squared edges. The
    model now answers through the backoff lattice (no such expansion is ever made); the
    explicit lattice, which tempered models still use, refuses by counting them first."""
    from tnaas.errors import TnaasError
    from tnaas.inference.lattice import MAX_LATTICE_EDGES
    from tnaas.models.markov.kneser_ney import KneserNeyAutomaton

    expand = KneserNeyAutomaton.expand

    def guarded(self, states, tokens=None):
        assert len(states) * len(self.vocabulary) <= MAX_LATTICE_EDGES or tokens is not None
        return expand(self, states, tokens)

    monkeypatch.setattr(KneserNeyAutomaton, "expand", guarded)
    model = MarkovModel(2, "kneser-ney").fit(load_bundled("sonnets"))
    answer = model.complete("Shall I * *", top=3)
    assert answer.matches and answer.top_complete and len(answer.top) == 3
    from tnaas.inference.patterns import compile_pattern, parse_pattern

    dfa = compile_pattern(parse_pattern("Shall I * *", "words"), model.vocabulary_)
    with pytest.raises(TnaasError, match="lattice edges"):
        Lattice(model.automaton_, dfa, np.ones(5))
    assert model.complete("Shall I * thee", top=1).top[0]["text"] == "Shall I compare thee"
