"""Pattern syntax, its errors, and the matching DFA against a regular-expression matcher."""

from __future__ import annotations

import itertools

import bruteforce as bf
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tnaas.data.corpus import corpus_from_items
from tnaas.errors import TnaasError
from tnaas.inference.patterns import GAP, LITERAL, MAX_PATTERN_TOKENS, ONE, compile_pattern, parse_pattern
from tnaas.models.markov import MarkovModel

L = LITERAL


def elements(text: str, kind: str = "characters"):
    return list(parse_pattern(text, kind).elements)


# ------------------------------------------------------------------------- parsing
@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("***base", "characters", [(ONE, None)] * 3 + [(L, c) for c in "base"]),
        ("mo%", "characters", [(L, "m"), (L, "o"), (GAP, None)]),
        ("mo%%%", "characters", [(L, "m"), (L, "o"), (GAP, None)]),  # %% is the same as %
        ("*u*a", "characters", [(ONE, None), (L, "u"), (ONE, None), (L, "a")]),
        ("a\\*b", "characters", [(L, "a"), (L, "*"), (L, "b")]),
        ("\\%%", "characters", [(L, "%"), (GAP, None)]),
        ("\\\\*", "characters", [(L, "\\"), (ONE, None)]),
        ("\\\\\\%", "characters", [(L, "\\"), (L, "%")]),
        (" a ", "characters", [(L, " "), (L, "a"), (L, " ")]),  # spaces are tokens too
        ("hold me * please", "words", [(L, "hold"), (L, "me"), (ONE, None), (L, "please")]),
        ("  the   *  % ", "words", [(L, "the"), (ONE, None), (GAP, None)]),
        ("\\* is \\% or \\\\", "words", [(L, "*"), (L, "is"), (L, "%"), (L, "or"), (L, "\\")]),
        ("a*b c%", "words", [(L, "a*b"), (L, "c%")]),  # `*` / `%` must stand alone in words
        ("G4 % D5 *", "notes", [(L, "G4"), (GAP, None), (L, "D5"), (ONE, None)]),
    ],
)
def test_parse(text, kind, expected):
    assert elements(text, kind) == expected


def test_lengths_and_literals():
    fixed = parse_pattern("***base", "characters")
    assert (fixed.fixed_length, fixed.min_length) == (7, 7)
    gap = parse_pattern("%ab%*", "characters")
    assert (gap.fixed_length, gap.min_length) == (None, 3)
    assert parse_pattern("abca*\\*", "characters").literals == ("a", "b", "c", "*")


@pytest.mark.parametrize(("text", "kind"), [("", "characters"), ("", "words"), ("   ", "words"), ("\t", "notes")])
def test_empty_pattern_is_an_error(text, kind):
    with pytest.raises(TnaasError, match="empty pattern"):
        parse_pattern(text, kind)


@pytest.mark.parametrize("text", ["a\\", "\\", "ab*\\"])
def test_lone_backslash_is_an_error(text):
    with pytest.raises(TnaasError, match="backslash"):
        parse_pattern(text, "characters")


def test_too_long_pattern_is_an_error():
    assert len(elements("*" * MAX_PATTERN_TOKENS)) == MAX_PATTERN_TOKENS
    with pytest.raises(TnaasError, match=str(MAX_PATTERN_TOKENS)):
        parse_pattern("*" * (MAX_PATTERN_TOKENS + 1), "characters")
    with pytest.raises(TnaasError, match=str(MAX_PATTERN_TOKENS)):
        parse_pattern(" ".join(["w"] * (MAX_PATTERN_TOKENS + 1)), "words")
    assert len(elements("%" * 500)) == 1  # repeated gaps collapse before the limit applies


def test_errors_through_the_model():
    chars = MarkovModel(2).fit(corpus_from_items(bf.CORPORA["chars3"][0], "characters"))
    words = MarkovModel(1).fit(corpus_from_items(bf.CORPORA["words5"][0], "words"))
    with pytest.raises(TnaasError, match="'z'"):
        chars.complete("az*")
    with pytest.raises(TnaasError, match="'zebra'"):
        words.complete("the zebra %")
    with pytest.raises(TnaasError, match="empty"):
        chars.complete("")
    with pytest.raises(TnaasError, match="backslash"):
        chars.complete("ab\\")
    with pytest.raises(TnaasError, match="too long"):
        chars.complete("*" * (MAX_PATTERN_TOKENS + 1))


def test_unknown_token_error_names_the_token_even_for_escapes():
    chars = MarkovModel(1).fit(corpus_from_items(bf.CORPORA["chars3"][0], "characters"))
    with pytest.raises(TnaasError, match=r"'\*'"):
        chars.complete("a\\*")


# ---------------------------------------------------------------- DFA = regex matcher
def dfa_accepts(dfa, ids) -> bool:
    q = 0
    for t in ids:
        q = int(dfa.step(np.array([q]), np.array([t]))[0])
        if q < 0:
            return False
    return bool(dfa.accepting[q])


def collapse_gaps(parsed):
    out = []
    for e in parsed:
        if not (e[0] == "gap" and out and out[-1][0] == "gap"):
            out.append(e)
    return out


def check_dfa_against_regex(text: str, kind: str, vocabulary: tuple[str, ...], strings) -> None:
    try:
        reference = bf.parse_pattern_ref(text, kind)
    except ValueError:
        with pytest.raises(TnaasError):
            parse_pattern(text, kind)
        return
    if not reference:
        with pytest.raises(TnaasError):
            parse_pattern(text, kind)
        return
    pattern = parse_pattern(text, kind)
    assert list(pattern.elements) == collapse_gaps(reference)
    dfa = compile_pattern(pattern, vocabulary)
    accepts = bf.matcher(text, kind, vocabulary)
    index = {t: i for i, t in enumerate(vocabulary)}
    for tokens in strings:
        assert dfa_accepts(dfa, [index[t] for t in tokens]) == accepts(tokens), (text, tokens)


CHAR_VOCAB = ("%", "*", "\\", "a", "b", "c")
SHORT_CHAR_STRINGS = [s for n in range(4) for s in itertools.product(CHAR_VOCAB, repeat=n)]


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(
    st.text(alphabet="ab*%\\c", min_size=1, max_size=9),
    st.lists(st.lists(st.sampled_from(CHAR_VOCAB), min_size=4, max_size=10), max_size=40),
)
def test_character_dfa_accepts_exactly_the_matches(text, longer):
    check_dfa_against_regex(text, "characters", CHAR_VOCAB, SHORT_CHAR_STRINGS + [tuple(s) for s in longer])


WORD_VOCAB = ("%", "*", "\\", "x", "y")
WORD_PIECES = ["x", "y", "*", "%", "\\*", "\\%", "\\\\", "\\x"]
SHORT_WORD_STRINGS = [s for n in range(4) for s in itertools.product(WORD_VOCAB, repeat=n)]


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(
    st.lists(st.sampled_from(WORD_PIECES), min_size=1, max_size=7),
    st.lists(st.lists(st.sampled_from(WORD_VOCAB), min_size=4, max_size=9), max_size=30),
)
def test_word_dfa_accepts_exactly_the_matches(pieces, longer):
    check_dfa_against_regex(" ".join(pieces), "words", WORD_VOCAB, SHORT_WORD_STRINGS + [tuple(s) for s in longer])


def test_dfa_is_small_for_gaps():
    """Determinisation must not blow up on the typical `%a%b%` shapes."""
    dfa = compile_pattern(parse_pattern("%a%b%c%a%b%", "characters"), CHAR_VOCAB)
    assert dfa.delta.shape[0] <= 6 + 1
