"""The endpoints: thin adapters from a URL (or a JSON body) to the service's answers.

Routes parse nothing: every value goes to the service as the text it arrived as, and the
service's dict is the body (`service.jsonable`, as the CLI's `--json` prints it). The work
runs in a worker thread under the app's time budget; a model fitted for this request says
so in the `X-TNaaS-Fit-Ms` header.
"""

from __future__ import annotations

import json
from typing import Annotated

import anyio
from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from tnaas import service
from tnaas.api import schemas
from tnaas.api.errors import BodyTooLarge, OverBudget
from tnaas.data.corpus import bundled_names
from tnaas.errors import TnaasError
from tnaas.models import MODELS
from tnaas.service import ModelRequest, names

router = APIRouter()

CONSTRAINT_KEYS = ["starts_with", "ends_with", "contains", "not_contains", "excludes"]
HUNT_KEYS = CONSTRAINT_KEYS + ["free_on", "like", "sort"]
GENERATE_KEYS = ["n", "seed", "temperature", "length", "include_existing"] + HUNT_KEYS
COMPLETE_KEYS = ["q", "top", "samples", "seed", "length", "temperature"]
SCORE_KEYS = ["item"]
BLEND_KEYS = ["weight", "state_size", "mode", "n", "seed", "max_length", "include_existing"]
REQUIRED = {"q", "item", "name"}
# Query parameters that may be given more than once (each occurrence one more value).
REPEATABLE = frozenset({"contains", "not_contains", "excludes", "like"})


# ------------------------------------------------------------------ plumbing
def _query_docs(keys: list[str], hyperparameters: bool = True, docs: dict | None = None) -> dict:
    """`openapi_extra` documenting the route's query parameters (all text; limits in words;
    `docs` maps a key to another entry of `schemas.LIMITS` where its limit differs)."""
    docs = docs or {}
    parameters = [
        schemas.query_parameter(key, key in REQUIRED, key in REPEATABLE, doc_key=docs.get(key)) for key in keys
    ]
    return {"parameters": parameters + (schemas.hyperparameter_parameters() if hyperparameters else [])}


# Declared as text with the valid names listed (not as a Literal), so that an unknown name is
# the service's 404 with `choices`, not FastAPI's own validation error.
ModelName = Annotated[
    str,
    Path(description="a registered model (see /api/models)", json_schema_extra={"enum": list(MODELS)}),
]
CorpusName = Annotated[
    str,
    Path(description="a bundled corpus (see /api/corpora)", json_schema_extra={"enum": bundled_names()}),
]


def _query(request: Request, repeatable=REPEATABLE) -> dict:
    """The query parameters as one dict: a list for each `repeatable` key (every occurrence),
    else the text; any other name given twice is refused rather than guessed."""
    params = request.query_params
    repeated = sorted({key for key in params if key not in repeatable and len(params.getlist(key)) > 1})
    if repeated:
        raise TnaasError(f"{', '.join(repeated)} is given more than once")
    return {key: params.getlist(key) if key in repeatable else params[key] for key in params}


def _texts(values: dict, keys) -> dict:
    """`values` after checking that each of `keys` is text or a list of texts (a JSON body
    may send anything; the service's parsers take text or lists of text)."""
    for key in keys:
        value = values.get(key)
        if value is not None and not isinstance(value, str):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise TnaasError(f"{key} must be text or a list of texts")
    return values


def _split(values: dict, keys: list[str]) -> tuple[dict, dict]:
    """(the route's own values, the rest = the model's hyperparameters, which the registry checks)."""
    for key in keys:
        if key in REQUIRED and values.get(key) is None:
            raise TnaasError(f"{key} is required: {schemas.LIMITS[key]}")
    own = {key: values[key] for key in keys if values.get(key) is not None}
    return own, {key: value for key, value in values.items() if key not in keys}


def _refuse_others(values: dict, keys: list[str], what: str) -> None:
    """A parameter the route does not take is refused (a typo is never silently ignored)."""
    others = sorted(set(values) - set(keys))
    if others:
        raise TnaasError(f"{others[0][:40]} does not apply to {what}: it takes {', '.join(keys)}")


class _TimedFit:
    """The `fit=` hook of the answer functions: the shared cache, no slow fits on request, timed."""

    def __init__(self):
        self.ms: float | None = None

    def __call__(self, corpus, request):
        model, self.ms = service.fitted(corpus, request, fit_on_request=False)
        return model


