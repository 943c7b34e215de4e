"""Invariants of `complete()` over random tiny corpora and random patterns (hypothesis).

Each example also checks p(pattern) itself: against a dictionary forward pass under the
natural length distribution, and against enumeration under a bounded one.
"""

from __future__ import annotations

import bruteforce as bf
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tnaas.data.corpus import corpus_from_items
from tnaas.errors import TnaasError
from tnaas.inference.completion import END_KEY
from tnaas.models.markov import MarkovModel

corpora = st.lists(st.text(alphabet="abc", min_size=1, max_size=4), min_size=5, max_size=8)
patterns = st.lists(st.sampled_from(["a", "b", "c", "*", "%"]), min_size=1, max_size=4).map("".join)
state_sizes = st.integers(min_value=1, max_value=3)
smoothings = st.sampled_from(["none", "kneser-ney"])
lengths = st.sampled_from([None, None, "1-5", "3", "2-4", "corpus"])
# Derandomized: the same examples on every run (fixed seeds), and no example database on disk.
SETTINGS = settings(
    max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def target_lengths(spec: str, items: list[str]) -> dict[int, float]:
    if spec == "corpus":
        return {n: sum(len(x) == n for x in items) / len(items) for n in {len(x) for x in items}}
    low, _, high = spec.partition("-")
    span = range(int(low), int(high or low) + 1)
    return {n: 1 / len(span) for n in span}


@SETTINGS
@given(corpora, state_sizes, smoothings, patterns, lengths)
def test_completion_invariants(items, k, smoothing, pattern, length):
    corpus = corpus_from_items(items, "characters")
    model = MarkovModel(k, smoothing).fit(corpus)
    ref = bf.make_ref(corpus.items, "characters", k, smoothing)
    accepts = bf.matcher(pattern, "characters", model.vocabulary_)
    if any(e == "literal" and t not in model.vocabulary_ for e, t in bf.parse_pattern_ref(pattern, "characters")):
        with pytest.raises(TnaasError, match="never appears"):
            model.complete(pattern, length=length)
        return

    # The exact answer, from the references.
    if length is None:
        want, _ = bf.pattern_mass_dp(ref, pattern, "characters", model.max_length_)
    else:
        target = target_lengths(length, list(corpus.items))
        everything = bf.enumerate_items(ref, max(target))
        if not any(n in target for n in bf.length_mass(everything)):
            with pytest.raises(TnaasError, match="length"):
                model.complete(pattern, length=length)
            return
        want, _ = bf.conditional(bf.length_conditioned(everything, target), accepts)

    completion = model.complete(pattern, top=5, samples=25, random_state=0, length=length)
    p = completion.probability
    assert 0 <= p <= 1 + 1e-12
    assert p == pytest.approx(want, rel=1e-9, abs=1e-300)
    if p == 0:
        assert completion.positions == completion.top == completion.samples == []
        assert "probability is 0" in completion.message
        assert "moothing" not in completion.message  # model-neutral: the service adds the remedy
        assert smoothing == "none" or length is not None, "smoothing makes every pattern possible"
        return

    for position in completion.positions:
        dist = position["distribution"]
        assert sum(dist.values()) == pytest.approx(1.0, abs=1e-9), position
        assert all(0 < q <= 1 + 1e-12 for q in dist.values())
        assert set(dist) <= set(model.vocabulary_) | {END_KEY}
    listed = [row["probability"] for row in completion.top]
    assert 1 <= len(listed) <= 5
    assert all(a >= b - 1e-12 for a, b in zip(listed, listed[1:]))
    assert all(0 < q <= 1 + 1e-12 for q in listed) and sum(listed) <= 1 + 1e-9
    assert len({row["text"] for row in completion.top}) == len(listed)
    for text in [row["text"] for row in completion.top] + completion.samples:
        assert accepts(tuple(text)), (pattern, text)
    assert len(completion.samples) == 25
    if length is not None:
        assert {len(s) for s in completion.samples} <= set(target)
    if pattern.replace("%", "") == "" and length is None:  # `%`: what is left out is the tail
        assert p + completion.truncated_mass == pytest.approx(1.0, abs=1e-9)


@SETTINGS
@given(corpora, state_sizes, smoothings, st.lists(st.sampled_from(["a", "b", "*"]), min_size=1, max_size=4))
def test_a_star_is_the_sum_of_its_tokens(items, k, smoothing, elements):
    """p(... * ...) = sum over tokens t of p(... t ...): the `*` class covers every token once."""
    model = MarkovModel(k, smoothing).fit(corpus_from_items(items, "characters"))
    if not {"a", "b"} <= set(model.vocabulary_) or "*" not in elements:
        return
    i = elements.index("*")
    whole = model.complete("".join(elements), top=0).probability
    parts = [
        model.complete("".join([*elements[:i], t, *elements[i + 1 :]]), top=0).probability for t in model.vocabulary_
    ]
    assert whole == pytest.approx(sum(parts), rel=1e-9, abs=1e-300)


@SETTINGS
@given(corpora, state_sizes, smoothings)
def test_next_token_distribution_sums_to_one(items, k, smoothing):
    model = MarkovModel(k, smoothing).fit(corpus_from_items(items, "characters"))
    for prefix in ["", items[0][:1], items[0][:2], items[-1]]:
        dist = model.next_token_distribution(prefix)
        if dist:
            assert sum(dist.values()) == pytest.approx(1.0, abs=1e-12)
    assert np.isfinite(model.log_prob_many(items)).all()
