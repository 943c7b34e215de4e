"""The length distribution chosen on a page, as a hashable spec, and what it resolves to.

A spec is ("natural",), ("corpus",) or ("custom", low, high, shape): hashable, so it can
key a cache; `resolve_length` turns it into what `model.sample(length=...)` accepts.
"""

from __future__ import annotations

import numpy as np

from tnaas.data.corpus import Corpus
from tnaas.data.tokens import tokenize
from tnaas.inference.lengths import corpus_length, custom_length

LENGTH_LABELS = {"natural": "natural (the model decides)", "corpus": "as in the corpus", "custom": "custom range"}
NATURAL_DRAWS = 2_000  # draws that estimate the model's own length distribution for the chart


def resolve_length(spec: tuple):
    """A length spec as what models accept: "natural", "corpus" or a `LengthDistribution`.

    Raises `TnaasError` for an empty custom range.
    """
    if spec[0] == "custom":
        return custom_length(spec[1], spec[2], spec[3])
    return spec[0]


def target_length(spec: tuple, model, corpus: Corpus, draws: int = NATURAL_DRAWS) -> tuple[np.ndarray, str]:
    """p(λ) the generator aims at (float (max λ + 1,), λ in tokens) and a label for the chart.

    For "natural" it is estimated from `draws` seeded samples, the same way for every model
    (not every model can give its length distribution exactly).
    """
    if spec[0] == "corpus":
        return corpus_length(corpus.lengths).probs, "corpus (target)"
    if spec[0] == "custom":
        return resolve_length(spec).probs, f"{spec[1]}-{spec[2]} {spec[3]} (target)"
    drawn = model.sample(draws, random_state=0)
    counts = np.bincount(item_lengths(drawn, corpus.token_kind)).astype(float)
    return counts / counts.sum(), f"model's own (estimated from {draws:,} draws)"


def item_lengths(items, token_kind: str) -> list[int]:
    """The length in tokens of each item."""
    return [len(tokenize(item, token_kind)) for item in items]
