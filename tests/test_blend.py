"""Blends of two corpora: the mixture is markovify's `combine`, the product blend is exact.

References: markovify itself (`Chain`, `combine`) for the mixture; for the product, every
item up to the length bound enumerated from the `bruteforce.py` chain references, with
p_A(x)^w p_B(x)^(1-w) computed from plain dicts.
"""

from __future__ import annotations

import functools
import json
import math

import bruteforce as bf
import markovify
import numpy as np
import pytest

from tnaas.data.corpus import corpus_from_items
from tnaas.errors import TnaasError
from tnaas.models.blend import MAX_PRODUCT_EDGES, ProductBlend, blend_mixture
from tnaas.models.hmm import HMMModel
from tnaas.models.markov import MarkovModel

PAIRS = [("chars3", "chars4"), ("words5", "words5b"), ("acyclic", "chars3")]
EXTRA = {"words5b": (["the dog ran", "a cat", "the cat ran home", "dog sat", "a dog ran"], "words")}


def corpus_items(name):
    return EXTRA[name] if name in EXTRA else bf.CORPORA[name]


@functools.cache
def corpus(name):
    items, kind = corpus_items(name)
    return corpus_from_items(items, kind)


@functools.cache
def model(name, k, smoothing="none"):
    return MarkovModel(k, smoothing).fit(corpus(name))


@functools.cache
def enumerated(name, k, smoothing, max_len):
    items, kind = corpus_items(name)
    return bf.enumerate_items(bf.make_ref(items, kind, k, smoothing), max_len)


def as_table(json_text):
    """markovify JSON as {state tuple: {next: count}}: order-insensitive."""
    return {tuple(state): follow for state, follow in json.loads(json_text)}


# ------------------------------------------------------------------------- mixture
@pytest.mark.parametrize("w", (0.3, 0.5, 0.9, 1 / 3))
@pytest.mark.parametrize("k", (1, 2, 3))
@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_mixture_json_is_markovify_combine(a, b, k, w):
    runs_a, runs_b = (bf.runs_of(*corpus_items(n)) for n in (a, b))
    combined = markovify.combine([markovify.Chain(runs_a, k), markovify.Chain(runs_b, k)], [w, 1 - w])
    ours = as_table(blend_mixture(corpus(a), corpus(b), w, k).to_markovify_json())
    theirs = as_table(combined.to_json())
    assert ours.keys() == theirs.keys()
    for state, follow in theirs.items():
        assert ours[state].keys() == follow.keys(), state
        for nxt, count in follow.items():
            assert ours[state][nxt] == pytest.approx(count, rel=1e-15), (state, nxt)
    # the counts really are fractional, so the test says something about float counts
    assert any(not float(c).is_integer() for follow in ours.values() for c in follow.values())


@pytest.mark.parametrize("k", (1, 2))
def test_mixture_probabilities_are_the_combined_chain(k):
    """log_prob, exact completion and samples on float counts, against markovify's counts."""
    w = 0.3
    runs_a, runs_b = bf.runs_of(*bf.CORPORA["chars3"]), bf.runs_of(*bf.CORPORA["chars4"])
    combined = markovify.combine([markovify.Chain(runs_a, k), markovify.Chain(runs_b, k)], [w, 1 - w])
    ref = bf.ChainRef(runs_a + runs_b, k)
    ref.model = combined.model  # the same chain over the weighted counts
    blend = blend_mixture(corpus("chars3"), corpus("chars4"), w, k)
    items = bf.enumerate_items(ref, 5)
    texts = ["".join(t) for t in items]
    assert np.allclose(blend.log_prob_many(texts), np.log(list(items.values())), rtol=0, atol=1e-12)
    conditioned = bf.length_conditioned(items, {n: 1 / 5 for n in range(1, 6)})
    want = sum(p for t, p in conditioned.items() if t[0] == "d")
    assert 0 < want < 1
    assert blend.complete("d%", length="1-5").probability == pytest.approx(want, rel=1e-10)
    drawn = blend.sample(3000, random_state=0, length="3")
    three = {"".join(t): p for t, p in items.items() if len(t) == 3}
    z = sum(three.values())
    assert bf.chi_square_p(drawn, {t: p / z for t, p in three.items()}) > 1e-3


