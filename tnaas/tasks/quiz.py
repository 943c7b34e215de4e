"""The "Pokémon or tech?" quiz: which corpus a name sounds like, by Bayes over corpus models.

Each candidate corpus gets a character model fitted on its case-folded items, so that the
capital P of "Pikachu" gives nothing away; p(corpus | name) ∝ p(name | corpus model),
with equal priors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tnaas.data.corpus import Corpus, corpus_from_items, load_bundled
from tnaas.errors import TnaasError
from tnaas.tasks.generate import generate
from tnaas.validation import rng_from

QUIZ_CORPORA = ("pokemon", "tech")


def casefolded(corpus: Corpus) -> Corpus:
    """The corpus with every item case-folded, as characters (the classifier's view)."""
    return corpus_from_items(
        [item.casefold() for item in corpus.items], "characters", name=corpus.name, title=corpus.title
    )


def posterior(name: str, models: dict[str, object]) -> dict[str, float]:
    """p(corpus | name) for each corpus label in `models`, equal priors, sorted descending.

    `models` maps a label to a model fitted on that corpus's case-folded characters. If no
    model can produce the name at all, raises `TnaasError` (smoothing avoids that).
    """
    query = name.strip().casefold()
    if not query:
        raise TnaasError("type a name first")
    labels = list(models)
    scores = np.array([models[label].log_prob(query) for label in labels])
    if not np.isfinite(scores).any():
        known = set().union(*(m.vocabulary_ for m in models.values()))
        unknown = sorted(set(query) - known)
        if unknown:
            shown = ", ".join(repr(c) for c in unknown[:5])
            raise TnaasError(f"{name!r} has characters none of these corpora use ({shown}), so no model can score it")
        raise TnaasError(f"none of the models can produce {name!r}; use a smoothed model")
    weights = np.exp(scores - scores[np.isfinite(scores)].max())
    probs = weights / weights.sum()
    return dict(sorted(zip(labels, probs.tolist()), key=lambda kv: -kv[1]))


@dataclass(frozen=True)
class Question:
    """One quiz round: `name` (case-folded) truly from `source`, real or `generated`."""

    name: str
    source: str
    generated: bool


def make_question(models: dict[str, object], random_state=None, corpora: dict[str, Corpus] | None = None) -> Question:
    """Draw a quiz question: a source corpus at random, then a real item or a new one."""
    rng = rng_from(random_state)
    source = str(rng.choice(list(models)))
    corpus = (corpora or {}).get(source) or casefolded(load_bundled(source))
    if rng.random() < 0.5:
        return Question(str(rng.choice(corpus.items)), source, False)
    name = generate(models[source], 1, random_state=rng)[0]
    return Question(name, source, True)


SOUNDS_LIKE_CORPORA = ("pokemon", "ikea", "tech", "rhcp", "sonnets", "ipsum")  # notes are not names


def fit_corpus_models(
    names=SOUNDS_LIKE_CORPORA, model: str = "markov", params: dict | None = None, random_state=0
) -> dict[str, object]:
    """One model per bundled corpus, fitted on its case-folded characters.

    Default: Markov k=3 with Kneser-Ney smoothing, so every name gets a finite score.
    """
    from tnaas.models import make_model

    params = {"state_size": 3, "smoothing": "kneser-ney"} if params is None and model == "markov" else (params or {})
    fitted = {}
    for name in names:
        corpus = casefolded(load_bundled(name))
        fitted[name] = make_model(model, params, random_state=random_state, corpus=corpus).fit(corpus)
    return fitted
