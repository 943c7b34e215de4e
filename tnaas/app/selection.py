"""The app's choice of corpus and model, and the key that names the fitted model in every cache."""

from __future__ import annotations

from dataclasses import dataclass

from tnaas.data.corpus import Corpus
from tnaas.models import ModelSpec
from tnaas.service import ModelRequest


@dataclass(frozen=True)
class Selection:
    """What the sidebar chose: a corpus (by its sidebar key) and a `ModelRequest` for it.

    `key` is the service's model-cache key, so the app's cached results and the service's
    fitted models are named the same way.
    """

    corpus_key: str
    corpus: Corpus
    request: ModelRequest

    @property
    def key(self) -> tuple:
        """(content hash, model name, params): the key of the fitted model in `tnaas.service`.

        The corpus enters by its content hash, not its name: the same file uploaded under two
        names is one fitted model, and two different files under one name are two. A seeded
        model's training seed is one of its params (`train_seed`).
        """
        return (self.corpus.content_hash, self.request.name, self.request.params)

    @property
    def spec(self) -> ModelSpec:
        """The model's registry entry."""
        return self.request.spec

    @property
    def params(self) -> tuple:
        """The resolved hyperparameters, a sorted tuple of (name, value)."""
        return self.request.params

    @property
    def unit(self) -> str:
        """The token kind as a unit of length: characters, words or notes."""
        return self.corpus.token_kind

    def describe(self) -> str:
        """One line for captions, e.g. ``Markov chain (smoothing=none, state_size=3) on Pokémon names``."""
        shown = ", ".join(f"{k}={v}" for k, v in self.params)
        return f"{self.spec.title} ({shown}) on {self.corpus.title}"
