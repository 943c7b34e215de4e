"""Constraint sampling is exact: checked against brute-force enumeration of every item.

The reference predicate below works on plain token tuples (slicing and sub-tuple search)
and never touches the library's automata; the model references come from `bruteforce.py`.
"""

from __future__ import annotations

import functools
import itertools
import math

import bruteforce as bf
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tnaas.data.corpus import corpus_from_items
from tnaas.errors import TnaasError
from tnaas.inference.constraints import (
    MAX_CONSTRAINT_STATES,
    ConstrainedSample,
    Constraints,
    constraints_dfa,
    sample_constrained,
)
from tnaas.models.hmm import HMMModel
from tnaas.models.markov import MarkovModel


# ------------------------------------------------------------------- reference
def split(text: str, kind: str) -> tuple[str, ...]:
    return tuple(text) if kind == "characters" else tuple(text.split())


def occurs(needle: tuple, haystack: tuple) -> bool:
    return any(haystack[i : i + len(needle)] == needle for i in range(len(haystack) - len(needle) + 1))


def satisfies(tokens: tuple, c: Constraints, kind: str) -> bool:
    """Does the token tuple meet every constraint? Written the obvious way."""
    start, end = split(c.starts_with, kind), split(c.ends_with, kind)
    banned = {t for text in c.excluded_tokens for t in split(text, kind)}
    return (
        tokens[: len(start)] == start
        and (not end or tokens[len(tokens) - len(end) :] == end)
        and all(occurs(split(t, kind), tokens) for t in c.contains)
        and not any(occurs(split(t, kind), tokens) for t in c.excludes)
        and not banned & set(tokens)
        and c.min_length <= len(tokens) <= (math.inf if c.max_length is None else c.max_length)
    )


def dfa_accepts(dfa, ids) -> bool:
    q = 0
    for token in ids:
        q = int(dfa.delta[q, dfa.token_class[token]])
        if q < 0:
            return False
    return bool(dfa.accepting[q])


@functools.cache
def model(name: str, k: int, smoothing: str) -> MarkovModel:
    items, kind = bf.CORPORA[name]
    return MarkovModel(k, smoothing).fit(corpus_from_items(items, kind))


@functools.cache
def enumerated(name: str, k: int, smoothing: str, max_len: int) -> dict:
    items, kind = bf.CORPORA[name]
    return bf.enumerate_items(bf.make_ref(items, kind, k, smoothing), max_len)


CASES = {
    "chars3": [
        Constraints(starts_with="a"),
        Constraints(ends_with="b"),
        Constraints(contains=("ab", "c")),
        Constraints(excludes=("ab",), min_length=2),
        Constraints(starts_with="ab", ends_with="ba", excludes=("cc",)),  # overlapping prefix/suffix: "aba"
        Constraints(contains=("aba",), excluded_tokens=("c",)),
        Constraints(starts_with="c", contains=("ab", "ba"), excludes=("aa", "bb"), min_length=3, max_length=5),
        Constraints(ends_with="ab", contains=("b",), excludes=("ca",)),
    ],
    "chars4": [
        Constraints(contains=("d",), excludes=("ab",)),
        Constraints(starts_with="d", ends_with="d"),
        Constraints(excluded_tokens=("cd",), min_length=3),
    ],
    "words5": [
        Constraints(starts_with="the", ends_with="sat"),
        Constraints(contains=("cat sat",), excludes=("the",)),
        Constraints(excluded_tokens=("dog a",), min_length=2),
    ],
    "notes3": [
        Constraints(contains=("C4 E4",)),
        Constraints(starts_with="E4", excludes=("D4 C4",)),
    ],
}
CASE_LIST = [(name, i) for name, cases in CASES.items() for i in range(len(cases))]


# ------------------------------------------------------------------- the DFA
@pytest.mark.parametrize(("name", "i"), CASE_LIST)
def test_dfa_accepts_exactly_the_satisfying_strings(name, i):
    items, kind = bf.CORPORA[name]
    c = CASES[name][i]
    vocabulary = model(name, 1, "none").vocabulary_
    dfa = constraints_dfa(c, vocabulary, kind)
    unbounded = Constraints(c.starts_with, c.ends_with, c.contains, c.excludes, c.excluded_tokens)
    for n in range(7):
        for ids in itertools.product(range(len(vocabulary)), repeat=n):
            tokens = tuple(vocabulary[t] for t in ids)
            assert dfa_accepts(dfa, ids) == satisfies(tokens, unbounded, kind), tokens


def test_dfa_is_minimal_and_trimmed():
    vocab = ("a", "b", "c")
    assert len(constraints_dfa(Constraints(), vocab, "characters").delta) == 1
    assert len(constraints_dfa(Constraints(contains=("a",)), vocab, "characters").delta) == 2
    # "starts with ab": read a, read b, then anything: three states, no dead ones kept
    dfa = constraints_dfa(Constraints(starts_with="ab"), vocab, "characters")
    assert len(dfa.delta) == 3 and dfa.accepting.tolist() == [False, False, True]
    # a forbidden substring inside a required one: nothing can ever be accepted
    dfa = constraints_dfa(Constraints(contains=("abc",), excludes=("bc",)), vocab, "characters")
    assert not dfa.accepting.any() and (dfa.delta == -1).all()


