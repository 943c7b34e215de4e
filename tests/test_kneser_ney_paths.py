"""Kneser-Ney has two code paths: small models read precomputed tables, large ones compute
rows and destinations on demand (with lazily resolved edges). The brute-force tests run on
tiny, tabulated models; these check that the on-demand path gives the very same answers."""

from __future__ import annotations

import numpy as np
import pytest

import tnaas.models.markov.kneser_ney as kneser_ney
from tnaas.data.corpus import load_bundled
from tnaas.models.markov import MarkovModel


@pytest.fixture(params=[("pokemon", 2), ("ikea", 3), ("rhcp", 1)], ids=lambda p: f"{p[0]}-k{p[1]}")
def both(request, monkeypatch):
    name, k = request.param
    corpus = load_bundled(name)
    tabulated = MarkovModel(k, "kneser-ney").fit(corpus)
    monkeypatch.setattr(kneser_ney, "MAX_TABLE_CELLS", 0)
    on_demand = MarkovModel(k, "kneser-ney").fit(corpus)
    assert tabulated.automaton_._tabulated() is not None and on_demand.automaton_._tabulated() is None
    return tabulated, on_demand


def test_rows_and_destinations_agree(both):
    tabulated, on_demand = both
    a, b = tabulated.automaton_, on_demand.automaton_
    states = np.arange(a.n_states)
    outcomes = np.arange(a.n_outcomes)
    np.testing.assert_allclose(a.dense(states, outcomes), b.dense(states, outcomes), rtol=0, atol=1e-15)
    edges_a, edges_b = a.expand(states), b.expand(states)
    np.testing.assert_array_equal(edges_a.dst, edges_b.dst)
    pick = np.arange(0, len(edges_b.src), 7)
    np.testing.assert_array_equal(edges_b.destinations(pick), edges_a.dst[pick])
    np.testing.assert_array_equal(edges_b.take(pick).dst, edges_a.dst[pick])


def test_samples_scores_and_completions_agree(both):
    tabulated, on_demand = both
    assert tabulated.sample(300, random_state=4) == on_demand.sample(300, random_state=4)
    assert tabulated.sample(50, random_state=5, temperature=0.7) == on_demand.sample(
        50, random_state=5, temperature=0.7
    )
    items = tabulated.sample(40, random_state=6)
    np.testing.assert_allclose(tabulated.log_prob_many(items), on_demand.log_prob_many(items), atol=1e-12)
    pattern = "* *" if tabulated.token_kind_ == "words" else "*" + tabulated.vocabulary_[-1] + "*"
    x, y = (
        tabulated.complete(pattern, top=5, samples=20, random_state=1),
        on_demand.complete(pattern, top=5, samples=20, random_state=1),
    )
    assert x.probability == pytest.approx(y.probability, rel=1e-12)
    assert [t["text"] for t in x.top] == [t["text"] for t in y.top] and x.samples == y.samples