async def _run(request: Request, work):
    """`work()` in a worker thread, given up (503) after the app's time budget.

    The thread cannot be killed: an abandoned fit finishes in the background and lands in
    the cache, so the next request gets it at once.
    """
    budget = request.app.state.settings.time_budget_s
    try:
        with anyio.fail_after(budget):
            return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
    except TimeoutError:
        raise OverBudget(
            f"the request took longer than its {budget:g} s budget (TNAAS_TIME_BUDGET_S): "
            "ask for less (n, samples, top, a shorter pattern or length) or retry once the model is fitted"
        ) from None


def _respond(answer, fit: _TimedFit | None = None) -> JSONResponse:
    headers = {"X-TNaaS-Fit-Ms": f"{fit.ms:.1f}"} if fit is not None and fit.ms is not None else None
    return JSONResponse(service.jsonable(answer), headers=headers)


async def _model_answer(request: Request, model: str, corpus_of, values: dict, keys: list[str], answer):
    """The answer of one model on one corpus: corpus, then model, then the service's `answer`."""

    def work():
        own, hyperparameters = _split(values, keys)
        corpus = corpus_of()
        fit = _TimedFit()
        return answer(corpus, ModelRequest.parse(model, hyperparameters, corpus), own, fit), fit

    result, fit = await _run(request, work)
    return _respond(result, fit)


def _generate(corpus, model_request, own, fit):
    own = dict(_texts(own, HUNT_KEYS))
    texts = {key: own.pop(key) for key in CONSTRAINT_KEYS if key in own}
    if any(texts.values()):  # as the CLI: constraints only when one is given
        own["constraints"] = names.parse_constraints(**texts)
    return service.generate_answer(corpus, model_request, fit=fit, **own)


def _complete(corpus, model_request, own, fit):
    own = dict(own)
    return service.complete_answer(corpus, model_request, own.pop("q"), fit=fit, **own)


def _score(corpus, model_request, own, fit):
    return service.score_answer(corpus, model_request, own["item"], fit=fit)


async def _body(request: Request) -> dict:
    """The POST body as a JSON object, read up to the byte cap (never more into memory)."""
    cap = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge(f"the body has {int(declared):,} bytes; at most {cap:,} are accepted")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge(f"the body has more than {cap:,} bytes; at most {cap:,} are accepted")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks) or b"null")
    except (ValueError, RecursionError):
        raise TnaasError('the body must be a JSON object such as {"items": ["..."]}') from None
    if not isinstance(body, dict):
        raise TnaasError('the body must be a JSON object such as {"items": ["..."]}')
    return body


async def _upload_answer(request: Request, model: str, keys: list[str], answer):
    body = await _body(request)
    items, token_kind = body.pop("items", None), body.pop("token_kind", None)
    return await _model_answer(
        request, model, lambda: service.items_corpus(items, token_kind=token_kind), body, keys, answer
    )


# ------------------------------------------------------------------ endpoints
@router.get("/health", responses=schemas.responses(schemas.HEALTH), tags=["service"])
async def health():
    """Liveness: the process answers; how many fitted models the cache holds."""
    return {"status": "ok", "models_cached": len(service.MODELS_CACHE)}


@router.get("/api/corpora", responses=schemas.responses(schemas.CORPORA_LIST), tags=["service"])
async def corpora():
    """The bundled corpora (name, title, token kind, size, source, licence)."""
    return JSONResponse(service.jsonable(service.corpora_answer()))


@router.get("/api/models", responses=schemas.responses(schemas.MODELS_LIST), tags=["service"])
async def models():
    """The registered models, each hyperparameter's type, range or choices and default."""
    return JSONResponse(service.jsonable(service.models_answer()))


@router.get(
    "/api/sounds-like",
    responses=schemas.responses(schemas.SOUNDS_LIKE, 422, 503),
    openapi_extra=_query_docs(["name"], hyperparameters=False),
    tags=["answers"],
)
async def sounds_like(request: Request):
    """p(corpus | name) over the bundled corpora (Kneser-Ney character models, equal priors)."""
    values = _query(request)

    def work():
        _refuse_others(values, ["name"], "sounds-like")
        own, _ = _split(values, ["name"])
        return service.sounds_like_answer(own["name"])

    return _respond(await _run(request, work))