def test_oversized_product_is_refused_with_the_limit_named():
    vocab = tuple("abcdefghijklmnop")
    many = tuple(a + b for a, b in zip("abcdefgh", "ijklmnop")) + tuple("abcdefgh")
    with pytest.raises(TnaasError, match=f"{MAX_CONSTRAINT_STATES:,} states"):
        constraints_dfa(Constraints(contains=many[:13]), vocab, "characters")
    with pytest.raises(TnaasError, match="too many substrings"):
        Constraints(contains=tuple("abcdefghij"), excludes=tuple("klmnopq"))


def test_bad_input_is_one_clear_error():
    with pytest.raises(TnaasError, match="never appears"):
        constraints_dfa(Constraints(contains=("az",)), ("a", "b"), "characters")
    with pytest.raises(TnaasError, match="empty"):
        Constraints(min_length=5, max_length=3)
    with pytest.raises(TnaasError, match="whole number"):
        Constraints(max_length=2.5)
    with pytest.raises(TnaasError, match="list of texts"):
        Constraints(contains=(1, 2))
    with pytest.raises(TnaasError, match="too long"):
        constraints_dfa(Constraints(starts_with="a" * 65), ("a",), "characters")
    # forbidding what cannot occur is no constraint at all
    dfa = constraints_dfa(Constraints(excludes=("az",), excluded_tokens=("z",)), ("a", "b"), "characters")
    assert len(dfa.delta) == 1 and dfa.accepting.all()


def test_constraints_are_hashable_values():
    a = Constraints(contains=["ab", "c", ""], excludes="x", excluded_tokens=["q"])
    assert a.contains == ("ab", "c") and a.excludes == ("x",) and a.excluded_tokens == ("q",)
    assert a == Constraints(contains=("ab", "c"), excludes=("x",), excluded_tokens=("q",))
    assert len({a, Constraints(contains=("ab", "c"), excludes=("x",), excluded_tokens=("q",))}) == 1
    assert Constraints().is_empty and not a.is_empty


# ---------------------------------------------------------- exact answers
@pytest.mark.parametrize("smoothing", ("none", "kneser-ney"))
@pytest.mark.parametrize("k", (1, 2))
@pytest.mark.parametrize(("name", "i"), CASE_LIST)
def test_probability_and_top_match_enumeration(name, i, k, smoothing):
    """Lengths capped at 6 tokens: enumerating every item up to 6 tokens is complete."""
    kind = bf.CORPORA[name][1]
    base = CASES[name][i]
    c = (
        Constraints(
            base.starts_with, base.ends_with, base.contains, base.excludes, base.excluded_tokens, base.min_length, 6
        )
        if base.max_length is None
        else base
    )
    items = enumerated(name, k, smoothing, 6)
    matching = {bf.join(t, kind): p for t, p in items.items() if satisfies(t, c, kind)}
    total = sum(matching.values())
    result = sample_constrained(model(name, k, smoothing), c, n=0, top=5)
    assert result.probability == pytest.approx(total, rel=1e-10, abs=1e-12)
    assert result.truncated_mass == 0
    if total == 0:
        assert result.top == [] and "probability is 0" in result.message
        return
    best = sorted(matching.values(), reverse=True)[:5]
    assert [row["probability"] for row in result.top] == pytest.approx([p / total for p in best], rel=1e-9)
    for row in result.top:
        assert row["probability"] == pytest.approx(matching[row["text"]] / total, rel=1e-9)


@pytest.mark.parametrize("k", (1, 2, 3))
def test_natural_length_on_an_acyclic_chain_is_exact(k):
    """No cycle: every item has at most 4 tokens, so the model's cap leaves nothing out."""
    c = Constraints(contains=("b",), excludes=("ab",))
    items = enumerated("acyclic", k, "none", 8)
    total = sum(p for t, p in items.items() if satisfies(t, c, "characters"))
    result = sample_constrained(model("acyclic", k, "none"), c, n=0)
    assert result.truncated_mass == 0
    assert result.probability == pytest.approx(total, rel=1e-12)


def test_natural_length_on_a_cyclic_chain_reports_its_bound():
    c = Constraints(starts_with="a", excludes=("cc",))
    m = model("chars3", 1, "kneser-ney")
    result = sample_constrained(m, c, n=0)
    upto_8 = sum(p for t, p in enumerated("chars3", 1, "kneser-ney", 8).items() if satisfies(t, c, "characters"))
    longer = sample_constrained(m, Constraints(starts_with="a", excludes=("cc",), max_length=m.max_length_ + 60))
    assert result.max_length == m.max_length_ and result.truncated_mass > 0
    assert upto_8 <= result.probability + 1e-15
    assert 0 <= longer.probability - result.probability <= result.truncated_mass + 1e-15