def test_mixture_at_the_ends_is_one_corpus():
    a, b = corpus("chars3"), corpus("chars4")
    for w, alone in ((1, "chars3"), (0, "chars4")):
        blend = blend_mixture(a, b, w, 2)
        single = model(alone, 2)
        assert as_table(blend.to_markovify_json()) == as_table(single.to_markovify_json())
        assert blend.vocabulary_ == single.vocabulary_
        assert blend.training_items_ == frozenset(corpus(alone).items)
    # Kneser-Ney: allowed (whole counts) at the ends, the very model of that corpus
    smoothed = blend_mixture(a, b, 1.0, 2, "kneser-ney")
    texts = ["ab", "ca", "dd", "bcab"]
    assert np.allclose(smoothed.log_prob_many(texts), model("chars3", 2, "kneser-ney").log_prob_many(texts))


def test_mixture_refuses_what_it_cannot_do():
    a, b = corpus("chars3"), corpus("chars4")
    with pytest.raises(TnaasError, match="whole-number counts"):
        blend_mixture(a, b, 0.4, 2, "kneser-ney")
    for bad in (-0.1, 1.5, float("nan"), "x", True):
        with pytest.raises(TnaasError, match="blend weight"):
            blend_mixture(a, b, bad, 2)
    with pytest.raises(TnaasError, match="same token kind"):
        blend_mixture(a, corpus("words5"), 0.5, 2)
    with pytest.raises(TnaasError, match="state size"):
        blend_mixture(a, b, 0.5, 9)


# ------------------------------------------------------------------------- product
def product_reference(a, b, k, smoothing, w, max_len):
    """Unnormalised weight p_A(x)^w p_B(x)^(1-w) of every item up to max_len tokens."""
    pa, pb = enumerated(a, k, smoothing, max_len), enumerated(b, k, smoothing, max_len)
    if w == 1:
        return dict(pa)
    if w == 0:
        return dict(pb)
    return {t: pa[t] ** w * pb[t] ** (1 - w) for t in pa.keys() & pb.keys()}


PRODUCT_CASES = [
    ("chars3", "chars4", 1, "none", 0.5),
    ("chars3", "chars4", 2, "none", 0.3),
    ("chars3", "chars4", 1, "kneser-ney", 0.7),
    ("chars3", "chars4", 2, "kneser-ney", 0.5),
    ("words5", "words5b", 1, "kneser-ney", 0.6),
    ("words5", "words5b", 2, "none", 0.5),
    ("acyclic", "chars3", 1, "none", 0.4),
    ("chars3", "chars4", 2, "kneser-ney", 1.0),
    ("chars3", "chars4", 1, "kneser-ney", 0.0),
]


@pytest.mark.parametrize(("a", "b", "k", "smoothing", "w"), PRODUCT_CASES)
def test_product_blend_matches_enumeration(a, b, k, smoothing, w):
    length = 5
    kind = corpus_items(a)[1]
    weights = product_reference(a, b, k, smoothing, w, length)
    z = sum(weights.values())
    blend = ProductBlend(model(a, k, smoothing), model(b, k, smoothing), w, max_length=length)
    assert blend.probability_within_bound == pytest.approx(z, rel=1e-10, abs=1e-14)
    texts = [bf.join(t, kind) for t in weights]
    assert np.allclose(blend.log_prob_many(texts), np.log([p / z for p in weights.values()]), rtol=0, atol=1e-10)
    best = sorted(weights.values(), reverse=True)[:6]
    top = blend.top(6)
    assert [row["probability"] for row in top] == pytest.approx([p / z for p in best], rel=1e-9)
    by_text = {bf.join(t, kind): p / z for t, p in weights.items()}
    assert all(row["probability"] == pytest.approx(by_text[row["text"]], rel=1e-9) for row in top)
    drawn = blend.sample(3000, random_state=11)
    assert bf.chi_square_p(drawn, by_text) > 1e-3


