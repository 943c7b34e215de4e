"""The service layer: one place that resolves corpora and models, fits through one cache,
and shapes every answer as one JSON-able dict.

The CLI's `--json`, the app's downloads and the HTTP API all print what these functions
return, so they agree field for field. Every answer starts with the same header: which
model and parameters, which corpus (name and content hash) and which seed produced it.
Raw values (text from a flag or a URL, numbers from a widget) are parsed here, once.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from tnaas.data.corpus import Corpus, bundled_names, load_bundled, load_corpus, read_upload
from tnaas.errors import NotEnoughNovelItems, TnaasError, TooCostly, UnknownName
from tnaas.service.cache import ModelCache
from tnaas.service.requests import (
    MAX_COMPLETION_SAMPLES,
    MAX_ITEMS,
    MAX_PREFIX_CHARS,
    MAX_TOP,
    LengthChoice,
    ModelRequest,
    parse_flag,
    parse_name,
    parse_pattern_text,
    parse_seed,
)
from tnaas.tasks.evaluate import evaluate
from tnaas.tasks.generate import generate
from tnaas.validation import check_int, check_temperature, check_text

MODELS_CACHE = ModelCache()


# ------------------------------------------------------------------ corpora and models
def bundled_corpus(name) -> Corpus:
    """A bundled corpus by name; an unknown name is an `UnknownName` listing the valid ones."""
    names = bundled_names()
    if not isinstance(name, str) or name not in names:
        shown = name if isinstance(name, str) and len(name) <= 40 else "that name"
        raise UnknownName(f"unknown corpus {shown!r}: bundled corpora are {', '.join(names)}", names)
    return load_bundled(name)


def resolve_corpus(spec: str, token_kind: str | None = None, column: str | None = None) -> Corpus:
    """A bundled corpus by name, or a file by path (the CLI: see `tnaas.data.corpus.load_corpus`)."""
    return load_corpus(spec, token_kind=token_kind, column=column)


def items_corpus(items, token_kind: str | None = None, name: str = "custom") -> Corpus:
    """A corpus from a list of strings sent in a request (same validation and limits as an upload)."""
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise TnaasError("items must be a list of strings")
    return read_upload("\n".join(items).encode("utf-8"), f"{name}.txt", token_kind=token_kind)


def fitted(
    corpus: Corpus,
    request: ModelRequest,
    fit_on_request: bool = True,
    cache: ModelCache = MODELS_CACHE,
    progress=None,
):
    """(fitted model, fit milliseconds or None when it was cached) for `request` on `corpus`.

    `progress(fraction, message)`, if given, is handed to the model's `fit` (only called
    when the model is actually fitted, not on a cache hit).

    The cache key is the corpus's content hash, the model name and its resolved
    parameters. A model saved for that key in the `TNAAS_ARTIFACTS` directory (see
    `tnaas.artifacts.store`) is loaded instead of fitted (fit milliseconds None). With `fit_on_request` False (the API), a model whose registry entry says it
    is too slow to fit while a request waits is refused unless already fitted.
    """
    key = (corpus.content_hash, request.name, request.params)
    spec = request.spec
    if key not in cache:  # a prebuilt artifact (TNAAS_ARTIFACTS) serves without fitting
        from tnaas.artifacts.store import load_for

        prebuilt = load_for(key)
        if prebuilt is not None:
            cache.put(key, prebuilt, upload=False)

    def fit():
        if not (fit_on_request or spec.fit_on_request):
            raise TooCostly(
                f"the {spec.name} model takes minutes to fit, so it is not fitted on request: "
                "serve it from a prebuilt artifact or fit it with the CLI"
            )
        return request.build().fit(corpus, progress=progress)

    return cache.get_or_fit(key, fit, upload=corpus.name not in bundled_names())


def header(corpus: Corpus, request: ModelRequest | None, seed: int | None) -> dict:
    """What produced an answer: model and parameters, corpus (name, hash, size, token kind), seed."""
    answer = {}
    if request is not None:
        answer["model"] = request.to_dict()
    answer["corpus"] = {
        "name": corpus.name,
        "title": corpus.title,
        "content_hash": corpus.content_hash,
        "items": len(corpus.items),
        "token_kind": corpus.token_kind,
    }
    if seed is not None:
        answer["seed"] = seed
    return answer


def jsonable(value):
    """`value` with every non-finite float replaced by None (JSON has no inf or NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _remedy_text(request: ModelRequest, template: str) -> str:
    remedy = request.spec.remedy_for(dict(request.params))
    if not remedy:
        return ""
    name = remedy[0].replace("_", " ")
    return template.format(name=name, Name=name.capitalize(), value=remedy[1])


def with_remedy(completion, request: ModelRequest):
    """A `Completion` whose "probability 0" message also says which option would help."""
    return completion.with_hint(
        _remedy_text(request, "{Name} ({value}) gives every pattern over known tokens a chance.")
    )


def _model_for(corpus: Corpus, request: ModelRequest, model, fit):
    """`model` if given, else `fit(corpus, request)` (a front end's own fitting, e.g. the API's
    timed one that refuses slow fits), else the shared cache's model. Called after every raw
    value is parsed, so a bad value is refused before any fitting starts."""
    if model is not None:
        return model
    return fit(corpus, request) if fit is not None else fitted(corpus, request)[0]


# ------------------------------------------------------------------ answers
def generate_answer(
    corpus: Corpus,
    request: ModelRequest,
    n=10,
    seed=None,
    temperature=1.0,
    length=None,
    include_existing: bool = False,
    model=None,
    fit=None,
    **hunt,
) -> dict:
    """`n` distinct new items (all items if `include_existing`); `items` may hold fewer than
    asked, with `shortfall` saying why (nothing found is lost).

    Name-hunt options (`constraints`, `free_on`, `like`, `sort`; see
    `tnaas.service.names.hunt_answer`) switch to exact constrained draws when any is set.
    """
    if any(value not in (None, "", (), []) for value in hunt.values()):
        from tnaas.service.names import hunt_answer

        options = {"n": n, "seed": seed, "temperature": temperature, "length": length}
        return hunt_answer(corpus, request, include_existing=include_existing, model=model, fit=fit, **options, **hunt)
    n, seed = check_int(n, "n", 0, MAX_ITEMS), parse_seed(seed)
    temperature, length = check_temperature(temperature), LengthChoice.parse(length)
    include_existing = parse_flag(include_existing, "include_existing")
    model = _model_for(corpus, request, model, fit)
    shortfall = ""
    try:
        items = generate(
            model,
            n,
            random_state=seed,
            temperature=temperature,
            length=length.distribution(model),
            include_existing=include_existing,
        )
    except NotEnoughNovelItems as error:
        items, shortfall = error.items, str(error)
    return header(corpus, request, seed) | {
        "n": n,
        "temperature": temperature,
        "length": str(length),
        "include_existing": include_existing,
        "items": items,
        "shortfall": shortfall,
    }


def complete_answer(
    corpus: Corpus,
    request: ModelRequest,
    pattern,
    top=10,
    samples=0,
    seed=None,
    length=None,
    temperature=1.0,
    model=None,
    fit=None,
) -> dict:
    """The exact (or labelled approximate) answer to a masked pattern, with the header."""
    pattern = parse_pattern_text(pattern)
    top, samples = check_int(top, "top", 0, MAX_TOP), check_int(samples, "samples", 0, MAX_COMPLETION_SAMPLES)
    seed, temperature, length = parse_seed(seed), check_temperature(temperature), LengthChoice.parse(length)
    model = _model_for(corpus, request, model, fit)
    result = model.complete(
        pattern,
        top=top,
        samples=samples,
        random_state=seed,
        length=length.distribution(model),
        temperature=temperature,
    )
    result = with_remedy(result, request)
    return header(corpus, request, seed) | {"length": str(length), "temperature": temperature} | result.to_dict()


class _ScoredOnce:
    """`model` for `evaluate`, answering `log_prob_many([item])` with the score already computed.

    `evaluate` scores the normalised item; when normalising leaves it unchanged (always, for
    an item without surrounding or inner line-break whitespace) that is `item` itself and the
    model is not run twice; otherwise the model scores the normalised text as before.
    """

    def __init__(self, model, item: str, log_prob: float):
        self._model, self._item, self._log_prob = model, item, log_prob

    def __getattr__(self, name):
        return getattr(self._model, name)

    def log_prob_many(self, items):
        """float64 (n,) log probabilities, from the stored score when `items` is `[item]`."""
        items = list(items)
        if items == [self._item]:
            return np.array([self._log_prob])
        return self._model.log_prob_many(items)


def score_answer(corpus: Corpus, request: ModelRequest, item, model=None, fit=None) -> dict:
    """log p(item) (nats, END included) and the NLL per token of one item."""
    item = parse_name(item, "the item")
    model = _model_for(corpus, request, model, fit)
    log_prob = float(model.log_prob(item))
    result = evaluate(_ScoredOnce(model, item, log_prob), [item])  # no second scoring pass
    return header(corpus, request, None) | {
        "item": item,
        "log_prob": log_prob,
        "tokens": result.tokens,
        "nll_per_token": result.nll_per_token,
        "possible": math.isfinite(log_prob),
        "in_corpus": item in model.training_items_,
        "explanation": result.explain_infinity(_remedy_text(request, "{name} {value} gives them a probability")),
    }


def evaluate_answer(train: Corpus, test: Corpus, request: ModelRequest, model=None) -> dict:
    """Held-out NLL per token (nats, END included) of a model fitted on `train`, scored on `test`."""
    model = model or fitted(train, request)[0]
    result = evaluate(model, test.items)
    data = header(train, request, None) | {"test_corpus": header(test, None, None)["corpus"]} | result.to_dict()
    data["unknown_tokens"] = list(result.unknown_tokens)
    data["infinite"] = math.isinf(result.nll_per_token)
    data["explanation"] = result.explain_infinity(_remedy_text(request, "{name} {value} gives them a probability"))
    return data


def next_tokens_answer(corpus: Corpus, request: ModelRequest, prefix, model=None) -> dict:
    """p(next token | prefix) with "<end>" for "the item ends there"."""
    prefix = check_text(prefix, "the prefix", MAX_PREFIX_CHARS, allow_empty=True)
    model = model or fitted(corpus, request)[0]
    return header(corpus, request, None) | {"prefix": prefix, "distribution": model.next_token_distribution(prefix)}


def compare_answer(corpus: Corpus, choices, test_size=0.1, samples=500, seed=0, progress=None) -> dict:
    """Every model in `choices` (`ModelChoice`s) fitted on one seeded split and scored on the rest."""
    from tnaas.tasks.compare import MAX_COMPARE_SAMPLES, compare_models, parse_test_size

    seed = parse_seed(seed)
    samples = check_int(samples, "samples", 0, MAX_COMPARE_SAMPLES)
    rows = compare_models(
        corpus, list(choices), parse_test_size(test_size), samples, random_state=seed, progress=progress
    )
    return header(corpus, None, seed) | {
        "test_items": rows[0].test_items if rows else 0,
        "rows": [row.to_dict() for row in rows],
    }


SOUNDS_LIKE_MODEL = ModelRequest("markov", (("smoothing", "kneser-ney"), ("state_size", 3)))


@lru_cache(maxsize=8)
def _casefolded(name: str) -> Corpus:
    from tnaas.tasks.quiz import casefolded

    return casefolded(load_bundled(name))


def corpus_classifiers(names=None) -> dict:
    """One Kneser-Ney character model per bundled corpus (case-folded), from the shared cache."""
    from tnaas.tasks.quiz import SOUNDS_LIKE_CORPORA

    return {name: fitted(_casefolded(name), SOUNDS_LIKE_MODEL)[0] for name in (names or SOUNDS_LIKE_CORPORA)}


def sounds_like_answer(name, names=None) -> dict:
    """p(corpus | name) over the bundled corpora (equal priors), most likely first."""
    from tnaas.tasks.quiz import posterior

    name = parse_name(name)
    return {"name": name, "model": SOUNDS_LIKE_MODEL.to_dict(), "posterior": posterior(name, corpus_classifiers(names))}


def models_answer() -> list[dict]:
    """The registry: every model's hyperparameters (type, range, default) and availability."""
    from tnaas.models import MODELS

    return [spec.describe() for spec in MODELS.values()]


def corpora_answer() -> list[dict]:
    """The bundled corpora's manifest entries."""
    from tnaas.data.corpus import manifest

    return manifest()