@pytest.mark.parametrize(
    ("name", "c"),
    [
        ("chars3", Constraints(contains=("ab",), max_length=5)),
        ("chars3", Constraints(starts_with="b", excludes=("bb", "cc"), min_length=2, max_length=6)),
        ("words5", Constraints(ends_with="sat", max_length=6)),
    ],
)
def test_samples_follow_the_exact_posterior(name, c):
    kind = bf.CORPORA[name][1]
    items = enumerated(name, 1, "kneser-ney", c.max_length)
    matching = {bf.join(t, kind): p for t, p in items.items() if satisfies(t, c, kind)}
    total = sum(matching.values())
    result = sample_constrained(model(name, 1, "kneser-ney"), c, n=4000, random_state=7)
    assert len(result.samples) == 4000
    assert bf.chi_square_p(result.samples, {t: p / total for t, p in matching.items()}) > 1e-3
    # the test can fail: the unconditioned sampler does not pass
    plain = model(name, 1, "kneser-ney").sample(4000, random_state=7)
    assert bf.chi_square_p(plain, {t: p / total for t, p in matching.items()}) < 1e-3


def test_seeded_and_unpackable():
    m = model("chars3", 2, "kneser-ney")
    c = Constraints(contains=("ab",), max_length=6)
    a, b = (sample_constrained(m, c, n=20, random_state=3) for _ in range(2))
    assert a.samples == b.samples and isinstance(a, ConstrainedSample)
    p, samples, top = a
    assert (p, samples, top) == (a.probability, a.samples, a.top)


def test_contradictions_and_impossible_requests_give_zero_with_a_reason():
    m = model("chars3", 1, "none")
    result = sample_constrained(m, Constraints(starts_with="ab", excluded_tokens=("b",)), n=5)
    assert result.probability == 0 and result.samples == [] and "contradict" in result.message
    # at state size 2 "aa" is only ever followed by "b": "aaa" is impossible
    result = sample_constrained(model("chars3", 2, "none"), Constraints(contains=("aaa",), max_length=6), n=5)
    assert (result.probability, result.samples) == (0.0, []) and "probability is 0" in result.message


def test_models_without_an_automaton_are_refused():
    class NoAutomaton:
        name = "lstm"
        token_kind_ = "characters"

        def _check_fitted(self):
            pass

    with pytest.raises(TnaasError, match="lstm model has no automaton"):
        sample_constrained(NoAutomaton(), Constraints(contains=("a",)))


def test_temperature_changes_the_answer_and_is_validated():
    m = model("chars3", 1, "kneser-ney")
    c = Constraints(contains=("ab",), max_length=5)
    assert sample_constrained(m, c, n=0, temperature=0.5).probability != sample_constrained(m, c, n=0).probability
    with pytest.raises(TnaasError, match="temperature"):
        sample_constrained(m, c, temperature=0)


def test_hmm_answers_are_exact_too():
    hmm = HMMModel(hidden_states=2, iterations=20, random_state=0).fit(
        corpus_from_items(["ab", "abc", "ba", "cab", "a", "bb", "cc", "acb"], "characters")
    )
    c = Constraints(contains=("b",), excludes=("cc",), max_length=4)
    strings = ["".join(p) for n in range(5) for p in itertools.product("abc", repeat=n)]
    kept = [s for s in strings if satisfies(tuple(s), c, "characters")]
    total = float(np.exp(hmm.log_prob_many(kept)).sum())
    assert sample_constrained(hmm, c, n=0).probability == pytest.approx(total, rel=1e-10)


# ------------------------------------------------------------------ properties
texts = st.text(alphabet="abcd", min_size=0, max_size=3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=texts,
    end=texts,
    contains=st.lists(texts, max_size=3),
    excludes=st.lists(st.text(alphabet="abcd", min_size=1, max_size=3), max_size=3),
    banned=st.text(alphabet="abcd", max_size=2),
    low=st.integers(0, 4),
    span=st.integers(0, 6),
    k=st.sampled_from([1, 2]),
)
def test_every_sample_meets_every_constraint(start, end, contains, excludes, banned, low, span, k):
    c = Constraints(start, end, tuple(contains), tuple(excludes), (banned,), low, low + span)
    m = MarkovModel(k, "kneser-ney").fit(corpus_from_items(bf.CORPORA["chars4"][0], "characters"))
    result = sample_constrained(m, c, n=50, random_state=0, top=3)
    for text in result.samples + [row["text"] for row in result.top]:
        assert satisfies(tuple(text), c, "characters"), (text, c)
    if result.probability == 0:
        # smoothed: zero only when no non-empty string of an allowed length meets them (no
        # training item is empty, so Kneser-Ney gives the empty item probability 0)
        strings = ("".join(p) for n in range(max(low, 1), low + span + 1) for p in itertools.product("abcd", repeat=n))
        assert not any(satisfies(tuple(s), c, "characters") for s in strings)
    else:
        assert len(result.samples) == 50
