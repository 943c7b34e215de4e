"""The model registry: every model by name, with its hyperparameters and availability.

The CLI builds its flags and the app its widgets from `MODELS`, so neither branches on
model type; optional models import lazily and say how to install what they need.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from typing import Any

from tnaas.errors import TnaasError


@dataclass(frozen=True)
class Hyperparameter:
    """One constructor argument of a model, described for flags and widgets.

    `kind` is "int", "float" or "choice"; `corpus_default` names a manifest field that
    gives the default for a bundled corpus (e.g. its usual state size).
    """

    name: str
    kind: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    corpus_default: str | None = None

    @property
    def flag(self) -> str:
        """The command-line flag, e.g. ``--state-size``."""
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: how to build it and what it needs."""

    name: str
    title: str
    description: str
    module: str
    class_name: str
    hyperparameters: tuple[Hyperparameter, ...] = ()
    seeded: bool = False  # fitting takes a random_state (HMM, LSTM)
    requires: tuple[str, ...] = ()  # importable module names
    install: str = ""
    capabilities: dict = field(default_factory=dict)

    def available(self) -> tuple[bool, str]:
        """(True, "") or (False, why and what to install)."""
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if missing:
            return False, f"the {self.name} model needs {', '.join(missing)}: {self.install}"
        if importlib.util.find_spec(self.module) is None:
            return False, f"the {self.name} model's module {self.module} is missing from this installation"
        return True, ""

    def model_class(self) -> type:
        """Import and return the model class (raises `TnaasError` if unavailable)."""
        ok, why = self.available()
        if not ok:
            raise TnaasError(why)
        return getattr(importlib.import_module(self.module), self.class_name)

    def build(self, params: dict | None = None, random_state=None, corpus=None):
        """A new unfitted model from `params` (hyperparameter name -> value).

        Missing values take the corpus's manifest default where one is named, else the
        hyperparameter default. Unknown names raise `TnaasError`.
        """
        params = {k: v for k, v in (params or {}).items() if v is not None}
        known = {h.name: h for h in self.hyperparameters}
        unknown = sorted(set(params) - set(known))
        if unknown:
            flags = ", ".join(known[u].flag if u in known else "--" + u.replace("_", "-") for u in unknown)
            raise TnaasError(f"{flags} does not apply to the {self.name} model")
        for h in self.hyperparameters:
            if h.name not in params:
                params[h.name] = getattr(corpus, h.corpus_default, h.default) if h.corpus_default else h.default
        if self.seeded:
            params["random_state"] = random_state
        return self.model_class()(**params)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "markov",
            "Markov chain",
            "The next token depends on the last k tokens (markovify's chain); optional Kneser-Ney smoothing.",
            "tnaas.models.markov",
            "MarkovModel",
            (
                Hyperparameter(
                    "state_size", "int", 3, "tokens of context (k)", 1, 6, corpus_default="default_state_size"
                ),
                Hyperparameter(
                    "smoothing",
                    "choice",
                    "none",
                    "unseen transitions: none (markovify) or kneser-ney",
                    choices=("none", "kneser-ney"),
                ),
            ),
        ),
        ModelSpec(
            "hmm",
            "Hidden Markov model",
            "Hidden states emit tokens and move on; an explicit END symbol lets items stop by themselves.",
            "tnaas.models.hmm",
            "HMMModel",
            (
                Hyperparameter("hidden_states", "int", 16, "number of hidden states", 2, 64),
                Hyperparameter("iterations", "int", 100, "most EM iterations (stops early once converged)", 1, 1000),
            ),
            seeded=True,
            requires=("hmmlearn",),
            install="pip install hmmlearn",
        ),
        ModelSpec(
            "lstm",
            "LSTM",
            "A recurrent neural network (PyTorch) that reads the whole prefix; completion is approximate (SMC).",
            "tnaas.models.lstm",
            "LSTMModel",
            (
                Hyperparameter("hidden_size", "int", 128, "LSTM hidden units", 8, 1024),
                Hyperparameter(
                    "epochs", "int", 30, "most training epochs (early stopping on a validation split)", 1, 500
                ),
            ),
            seeded=True,
            requires=("torch",),
            install="pip install -r requirements-lstm.txt  (torch==2.13.0, CPU)",
        ),
    )
}


def get_spec(name: str) -> ModelSpec:
    """The registered model called `name`, or a `TnaasError` listing the choices."""
    if name not in MODELS:
        raise TnaasError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    return MODELS[name]


def make_model(name: str, params: dict | None = None, random_state=None, corpus=None):
    """Build an unfitted model by registry name (see `ModelSpec.build`)."""
    return get_spec(name).build(params, random_state=random_state, corpus=corpus)


__all__ = ["MODELS", "Hyperparameter", "ModelSpec", "get_spec", "make_model"]
