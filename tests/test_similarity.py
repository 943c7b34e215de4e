"""Similarity ranking: hand-checked distances, the three orders, stable ties, bad input."""

from __future__ import annotations

import math

import pytest

from tnaas.data.corpus import corpus_from_items
from tnaas.errors import TnaasError
from tnaas.models.markov.model import MarkovModel
from tnaas.tasks import similarity as sim


@pytest.mark.parametrize(
    "a, b, d",
    [
        ("numpy", "numpy", 0),
        ("numpy", "numpi", 1),  # substitution
        ("numpy", "nupmy", 1),  # adjacent swap: one edit, not two
        ("numpy", "numy", 1),  # deletion
        ("numpy", "numpyy", 1),  # insertion
        ("kitten", "sitting", 3),
        ("ca", "abc", 2),  # true Damerau-Levenshtein (OSA would say 3)
        ("", "abc", 3),
        ("Numpy", "numpy", 1),  # `distance` is case-sensitive
    ],
)
def test_hand_checked_distances(a, b, d):
    assert sim.distance(a, b) == d


def test_similarity_is_one_minus_distance_over_the_longer_length():
    assert sim.similarity("numpy", "numpy") == 1.0
    assert sim.similarity("numpi", "numpy") == pytest.approx(1 - 1 / 5)
    assert sim.similarity("kitten", "sitting") == pytest.approx(1 - 3 / 7)
    assert sim.similarity("NumPy", "numpy") == 1.0  # case-folded
    # The best over the references.
    assert sim.similarity("pandsa", ["numpy", "pandas"]) == pytest.approx(1 - 1 / 6)


def test_rank_by_similarity_most_similar_first_ties_in_input_order():
    items = ["zzzzz", "numpi", "nmpy", "numpy", "numpu", "xnumpy"]
    ranked = sim.rank(items, like=["numpy"])
    # Hand-checked: xnumpy 1 - 1/6; numpi, nmpy, numpu all 1 - 1/5 (a tie: input order kept).
    assert [r["item"] for r in ranked] == ["numpy", "xnumpy", "numpi", "nmpy", "numpu", "zzzzz"]
    assert [r["similarity"] for r in ranked] == pytest.approx([1.0, 5 / 6, 0.8, 0.8, 0.8, 0.0])
    ties = sim.rank(["b", "a", "c"], like=["zz"])  # all 0.0
    assert [r["item"] for r in ties] == ["b", "a", "c"]
    assert all(r["nll_per_token"] is None for r in ranked)


@pytest.fixture(scope="module")
def model():
    return MarkovModel(state_size=1).fit(corpus_from_items(["ab", "ab", "ab", "abb", "ba"]))


def test_rank_by_score_most_typical_first(model):
    items = ["abb", "ab", "zz", "ba"]
    ranked = sim.rank(items, sort="score", model=model)
    expected = {item: -model.log_prob(item) / (len(item) + 1) for item in items}
    for row in ranked:
        if math.isfinite(expected[row["item"]]):
            assert row["nll_per_token"] == pytest.approx(expected[row["item"]])
    assert [r["item"] for r in ranked] == sorted(items, key=lambda i: expected[i])
    assert ranked[0]["item"] == "ab" and ranked[-1]["item"] == "zz"
    assert ranked[-1]["nll_per_token"] == math.inf
    assert all(r["similarity"] is None for r in ranked)
    # Both columns when both are given, whatever the order.
    both = sim.rank(items, like="ab", sort="score", model=model)
    assert [r["item"] for r in both] == [r["item"] for r in ranked]
    assert both[0]["similarity"] == 1.0


def test_rank_random_is_a_seeded_shuffle():
    items = [f"item{i}" for i in range(30)]
    first = [r["item"] for r in sim.rank(items, sort="random", seed=5)]
    again = [r["item"] for r in sim.rank(items, sort="random", seed=5)]
    other = [r["item"] for r in sim.rank(items, sort="random", seed=6)]
    assert first == again and sorted(first) == sorted(items)
    assert first != items and first != other


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sort": "alphabetical", "like": ["a"]}, "unknown sort"),
        ({"sort": "similarity"}, "needs reference words"),
        ({"sort": "score"}, "needs a fitted model"),
        ({"like": []}, "one or more non-empty"),
        ({"like": ["ok", "  "]}, "one or more non-empty"),
        ({"like": ["w"] * 101}, "at most 100 reference words"),
        ({"sort": "random", "seed": -1}, "seed"),
    ],
)
def test_bad_options_raise(kwargs, message):
    with pytest.raises(TnaasError, match=message):
        sim.rank(["numpy"], **kwargs)
