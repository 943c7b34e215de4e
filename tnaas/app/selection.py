"""The app's choice of corpus and model, and the key that names the fitted model in every cache."""

from __future__ import annotations

from dataclasses import dataclass

from tnaas.data.corpus import Corpus
from tnaas.models import ModelSpec


@dataclass(frozen=True)
class Selection:
    """What the sidebar chose: a corpus and a model with its parameters.

    `params` is a sorted tuple of (name, value) pairs; `seed` seeds fitting for models that
    need it. `key` identifies the fitted model in every cache.
    """

    corpus_key: str
    corpus: Corpus
    spec: ModelSpec
    params: tuple
    seed: int

    @property
    def key(self) -> tuple:
        """(content hash, model name, params, seed): the cache key of the fitted model.

        The corpus enters by its content hash, not its name: the same file uploaded under two
        names is one fitted model, and two different files under one name are two.
        """
        return (self.corpus.content_hash, self.spec.name, self.params, self.seed)

    @property
    def unit(self) -> str:
        """The token kind as a unit of length: characters, words or notes."""
        return self.corpus.token_kind

    def describe(self) -> str:
        """One line for captions, e.g. ``Markov chain (state_size=3, smoothing=none) on Pokémon names``."""
        shown = ", ".join(f"{k}={v}" for k, v in self.params)
        return f"{self.spec.title} ({shown}) on {self.corpus.title}"
