"""Kneser-Ney models the backoff-engine tests share: fitted once per (name, state size)."""

from __future__ import annotations

import functools

import bruteforce as bf

from tnaas.data.corpus import corpus_from_items, load_bundled
from tnaas.models.markov import MarkovModel

# A tiny word corpus: enumerable, and its histories share words, so backoff corrections occur.
WORDS = ["the cat sat on the mat", "a dog sat on a log", "the dog ate the cat", "my cat ate a rat", "the rat sat"]


@functools.cache
def kn_model(name: str, k: int) -> MarkovModel:
    """Kneser-Ney at state size `k` on "words" (`WORDS`), a `bruteforce.CORPORA` corpus or a
    bundled one (fitted models are never changed by a query, so tests may share them)."""
    if name == "words":
        return MarkovModel(k, "kneser-ney").fit(corpus_from_items(WORDS, "words"))
    if name in bf.CORPORA:
        items, kind = bf.CORPORA[name]
        return MarkovModel(k, "kneser-ney").fit(corpus_from_items(items, kind))
    return MarkovModel(k, "kneser-ney").fit(load_bundled(name))
