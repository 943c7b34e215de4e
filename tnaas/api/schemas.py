"""The OpenAPI description of answers and parameters, written to match the service's dicts.

The service shapes every answer (`tnaas.service`); these JSON Schemas describe those
shapes honestly (the fuzz test checks every response against them) without reshaping
anything. Parameters are declared as text: the service parses and validates them, so a bad
value gets the same message as on the command line; the limits are written here.
"""

from __future__ import annotations

from tnaas.api.errors import ERROR_SCHEMA
from tnaas.inference.constraints import MAX_CONSTRAINT_STRINGS, MAX_STRING_TOKENS
from tnaas.models import MODELS
from tnaas.service.names import BLEND_MODES, MAX_BLEND_LENGTH, MAX_NAMES_PER_CHECK, SORTS
from tnaas.service.requests import (
    MAX_COMPLETION_SAMPLES,
    MAX_ITEMS,
    MAX_NAME_CHARS,
    MAX_PATTERN_CHARS,
    MAX_SEED,
    MAX_TOP,
)
from tnaas.validation import MAX_TEMPERATURE, MIN_TEMPERATURE

NUMBER = {"type": "number"}
NULLABLE_NUMBER = {"type": ["number", "null"]}
STRING = {"type": "string"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}

MODEL = {
    "type": "object",
    "required": ["name", "params"],
    "properties": {"name": STRING, "params": {"type": "object"}},
}
CORPUS = {
    "type": "object",
    "required": ["name", "title", "content_hash", "items", "token_kind"],
    "properties": {
        "name": STRING,
        "title": STRING,
        "content_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "items": INTEGER,
        "token_kind": {"type": "string", "enum": ["characters", "words", "notes"]},
    },
}


def _answer(required: list[str], properties: dict, seeded: bool = True) -> dict:
    base = {"model": MODEL, "corpus": CORPUS} | ({"seed": INTEGER} if seeded else {})
    keys = ["model", "corpus"] + (["seed"] if seeded else [])
    return {"type": "object", "required": keys + required, "properties": base | properties}


PLAIN_GENERATE = _answer(
    ["n", "temperature", "length", "include_existing", "items", "shortfall"],
    {
        "n": INTEGER,
        "temperature": NUMBER,
        "length": STRING,
        "include_existing": BOOLEAN,
        "items": {"type": "array", "items": STRING},
        "shortfall": STRING,
    },
)
HUNT = _answer(
    [
        "n",
        "temperature",
        "constraints",
        "probability",
        "truncated_mass",
        "free_on",
        "like",
        "sort",
        "include_existing",
        "items",
        "ranked",
        "shortfall",
    ],
    {
        "n": INTEGER,
        "temperature": NUMBER,
        "constraints": {
            "type": "object",
            "required": [
                "starts_with",
                "ends_with",
                "contains",
                "not_contains",
                "excludes",
                "min_length",
                "max_length",
            ],
            "properties": {
                "starts_with": STRING,
                "ends_with": STRING,
                "contains": {"type": "array", "items": STRING},
                "not_contains": {"type": "array", "items": STRING},
                "excludes": {"type": "array", "items": STRING},
                "min_length": INTEGER,
                "max_length": {"type": ["integer", "null"]},
            },
        },
        "probability": {"type": "number", "minimum": 0, "maximum": 1.000001},
        "truncated_mass": NUMBER,
        "free_on": {"type": "array", "items": STRING},
        "like": {"type": "array", "items": STRING},
        "sort": {"type": "string", "enum": list(SORTS)},
        "include_existing": BOOLEAN,
        "items": {"type": "array", "items": STRING},
        "ranked": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["item", "similarity", "nll_per_token"],
                "properties": {"item": STRING, "similarity": NULLABLE_NUMBER, "nll_per_token": NULLABLE_NUMBER},
            },
        },
        "shortfall": STRING,
    },
)
# Plain draws, or (any name-hunt parameter given) exact constrained draws, filtered and ranked.
GENERATE = {"anyOf": [PLAIN_GENERATE, HUNT]}
BLEND = {
    "type": "object",
    "required": ["blend", "corpora", "model", "seed", "max_length", "items", "shortfall"],
    "properties": {
        "blend": {
            "type": "object",
            "required": ["corpora", "weight", "mode"],
            "properties": {
                "corpora": {"type": "array", "items": STRING, "minItems": 2, "maxItems": 2},
                "weight": {"type": "number", "minimum": 0, "maximum": 1},
                "mode": {"type": "string", "enum": list(BLEND_MODES)},
            },
        },
        "corpora": {"type": "array", "items": CORPUS, "minItems": 2, "maxItems": 2},
        "model": MODEL,
        "seed": INTEGER,
        "max_length": {"type": ["integer", "null"]},
        "probability_within_bound": NUMBER,
        "truncated_bound": NUMBER,
        "items": {"type": "array", "items": STRING},
        "shortfall": STRING,
    },
}
CHECK = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name", "pypi", "npm", "cran", "similar_to", "normalised", "snapshots", "advice"],
        "properties": {
            "name": STRING,
            "pypi": STRING,
            "npm": STRING,
            "cran": STRING,
            "similar_to": {"type": "array", "items": {"type": "object"}},
            "normalised": {"type": "object", "additionalProperties": STRING},
            "snapshots": {"type": "object", "additionalProperties": STRING},
            "advice": STRING,
        },
    },
}
COMPLETE = _answer(
    ["pattern", "probability", "positions", "top", "samples", "method", "truncated_mass", "max_length", "message"],
    {
        "length": STRING,
        "temperature": NUMBER,
        "pattern": STRING,
        "probability": {"type": "number", "minimum": 0, "maximum": 1.000001},
        "positions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index", "distribution"],
                "properties": {"index": INTEGER, "distribution": {"type": "object", "additionalProperties": NUMBER}},
            },
        },
        "top": {
            "type": "array",
            "items": {"type": "object", "required": ["text", "probability"], "properties": {"text": STRING}},
        },
        "samples": {"type": "array", "items": STRING},
        "method": STRING,
        "truncated_mass": NUMBER,
        "max_length": INTEGER,
        "message": STRING,
    },
)
SCORE = _answer(
    ["item", "log_prob", "tokens", "nll_per_token", "possible", "in_corpus", "explanation"],
    {
        "item": STRING,
        "log_prob": NULLABLE_NUMBER,
        "tokens": INTEGER,
        "nll_per_token": NULLABLE_NUMBER,
        "possible": BOOLEAN,
        "in_corpus": BOOLEAN,
        "explanation": STRING,
    },
    seeded=False,
)
SOUNDS_LIKE = {
    "type": "object",
    "required": ["name", "model", "posterior"],
    "properties": {"name": STRING, "model": MODEL, "posterior": {"type": "object", "additionalProperties": NUMBER}},
}
MODELS_LIST = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name", "title", "hyperparameters", "available"],
        "properties": {"name": STRING, "hyperparameters": {"type": "array"}, "available": BOOLEAN},
    },
}
CORPORA_LIST = {
    "type": "array",
    "items": {"type": "object", "required": ["name", "title", "tokens", "items"], "properties": {"name": STRING}},
}
HEALTH = {
    "type": "object",
    "required": ["status", "models_cached"],
    "properties": {"status": {"type": "string", "enum": ["ok"]}, "models_cached": INTEGER},
}

