"""The fast paths of the performance pass give the same answers as the general ones.

`path_log_prob` (one item, one path) must equal the batched `sequence_log_probs` bit for
bit, on unsmoothed and Kneser-Ney chains, for possible, impossible and unknown-token
items; `score_answer` must score an item once (it used to run the model twice).
"""

from __future__ import annotations

import numpy as np
import pytest

from tnaas import service
from tnaas.inference.automaton import path_log_prob, sequence_log_probs
from tnaas.service import ModelRequest


@pytest.mark.parametrize("smoothing", ["none", "kneser-ney"])
@pytest.mark.parametrize("corpus_name", ["ikea", "rhcp"])
def test_path_log_prob_is_the_batched_pass(corpus_name, smoothing):
    corpus = service.bundled_corpus(corpus_name)
    model = service.fitted(corpus, ModelRequest.parse("markov", {"smoothing": smoothing}, corpus))[0]
    items = list(corpus.items[:40]) + ["", "zzzq", "Qx", "the the the", "\u00e9\u00e9"]
    for item in items:
        ids = model._ids(item)
        fast = path_log_prob(model.automaton_, ids)
        assert fast is not None
        assert fast == sequence_log_probs(model.automaton_, [ids])[0], item
        assert model.log_prob(item) == sequence_log_probs(model.automaton_, [ids])[0]


def test_path_log_prob_declines_a_branching_automaton():
    class Branching:  # two edges for one (state, token): two paths, so no scalar walk
        vocabulary = ("a",)
        n_states = 3
        deterministic = True

        def start(self):
            return np.array([0]), np.ones(1)

        def expand(self, states, tokens=None):
            from tnaas.inference.automaton import Edges

            return Edges(np.zeros(2, np.int64), np.zeros(2, np.int64), np.array([1, 2]), np.array([0.3, 0.2]))

        def end_prob(self, states):
            return np.full(len(states), 0.5)

    assert path_log_prob(Branching(), np.array([0])) is None


def test_score_answer_scores_the_item_once(monkeypatch):
    corpus = service.bundled_corpus("tech")
    request = ModelRequest.parse("markov", {}, corpus)
    model = service.fitted(corpus, request)[0]
    expected = model.log_prob("numpy")
    calls = []
    original = type(model).log_prob_many

    def counting(self, items):
        calls.append(list(items))
        return original(self, items)

    monkeypatch.setattr(type(model), "log_prob_many", counting)
    answer = service.score_answer(corpus, request, "numpy")
    assert len(calls) == 1
    assert answer["log_prob"] == expected
    assert answer["tokens"] == 6 and answer["nll_per_token"] == pytest.approx(-expected / 6)


def test_score_answer_still_scores_the_normalised_item_for_the_nll():
    corpus = service.bundled_corpus("tech")
    request = ModelRequest.parse("markov", {}, corpus)
    model = service.fitted(corpus, request)[0]
    answer = service.score_answer(corpus, request, " numpy ")
    assert answer["nll_per_token"] == pytest.approx(-model.log_prob("numpy") / 6)
    assert answer["log_prob"] == model.log_prob(" numpy ")


def test_a_kneser_ney_artifact_keeps_its_float_scalars(tmp_path):
    """The Lambda bundle serves saved artifacts: a restored Kneser-Ney chain too large for
    its tables must still sample (it lost `_begin_scale`, a float, and raised)."""
    from tnaas.artifacts import load_artifact, save_artifact

    corpus = service.bundled_corpus("pokemon")
    request = ModelRequest.parse("markov", {"smoothing": "kneser-ney"}, corpus)
    model = service.fitted(corpus, request)[0]
    path = save_artifact(model, request, corpus, tmp_path)[0]
    loaded = load_artifact(path)
    loaded = loaded[0] if isinstance(loaded, tuple) else loaded
    assert vars(loaded.automaton_)["_begin_scale"] == model.automaton_._begin_scale
    assert loaded.sample(5, random_state=1) == model.sample(5, random_state=1)
