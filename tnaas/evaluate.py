"""Held-out evaluation: mean negative log-likelihood per token, and train/test splits."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from tnaas.corpus import Corpus, corpus_from_items
from tnaas.errors import TnaasError
from tnaas.models.base import rng_from
from tnaas.tokens import normalise, tokenize


@dataclass(frozen=True)
class Evaluation:
    """Scores of a model on held-out items.

    `nll_per_token`: mean negative log-likelihood in nats over every predicted token, END
    included, each item scored on its own from the start (inf when some item has
    probability 0: `impossible_items` of them). `perplexity` = exp(nll_per_token).
    """

    nll_per_token: float
    perplexity: float
    tokens: int
    items: int
    impossible_items: int

    def to_dict(self) -> dict:
        """The JSON shape of `python -m tnaas evaluate --json`."""
        return asdict(self)


def evaluate(model, items) -> Evaluation:
    """Score a fitted model on `items` (strings in the model's token kind)."""
    items = [normalise(item, model.token_kind_) for item in items]
    items = [item for item in items if item]
    if not items:
        raise TnaasError("no test items to evaluate on")
    log_probs = np.asarray(model.log_prob_many(items))
    tokens = sum(len(tokenize(item, model.token_kind_)) + 1 for item in items)
    impossible = int(np.sum(~np.isfinite(log_probs)))
    nll = math.inf if impossible else float(-log_probs.sum() / tokens)
    return Evaluation(nll, math.exp(nll) if nll < 700 else math.inf, tokens, len(items), impossible)


def train_test_split(corpus: Corpus, test_size: int | float = 0.1, random_state=None) -> tuple[Corpus, tuple[str, ...]]:
    """Split a corpus into a training `Corpus` and held-out items, shuffled with a seed.

    `test_size`: a count of items, or a fraction in (0, 1).
    """
    n = len(corpus.items)
    count = int(round(test_size * n)) if isinstance(test_size, float) and test_size < 1 else int(test_size)
    if not 1 <= count < n - 4:
        raise TnaasError(f"test size {test_size!r} leaves too few items on one side of the split ({n} items)")
    order = rng_from(random_state).permutation(n)
    test = tuple(corpus.items[i] for i in order[:count])
    train = corpus_from_items(
        [corpus.items[i] for i in order[count:]],
        corpus.token_kind,
        name=f"{corpus.name}-train",
        title=f"{corpus.title} (train)",
    )
    return train, test
