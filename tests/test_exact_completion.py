"""`log_prob` and `complete()` are exact: checked against brute-force enumeration.

Tiny corpora (3-5 token vocabularies, characters, words and notes), state sizes 1-3, no
smoothing and Kneser-Ney. The references in `bruteforce.py` never touch the library's
automata, lattices or pattern DFAs.
"""

from __future__ import annotations

import functools
import itertools
import math

import bruteforce as bf
import numpy as np
import pytest

from tnaas.data.corpus import corpus_from_items
from tnaas.inference.automaton import Tempered
from tnaas.models.markov import MarkovModel

SMOOTHINGS = ("none", "kneser-ney")
STATE_SIZES = (1, 2, 3)
CYCLIC = ("chars3", "chars4", "words5", "notes3", "escapes")
UNIFORM_1_6 = {length: 1 / 6 for length in range(1, 7)}

FIXED_PATTERNS = {
    "chars3": ["*b*", "a**", "***", "ab", "c", "*", "*a", "b*c*"],
    "chars4": ["*b*", "a**", "***", "dab", "d*", "**d"],
    "words5": ["the * sat", "* cat *", "* * *", "the cat", "* sat", "a *"],
    "notes3": ["C4 * E4", "* * *", "E4 D4", "* C4"],
    "escapes": ["a\\**", "*\\%", "a\\\\b", "\\%b", "**", "b\\\\\\*", "***"],
    "acyclic": ["*b*", "a**", "****", "abd", "*d"],
}
GAP_PATTERNS = {
    "chars3": ["%b", "a%", "*%c", "%ab%", "%", "%a%b%", "c%a"],
    "chars4": ["%b", "a%", "*%d", "%ab%", "d%b"],
    "words5": ["% sat", "the %", "* % sat", "% cat sat %", "%"],
    "notes3": ["% E4", "C4 %", "* % C4", "% D4 E4 %"],
    "escapes": ["%\\*", "\\%%", "%\\\\%", "a%b", "*%*"],
    "acyclic": ["%b", "a%", "*%d", "%bc%", "%", "%cd", "b%d", "%a%"],
}


@functools.cache
def model(name: str, k: int, smoothing: str) -> MarkovModel:
    items, kind = bf.CORPORA[name]
    return MarkovModel(k, smoothing).fit(corpus_from_items(items, kind))


@functools.cache
def ref(name: str, k: int, smoothing: str):
    items, kind = bf.CORPORA[name]
    return bf.make_ref(items, kind, k, smoothing)


@functools.cache
def enumerated(name: str, k: int, smoothing: str, max_len: int, min_len: int = 0) -> dict:
    return bf.enumerate_items(ref(name, k, smoothing), max_len, min_len)


def kind_of(name: str) -> str:
    return bf.CORPORA[name][1]


def assert_exact(completion, items: dict, pattern: str, kind: str, vocabulary, top: int) -> dict:
    """Check p(pattern), every position's posterior and the top-k list against brute force
    over `items` (every item the query can produce, with its probability). Returns the
    brute-force posterior p(item | pattern) keyed by text."""
    total, posterior = bf.conditional(items, bf.matcher(pattern, kind, vocabulary))
    assert completion.probability == pytest.approx(total, rel=1e-9, abs=1e-300)
    assert total > 0, "test patterns are chosen to be possible"
    assert completion.method == "exact" and completion.top_complete and completion.matches

    want = bf.positions(posterior, pattern, kind)
    got = {p["index"]: p["distribution"] for p in completion.positions}
    assert sorted(got) == sorted(want)
    for i, dist in want.items():
        assert set(got[i]) == set(dist), f"position {i}"
        for token, p in dist.items():
            assert got[i][token] == pytest.approx(p, abs=1e-9), f"position {i}, token {token!r}"

    by_text = {bf.join(tokens, kind): p for tokens, p in posterior.items()}
    listed = [row["probability"] for row in completion.top]
    texts = [row["text"] for row in completion.top]
    assert len(texts) == len(set(texts)) == min(top, len(by_text))
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(listed)), "descending"
    for text, p in zip(texts, listed):
        assert text in by_text, f"{text!r} does not match {pattern!r}"
        assert p == pytest.approx(by_text[text], rel=1e-9)
    # Ties may be broken either way: compare the multiset of the best probabilities.
    best = sorted(by_text.values(), reverse=True)[: len(listed)]
    assert listed == pytest.approx(best, rel=1e-9)
    return by_text


# ------------------------------------------------------------------------ log_prob
@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("k", STATE_SIZES)
@pytest.mark.parametrize("name", sorted(bf.CORPORA))
def test_log_prob_matches_reference(name, k, smoothing):
    items, kind = bf.CORPORA[name]
    m, r = model(name, k, smoothing), ref(name, k, smoothing)
    candidates = [seq for n in range(5) for seq in itertools.product(r.vocabulary, repeat=n)]
    candidates += [tuple(run) for run in bf.runs_of(items, kind)]
    candidates.append((*r.vocabulary[:1], "zz"))  # an unknown token: probability 0 everywhere
    got = m.log_prob_many([bf.join(seq, kind) for seq in candidates])
    for seq, value in zip(candidates, got):
        want = bf.log_prob(r, seq)
        if math.isinf(want):
            assert value == -math.inf, seq
        else:
            assert value == pytest.approx(want, abs=1e-9), seq
    assert got[0] == -math.inf  # the empty item: no training item is empty, smoothed or not
    assert np.isfinite(got[1 : len(candidates) - 1]).all() == (smoothing == "kneser-ney")


