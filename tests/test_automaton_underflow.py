"""Forward passes that no underflow can break: log_prob and next-token distributions on
items whose probability is far below e^-745 (the smallest positive double).

References: a plain log-space forward written here with scipy's logsumexp, hmmlearn's
own `score` of the item followed by END, and, for the Markov chain, the same chain after
the last few tokens (its state depends on nothing else).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import logsumexp

from tnaas.data.corpus import corpus_from_items, load_bundled
from tnaas.inference.automaton import prefix_log_states
from tnaas.inference.completion import END_KEY
from tnaas.models import make_model
from tnaas.models.hmm import HMMAutomaton, HMMModel

ITEMS = ["ab", "abc", "ba", "cab", "a", "bb", "cc", "acb", "b", "ca", "abca", "bac", "cba", "aab"]
TINY = corpus_from_items(ITEMS, "characters")


def harsh_hmm(seed: int, hidden: int = 4) -> HMMModel:
    """An HMM over {a, b, c} whose parameters are half plausible, half 1e-160..1e-300.

    Such entries are normal after EM; products of two of them underflow to 0 while the
    path through them can be the likeliest a few tokens later.
    """
    model = HMMModel(hidden_states=hidden, iterations=1, random_state=0).fit(TINY)
    rng = np.random.default_rng(seed)

    def rows(shape):
        tiny = rng.random(shape) < 0.5
        x = np.where(tiny, 10.0 ** -rng.uniform(160, 300, shape), rng.uniform(0.1, 1, shape))
        return x / x.sum(axis=-1, keepdims=True)

    vocab_size = len(model.vocabulary_)
    model.startprob_, model.transmat_ = rows(hidden), rows((hidden, hidden))
    model.emissionprob_ = rows((hidden, vocab_size + 1))
    model.automaton_ = HMMAutomaton(model.startprob_, model.transmat_, model.emissionprob_, model.vocabulary_)
    return model


def log_forward(model: HMMModel, ids: list[int]) -> np.ndarray:
    """log p(prefix `ids`, hidden state about to emit = h) for every h: a plain log-space forward."""
    with np.errstate(divide="ignore"):
        log_pi, log_a, log_b = np.log(model.startprob_), np.log(model.transmat_), np.log(model.emissionprob_)
    alpha = log_pi
    for x in ids:
        alpha = logsumexp(alpha[:, None] + log_b[:, x][:, None] + log_a, axis=0)
    return alpha


def reference_log_prob(model: HMMModel, text: str) -> float:
    ids = [model.vocabulary_.index(ch) for ch in text]
    with np.errstate(divide="ignore"):
        return float(logsumexp(log_forward(model, ids) + np.log(model.emissionprob_[:, -1])))


def hmmlearn_score(model: HMMModel, text: str) -> float:
    from hmmlearn.hmm import CategoricalHMM

    hmm = CategoricalHMM(n_components=len(model.startprob_), n_features=model.emissionprob_.shape[1])
    hmm.startprob_, hmm.transmat_, hmm.emissionprob_ = model.startprob_, model.transmat_, model.emissionprob_
    symbols = [model.vocabulary_.index(ch) for ch in text] + [len(model.vocabulary_)]
    return float(hmm.score(np.array(symbols)[:, None]))


def random_strings(seed: int, lengths=(1, 7, 40, 150, 300, 500, 800)) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("abc"), n)) for n in lengths]


@pytest.mark.parametrize("seed", range(20))
def test_hmm_log_prob_matches_log_space_references_on_long_random_strings(seed):
    model = harsh_hmm(seed)
    strings = random_strings(1000 + seed)
    got = model.log_prob_many(strings)
    want = np.array([reference_log_prob(model, s) for s in strings])
    assert np.all(np.isfinite(want)) and want.min() < -745  # far below what a double can hold
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(want, [hmmlearn_score(model, s) for s in strings], rtol=1e-9, atol=1e-9)


def test_a_path_dropped_by_a_linear_pass_is_the_likeliest_one():
    # State 0 emits a (and c), state 1 emits b; switching costs 1e-200 twice on one edge
    # (emit c with 1e-200, move with 1e-200): 1e-400 underflows, yet it beats emitting 40
    # b's from state 0 at 1e-300 each by thousands of nats.
    model = harsh_hmm(0, hidden=2)
    tiny = 1e-200
    model.startprob_ = np.array([1.0, 0.0])
    model.transmat_ = np.array([[1 - tiny, tiny], [tiny, 1 - tiny]])
    #                          a      b       c     END
    model.emissionprob_ = np.array([[0.8, 1e-300, tiny, 0.2], [1e-300, 0.8, 1e-300, 0.2]])
    model.emissionprob_ /= model.emissionprob_.sum(axis=1, keepdims=True)
    model.automaton_ = HMMAutomaton(model.startprob_, model.transmat_, model.emissionprob_, model.vocabulary_)
    text = "aaa" + "c" + "b" * 40
    want = reference_log_prob(model, text)
    assert -1000 < want < -745
    assert model.log_prob(text) == pytest.approx(want, abs=1e-9)
    assert model.log_prob(text) == pytest.approx(hmmlearn_score(model, text), abs=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_prefix_states_and_next_token_distribution_match_the_log_space_forward(seed):
    model = harsh_hmm(seed)
    for prefix in random_strings(2000 + seed, lengths=(0, 3, 60, 250, 400)):
        ids = [model.vocabulary_.index(ch) for ch in prefix]
        alpha = log_forward(model, ids)
        states, log_weights = prefix_log_states(model.automaton_, np.array(ids, dtype=np.int64))
        full = np.full(len(alpha), -np.inf)
        full[states] = log_weights
        finite = np.isfinite(alpha)
        assert np.array_equal(np.isfinite(full), finite)
        np.testing.assert_allclose(full[finite], alpha[finite], rtol=1e-9, atol=1e-9)
        belief = alpha - logsumexp(alpha)
        with np.errstate(divide="ignore"):
            want = np.exp(logsumexp(belief[:, None] + np.log(model.emissionprob_), axis=0))
        got = model.next_token_distribution(prefix)
        assert math.isclose(sum(got.values()), 1.0, abs_tol=1e-12)
        names = [*model.vocabulary_, END_KEY]
        assert set(got) == {names[i] for i in np.flatnonzero(want)}
        for i, name in enumerate(names):
            assert got.get(name, 0.0) == pytest.approx(want[i], rel=1e-9, abs=1e-300)


@pytest.fixture(scope="module")
def pokemon_kneser_ney():
    return make_model("markov", {"state_size": 3, "smoothing": "kneser-ney"}).fit(load_bundled("pokemon"))


@pytest.mark.parametrize("seed", range(3))
def test_markov_next_token_distribution_after_a_long_prefix(pokemon_kneser_ney, seed):
    model = pokemon_kneser_ney
    rng = np.random.default_rng(seed)
    prefix = "".join(rng.choice(list("aeinorstl"), 252))
    assert -np.inf < model.log_prob(prefix) < -745  # finite, but no double holds p(prefix)
    got = model.next_token_distribution(prefix)
    assert math.isclose(sum(got.values()), 1.0, abs_tol=1e-12)
    # The chain's state is its last three tokens: the same distribution as after them alone.
    want = model.next_token_distribution(prefix[-3:])
    assert got.keys() == want.keys()
    for token, p in want.items():
        assert got[token] == pytest.approx(p, rel=1e-9)
    states, log_weights = prefix_log_states(model.automaton_, model._ids(prefix))
    assert len(states) == 1
    end = np.log(model.automaton_.end_prob(states))[0]
    assert log_weights[0] + end == pytest.approx(model.log_prob(prefix), rel=1e-12)
