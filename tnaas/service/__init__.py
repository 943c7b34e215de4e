"""The service layer every front end plugs into: requests parsed once (`requests`), one
bounded model cache keyed by exact content (`cache`), answers shaped once (`core`)."""

from tnaas.service.cache import ModelCache
from tnaas.service.core import (
    MODELS_CACHE,
    bundled_corpus,
    compare_answer,
    complete_answer,
    corpora_answer,
    corpus_classifiers,
    evaluate_answer,
    fitted,
    generate_answer,
    header,
    items_corpus,
    jsonable,
    models_answer,
    next_tokens_answer,
    resolve_corpus,
    score_answer,
    sounds_like_answer,
)
from tnaas.service.requests import LengthChoice, ModelRequest, parse_seed

__all__ = [
    "MODELS_CACHE",
    "LengthChoice",
    "ModelCache",
    "ModelRequest",
    "bundled_corpus",
    "compare_answer",
    "complete_answer",
    "corpora_answer",
    "corpus_classifiers",
    "evaluate_answer",
    "fitted",
    "generate_answer",
    "header",
    "items_corpus",
    "jsonable",
    "models_answer",
    "next_tokens_answer",
    "parse_seed",
    "resolve_corpus",
    "score_answer",
    "sounds_like_answer",
]
