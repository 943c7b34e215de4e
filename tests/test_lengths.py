"""Length-conditioned generation and completion: p(T) = p(T | λ) p(λ), checked by brute force.

p(T | λ) is the chain's probability of T divided by the chain's total probability of
length-λ items; p(λ) is the requested distribution, renormalised over the lengths the chain
can produce at all.
"""

from __future__ import annotations

import functools
from collections import Counter

import bruteforce as bf
import numpy as np
import pytest

from tnaas.data.corpus import corpus_from_items
from tnaas.errors import TnaasError
from tnaas.inference.lengths import chain_length_probs, custom_length
from tnaas.models.markov import MarkovModel

SMOOTHINGS = ("none", "kneser-ney")


@functools.cache
def model(name: str, k: int, smoothing: str) -> MarkovModel:
    items, kind = bf.CORPORA[name]
    return MarkovModel(k, smoothing).fit(corpus_from_items(items, kind))


@functools.cache
def enumerated(name: str, k: int, smoothing: str, max_len: int, min_len: int = 0) -> dict:
    items, kind = bf.CORPORA[name]
    return bf.enumerate_items(bf.make_ref(items, kind, k, smoothing), max_len, min_len)


def corpus_histogram(name: str) -> dict[int, float]:
    items, kind = bf.CORPORA[name]
    lengths = Counter(len(run) for run in bf.runs_of(items, kind))
    return {length: count / len(items) for length, count in lengths.items()}


