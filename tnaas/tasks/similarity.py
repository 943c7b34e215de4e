"""Ranking items (usually generated names): by edit-distance similarity to reference words, by
how typical a model finds them, or in a seeded random order.

Similarity is Damerau-Levenshtein based (insert, delete, substitute, swap two adjacent
characters; via rapidfuzz, the optional ``names`` extra, imported on first use): for item
``a`` and reference ``b``, both case-folded, ``1 - distance(a, b) / max(len(a), len(b))``,
in [0, 1] (1 = the same word); an item's similarity is its best over the references.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tnaas.errors import TnaasError
from tnaas.validation import rng_from

SORTS = ("similarity", "score", "random")
MAX_REFERENCES = 100  # `like` words: each item is compared with every one
MAX_REFERENCE_LENGTH = 214


def _distance_module():
    try:
        from rapidfuzz.distance import DamerauLevenshtein
    except ImportError:  # pragma: no cover - depends on the environment
        raise TnaasError("similarity needs rapidfuzz: pip install 'tnaas[names]'") from None
    return DamerauLevenshtein


def distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance between `a` and `b` as given (case-sensitive)."""
    return int(_distance_module().distance(a, b))


def _check_like(like) -> list[str]:
    like = [like] if isinstance(like, str) else list(like)
    words = [w.strip() for w in like if isinstance(w, str) and w.strip()]
    if len(words) != len(like) or not words:
        raise TnaasError("`like` must be one or more non-empty reference words")
    if len(words) > MAX_REFERENCES:
        raise TnaasError(f"at most {MAX_REFERENCES} reference words, not {len(words):,}")
    if max(len(w) for w in words) > MAX_REFERENCE_LENGTH:
        raise TnaasError(f"a reference word must be at most {MAX_REFERENCE_LENGTH} characters")
    return words


def similarity(item: str, like) -> float:
    """Best normalised similarity in [0, 1] of `item` to any word of `like` (a word or a list)."""
    words = [w.casefold() for w in _check_like(like)]
    scorer = _distance_module().normalized_similarity
    item = item.casefold()
    return max(float(scorer(item, w)) for w in words)


def nll_per_token(model, item: str) -> float:
    """The model's negative log-likelihood of `item` per token, END counted (nats; inf if impossible).

    ``-model.log_prob(item) / (tokens + 1)``, tokens in the model's token kind.
    """
    from tnaas.data.tokens import normalise, tokenize

    kind = model.token_kind_
    tokens = tokenize(normalise(item, kind), kind)
    log_prob = float(model.log_prob(item))
    return -log_prob / (len(tokens) + 1) if math.isfinite(log_prob) else math.inf


def rank(items: Sequence[str], like=None, sort: str = "similarity", model=None, seed: int = 0) -> list[dict]:
    """`items` ranked, as dicts {item, distance, similarity, nll_per_token} (None where not computed).

    - ``sort="similarity"``: closest to `like` first: fewest edits (`distance`, the best over
      the references), then the higher normalised `similarity` (needs `like`). Edits come
      first because the normalised score favours long items (21 letters 15 edits from
      "lodash" score 0.29, "lodish" 0.83, "suppy" 0).
    - ``sort="score"``: lowest `nll_per_token` under fitted `model` first, i.e. the most
      typical items first; impossible items (inf) last (needs `model`).
    - ``sort="random"``: a shuffle seeded by `seed` (same seed, same order).

    Similarity is computed whenever `like` is given and the score whenever `model` is, so
    either can be shown next to any order. Sorting is stable: ties keep the input order.
    """
    if sort not in SORTS:
        raise TnaasError(f"unknown sort {sort!r}: choose one of {', '.join(SORTS)}")
    if sort == "similarity" and like is None:
        raise TnaasError("sorting by similarity needs reference words (like=...)")
    if sort == "score" and model is None:
        raise TnaasError("sorting by score needs a fitted model")
    items = [str(item) for item in items]
    rng = rng_from(seed)  # validated even when unused, so a bad seed never passes silently
    if like is not None:
        words = [w.casefold() for w in _check_like(like)]
        scorer = _distance_module().normalized_similarity
        edits = _distance_module().distance
    rows = [
        {
            "item": item,
            "distance": min(int(edits(item.casefold(), w)) for w in words) if like is not None else None,
            "similarity": max(float(scorer(item.casefold(), w)) for w in words) if like is not None else None,
            "nll_per_token": nll_per_token(model, item) if model is not None else None,
        }
        for item in items
    ]
    if sort == "similarity":
        return sorted(rows, key=lambda row: (row["distance"], -row["similarity"]))
    if sort == "score":
        return sorted(rows, key=lambda row: row["nll_per_token"])
    order = rng.permutation(len(rows))
    return [rows[i] for i in order]
