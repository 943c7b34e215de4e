"""The model registry: every model by name, with its hyperparameters and availability.

The CLI builds its flags and the app its widgets from `MODELS`, so neither branches on
model type; optional models import lazily and say how to install what they need.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any

from tnaas.errors import TnaasError, UnknownName
from tnaas.validation import _shown, check_float, check_int


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

    @property
    def label(self) -> str:
        """The name as words, e.g. ``state size`` (messages and widget labels)."""
        return self.name.replace("_", " ")

    def default_for(self, corpus=None):
        """The default value, from the corpus's manifest field where one is named."""
        return getattr(corpus, self.corpus_default, self.default) if self.corpus_default else self.default

    def parse(self, value):
        """`value` (typed, or text from a flag, a URL or a widget) validated and typed.

        The one place a hyperparameter is checked: ranges come from `low`/`high`, choices
        from `choices`; anything else is a `TnaasError` naming the parameter.
        """
        if self.kind == "int":
            return check_int(value, self.label, int(self.low), int(self.high))
        if self.kind == "float":
            return check_float(value, self.label, self.low, self.high)
        text = str(value).strip().lower() if isinstance(value, str) else value
        if text not in self.choices:
            raise TnaasError(f"{self.label} must be one of {', '.join(self.choices)}, not {_shown(value)}")
        return text

    def describe(self) -> dict:
        """The JSON description the API's `/api/models` gives: type, range or choices, default."""
        info = {"name": self.name, "type": self.kind, "default": self.default, "help": self.help}
        if self.kind == "choice":
            info["choices"] = list(self.choices)
        else:
            info["minimum"], info["maximum"] = self.low, self.high
        if self.corpus_default:
            info["default_from_corpus"] = self.corpus_default
        return info


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
    # (hyperparameter, value that gives unseen transitions probability 0, value that does not):
    # how callers phrase "what would make this possible" without knowing the model.
    remedy: tuple[str, str, str] | None = None
    fit_on_request: bool = True  # False: too slow to fit while a web request waits (the LSTM)

    def remedy_for(self, params: dict) -> tuple[str, str] | None:
        """(hyperparameter, value) that would give probability to what `params` rule out, if any."""
        if self.remedy and params.get(self.remedy[0]) == self.remedy[1]:
            return self.remedy[0], self.remedy[2]
        return None

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

    def resolve(self, params: dict | None = None, corpus=None) -> dict:
        """Every hyperparameter of this model, parsed and validated, defaults filled in.

        `params` maps names to values (typed or text; None means "default"). Missing values
        take the corpus's manifest default where one is named, else the hyperparameter
        default. Unknown names raise `TnaasError`. The result, sorted, keys the model cache.
        """
        params = {k: v for k, v in (params or {}).items() if v is not None}
        known = {h.name: h for h in self.hyperparameters}
        unknown = sorted(set(params) - set(known))
        if unknown:
            shown = ", ".join(u.replace("_", " ") for u in unknown)
            raise TnaasError(f"{shown} does not apply to the {self.name} model")
        return {
            h.name: h.parse(params[h.name]) if h.name in params else h.default_for(corpus) for h in self.hyperparameters
        }

    def build(self, params: dict | None = None, random_state=None, corpus=None):
        """A new unfitted model from `params` (see `resolve`).

        A seeded model's training seed is its `train_seed` hyperparameter; `random_state`
        overrides it when given (library callers, `compare`).
        """
        params = self.resolve(params, corpus)
        if self.seeded:
            seed = params.pop(TRAIN_SEED.name)
            params["random_state"] = seed if random_state is None else random_state
        return self.model_class()(**params)

    def describe(self) -> dict:
        """The JSON description the API's `/api/models` gives of this model."""
        ok, why = self.available()
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "hyperparameters": [h.describe() for h in self.hyperparameters],
            "available": ok,
            "unavailable_because": why,
        }


# Seeded models train with this seed: the same settings give the same model on every run.
TRAIN_SEED = Hyperparameter("train_seed", "int", 0, "seed of training (same seed, same model)", 0, 2**31 - 1)

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
            remedy=("smoothing", "none", "kneser-ney"),
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
                TRAIN_SEED,
            ),
            seeded=True,
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
                Hyperparameter(
                    "recipe",
                    "choice",
                    "standard",
                    "training: standard (quick) or long (more dropout, averaged weights; slower, better on large corpora)",
                    choices=("standard", "long"),
                ),
                TRAIN_SEED,
            ),
            seeded=True,
            requires=("torch",),
            install="pip install -r requirements-lstm.txt  (torch==2.13.0, CPU)",
            fit_on_request=False,
        ),
    )
}


def get_spec(name: str) -> ModelSpec:
    """The registered model called `name`, or a `UnknownName` listing the choices."""
    if name not in MODELS:
        raise UnknownName(f"unknown model {_shown(name)}: choose one of {', '.join(MODELS)}", list(MODELS))
    return MODELS[name]


def make_model(name: str, params: dict | None = None, random_state=None, corpus=None):
    """Build an unfitted model by registry name (see `ModelSpec.build`)."""
    return get_spec(name).build(params, random_state=random_state, corpus=corpus)


__all__ = ["MODELS", "TRAIN_SEED", "Hyperparameter", "ModelSpec", "get_spec", "make_model"]
