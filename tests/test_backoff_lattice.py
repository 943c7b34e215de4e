"""The KN backoff lattice (no V edges per node) gives the explicit lattice's exact answers.

Checked against brute force (`bruteforce.py`, which never touches the library's automata)
on tiny character, word and note corpora, and against the explicit `Lattice` on bundled
corpora; the exact fallbacks (cancellation guard, magnitude bands) are forced on so that
they are exercised too.
"""

from __future__ import annotations

import functools

import bruteforce as bf
import numpy as np
import pytest

import tnaas.inference.backoff_flow as flow
import tnaas.inference.backoff_lattice as blat
from tnaas.data.corpus import corpus_from_items, load_bundled
from tnaas.inference.backoff import backoff_structure
from tnaas.inference.backoff_lattice import BackoffLattice
from tnaas.inference.lattice import Lattice
from tnaas.inference.patterns import compile_pattern, parse_pattern
from tnaas.models.markov import MarkovModel

PATTERNS = {
    "chars3": ["*b*", "***", "ab", "%b", "a%", "*%c", "%ab%", "%", "%a%b%"],
    "words5": ["the * sat", "* * *", "% sat", "the %", "* % sat", "%"],
    "notes3": ["C4 * E4", "* * *", "% E4", "* % C4", "% D4 E4 %"],
    "escapes": ["a\\**", "*\\%", "%\\*", "\\%%", "*%*"],
}
WORDS = [
    "the cat sat on the mat",
    "a dog sat on a log",
    "the dog ate the cat",
    "my cat ate a rat",
    "the rat sat",
    "a cat on a mat sat",
    "dog on log",
    "the mat",
]
WORD_PATTERNS = ["* * *", "the * sat %", "% cat %", "%", "* on %", "a % mat", "% sat"]


@functools.cache
def tiny(name: str, k: int) -> MarkovModel:
    items, kind = bf.CORPORA[name]
    return MarkovModel(k, "kneser-ney").fit(corpus_from_items(items, kind))


@functools.cache
def words(k: int) -> MarkovModel:
    return MarkovModel(k, "kneser-ney").fit(corpus_from_items(WORDS, "words"))


@functools.cache
def bundled(name: str, k: int) -> MarkovModel:
    return MarkovModel(k, "kneser-ney").fit(load_bundled(name))


def lattices(model, text: str, cap: int = 7, log_end=None):
    pattern = parse_pattern(text, model.token_kind_)
    dfa = compile_pattern(pattern, model.vocabulary_)
    length = pattern.fixed_length if pattern.fixed_length is not None else cap
    weights = np.zeros(length + 1) if log_end is None else log_end[: length + 1]
    auto = model.automaton_
    return Lattice(auto, dfa, log_end_weight=weights), BackoffLattice(auto, dfa, log_end_weight=weights)


def dense_posteriors(lattice, vocab_size: int) -> np.ndarray:
    out = np.zeros((len(lattice.token_posteriors()), vocab_size))
    for t, (ids, probs) in enumerate(lattice.token_posteriors()):
        out[t, ids] = probs
    return out


def assert_same(old, new, vocab_size: int) -> None:
    assert new.log_z == pytest.approx(old.log_z, rel=1e-12, abs=1e-12)
    assert new.running_mass == pytest.approx(old.running_mass, rel=1e-9, abs=1e-15)
    np.testing.assert_allclose(new.end_posterior(), old.end_posterior(), rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(
        dense_posteriors(new, vocab_size), dense_posteriors(old, vocab_size), rtol=1e-9, atol=1e-14
    )


CASES = [(name, k, text) for name, texts in PATTERNS.items() for k in (1, 2, 3) for text in texts]


@pytest.mark.parametrize("name, k, text", CASES)
def test_probability_matches_brute_force(name, k, text):
    model = tiny(name, k)
    _, new = lattices(model, text, cap=6)
    items, kind = bf.CORPORA[name]
    matched, running = bf.pattern_mass_dp(bf.make_ref(items, kind, k, "kneser-ney"), text, kind, 6)
    assert new.probability == pytest.approx(matched, rel=1e-12)
    if bf.is_gap_pattern(text, kind):
        assert new.running_mass == pytest.approx(running, rel=1e-9)


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("text", WORD_PATTERNS)
def test_a_word_corpus_matches_the_explicit_lattice(k, text):
    model = words(k)
    old, new = lattices(model, text)
    assert_same(old, new, len(model.vocabulary_))


@pytest.mark.parametrize(
    "name, k, text",
    [("pokemon", 3, "%a%"), ("pokemon", 2, "*u*a"), ("tech", 4, "py%"), ("rhcp", 2, "* * %"), ("rhcp", 3, "%")],
)
def test_bundled_corpora_match_the_explicit_lattice(name, k, text):
    model = bundled(name, k)
    old, new = lattices(model, text, cap=9)
    assert_same(old, new, len(model.vocabulary_))


@pytest.mark.parametrize("text", ["% cat %", "* * *", "the %"])
def test_exact_fallbacks_give_the_same_answers(monkeypatch, text):
    model = words(2)
    old, plain = lattices(model, text)
    monkeypatch.setattr(flow, "GUARD", 1.0)  # every cell and message recomputed exactly
    _, guarded = lattices(model, text)
    monkeypatch.setattr(blat, "band_width", lambda structure: 0.3)  # many magnitude bands
    _, banded = lattices(model, text)
    for new in (plain, guarded, banded):
        assert_same(old, new, len(model.vocabulary_))


def test_lengths_far_beyond_a_double_are_exact():
    model = tiny("chars3", 2)
    log_end = np.array([0.0, -900.0, 800.0, -1500.0, 0.0, 700.0, -20.0, 0.0])  # factors e^±1500
    old, new = lattices(model, "%", log_end=log_end)
    assert np.isfinite(new.log_z) and new.log_z > 700
    assert_same(old, new, len(model.vocabulary_))


def test_structure_rows_are_the_automatons():
    for model in (bundled("pokemon", 3), words(3), tiny("notes3", 2)):
        auto = model.automaton_
        structure = backoff_structure(auto)
        assert structure is not None and structure.nested
        states = np.arange(auto.n_states)
        vocab = np.arange(len(auto.vocabulary))
        probs, dsts = structure.dense_rows(states)
        np.testing.assert_array_equal(probs, auto.dense(states, vocab))
        expected = auto.next_state(np.repeat(states, len(vocab)), np.tile(vocab, len(states)))
        np.testing.assert_array_equal(dsts.reshape(-1), expected)
        np.testing.assert_allclose(structure.end, auto.end_prob(states), rtol=0, atol=0)
