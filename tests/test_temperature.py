"""Temperature, defined once for every model: per step, p(next token | prefix)^(1/T),
renormalised (END included); a tempered item's probability is the product over its steps.

For the HMM the reference is brute force: p(the item starts with a prefix) summed over
every hidden path, from the fitted π, A, B, so each tempered step comes from exact
marginals without any of tnaas's forward code.
"""

from __future__ import annotations

import itertools
import math

import bruteforce as bf
import numpy as np
import pytest
from scipy.stats import chisquare

from tnaas.data.corpus import corpus_from_items
from tnaas.errors import TnaasError
from tnaas.inference.automaton import Edges, Tempered, temper
from tnaas.inference.completion import END_KEY
from tnaas.models.hmm import HMMModel
from tnaas.models.markov import MarkovModel

ITEMS = ["ab", "abc", "ba", "cab", "a", "bb", "cc", "acb", "b", "ca", "abca", "bac", "cba", "aab"]
TINY = corpus_from_items(ITEMS, "characters")
MAX_LEN = 4


@pytest.fixture(scope="module")
def tiny():
    return HMMModel(hidden_states=3, iterations=4, random_state=1).fit(TINY)


# --------------------------------------------------------------------- brute force
def prefix_mass(model: HMMModel, text: str) -> float:
    """p(the item starts with `text`): Σ over h1..h(n+1) of π(h1) Π B(ht, xt) A(ht, ht+1)."""
    pi, a, b = model.startprob_, model.transmat_, model.emissionprob_
    ids = [model.vocabulary_.index(ch) for ch in text]
    paths = np.array(list(itertools.product(range(len(pi)), repeat=len(ids) + 1)))
    p = pi[paths[:, 0]]
    for t, x in enumerate(ids):
        p = p * b[paths[:, t], x] * a[paths[:, t], paths[:, t + 1]]
    return float(p.sum())


def item_mass(model: HMMModel, text: str) -> float:
    """p(the item is exactly `text`): the prefix mass, ended by B(h(n+1), END)."""
    pi, a, b = model.startprob_, model.transmat_, model.emissionprob_
    ids = [model.vocabulary_.index(ch) for ch in text]
    paths = np.array(list(itertools.product(range(len(pi)), repeat=len(ids) + 1)))
    p = pi[paths[:, 0]] * b[paths[:, len(ids)], -1]
    for t, x in enumerate(ids):
        p = p * b[paths[:, t], x] * a[paths[:, t], paths[:, t + 1]]
    return float(p.sum())


def tempered_step(model: HMMModel, prefix: str, temperature: float) -> dict[str, float]:
    """p(next | prefix)^(1/T), renormalised, from brute-force marginals (END as END_KEY)."""
    base = prefix_mass(model, prefix)
    p = {t: prefix_mass(model, prefix + t) / base for t in model.vocabulary_}
    p[END_KEY] = item_mass(model, prefix) / base
    weights = {t: q ** (1 / temperature) for t, q in p.items() if q > 0}
    total = sum(weights.values())
    return {t: w / total for t, w in weights.items()}


def tempered_items(model: HMMModel, temperature: float, max_len: int = MAX_LEN) -> dict[str, float]:
    """The tempered probability of every item up to `max_len` tokens: Π of tempered steps."""
    out = {}
    for n in range(max_len + 1):
        for chars in itertools.product(model.vocabulary_, repeat=n):
            text, p = "".join(chars), 1.0
            for i in range(n):
                p *= tempered_step(model, text[:i], temperature).get(text[i], 0.0)
            out[text] = p * tempered_step(model, text, temperature).get(END_KEY, 0.0)
    return out


def chi_square_p(samples: list[str], probs: dict[str, float]) -> float:
    """p-value of the samples against `probs`; bins under 5 expected draws and the rest
    of the probability are pooled into one bin."""
    n = len(samples)
    counts = {s: 0 for s in probs}
    other = 0
    for s in samples:
        if s in counts:
            counts[s] += 1
        else:
            other += 1
    observed, expected = [], []
    pooled_o, pooled_e = other, max(0.0, 1.0 - sum(probs.values())) * n
    for s, p in probs.items():
        if p * n >= 5:
            observed.append(counts[s])
            expected.append(p * n)
        else:
            pooled_o, pooled_e = pooled_o + counts[s], pooled_e + p * n
    observed.append(pooled_o)
    expected.append(pooled_e)
    return float(chisquare(observed, np.array(expected) * n / sum(expected)).pvalue)


# ------------------------------------------------------------------------- the HMM
@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_hmm_next_token_distribution_is_the_tempered_marginal(tiny, temperature):
    for n in range(3):
        for chars in itertools.product(tiny.vocabulary_, repeat=n):
            prefix = "".join(chars)
            want = tempered_step(tiny, prefix, temperature)
            got = tiny.next_token_distribution(prefix, temperature=temperature)
            assert got.keys() == want.keys()
            for token, p in want.items():
                assert got[token] == pytest.approx(p, abs=1e-12), (prefix, token)


@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_hmm_tempered_log_prob_is_the_product_of_tempered_steps(tiny, temperature):
    want = tempered_items(tiny, temperature)
    got = tiny.tempered_log_prob_many(list(want), temperature)
    np.testing.assert_allclose(got, np.log(list(want.values())), rtol=0, atol=1e-9)
    assert tiny.tempered_log_prob_many(["abz"], temperature)[0] == -math.inf


