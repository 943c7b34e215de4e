"""Exact samples and k-best of the KN backoff lattice, against brute-force enumeration and
the explicit lattice (character and word corpora)."""

from __future__ import annotations

import bruteforce as bf
import numpy as np
import pytest
from kn_models import WORDS
from kn_models import kn_model as model

from tnaas.inference.backoff_lattice import BackoffLattice
from tnaas.inference.lattice import Lattice
from tnaas.inference.patterns import compile_pattern, parse_pattern


def build(m, text: str, cap: int):
    pattern = parse_pattern(text, m.token_kind_)
    dfa = compile_pattern(pattern, m.vocabulary_)
    length = pattern.fixed_length if pattern.fixed_length is not None else cap
    weights = np.ones(length + 1)
    return Lattice(m.automaton_, dfa, weights), BackoffLattice(m.automaton_, dfa, weights)


def texts(m, ids_list) -> list[str]:
    return [bf.join([m.vocabulary_[t] for t in ids], m.token_kind_) for ids in ids_list]


@pytest.mark.parametrize(
    "name, k, text, cap",
    [("chars3", 2, "*b*", 3), ("chars3", 1, "a%", 4), ("words5", 2, "the %", 4), ("words", 2, "* * *", 3)],
)
def test_samples_follow_the_brute_force_posterior(name, k, text, cap):
    m = model(name, k)
    _, new = build(m, text, cap)
    items, kind = bf.CORPORA[name] if name in bf.CORPORA else (WORDS, "words")
    enumerated = bf.enumerate_items(bf.make_ref(items, kind, k, "kneser-ney"), cap)
    _, posterior = bf.conditional(enumerated, bf.matcher(text, kind, m.vocabulary_))
    expected = {bf.join(t, kind): p for t, p in posterior.items()}
    drawn = texts(m, new.sample(4000, np.random.default_rng(7)))
    assert bf.chi_square_p(drawn, expected) > 1e-3
    assert texts(m, new.sample(50, np.random.default_rng(3))) == texts(m, new.sample(50, np.random.default_rng(3)))


def test_samples_of_a_bundled_word_corpus_follow_the_first_token_posterior():
    m = model("rhcp", 2)
    _, new = build(m, "* * %", 8)
    ids, probs = new.token_posteriors()[0]
    drawn = new.sample(3000, np.random.default_rng(11))
    assert bf.chi_square_p([str(d[0]) for d in drawn], {str(i): p for i, p in zip(ids, probs)}) > 1e-3


@pytest.mark.parametrize(
    "name, k, text, cap",
    [
        ("chars3", 2, "%", 5),
        ("chars4", 3, "*b*", 3),
        ("words5", 1, "% sat", 5),
        ("words", 2, "% cat %", 6),
        ("words", 3, "* * *", 3),
        ("pokemon", 3, "%a%", 10),
        ("rhcp", 2, "* * %", 8),
    ],
)
def test_top_equals_the_explicit_lattice(name, k, text, cap):
    m = model(name, k)
    old, new = build(m, text, cap)
    (want, _), (got, complete) = old.top(10), new.top(10)
    assert complete
    np.testing.assert_allclose([p for _, p in got], [p for _, p in want], rtol=1e-9)
    # equal probabilities may come in either order: compare the items per probability
    for (a, pa), (b, _) in zip(got, want):
        if sum(abs(p - pa) < 1e-12 * pa for _, p in want) == 1:
            assert list(a) == list(b)


def test_top_matches_brute_force():
    m = model("chars3", 2)
    _, new = build(m, "%b%", 5)
    items, kind = bf.CORPORA["chars3"]
    enumerated = bf.enumerate_items(bf.make_ref(items, kind, 2, "kneser-ney"), 5)
    _, posterior = bf.conditional(enumerated, bf.matcher("%b%", kind, m.vocabulary_))
    best = sorted(posterior.items(), key=lambda kv: -kv[1])[:6]
    got, _ = new.top(6)
    np.testing.assert_allclose([p for _, p in got], [p for _, p in best], rtol=1e-9)


def _exact_best_finish(lat) -> list[np.ndarray]:
    """log max over matching finishes of p(finish | node), per t, by the exact max-product
    recursion over every node's dense row (no pooling, nothing ignored; next nodes found by
    a plain binary search, not the engine's lookups)."""
    S, dfa = lat.structure, lat.dfa
    horizon = len(lat.log_alpha) - 1
    best = [None] * (horizon + 1)
    best[horizon] = np.asarray(lat.log_end[horizon], dtype=np.float64)
    for t in range(horizon - 1, -1, -1):
        q, s = np.divmod(lat.keys[t], S.n)
        probs, dsts = S.dense_rows(s)
        nq = dfa.delta[q[:, None], dfa.token_class[None, :]]
        query = nq * S.n + dsts
        keys = lat.keys[t + 1]
        at = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
        found = (nq >= 0) & (keys[at] == query)
        with np.errstate(divide="ignore"):
            via = np.where(found, np.log(probs) + best[t + 1][at], -np.inf)
        best[t] = np.maximum(lat.log_end[t], via.max(axis=1))
    return best


@pytest.mark.parametrize("pattern", ["%a%", "%charizard"])
def test_bounds_through_a_saturated_frontier_bound_the_exact_best_finish(pattern):
    import tnaas.inference.backoff_search as search

    m = model("pokemon", 3)
    dfa = compile_pattern(parse_pattern(pattern, m.token_kind_), m.vocabulary_)
    lat = BackoffLattice(m.automaton_, dfa, np.ones(31))
    bound = search.upper_bounds(lat)
    shared = [t for t in range(29) if bound[t] is bound[t + 1]]
    assert len(shared) > 5  # (the saturated run was bounded from log β, not step by step)
    best = _exact_best_finish(lat)
    for t in range(31):
        finite = best[t] > -np.inf
        assert np.all(bound[t][finite] >= best[t][finite] - 1e-9), t
    # the k best the A* finds: the first is the exact best finish from the start, in order
    got, complete = lat.top(5)
    assert complete and len(got) == 5
    probs = [p for _, p in got]
    np.testing.assert_allclose(probs[0], np.exp(best[0][0] - lat.log_z), rtol=1e-9)
    assert probs == sorted(probs, reverse=True)


def test_top_without_backward_messages_recurses_from_the_cap():
    m = model("pokemon", 3)
    dfa = compile_pattern(parse_pattern("%a%", m.token_kind_), m.vocabulary_)
    with_beta = BackoffLattice(m.automaton_, dfa, np.ones(31))
    without = BackoffLattice(m.automaton_, dfa, np.ones(31), backward=False)
    got, complete = without.top(5)
    want, _ = with_beta.top(5)
    assert complete
    assert [list(ids) for ids, _ in got] == [list(ids) for ids, _ in want]
    np.testing.assert_allclose([p for _, p in got], [p for _, p in want], rtol=1e-12)


def test_one_dense_row_is_the_batch_row_bit_for_bit():
    from tnaas.inference.backoff import backoff_structure

    S = backoff_structure(model("pokemon", 3).automaton_)
    states = np.r_[np.random.default_rng(0).integers(1, S.n, 200), 0]
    probs, dsts = S.dense_rows(states)
    for i, s in enumerate(states):
        p, d = S.dense_rows(np.array([s]))
        np.testing.assert_array_equal(p[0], probs[i])
        np.testing.assert_array_equal(d[0], dsts[i])
    np.testing.assert_allclose(probs.sum(axis=1) + S.end[states], 1.0, rtol=1e-12)
