"""Shared fixtures: tiny hand-made corpora small enough to reason about by hand.

The bundled corpora are cached by `load_bundled`, so tests load them directly; the fixtures
here are the small corpora whose every probability can be checked against markovify.
"""

from __future__ import annotations

import pytest

from tnaas.data.corpus import corpus_from_items

# Characters: the chain over {a, b, c, d} at state size 1 has loops (infinite support),
# at state size 2+ it mostly replays the items: both behaviours are worth testing.
TINY_CHARACTERS = ("ab", "abc", "ba", "bca", "cab", "ab", "dab", "bad", "abd")

# Words: repeated words at different positions, so that states share followers.
TINY_WORDS = (
    "the cat sat",
    "the dog sat",
    "a cat ran",
    "the cat ran home",
    "a dog sat down",
    "the dog ran",
)

# Non-ASCII and punctuation as single characters (Pokémon-style names).
TINY_UNICODE = ("Mr. Mime", "Ho-Oh", "Nidoran♀", "Nidoran♂", "Flabébé", "Type: Null", "Mime Jr.")

TINY_NOTES = ("C4 D4 E4 C4", "E4 F4 G4", "G4 A4 G4 F4 E4 C4", "C4 G3 C4", "Bb3 C4 D4 Bb3", "F#4 G4 A4")


@pytest.fixture
def tiny_characters():
    """A character corpus of 9 short strings over a, b, c, d (one duplicate)."""
    return corpus_from_items(TINY_CHARACTERS, "characters", name="tiny-characters")


@pytest.fixture
def tiny_words():
    """A word corpus of 6 short sentences over 9 words."""
    return corpus_from_items(TINY_WORDS, "words", name="tiny-words")


@pytest.fixture
def tiny_unicode():
    """A character corpus with spaces, punctuation, accents and symbols."""
    return corpus_from_items(TINY_UNICODE, "characters", name="tiny-unicode")


@pytest.fixture
def tiny_notes():
    """A note corpus of 6 short tunes (sharps and flats included)."""
    return corpus_from_items(TINY_NOTES, "notes", name="tiny-notes")


@pytest.fixture
def tiny_corpora(tiny_characters, tiny_words, tiny_unicode, tiny_notes):
    """Every tiny corpus by name."""
    return {
        "characters": tiny_characters,
        "words": tiny_words,
        "unicode": tiny_unicode,
        "notes": tiny_notes,
    }