def texts(items: dict, kind: str) -> dict[str, float]:
    return {bf.join(t, kind): p for t, p in items.items()}


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("k", (1, 2, 3))
@pytest.mark.parametrize("name", ("chars3", "words5", "acyclic"))
def test_chain_length_distribution(name, k, smoothing):
    """p_chain(λ) from the lattice equals the enumerated mass of each length."""
    want = bf.length_mass(enumerated(name, k, smoothing, 6))
    got = chain_length_probs(model(name, k, smoothing).automaton_, 6)
    np.testing.assert_allclose(got, [want.get(n, 0.0) for n in range(7)], rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize(
    ("name", "k", "smoothing"), [("chars3", 1, "none"), ("chars3", 2, "kneser-ney"), ("words5", 1, "kneser-ney")]
)
def test_sample_fixed_length(name, k, smoothing):
    kind = bf.CORPORA[name][1]
    items = enumerated(name, k, smoothing, 5, 5)
    total = sum(items.values())
    drawn = model(name, k, smoothing).sample(4000, random_state=11, length="5")
    assert {len(bf.runs_of([d], kind)[0]) for d in drawn} == {5}
    assert bf.chi_square_p(drawn, {t: p / total for t, p in texts(items, kind).items()}) > 1e-3


@pytest.mark.parametrize(
    ("name", "k", "smoothing"), [("chars3", 1, "none"), ("chars3", 2, "kneser-ney"), ("notes3", 2, "none")]
)
def test_sample_corpus_lengths(name, k, smoothing):
    """Lengths follow the corpus histogram; within each length, items follow p(T | λ)."""
    kind = bf.CORPORA[name][1]
    drawn = model(name, k, smoothing).sample(6000, random_state=5, length="corpus")
    lengths = [len(bf.runs_of([d], kind)[0]) for d in drawn]
    histogram = corpus_histogram(name)
    assert bf.chi_square_p([str(n) for n in lengths], {str(n): p for n, p in histogram.items()}) > 1e-3
    for length in histogram:
        items = enumerated(name, k, smoothing, length, length)
        total = sum(items.values())
        these = [d for d, n in zip(drawn, lengths) if n == length]
        assert bf.chi_square_p(these, {t: p / total for t, p in texts(items, kind).items()}) > 1e-3


def test_natural_sampling_matches_the_chain():
    """Without a length distribution, items follow the chain itself (acyclic: enumerable)."""
    items = texts(enumerated("acyclic", 2, "none", 6), "characters")
    drawn = model("acyclic", 2, "none").sample(4000, random_state=2)
    assert bf.chi_square_p(drawn, items) > 1e-3


def test_natural_sampling_matches_the_smoothed_chain():
    """Kneser-Ney loops forever in principle: items longer than 3 tokens share one bin."""
    items = texts(enumerated("chars3", 2, "kneser-ney", 3), "characters")
    expected = {**items, "<longer>": 1 - sum(items.values())}
    drawn = model("chars3", 2, "kneser-ney").sample(4000, random_state=4)
    assert bf.chi_square_p([d if len(d) <= 3 else "<longer>" for d in drawn], expected) > 1e-3


LENGTH_CASES = [
    ("chars3", "*b*", "3"),
    ("chars3", "*b*", "2-4"),
    ("chars3", "a%", "2-4"),
    ("chars3", "%ab%", "corpus"),
    ("chars3", "*%c", "1-6"),
    ("words5", "the %", "corpus"),
    ("words5", "* % sat", "2-5"),
    ("notes3", "% E4", "1-4"),
    ("acyclic", "a%", "1-6"),  # lengths 5 and 6 are impossible: renormalised over 1-4
    ("acyclic", "%d", "3-9"),
]


def target_of(name: str, spec: str) -> dict[int, float]:
    if spec == "corpus":
        return corpus_histogram(name)
    low, _, high = spec.partition("-")
    span = range(int(low), int(high or low) + 1)
    return {n: 1 / len(span) for n in span}


# Smoothing makes every length possible, so the acyclic corpus is only interesting without.
COMPLETE_CASES = [
    (*case, k, smoothing)
    for case in LENGTH_CASES
    for k in (1, 2)
    for smoothing in SMOOTHINGS
    if case[0] != "acyclic" or smoothing == "none"
]


@pytest.mark.parametrize(("name", "pattern", "spec", "k", "smoothing"), COMPLETE_CASES)
def test_complete_with_a_length_distribution(name, pattern, spec, k, smoothing):
    m, kind = model(name, k, smoothing), bf.CORPORA[name][1]
    target = target_of(name, spec)
    items = bf.length_conditioned(enumerated(name, k, smoothing, max(target)), target)
    assert sum(items.values()) == pytest.approx(1.0, abs=1e-12)
    total, posterior = bf.conditional(items, bf.matcher(pattern, kind, m.vocabulary_))
    completion = m.complete(pattern, top=5, samples=0, length=spec)
    assert completion.probability == pytest.approx(total, rel=1e-9)
    assert completion.truncated_mass == 0
    best = sorted(posterior.values(), reverse=True)[:5]
    assert [row["probability"] for row in completion.top] == pytest.approx(best, rel=1e-9)
    by_text = texts(posterior, kind)
    for row in completion.top:
        assert row["probability"] == pytest.approx(by_text[row["text"]], rel=1e-9)


def test_peaked_length_distribution():
    """A `LengthDistribution` object works too: the triangular 2-4 is 1/4, 1/2, 1/4."""
    m = model("chars3", 1, "kneser-ney")
    target = {2: 0.25, 3: 0.5, 4: 0.25}
    items = bf.length_conditioned(enumerated("chars3", 1, "kneser-ney", 4), target)
    total, _ = bf.conditional(items, bf.matcher("%b%", "characters", m.vocabulary_))
    assert m.complete("%b%", length=custom_length(2, 4, "peaked")).probability == pytest.approx(total, rel=1e-9)
    drawn = m.sample(3000, random_state=9, length=custom_length(2, 4, "peaked"))
    assert bf.chi_square_p([str(len(d)) for d in drawn], {str(n): p for n, p in target.items()}) > 1e-3


def test_renormalised_lengths_only_give_possible_lengths():
    drawn = model("acyclic", 1, "none").sample(2000, random_state=0, length="3-9")
    assert Counter(len(d) for d in drawn).keys() <= {3, 4}
    # p(3) and p(4) were 1/7 each, renormalised to 1/2 each.
    assert bf.chi_square_p([str(len(d)) for d in drawn], {"3": 0.5, "4": 0.5}) > 1e-3


@pytest.mark.parametrize("spec", ("7", "5-9"))
def test_impossible_length_is_a_clear_error(spec):
    m = model("acyclic", 2, "none")  # no item is longer than 4 tokens
    with pytest.raises(TnaasError, match="length"):
        m.sample(3, random_state=0, length=spec)
    with pytest.raises(TnaasError, match="length"):
        m.complete("a%", length=spec)


@pytest.mark.parametrize("spec", ("0", "5-3", "0-4", "abc", "401", "1-401", "-2", "", "3.5"))
def test_bad_length_spec_is_a_clear_error(spec):
    m = model("chars3", 1, "none")
    with pytest.raises(TnaasError):
        m.sample(3, random_state=0, length=spec)
    with pytest.raises(TnaasError):
        m.complete("a%", length=spec)


def test_fixed_pattern_longer_than_every_allowed_length_has_probability_zero():
    completion = model("chars3", 1, "kneser-ney").complete("****", length="1-3")
    assert completion.probability == 0 and completion.message