# --------------------------------------------------------------- fixed-length patterns
FIXED_CASES = [(n, p) for n, patterns in FIXED_PATTERNS.items() for p in patterns]


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("k", STATE_SIZES)
@pytest.mark.parametrize(("name", "pattern"), FIXED_CASES)
def test_fixed_length_pattern(name, pattern, k, smoothing):
    m = model(name, k, smoothing)
    length = len(bf.parse_pattern_ref(pattern, kind_of(name)))
    items = enumerated(name, k, smoothing, length, length)
    accepts = bf.matcher(pattern, kind_of(name), m.vocabulary_)
    total = sum(p for t, p in items.items() if accepts(t))
    if total == 0:  # only the unsmoothed chain has impossible patterns: a clear zero
        completion = m.complete(pattern, samples=5, random_state=0)
        assert smoothing == "none" and completion.probability == 0 and not completion.matches
        assert completion.top == completion.samples == completion.positions == []
        # The library's message is model-neutral; the service adds the registry's remedy.
        assert "probability is 0" in completion.message and "kneser" not in completion.message.lower()
        return
    completion = m.complete(pattern, top=6)
    assert completion.truncated_mass == 0 and completion.method == "exact"
    assert_exact(completion, items, pattern, kind_of(name), m.vocabulary_, 6)


# ------------------------------------------------------------------- gap patterns
ACYCLIC_CASES = [(p, k) for p in GAP_PATTERNS["acyclic"] for k in STATE_SIZES]


@pytest.mark.parametrize(("pattern", "k"), ACYCLIC_CASES)
def test_gap_pattern_on_acyclic_chain_is_exact(pattern, k):
    """No cycle: every item has at most 4 tokens, so the lattice leaves nothing out."""
    m = model("acyclic", k, "none")
    items = enumerated("acyclic", k, "none", 6)
    assert max(len(t) for t in items) <= 4 < m.max_length_
    completion = m.complete(pattern, top=8)
    assert completion.truncated_mass == 0
    assert_exact(completion, items, pattern, "characters", m.vocabulary_, 8)


GAP_CASES = [(n, p) for n in CYCLIC for p in GAP_PATTERNS[n]]


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("k", STATE_SIZES)
@pytest.mark.parametrize(("name", "pattern"), GAP_CASES)
def test_gap_pattern_with_bounded_lengths(name, pattern, k, smoothing):
    """Cyclic chains, lengths uniform on 1-6: enumerating every item up to 6 tokens is exact."""
    m = model(name, k, smoothing)
    items = bf.length_conditioned(enumerated(name, k, smoothing, 6), UNIFORM_1_6)
    completion = m.complete(pattern, top=8, length="1-6")
    assert completion.truncated_mass == 0
    assert_exact(completion, items, pattern, kind_of(name), m.vocabulary_, 8)


TRUNCATION_CASES = [
    ("chars3", "%b"),
    ("chars3", "a%"),
    ("chars3", "*%c"),
    ("chars3", "%ab%"),
    ("words5", "% cat sat %"),
    ("notes3", "* % C4"),
]


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("k", (1, 2))
@pytest.mark.parametrize(("name", "pattern"), TRUNCATION_CASES)
def test_gap_pattern_truncation_is_bounded(name, pattern, k, smoothing):
    """Natural lengths on a cyclic chain: the lattice stops at `max_length_` tokens; what it
    reports is exactly the mass up to there, and `truncated_mass` bounds the rest."""
    m, r = model(name, k, smoothing), ref(name, k, smoothing)
    completion = m.complete(pattern, top=3)
    cap = m.max_length_
    assert completion.max_length == cap
    upto_cap, running = bf.pattern_mass_dp(r, pattern, kind_of(name), cap)
    assert completion.probability == pytest.approx(upto_cap, rel=1e-9)
    assert completion.truncated_mass == pytest.approx(running, rel=1e-9, abs=1e-300)
    truth, still_running = bf.pattern_mass_dp(r, pattern, kind_of(name), cap + 150)
    assert still_running < 1e-13
    left_out = truth - completion.probability
    assert 0 <= left_out + 1e-15
    assert left_out <= completion.truncated_mass + 1e-15
    if smoothing == "kneser-ney" or name == "chars3":
        assert completion.truncated_mass > 0  # these chains loop: the bound is not vacuous


