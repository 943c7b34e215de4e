"""Model comparison on one corpus: held-out NLL, novelty, diversity and fit time per model."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from tnaas.data.corpus import Corpus
from tnaas.errors import TnaasError
from tnaas.models import MODELS, get_spec
from tnaas.tasks.evaluate import evaluate, train_test_split
from tnaas.validation import check_float, check_int, rng_from

MAX_COMPARE_SAMPLES = 2_000  # samples per model: a smoothed word chain holds samples x vocabulary
MAX_TEST_ITEMS = 1_000_000

DEFAULT_LINEUP = (
    "markov:state_size=2",
    "markov:state_size=3",
    "markov:state_size=4",
    "markov:state_size=3,smoothing=kneser-ney",
    "markov:state_size=5,smoothing=kneser-ney",
    "hmm:hidden_states=16",
    "lstm",
)


@dataclass(frozen=True)
class ModelChoice:
    """A registry model name with hyperparameter values, e.g. from "markov:state_size=3"."""

    name: str
    params: tuple[tuple[str, object], ...] = ()

    @property
    def label(self) -> str:
        """Short human label, e.g. "markov k=3 kneser-ney"."""
        shown = {"state_size": "k", "hidden_states": "states", "hidden_size": "hidden"}
        parts = [self.name] + [
            f"{shown.get(k, k)}={v}" if k != "smoothing" else str(v) for k, v in self.params if v != "none"
        ]
        return " ".join(parts)


def parse_model_choice(text: str) -> ModelChoice:
    """Parse "name" or "name:param=value,param=value" (values typed per the registry)."""
    name, _, rest = text.strip().partition(":")
    spec = get_spec(name)
    known = {h.name: h for h in spec.hyperparameters}
    params = []
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = part.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in known:
            raise TnaasError(
                f"bad model option {part[:40]!r} for {name}: use one of {', '.join(known) or '(none)'} as name=value"
            )
        params.append((key, known[key].parse(value)))  # the registry parses and checks the value
    return ModelChoice(spec.name, tuple(params))


def parse_test_size(value) -> int | float:
    """The held-out part: a share in (0, 1) or a whole count of items (>= 1), validated.

    NaN, infinities and absurd values are refused in one line (see `tnaas.validation`).
    """
    share = check_float(value, "test size", 0.0, MAX_TEST_ITEMS, low_open=True)
    if share < 1:
        return share
    return check_int(share, "test size (a count of items)", 1, MAX_TEST_ITEMS)


@dataclass(frozen=True)
class ComparisonRow:
    """One model's scores. `nll_per_token` in nats (inf if a test item is impossible);
    `novelty`: share of distinct samples not in the training corpus; `diversity`: distinct
    samples / samples; `fit_seconds`: wall-clock fit time on this machine; `test_items`:
    held-out items scored (those with a token unseen in training are moved to training);
    `impossible_items`: how many of them the model gives probability 0 (then NLL is inf)."""

    model: str
    nll_per_token: float
    perplexity: float
    novelty: float
    diversity: float
    fit_seconds: float
    exact: bool
    test_items: int = 0
    impossible_items: int = 0
    note: str = ""

    def to_dict(self) -> dict:
        """Plain dict (JSON-ready except for inf)."""
        return asdict(self)


def compare_models(
    corpus: Corpus,
    choices: list[ModelChoice],
    test_size: int | float = 0.1,
    samples: int = 500,
    random_state=None,
    progress=None,
) -> list[ComparisonRow]:
    """Fit each model on the same seeded training split and score it on the held-out items.

    Unavailable models (e.g. the LSTM without torch) get a row with a note saying so.
    `progress(fraction, message)` is called between models.
    """
    rng = rng_from(random_state)
    seed = int(rng.integers(2**31))
    train, test = train_test_split(corpus, test_size, random_state=seed)
    rows = []
    for i, choice in enumerate(choices):
        if progress:
            progress(i / len(choices), f"fitting {choice.label}")
        spec = get_spec(choice.name)
        ok, why = spec.available()
        if not ok:
            nan = float("nan")
            rows.append(ComparisonRow(choice.label, nan, nan, nan, nan, nan, False, len(test), 0, why))
            continue
        model = spec.build(dict(choice.params), random_state=seed, corpus=train)
        started = time.perf_counter()
        model.fit(train, progress=_within(progress, i, len(choices), choice.label))
        fit_seconds = time.perf_counter() - started
        scores = evaluate(model, test)
        drawn = model.sample(samples, random_state=seed) if samples else []
        distinct = set(drawn)
        novelty = sum(item not in train.items for item in distinct) / len(distinct) if distinct else float("nan")
        rows.append(
            ComparisonRow(
                choice.label,
                scores.nll_per_token,
                scores.perplexity,
                novelty,
                len(distinct) / len(drawn) if drawn else float("nan"),
                fit_seconds,
                model.exact,
                len(test),
                scores.impossible_items,
            )
        )
    if progress:
        progress(1.0, "done")
    return rows


def _within(progress, index: int, count: int, label: str):
    """A model's own fit progress, mapped into its slot of the whole comparison."""
    if progress is None:
        return None
    return lambda fraction, message="": progress((index + fraction) / count, f"fitting {label}: {message}".rstrip(": "))


def default_lineup() -> list[ModelChoice]:
    """The comparison the app and CLI run when none is given (available models only)."""
    choices = [parse_model_choice(text) for text in DEFAULT_LINEUP]
    return [c for c in choices if MODELS[c.name].available()[0]]