@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_hmm_tempered_samples_follow_the_per_step_definition(tiny, temperature):
    want = tempered_items(tiny, temperature)
    samples = tiny.sample(20_000, random_state=4, temperature=temperature)
    assert chi_square_p(samples, want) > 1e-3


def test_hmm_tempering_the_marginal_is_not_tempering_the_hidden_edges(tiny):
    # What the automaton's edges tempered would give for p(END | "ab"): a different number,
    # so the samples above tell the two definitions apart.
    edges = Tempered(tiny.automaton_, 0.5)
    ids = np.array([tiny.vocabulary_.index(ch) for ch in "ab"])
    weights = edges.start()[1].copy()
    states = edges.start()[0]
    for token in ids:
        step = edges.expand(states, np.array([token]))
        weights = np.bincount(step.dst, weights=weights[step.src] * step.prob, minlength=edges.n_states)
        states = np.arange(edges.n_states)
    joint_end = float((weights * edges.end_prob(states)).sum() / weights.sum())
    right = tempered_step(tiny, "ab", 0.5)[END_KEY]
    assert tiny.next_token_distribution("ab", temperature=0.5)[END_KEY] == pytest.approx(right, abs=1e-12)
    assert abs(joint_end - right) > 0.02


def test_hmm_temperature_one_is_the_model_itself(tiny):
    assert tiny.sample(300, random_state=6, temperature=1) == tiny.sample(300, random_state=6)
    items = ["", "a", "abca", "cc"]
    np.testing.assert_allclose(tiny.tempered_log_prob_many(items, 1.0), tiny.log_prob_many(items), atol=1e-12)
    assert tiny.next_token_distribution("ab", temperature=1.0) == tiny.next_token_distribution("ab")


def test_hmm_exact_queries_at_another_temperature_are_refused(tiny):
    with pytest.raises(TnaasError, match="temperature 1"):
        tiny.complete("a*", temperature=0.5)
    with pytest.raises(TnaasError, match="temperature 1"):
        tiny.sample(5, random_state=0, temperature=0.5, length="3")
    with pytest.raises(TnaasError, match="temperature 1"):
        temper(tiny.automaton_, 2.0)
    assert tiny.complete("a*", temperature=1.0).matches
    assert len(tiny.sample(5, random_state=0, temperature=1.0, length="3")) == 5


def test_hmm_tempered_sampling_is_seeded_and_sharpens(tiny):
    assert tiny.sample(50, random_state=9, temperature=0.5) == tiny.sample(50, random_state=9, temperature=0.5)
    best = max(tempered_items(tiny, 1.0).items(), key=lambda kv: kv[1])[0]
    cold = tiny.sample(3000, random_state=1, temperature=0.3).count(best)
    warm = tiny.sample(3000, random_state=1, temperature=1.0).count(best)
    assert cold > warm


# ---------------------------------------------------------------- the Markov chain
@pytest.mark.parametrize("smoothing", ["none", "kneser-ney"])
@pytest.mark.parametrize("temperature", [0.5, 3.0])
def test_markov_next_token_distribution_is_the_tempered_reference(smoothing, temperature):
    items, kind = bf.CORPORA["chars3"]
    model = MarkovModel(2, smoothing).fit(corpus_from_items(items, kind))
    ref = bf.TemperedRef(bf.make_ref(items, kind, 2, smoothing), temperature)
    for n in range(3):
        for prefix in itertools.product(ref.vocabulary, repeat=n):
            want = {(END_KEY if t == bf.END else t): p for t, p in ref.dist(bf.context_of(prefix, 2)).items()}
            got = model.next_token_distribution("".join(prefix), temperature=temperature)
            if not got:  # a prefix the unsmoothed chain cannot produce
                assert smoothing == "none"
                continue
            assert got.keys() == want.keys()
            for token, p in want.items():
                assert got[token] == pytest.approx(p, abs=1e-12)


# ----------------------------------------------------- tempering works from the logs
class _OneState:
    """An automaton with one state: token 0 with probability 1 - e^-800 (printed as 1),
    token 1 with e^-800 (0 as a float, finite as a log), and ending with probability 0."""

    vocabulary = ("x", "y")
    n_states = 1

    def start(self):
        return np.array([0]), np.array([1.0])

    def expand(self, states, tokens=None):
        n = len(states)
        log_prob = np.tile([math.log1p(-math.exp(-800)), -800.0], n)
        edges = Edges(
            np.repeat(np.arange(n), 2), np.tile([0, 1], n), np.zeros(2 * n, dtype=np.int64), np.exp(log_prob), log_prob
        )
        return edges if tokens is None else edges.take(np.isin(edges.token, tokens))

    def end_prob(self, states):
        return np.zeros(len(states))


def test_tempering_keeps_an_option_whose_probability_underflows():
    hot = Tempered(_OneState(), 100.0)
    edges = hot.expand(np.array([0]))
    # p^(1/T) for p = e^-800 at T = 100 is e^-8: it must not vanish with the float 0.
    weights = np.array([1.0, math.exp(-8)])
    np.testing.assert_allclose(edges.prob, weights / weights.sum(), rtol=1e-12)
    np.testing.assert_allclose(edges.log_probs(), np.log(weights / weights.sum()), rtol=1e-12)