# ------------------------------------------------------------------------ samples
SAMPLE_CASES = [
    ("chars3", "*b*", None, 1, "none"),
    ("chars3", "a**", None, 2, "kneser-ney"),
    ("chars3", "*%c", "1-6", 1, "none"),
    ("chars3", "%ab%", "1-6", 2, "kneser-ney"),
    ("words5", "* % sat", "1-6", 1, "kneser-ney"),
    ("acyclic", "a%", None, 1, "none"),
    ("acyclic", "%cd", None, 2, "none"),
]


@pytest.mark.parametrize(("name", "pattern", "length", "k", "smoothing"), SAMPLE_CASES)
def test_samples_follow_the_posterior(name, pattern, length, k, smoothing):
    m = model(name, k, smoothing)
    kind = kind_of(name)
    if length is None:
        fixed = len(bf.parse_pattern_ref(pattern, kind)) if not bf.is_gap_pattern(pattern, kind) else None
        items = enumerated(name, k, smoothing, fixed or 6, fixed or 0)
    else:
        items = bf.length_conditioned(enumerated(name, k, smoothing, 6), UNIFORM_1_6)
    _, posterior = bf.conditional(items, bf.matcher(pattern, kind, m.vocabulary_))
    expected = {bf.join(t, kind): p for t, p in posterior.items()}
    first = m.complete(pattern, top=0, samples=3000, random_state=7, length=length)
    again = m.complete(pattern, top=0, samples=3000, random_state=7, length=length)
    assert first.samples == again.samples, "the same seed gives the same draws"
    assert len(first.samples) == 3000
    assert bf.chi_square_p(first.samples, expected) > 1e-3


# --------------------------------------------------------------------- temperature
@pytest.mark.parametrize("temperature", (0.3, 0.5, 2.0, 7.0))
@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("k", STATE_SIZES)
def test_tempered_rows_sum_to_one(k, smoothing, temperature):
    m = model("chars4", k, smoothing)
    # Unsmoothed, only the full-order trie nodes are states; smoothed, every node is.
    states = np.arange(m.automaton_.n_states)
    if smoothing == "none":
        states = states[m.trie_.order == k]
    tempered = Tempered(m.automaton_, temperature)
    edges = tempered.expand(states)
    rows = np.bincount(edges.src, weights=edges.prob, minlength=len(states)) + tempered.end_prob(states)
    np.testing.assert_allclose(rows, 1.0, rtol=0, atol=1e-12)
    start_states, start_probs = tempered.start()
    assert start_probs.sum() == pytest.approx(1.0)


TEMPERATURE_CASES = [
    ("chars3", "*b*", None),
    ("chars3", "a**", None),
    ("chars3", "%ab%", "1-6"),
    ("words5", "* % sat", "1-6"),
    ("escapes", "a\\**", None),
]


@pytest.mark.parametrize("temperature", (0.5, 2.0))
@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("k", (1, 2))
@pytest.mark.parametrize(("name", "pattern", "length"), TEMPERATURE_CASES)
def test_tempered_completion(name, pattern, length, k, smoothing, temperature):
    """At temperature T the answer is brute force over p**(1/T), renormalised per state."""
    m, kind = model(name, k, smoothing), kind_of(name)
    hot = bf.TemperedRef(ref(name, k, smoothing), temperature)
    if length is None:
        n = len(bf.parse_pattern_ref(pattern, kind))
        items = bf.enumerate_items(hot, n, n)
    else:
        items = bf.length_conditioned(bf.enumerate_items(hot, 6), UNIFORM_1_6)
    completion = m.complete(pattern, top=5, length=length, temperature=temperature)
    assert_exact(completion, items, pattern, kind, m.vocabulary_, 5)
    assert completion.probability != pytest.approx(m.complete(pattern, length=length).probability, rel=1e-6)


def test_tempered_sampling_matches_reference():
    m = model("chars3", 1, "kneser-ney")
    hot = bf.TemperedRef(ref("chars3", 1, "kneser-ney"), 0.5)
    expected = {bf.join(t, "characters"): p for t, p in bf.enumerate_items(hot, 3, 3).items()}
    total = sum(expected.values())
    drawn = m.sample(3000, random_state=3, temperature=0.5, length="3")
    assert bf.chi_square_p(drawn, {t: p / total for t, p in expected.items()}) > 1e-3


# -------------------------------------------------------------- the references themselves
def test_enumeration_sums_to_one_on_the_acyclic_chain():
    for k in STATE_SIZES:
        items = enumerated("acyclic", k, "none", 6)
        assert sum(items.values()) == pytest.approx(1.0, abs=1e-12)


def test_dp_agrees_with_enumeration():
    """The dictionary forward pass used for long gap patterns equals enumeration where both run."""
    for smoothing in SMOOTHINGS:
        r = ref("chars3", 2, smoothing)
        items = enumerated("chars3", 2, smoothing, 6)
        for pattern in GAP_PATTERNS["chars3"]:
            total, _ = bf.conditional(items, bf.matcher(pattern, "characters", r.vocabulary))
            assert bf.pattern_mass_dp(r, pattern, "characters", 6)[0] == pytest.approx(total, rel=1e-12)
