"""Held-out evaluation: mean negative log-likelihood per token, and train/test splits."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from tnaas.data.corpus import Corpus, corpus_from_items
from tnaas.data.tokens import normalise, tokenize
from tnaas.errors import TnaasError
from tnaas.validation import rng_from


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
    unknown_token_items: int = 0
    unknown_tokens: tuple[str, ...] = ()

    def explain_infinity(self, hint: str = "") -> str:
        """Why the NLL is infinite, in a sentence (empty when it is finite); `hint`, from the
        caller who knows the model's options, says what gives unseen transitions a chance."""
        if math.isfinite(self.nll_per_token):
            return ""
        parts = []
        if self.unknown_token_items:
            shown = ", ".join(repr(t) for t in self.unknown_tokens[:5])
            parts.append(
                f"{self.unknown_token_items} of {self.items} test items contain tokens the training corpus never has ({shown}), "
                "which no model trained on it can produce"
            )
        unseen = self.impossible_items - self.unknown_token_items
        if unseen:
            fix = f" ({hint})" if hint else ""
            parts.append(f"{unseen} of {self.items} test items need a transition never seen in training{fix}")
        return "; ".join(parts)

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
    sequences = [tokenize(item, model.token_kind_) for item in items]
    tokens = sum(len(seq) + 1 for seq in sequences)
    impossible = int(np.sum(~np.isfinite(log_probs)))
    known = set(model.vocabulary_)
    unknown = [sorted(set(seq) - known) for seq in sequences]
    unknown_tokens = tuple(sorted({t for ts in unknown for t in ts}))
    nll = math.inf if impossible else float(-log_probs.sum() / tokens)
    return Evaluation(
        nll,
        math.exp(nll) if nll < 700 else math.inf,
        tokens,
        len(items),
        impossible,
        sum(1 for ts in unknown if ts),
        unknown_tokens,
    )


def train_test_split(corpus: Corpus, test_size: int | float = 0.1, random_state=None) -> tuple[Corpus, tuple[str, ...]]:
    """Split a corpus into a training `Corpus` and held-out items, shuffled with a seed.

    `test_size`: a count of items, or a fraction in (0, 1). The vocabulary is closed: a
    held-out item with a token that the training part never has moves to the training part
    (no model can score a token it has never seen), so the test part can come out smaller.
    """
    n = len(corpus.items)
    count = int(round(test_size * n)) if isinstance(test_size, float) and test_size < 1 else int(test_size)
    if not 1 <= count < n - 4:
        raise TnaasError(f"test size {test_size!r} leaves too few items on one side of the split ({n} items)")
    order = rng_from(random_state).permutation(n)
    train_items = [corpus.items[i] for i in order[count:]]
    test_items = [corpus.items[i] for i in order[:count]]
    known = {t for item in train_items for t in tokenize(item, corpus.token_kind)}
    while True:  # moving an item can make others scorable, so repeat until nothing moves
        unseen = [item for item in test_items if not set(tokenize(item, corpus.token_kind)) <= known]
        if not unseen:
            break
        train_items += unseen
        test_items = [item for item in test_items if item not in set(unseen)]
        known |= {t for item in unseen for t in tokenize(item, corpus.token_kind)}
    if not test_items:
        raise TnaasError("every held-out item has a token the training part never has: nothing left to test on")
    train = corpus_from_items(
        train_items, corpus.token_kind, name=f"{corpus.name}-train", title=f"{corpus.title} (train)"
    )
    return train, tuple(test_items)