FIT_HEADER = {
    "X-TNaaS-Fit-Ms": {
        "description": "Present when this request had to fit the model first: the fit's milliseconds.",
        "schema": {"type": "string"},
    }
}


def responses(schema: dict, *statuses: int, fit_header: bool = False) -> dict:
    """The `responses=` of a route: its 200 answer and the error statuses it can give."""
    ok = {"description": "The service's answer.", "content": {"application/json": {"schema": schema}}}
    if fit_header:
        ok["headers"] = FIT_HEADER
    why = {
        404: "Unknown corpus or model; `choices` lists the valid names.",
        413: "Body over the byte cap (TNAAS_MAX_BODY_BYTES, default 1,000,000).",
        422: "A bad value (the same one-line message as the CLI), or a refused request (too costly).",
        503: "Over the time budget (TNAAS_TIME_BUDGET_S, default 10 s).",
    }
    answer = {200: ok}
    for status in statuses:
        answer[status] = {"description": why[status], "content": {"application/json": {"schema": ERROR_SCHEMA}}}
    return answer


def hyperparameter_docs() -> dict[str, str]:
    """Each hyperparameter's description: which models take it, its range or choices, its default."""
    docs: dict[str, str] = {}
    for spec in MODELS.values():
        for h in spec.hyperparameters:
            shown = f"one of {', '.join(h.choices)}" if h.kind == "choice" else f"{h.kind} {h.low:g}..{h.high:g}"
            default = f"the corpus's usual, else {h.default}" if h.corpus_default else h.default
            docs.setdefault(h.name, f"{h.help}: {shown} (default {default}); models: ")
            docs[h.name] += ("" if docs[h.name].endswith(": ") else ", ") + spec.name
    return docs


HYPERPARAMETERS = hyperparameter_docs()


def hyperparameter_parameters() -> list[dict]:
    """OpenAPI query parameters for every registry hyperparameter (a model refuses foreign ones)."""
    return [
        {"name": name, "in": "query", "required": False, "schema": STRING, "description": text}
        for name, text in HYPERPARAMETERS.items()
    ]