@pytest.mark.parametrize(("a", "b", "k", "smoothing", "w"), PRODUCT_CASES)
def test_product_truncation_bound_holds(a, b, k, smoothing, w):
    """What the bound leaves out (items of L+1..L+4 tokens, a lower bound on the true
    tail) never exceeds the reported bound; the bound is at most 1 - Z_L."""
    cap = 4 if corpus_items(a)[1] == "characters" else 3
    short = ProductBlend(model(a, k, smoothing), model(b, k, smoothing), w, max_length=cap)
    longer = product_reference(a, b, k, smoothing, w, cap + (4 if cap == 4 else 3))
    z_cap = sum(p for t, p in longer.items() if len(t) <= cap)
    left_out = sum(longer.values()) - z_cap
    assert short.probability_within_bound == pytest.approx(z_cap, rel=1e-10, abs=1e-14)
    assert left_out <= short.truncated_bound + 1e-14
    assert short.truncated_bound <= 1 - short.probability_within_bound + 1e-15
    if a == "acyclic":  # no acyclic item is longer than 4 tokens: nothing left out
        assert short.truncated_bound == 0
    elif smoothing == "kneser-ney":
        assert short.truncated_bound > 0


def test_product_at_w_1_is_model_a_within_the_bound():
    a, b = model("chars3", 2, "kneser-ney"), model("chars4", 2, "kneser-ney")
    blend = ProductBlend(a, b, 1.0, max_length=5)
    items = enumerated("chars3", 2, "kneser-ney", 5)
    z = sum(items.values())
    texts = ["ab", "cab", "abcab"]
    assert np.allclose(blend.log_prob_many(texts), a.log_prob_many(texts) - math.log(z), atol=1e-12)
    assert blend.log_prob("abcabc") == -math.inf  # beyond the bound
    assert blend.log_prob("ddd") == -math.inf  # d is not a token of A


def test_product_blend_is_seeded():
    blend = ProductBlend(model("chars3", 1), model("chars4", 1), 0.5, max_length=6)
    assert blend.sample(50, random_state=4) == blend.sample(50, random_state=4)
    assert blend.sample(50, random_state=4) != blend.sample(50, random_state=5)


def test_product_refuses_what_it_cannot_do():
    a, b = model("chars3", 1), model("chars4", 1)
    hmm = HMMModel(hidden_states=2, iterations=5, random_state=0).fit(corpus("chars3"))
    with pytest.raises(TnaasError, match="hidden paths"):
        ProductBlend(a, hmm, 0.5)
    with pytest.raises(TnaasError, match="same token kind"):
        ProductBlend(a, model("words5", 1), 0.5)
    for bad in (0, 401, 2.5):
        with pytest.raises(TnaasError, match="max_length"):
            ProductBlend(a, b, 0.5, max_length=bad)
    with pytest.raises(TnaasError, match="blend weight"):
        ProductBlend(a, b, 2.0)
    with pytest.raises(TnaasError, match="not fitted"):
        ProductBlend(a, MarkovModel(2), 0.5)
    # disjoint vocabularies: no item in common
    upper = MarkovModel(1).fit(corpus_from_items(["AB", "BA", "ABA", "B", "A"], "characters"))
    with pytest.raises(TnaasError, match="empty"):
        ProductBlend(a, upper, 0.5)


def test_product_refuses_an_oversized_lattice_naming_the_limit():
    from tnaas.data.corpus import load_bundled

    pokemon, tech = load_bundled("pokemon"), load_bundled("tech")
    big_a, big_b = MarkovModel(3, "kneser-ney").fit(pokemon), MarkovModel(3, "kneser-ney").fit(tech)
    with pytest.raises(TnaasError, match=f"{MAX_PRODUCT_EDGES:,} lattice edges"):
        ProductBlend(big_a, big_b, 0.5, max_length=30)