@router.get(
    "/api/check",
    responses=schemas.responses(schemas.CHECK, 422, 503),
    openapi_extra={"parameters": [schemas.query_parameter("name", True, True, doc_key="check_name")]},
    tags=["answers"],
)
async def check(request: Request):
    """Is each `name` taken on PyPI, npm or CRAN? Offline snapshots (named in the answer),
    one object per name in order, as `tnaas check --json` prints."""
    values = _query(request, repeatable={"name"})

    def work():
        _refuse_others(values, ["name"], "check")
        return names.check_answer(values.get("name", []))["names"]

    return _respond(await _run(request, work))


@router.get(
    "/api/blend/{corpus_a}/{corpus_b}",
    responses=schemas.responses(schemas.BLEND, 404, 422, 503),
    openapi_extra=_query_docs(BLEND_KEYS, hyperparameters=False, docs={"n": "blend_n"}),
    tags=["answers"],
)
async def blend(request: Request, corpus_a: CorpusName, corpus_b: CorpusName):
    """New items that sound like both corpora: `mixture` (both Markov chains' counts, weight
    on A) or `product` (p ∝ p_A^w p_B^(1-w), exact within `max_length`), as
    `tnaas generate --corpus A --blend B:W --json`."""
    values = _query(request)

    def work():
        _refuse_others(values, BLEND_KEYS, "a blend")
        own, _ = _split(values, BLEND_KEYS)
        return names.blend_answer(service.bundled_corpus(corpus_a), service.bundled_corpus(corpus_b), **own)

    return _respond(await _run(request, work))


@router.get(
    "/api/{model}/{corpus}/generate",
    responses=schemas.responses(schemas.GENERATE, 404, 422, 503, fit_header=True),
    openapi_extra=_query_docs(GENERATE_KEYS),
    tags=["answers"],
)
async def generate(request: Request, model: ModelName, corpus: CorpusName):
    """`n` distinct new items from `model` fitted on the bundled `corpus` (fewer, with `shortfall`
    saying why, when the model cannot find that many)."""
    return await _model_answer(
        request, model, lambda: service.bundled_corpus(corpus), _query(request), GENERATE_KEYS, _generate
    )


@router.get(
    "/api/{model}/{corpus}/complete",
    responses=schemas.responses(schemas.COMPLETE, 404, 422, 503, fit_header=True),
    openapi_extra=_query_docs(COMPLETE_KEYS),
    tags=["answers"],
)
async def complete(request: Request, model: ModelName, corpus: CorpusName):
    """The exact posterior of the masked pattern `q` (probability, per-position distributions,
    most probable completions, exact samples); probability 0 is an answer, with a message."""
    return await _model_answer(
        request, model, lambda: service.bundled_corpus(corpus), _query(request), COMPLETE_KEYS, _complete
    )


@router.get(
    "/api/{model}/{corpus}/score",
    responses=schemas.responses(schemas.SCORE, 404, 422, 503, fit_header=True),
    openapi_extra=_query_docs(SCORE_KEYS),
    tags=["answers"],
)
async def score(request: Request, model: ModelName, corpus: CorpusName):
    """log p(item) in nats (END included) and the NLL per token; null (impossible) with the reason."""
    return await _model_answer(
        request, model, lambda: service.bundled_corpus(corpus), _query(request), SCORE_KEYS, _score
    )


@router.post(
    "/api/{model}/generate",
    responses=schemas.responses(schemas.GENERATE, 404, 413, 422, 503, fit_header=True),
    openapi_extra=schemas.body_schema(GENERATE_KEYS, {"n": 3, "seed": 1}),
    tags=["your corpus"],
)
async def generate_yours(request: Request, model: ModelName):
    """Generate from your own corpus sent in the body; the fitted model is cached by content."""
    return await _upload_answer(request, model, GENERATE_KEYS, _generate)


@router.post(
    "/api/{model}/complete",
    responses=schemas.responses(schemas.COMPLETE, 404, 413, 422, 503, fit_header=True),
    openapi_extra=schemas.body_schema(COMPLETE_KEYS, {"q": "*eta", "top": 5}),
    tags=["your corpus"],
)
async def complete_yours(request: Request, model: ModelName):
    """Complete a pattern on your own corpus sent in the body; the fitted model is cached by content."""
    return await _upload_answer(request, model, COMPLETE_KEYS, _complete)
