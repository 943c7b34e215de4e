"""The length distribution chosen on a page (a `LengthChoice`) and the target p(λ) it aims at."""

from __future__ import annotations

import numpy as np

from tnaas.data.corpus import Corpus
from tnaas.data.tokens import tokenize
from tnaas.inference.lengths import corpus_length
from tnaas.service import LengthChoice

# Radio options of the length widget: a `LengthChoice.kind` ("range" is shown as "custom").
LENGTH_LABELS = {"natural": "natural (the model decides)", "corpus": "as in the corpus", "custom": "custom range"}
NATURAL_DRAWS = 2_000  # draws that estimate the model's own length distribution for the chart


def target_length(choice: LengthChoice, model, corpus: Corpus, draws: int = NATURAL_DRAWS) -> tuple[np.ndarray, str]:
    """p(λ) the generator aims at (float (max λ + 1,), λ in tokens) and a label for the chart.

    For "natural" it is estimated from `draws` seeded samples, the same way for every model
    (not every model can give its length distribution exactly).
    """
    if choice.kind == "corpus":
        return corpus_length(corpus.lengths).probs, "corpus (target)"
    if choice.kind == "range":
        return choice.distribution(model).probs, f"{choice.low}-{choice.high} {choice.shape} (target)"
    drawn = model.sample(draws, random_state=0)
    counts = np.bincount(item_lengths(drawn, corpus.token_kind)).astype(float)
    return counts / counts.sum(), f"model's own (estimated from {draws:,} draws)"


def item_lengths(items, token_kind: str) -> list[int]:
    """The length in tokens of each item."""
    return [len(tokenize(item, token_kind)) for item in items]
