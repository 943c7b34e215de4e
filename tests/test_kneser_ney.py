"""Interpolated modified Kneser-Ney against a from-the-definition reference, and the
unsmoothed chain against markovify itself."""

from __future__ import annotations

import functools
import itertools
import math

import bruteforce as bf
import markovify
import numpy as np
import pytest

from tnaas.data.corpus import corpus_from_items
from tnaas.inference.completion import END_KEY
from tnaas.models.markov import MarkovModel
from tnaas.models.markov.kneser_ney import modified_discounts

STATE_SIZES = (1, 2, 3)
NAMES = sorted(bf.CORPORA)


@functools.cache
def model(name: str, k: int, smoothing: str = "kneser-ney") -> MarkovModel:
    items, kind = bf.CORPORA[name]
    return MarkovModel(k, smoothing).fit(corpus_from_items(items, kind))


def prefixes(vocabulary, k: int):
    """Every token string of up to k + 1 tokens: reaches every context, BEGIN-padded or not."""
    for n in range(k + 2):
        yield from itertools.product(vocabulary, repeat=n)


def as_reference_keys(dist: dict[str, float]) -> dict[str, float]:
    return {(bf.END if t == END_KEY else t): p for t, p in dist.items()}


@pytest.mark.parametrize("k", STATE_SIZES)
@pytest.mark.parametrize("name", NAMES)
def test_every_state_is_a_positive_distribution(name, k):
    automaton = model(name, k).automaton_
    vocab_size = len(automaton.vocabulary)
    dense = automaton.dense(np.arange(automaton.n_states), np.arange(vocab_size + 1))
    assert dense.shape == (automaton.n_states, vocab_size + 1)
    np.testing.assert_allclose(dense.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    begin = automaton.trie.begin_state
    assert dense[begin, vocab_size] == 0, "no training item is empty, so END never follows BEGIN"
    dense[begin, vocab_size] = 1.0
    assert (dense > 0).all(), "every known token (and END but after BEGIN) is possible after every state"
    # expand/end_prob (what the lattice uses) agree with dense
    edges = automaton.expand(np.arange(automaton.n_states))
    rows = np.bincount(edges.src, weights=edges.prob, minlength=automaton.n_states)
    np.testing.assert_allclose(rows + automaton.end_prob(np.arange(automaton.n_states)), 1.0, atol=1e-12)


@pytest.mark.parametrize("k", STATE_SIZES)
@pytest.mark.parametrize("name", NAMES)
def test_distributions_match_the_reference(name, k):
    """p(next | context) for every context reachable in k + 1 tokens, to 1e-12."""
    items, kind = bf.CORPORA[name]
    m = model(name, k)
    ref = bf.make_ref(items, kind, k, "kneser-ney")
    np.testing.assert_allclose(m.automaton_.discounts, np.array(ref.discounts), rtol=0, atol=1e-12)
    for prefix in prefixes(ref.vocabulary, k):
        got = as_reference_keys(m.next_token_distribution(bf.join(prefix, kind)))
        want = ref.dist(bf.context_of(prefix, k))
        assert set(got) == set(want), prefix
        for token, p in want.items():
            assert got[token] == pytest.approx(p, rel=0, abs=1e-12), (prefix, token)


@pytest.mark.parametrize("k", STATE_SIZES)
def test_held_out_items_get_finite_log_prob(k):
    """Items the unsmoothed chain calls impossible (unseen transitions) are possible."""
    held_out = ["cba", "bbbb", "c", "acacac", "ba"]
    smoothed, plain = model("chars3", k), model("chars3", k, "none")
    plain_lp = plain.log_prob_many(held_out)
    smooth_lp = smoothed.log_prob_many(held_out)
    assert np.isinf(plain_lp).sum() >= 3
    assert np.isfinite(smooth_lp).all()
    assert (smooth_lp < 0).all()
    # ...while an unknown token is still impossible: smoothing is over known tokens only.
    assert smoothed.log_prob("abz") == -math.inf


def test_smoothing_moves_mass_to_unseen_items():
    """Training items lose a little probability to unseen ones, and all items sum to <= 1."""
    items, _ = bf.CORPORA["chars3"]
    plain, smoothed = model("chars3", 2, "none"), model("chars3", 2)
    seen = sorted(set(items))
    assert (smoothed.log_prob_many(seen) < plain.log_prob_many(seen)).sum() >= len(seen) - 1
    everything = [bf.join(t, "characters") for n in range(7) for t in itertools.product("abc", repeat=n)]
    total = np.exp(smoothed.log_prob_many(everything)).sum()
    assert 0.9 < total <= 1.0 + 1e-12


def walk_mass(m: MarkovModel, max_len: int) -> tuple[dict[str, float], float]:
    """p(item) of every item of up to `max_len` tokens, and the mass of the prefixes of
    `max_len` + 1 tokens (the tail: items longer than `max_len`), from the model's own
    next-token distributions, by enumeration."""
    items: dict[str, float] = {}
    frontier = {"": 1.0}
    for _ in range(max_len + 1):
        grown: dict[str, float] = {}
        for prefix, p in frontier.items():
            dist = m.next_token_distribution(prefix)
            if END_KEY in dist:
                items[prefix] = p * dist[END_KEY]
            for token, q in dist.items():
                if token != END_KEY:
                    grown[bf.join((*bf.runs_of([prefix], m.token_kind_)[0], token), m.token_kind_)] = p * q
        frontier = grown
    tail = sum(frontier.values())
    return items, tail


@pytest.mark.parametrize("k", STATE_SIZES)
@pytest.mark.parametrize("name", ["chars3", "words5", "acyclic"])
def test_all_items_sum_to_one_and_the_empty_item_is_impossible(name, k):
    """Items of up to 4 tokens plus every longer continuation (the tail) sum to 1, and the
    empty item, which no corpus has, has probability 0 while every other item is possible."""
    m = model(name, k)
    assert m.log_prob("") == -math.inf
    assert m.next_token_distribution("").get(END_KEY, 0.0) == 0.0
    items, tail = walk_mass(m, 4)
    assert "" not in items
    assert 0 < tail < 1
    assert sum(items.values()) + tail == pytest.approx(1.0, abs=1e-12)
    text = list(items)
    np.testing.assert_allclose(m.log_prob_many(text), np.log(list(items.values())), rtol=0, atol=1e-12)
    assert np.isfinite(m.log_prob_many(text)).all()


def test_an_empty_item_keeps_its_probability_when_the_chain_has_one():
    """A markovify chain built from runs that include an empty one says END may follow
    BEGIN: the smoothed model keeps that (and still sums to one)."""
    runs = [[], list("ab"), list("b"), list("ab")]
    m = MarkovModel.from_markovify_json(markovify.Chain(runs, 1).to_json(), smoothing="kneser-ney")
    assert np.isfinite(m.log_prob(""))
    items, tail = walk_mass(m, 5)
    assert sum(items.values()) + tail == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("k", (2, 3))
def test_begin_histories_use_continuation_counts(k):
    """Below the top order a history that starts with BEGIN counts each next token once
    (its only left neighbour is BEGIN), like every other history: "a" starts four items and
    "b" one, yet after the order-(k-1) history BEGIN.. both get the same count."""
    items = ["ab", "ab", "ab", "ac", "b"]
    m = MarkovModel(k, "kneser-ney").fit(corpus_from_items(items, "characters"))
    automaton, trie = m.automaton_, m.trie_
    below = int(trie.parent[trie.begin_state])  # BEGIN * (k - 1)
    assert trie.order[below] == k - 1 and trie.first[below] == trie.counts.begin_id
    rows = slice(automaton._start[below], automaton._start[below + 1])
    weights = dict(zip(automaton._token[rows].tolist(), automaton._weight[rows].tolist()))
    a, b = (m.vocabulary_.index(t) for t in "ab")
    assert weights[a] == pytest.approx(weights[b], abs=1e-15) and weights[a] > 0


# --------------------------------------------------------- no smoothing = markovify
@pytest.mark.parametrize("k", STATE_SIZES)
@pytest.mark.parametrize("name", NAMES)
def test_unsmoothed_chain_is_markovify(name, k):
    items, kind = bf.CORPORA[name]
    runs = bf.runs_of(items, kind)
    chain = markovify.Chain(runs, k)
    m = model(name, k, "none")
    assert markovify.Chain.from_json(m.to_markovify_json()).model == chain.model
    # Every state markovify knows that a prefix of a training item reaches: same distribution.
    for run in runs:
        for i in range(len(run) + 1):
            follow = chain.model[bf.context_of(run[:i], k)]
            total = sum(follow.values())
            got = as_reference_keys(m.next_token_distribution(bf.join(run[:i], kind)))
            assert got == pytest.approx({t: c / total for t, c in follow.items()}, abs=1e-15)
    imported = MarkovModel.from_markovify_json(chain.to_json(), token_kind=kind)
    probe = [
        bf.join(t, kind) for n in range(4) for t in itertools.product(sorted({x for r in runs for x in r}), repeat=n)
    ]
    np.testing.assert_array_equal(imported.log_prob_many(probe), m.log_prob_many(probe))


def test_smoothed_import_equals_smoothed_fit():
    """Kneser-Ney over an imported markovify chain is the same model as over the corpus."""
    items, kind = bf.CORPORA["words5"]
    chain = markovify.Chain(bf.runs_of(items, kind), 2)
    imported = MarkovModel.from_markovify_json(chain.to_json(), token_kind=kind, smoothing="kneser-ney")
    probe = ["the cat sat", "sat sat", "a the dog", "dog"]
    np.testing.assert_allclose(imported.log_prob_many(probe), model("words5", 2).log_prob_many(probe), atol=1e-12)


# ------------------------------------------------------------------------ discounts
def test_discounts_from_count_of_counts():
    """n1..n4 = 4, 2, 2, 1: Y = 1/2, D1 = 1/2, D2 = 1/2, D3+ = 2."""
    counts = np.array([1, 1, 1, 1, 2, 2, 3, 3, 4, 7])
    np.testing.assert_allclose(modified_discounts(counts), [0.5, 0.5, 2.0], atol=1e-12)
    assert bf.discounts_ref(counts.tolist()) == pytest.approx((0.5, 0.5, 2.0))


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([1, 1, 1], (0.5, 1.0, 1.5)),  # n2 = 0: nothing but singletons
        ([1, 2, 5, 6], (1 - 2 / 3, 1.0, 1.5)),  # n3 = 0: D2, D3+ fall back
        ([1, 1, 1, 1, 1, 2, 3, 3, 3, 4], (1 - 2 * (5 / 7) / 5, 2 - 3 * (5 / 7) * 3, 3 - 4 * (5 / 7) / 3)),
    ],
)
def test_discount_fallbacks(counts, expected):
    """Each D_r falls back alone when its count-of-counts are missing or it would be <= 0."""
    want = tuple(e if e > 0 else f for e, f in zip(expected, (0.5, 1.0, 1.5)))
    assert bf.discounts_ref(counts) == pytest.approx(want)
    np.testing.assert_allclose(modified_discounts(np.array(counts)), want, atol=1e-12)


DEGENERATE = (["a*b", "*%a", "a\\b", "%b*", "b\\*", "ab"], "characters")  # no singleton at order 0


def test_no_singletons_falls_back():
    """n1 = 0, n2 = 1, n3 = 3, n4 = 1: Y = n1 / (n1 + 2 n2) = 0 is no estimate at all."""
    assert bf.discounts_ref([2, 3, 3, 3, 4]) == (0.5, 1.0, 1.5)
    np.testing.assert_allclose(modified_discounts(np.array([2, 3, 3, 3, 4])), [0.5, 1.0, 1.5])


def test_degenerate_corpus_matches_the_reference():
    items, kind = DEGENERATE
    m = MarkovModel(1, "kneser-ney").fit(corpus_from_items(items, kind))
    ref = bf.make_ref(items, kind, 1, "kneser-ney")
    got = as_reference_keys(m.next_token_distribution(""))
    assert got == pytest.approx(ref.dist(bf.context_of((), 1)), abs=1e-12)