LIMITS = {
    "n": f"items to generate, 0..{MAX_ITEMS:,} (default 10)",
    "seed": f"random seed 0..{MAX_SEED} (default: a fresh one, named in the answer)",
    "temperature": f"{MIN_TEMPERATURE:g}..{MAX_TEMPERATURE:g}; below 1 sharper, above 1 wilder (default 1)",
    "length": "natural (default), corpus, a length (6), a range (4-8) or 4-8:peaked",
    "include_existing": "true or false (default false): also accept items already in the corpus",
    "q": f"the masked pattern, at most {MAX_PATTERN_CHARS} characters: `*` one token, `%` any run, `\\*` a star",
    "top": f"most probable completions, 0..{MAX_TOP:,} (default 10)",
    "samples": f"exact samples from the posterior, 0..{MAX_COMPLETION_SAMPLES:,} (default 0)",
    "item": f"the item to score, at most {MAX_NAME_CHARS} characters",
    "name": f"the name to classify, at most {MAX_NAME_CHARS} characters",
    "token_kind": "characters, words or notes (default: inferred from the items)",
    "items": "the corpus: a list of strings (same validation and limits as an upload)",
    "check_name": (
        f"a name to look up (repeat for several, 1..{MAX_NAMES_PER_CHECK} names), at most {MAX_NAME_CHARS} characters"
    ),
    "starts_with": f"name hunt: every item starts with this (at most {MAX_STRING_TOKENS} tokens)",
    "ends_with": f"name hunt: every item ends with this (at most {MAX_STRING_TOKENS} tokens)",
    "contains": (
        f"name hunt: every item contains this; repeat for several ({MAX_CONSTRAINT_STRINGS} contains and "
        "not_contains together at most)"
    ),
    "not_contains": "name hunt: no item contains this; repeatable (counted with contains)",
    "excludes": "name hunt: tokens never wanted, e.g. xq bans x and q; repeatable",
    "free_on": "name hunt: only names free in these offline indexes, comma-separated from pypi, npm, cran",
    "like": f"name hunt: a reference word for sort=similarity (repeatable, each at most {MAX_NAME_CHARS} characters)",
    "sort": f"name hunt: one of {', '.join(SORTS)} (as drawn, most typical first, most similar first; default random)",
    "weight": "the weight on the first corpus, 0..1 (default 0.5)",
    "state_size": "the Markov chains' state size, 1..6 (default 3)",
    "mode": f"one of {', '.join(BLEND_MODES)} (default mixture)",
    "blend_n": "items to generate, 0..1,000 (default 10)",
    "max_length": f"product only: the longest item in tokens, 1..{MAX_BLEND_LENGTH} (default 20)",
}

# What /docs fills in (and the fuzz test's explicit examples start from).
EXAMPLES = {"n": "5", "seed": "1", "q": "***base", "top": "5", "item": "numpy", "name": "pikachu"}
BODY_EXAMPLE = {"items": ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"], "state_size": 2}

_SCALAR = {"type": ["string", "number", "boolean", "null"]}
_TEXTS = {"anyOf": [STRING, {"type": "array", "items": STRING}, {"type": "null"}]}


def query_parameter(key: str, required: bool = False, repeatable: bool = False, doc_key: str | None = None) -> dict:
    """One query parameter, documented as text (a list of texts when it may be repeated)."""
    schema = {"type": "array", "items": STRING} if repeatable else STRING
    parameter = {
        "name": key,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": LIMITS[doc_key or key],
    }
    if repeatable:
        parameter |= {"style": "form", "explode": True}
    if key in EXAMPLES and not repeatable:
        parameter["example"] = EXAMPLES[key]
    return parameter


TEXT_LISTS = {"contains", "not_contains", "excludes", "like", "free_on"}


def body_schema(route_keys: list[str], example: dict) -> dict:
    """The JSON body of a POST: `items`, optional `token_kind`, the route's and the model's parameters."""
    properties = {
        "items": {"type": "array", "items": STRING, "description": LIMITS["items"]},
        "token_kind": {"type": ["string", "null"], "description": LIMITS["token_kind"]},
    }
    properties |= {key: (_TEXTS if key in TEXT_LISTS else _SCALAR) | {"description": LIMITS[key]} for key in route_keys}
    properties |= {name: _SCALAR | {"description": text} for name, text in HYPERPARAMETERS.items()}
    return {
        "requestBody": {
            "required": True,
            "description": "At most TNAAS_MAX_BODY_BYTES bytes (default 1,000,000).",
            "content": {
                "application/json": {
                    "schema": {"type": "object", "required": ["items"], "properties": properties},
                    "example": BODY_EXAMPLE | example,
                }
            },
        }
    }
