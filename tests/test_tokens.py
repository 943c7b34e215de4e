"""Token kinds: normalising, splitting and joining round-trip, and the integer encoding agrees."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tnaas.data.tokens import (
    LINE_BREAKS,
    TOKEN_KINDS,
    check_kind,
    detokenize,
    encode,
    infer_kind,
    normalise,
    normalise_all,
    tokenize,
)
from tnaas.errors import TnaasError

# Derandomized (fixed examples every run, no example database) like every test here.
kinds = st.sampled_from(TOKEN_KINDS)
# Arbitrary text, with whitespace of every sort over-represented so that the
# normalisation of runs of spaces, tabs, newlines and Unicode spaces gets exercised.
texts = st.text(
    alphabet=st.one_of(st.characters(), st.sampled_from(" \t\n\r\x0b\x0c\u00a0\u2003\u3000\x1c\x85")),
    max_size=40,
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(text=texts, kind=kinds)
def test_detokenize_inverts_tokenize_on_normalised_text(text, kind):
    item = normalise(text, kind)
    assert detokenize(tokenize(item, kind), kind) == item


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(text=texts, kind=kinds)
def test_normalise_is_idempotent_and_tokens_are_clean(text, kind):
    item = normalise(text, kind)
    assert normalise(item, kind) == item
    assert item == item.strip()
    tokens = tokenize(item, kind)
    assert all(token for token in tokens), "no empty tokens"
    if kind == "characters":
        assert tokens == tuple(item)
    else:
        assert not any(ch.isspace() for token in tokens for ch in token), "word/note tokens hold no whitespace"


def test_words_normalisation_collapses_inner_whitespace():
    assert normalise("  the\tcat \n sat  ", "words") == "the cat sat"
    assert tokenize("the cat sat", "words") == ("the", "cat", "sat")
    # Characters keep inner whitespace: a space is a token like any other.
    assert normalise("  Mr.  Mime ", "characters") == "Mr.  Mime"
    assert tokenize("Mr. Mime", "characters")[3] == " "


def test_empty_item_has_no_tokens():
    for kind in TOKEN_KINDS:
        assert tokenize(normalise("   ", kind), kind) == ()


@pytest.mark.parametrize(
    "items, kind",
    [
        (["pikachu", "bulbasaur", "Mr. Mime", "Ho-Oh"], "characters"),
        (["BILLY", "KALLAX", "POÄNG"], "characters"),
        (["Under the Bridge", "Californication"], "characters"),  # short titles read as names
        (["Shall I compare thee to a summer's day?", "Thou art more lovely and more temperate:"], "words"),
        (["C4 D4 E4 F#4", "Bb3 C4 A-1"], "notes"),
        (["G4"], "notes"),
        ([], "characters"),
        (["   ", ""], "characters"),
    ],
)
def test_infer_kind_on_obvious_cases(items, kind):
    assert infer_kind(items) == kind


def test_one_non_note_token_means_not_notes():
    assert infer_kind(["C4 D4 E4 F4", "C4 D4 H4 F4"]) == "words"


def test_check_kind_rejects_unknown_kinds():
    assert check_kind("words") == "words"
    with pytest.raises(TnaasError, match="unknown token kind 'letters'"):
        check_kind("letters")


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(raw=st.lists(texts, max_size=8), kind=kinds)
def test_encode_agrees_with_tokenize(raw, kind):
    items = [normalise(text, kind) for text in raw]
    encoded = encode(items, kind)
    token_lists = [tokenize(item, kind) for item in items]
    assert encoded.vocabulary == tuple(sorted({t for tokens in token_lists for t in tokens}))
    assert encoded.offsets.shape == (len(items) + 1,)
    assert encoded.offsets[0] == 0
    assert encoded.offsets[-1] == len(encoded.ids) == sum(map(len, token_lists))
    for j, tokens in enumerate(token_lists):
        assert tuple(encoded.vocabulary[i] for i in encoded.item_ids(j)) == tokens


def test_encode_ids_are_dense_and_sorted():
    encoded = encode(["cab", "", "ba"], "characters")
    assert encoded.vocabulary == ("a", "b", "c")
    assert encoded.ids.tolist() == [2, 0, 1, 1, 0]
    assert encoded.offsets.tolist() == [0, 3, 3, 5]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(text=texts, kind=kinds)
def test_a_normalised_item_is_one_line(text, kind):
    item = normalise(text, kind)
    assert len(item.splitlines()) <= 1 and not any(ch in item for ch in LINE_BREAKS)
    assert item.splitlines() == ([item] if item else [])


def test_characters_turn_each_run_of_line_breaks_into_one_space():
    assert normalise(" Mr.\r\n\u2028Mime\x85 ", "characters") == "Mr. Mime"
    assert normalise("a\n \nb", "characters") == "a   b"  # other whitespace is kept


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(raw=st.lists(texts, max_size=8), kind=kinds)
def test_normalise_all_agrees_with_normalise(raw, kind):
    assert normalise_all(raw, kind) == [normalise(text, kind) for text in raw]
