"""One contract over every registered model: the interface pages and the CLI rely on."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from tnaas.data.corpus import corpus_from_items
from tnaas.errors import TnaasError
from tnaas.inference.completion import END_KEY, Completion
from tnaas.models import MODELS
from tnaas.models.base import Heatmap

TINY = corpus_from_items(["abab", "abba", "baba", "bab", "aab", "abb", "ba", "aba"], "characters")
# Small settings per model so the contract runs in seconds (LSTM trains briefly).
FAST = {
    "markov": {"state_size": 2},
    "hmm": {"hidden_states": 3, "iterations": 20},
    "lstm": {"hidden_size": 16, "epochs": 3},
}


def available_specs():
    return [pytest.param(spec, id=name) for name, spec in MODELS.items() if spec.available()[0]]


@pytest.fixture(scope="module", params=available_specs())
def fitted(request):
    spec = request.param
    return spec.build(FAST.get(spec.name, {}), random_state=0, corpus=TINY).fit(TINY)


def test_fit_returns_self_and_learned_state_ends_in_underscore(fitted):
    assert fitted.token_kind_ == "characters"
    assert set(fitted.vocabulary_) == {"a", "b"}
    assert fitted.training_items_ == frozenset(TINY.items)


def test_unfitted_model_says_so():
    for name, spec in MODELS.items():
        if spec.available()[0]:
            model = spec.build(FAST.get(name, {}), random_state=0, corpus=TINY)
            with pytest.raises(TnaasError, match="not fitted"):
                model.sample(1, random_state=0)


def test_sample_is_reproducible_and_made_of_known_tokens(fitted):
    first = fitted.sample(20, random_state=7)
    assert first == fitted.sample(20, random_state=7)
    assert len(first) == 20 and all(set(item) <= {"a", "b"} for item in first)


def test_log_prob_is_a_log_probability_and_batches_agree(fitted):
    items = fitted.sample(10, random_state=1)
    one_by_one = np.array([fitted.log_prob(item) for item in items])
    assert np.allclose(one_by_one, fitted.log_prob_many(items), atol=1e-9)
    assert np.all(np.isfinite(one_by_one)) and np.all(one_by_one <= 0)
    assert fitted.log_prob("abz") == -math.inf  # an unknown token is impossible


def test_next_token_distribution_sums_to_one(fitted):
    dist = fitted.next_token_distribution("a")
    assert set(dist) <= {"a", "b", END_KEY}
    assert math.isclose(sum(dist.values()), 1.0, abs_tol=1e-9)


def test_complete_answers_with_the_shared_result(fitted):
    result = fitted.complete("a*b", top=3, samples=30, random_state=3)
    assert isinstance(result, Completion)
    assert 0 < result.probability <= 1
    assert [p["index"] for p in result.positions] == [1]
    assert math.isclose(
        sum(result.positions[0]["distribution"].values()), 1.0, abs_tol=0.02 if not fitted.exact else 1e-9
    )
    tops = [t["probability"] for t in result.top]
    assert tops == sorted(tops, reverse=True)
    assert all(re.fullmatch("a.b", s) for s in result.samples) and len(result.samples) == 30
    # Exact models always answer exactly; others say which way they answered this time
    # (the LSTM enumerates few unknowns exactly and falls back to SMC otherwise).
    assert result.method == "exact" if fitted.exact else result.method.split(":")[0] in ("exact", "approximate")


def test_inspect_gives_heatmaps(fitted):
    for heatmap in fitted.inspect(5):
        assert isinstance(heatmap, Heatmap)
        assert heatmap.records and all(len(record) == 3 for record in heatmap.records)
        assert all(0 <= value <= 1 for _, _, value in heatmap.records)
