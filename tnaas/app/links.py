"""Share links: every page's choices as URL query parameters, and back.

A link holds the sidebar's choices (``corpus``, ``model`` and each of its hyperparameters by
name) and the page's own (`PAGE_FIELDS`), all as text. Reading one validates everything
before anything is used (the service's parsers and the page's widget ranges), so a bad
link is one `TnaasError` and the page falls back to its defaults. No streamlit here.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from tnaas.data.corpus import Corpus
from tnaas.errors import TnaasError
from tnaas.inference.lengths import MAX_ITEM_TOKENS
from tnaas.service import LengthChoice, ModelRequest, bundled_corpus
from tnaas.service.requests import MAX_NAME_CHARS, MAX_PATTERN_CHARS, MAX_PREFIX_CHARS, MAX_SEED
from tnaas.validation import _shown, check_float, check_int, check_text

UPLOAD_PREFIX = "upload/"
SIDEBAR_KEYS = ("corpus", "model")


class PrivateUpload(TnaasError):
    """A link names a corpus uploaded in another session."""


@dataclass(frozen=True)
class IntField:
    """A whole number in `low`..`high` (the widget's range)."""

    low: int
    high: int

    def parse(self, text, name: str, corpus: Corpus):
        """The value of `text`, or a `TnaasError` naming `name`."""
        return check_int(text, name, self.low, self.high)


@dataclass(frozen=True)
class FloatField:
    """A number in `low`..`high` (the widget's range)."""

    low: float
    high: float

    def parse(self, text, name: str, corpus: Corpus):
        """The value of `text`, or a `TnaasError` naming `name`."""
        return check_float(text, name, self.low, self.high)


@dataclass(frozen=True)
class BoolField:
    """true or false (also 1/0, yes/no)."""

    def parse(self, text, name: str, corpus: Corpus):
        """The value of `text`, or a `TnaasError` naming `name`."""
        value = str(text).strip().lower() if isinstance(text, str) else text
        if value in ("true", "1", "yes"):
            return True
        if value in ("false", "0", "no"):
            return False
        raise TnaasError(f"{name} must be true or false, not {_shown(text)}")


@dataclass(frozen=True)
class TextField:
    """Free text of at most `max_chars` characters (the service's cap)."""

    max_chars: int
    allow_empty: bool = True

    def parse(self, text, name: str, corpus: Corpus):
        """The value of `text`, or a `TnaasError` naming `name`."""
        return check_text(text, name, self.max_chars, allow_empty=self.allow_empty)


@dataclass(frozen=True)
class LengthField:
    """A `LengthChoice` ("natural", "corpus", "4-8", "4-8:peaked") whose range fits the slider."""

    def parse(self, text, name: str, corpus: Corpus):
        """The value of `text`, or a `TnaasError` naming `name`."""
        choice = LengthChoice.parse(text)
        if choice.kind == "range" and choice.high > longest_length(corpus):
            raise TnaasError(f"length {choice} is longer than this page offers ({longest_length(corpus)} at most)")
        return choice


@dataclass(frozen=True)
class ListField:
    """Labels separated by ``;``, each one of `choices`."""

    choices: tuple[str, ...]

    def parse(self, text, name: str, corpus: Corpus):
        """The value of `text`, or a `TnaasError` naming `name`."""
        labels = [label.strip() for label in check_text(text, name, 2_000).split(";") if label.strip()]
        unknown = [label for label in labels if label not in self.choices]
        if unknown:
            raise TnaasError(f"unknown {name} {_shown(unknown[0])}")
        return list(dict.fromkeys(labels))


@dataclass(frozen=True)
class ChoiceField:
    """One of `choices` (a sort, a corpus key)."""

    choices: tuple[str, ...]

    def parse(self, text, name: str, corpus: Corpus):
        """The value of `text`, or a `TnaasError` naming `name`."""
        if text not in self.choices:
            raise TnaasError(f"unknown {name} {_shown(text)}: choose one of {', '.join(self.choices)[:200]}")
        return text


SEED = IntField(0, MAX_SEED)
SORTS = ("random", "score", "similarity")
FREE_ON = ("pypi", "npm", "cran")
HUNT_FIELDS = {  # the Generate page's name hunt (see `tnaas.app.hunt.HuntChoice`)
    "starts_with": TextField(MAX_NAME_CHARS),
    "ends_with": TextField(MAX_NAME_CHARS),
    "contains": TextField(MAX_NAME_CHARS),
    "not_contains": TextField(MAX_NAME_CHARS),
    "excludes": TextField(MAX_NAME_CHARS),
    "free_on": ListField(FREE_ON),
    "like": TextField(MAX_NAME_CHARS),
    "sort": ChoiceField(SORTS),
}
TEMPERATURE = FloatField(0.1, 3.0)


def longest_length(corpus: Corpus) -> int:
    """The top of the custom length slider for `corpus` (tokens)."""
    return int(min(MAX_ITEM_TOKENS, corpus.lengths.max() + 10))


def page_fields(page: str, compare_labels: tuple[str, ...] = (), corpus_keys: tuple[str, ...] = ()) -> dict:
    """The link fields of `page` (a title of `tnaas.app.dashboard.PAGES`), by query name.

    `compare_labels`: the Compare page's model labels; `corpus_keys`: the corpora the Blend
    page can pick (bundled names and this session's uploads)."""
    return {
        "Home": {"seed": IntField(1, MAX_SEED)},
        "Generate": {
            "n": IntField(1, 200),
            "temperature": TEMPERATURE,
            "seed": SEED,
            "novel": BoolField(),
            "length": LengthField(),
            **HUNT_FIELDS,
        },
        "Complete": {
            "pattern": TextField(MAX_PATTERN_CHARS, allow_empty=False),
            "top": IntField(1, 50),
            "samples": IntField(0, 50),
            "seed": SEED,
            "temperature": TEMPERATURE,
            "length": LengthField(),
        },
        "Explore": {"limit": IntField(5, 60), "context": TextField(MAX_PREFIX_CHARS), "top": IntField(5, 60)},
        "Compare": {
            "models": ListField(compare_labels),
            "share": IntField(5, 50),
            "samples": IntField(0, 2_000),
            "seed": SEED,
        },
        "Quiz": {"question": IntField(1, 10_000), "name": TextField(MAX_NAME_CHARS)},
        "Blend": {
            "a": ChoiceField(corpus_keys),
            "b": ChoiceField(corpus_keys),
            "weight": FloatField(0.0, 1.0),
            "state": IntField(1, 6),  # not "state_size": that is the sidebar model's
            "n": IntField(1, 50),
            "seed": SEED,
            "max_length": IntField(1, 40),
        },
    }.get(page, {})


@dataclass(frozen=True)
class Link:
    """A parsed share link: the corpus (bundled name), the model request, the page's values."""

    corpus_key: str
    corpus: Corpus
    request: ModelRequest
    values: dict


def parse_link(
    query: dict,
    fields: dict,
    uploads: dict | None = None,
    default_corpus: str = "pokemon",
    default_model: str = "markov",
) -> Link:
    """A share link's query parameters (name -> text), validated as a whole.

    `uploads` are this session's uploaded corpora by key. Raises `PrivateUpload` for a
    corpus uploaded in another session, `TnaasError` (one line) for any value the page
    would refuse. Names the page does not know are ignored.
    """
    query = {k: v[-1] if isinstance(v, list) else v for k, v in query.items()}
    corpus_key = query.get("corpus", default_corpus)
    uploads = uploads or {}
    if corpus_key in uploads:
        corpus = uploads[corpus_key]
    elif isinstance(corpus_key, str) and corpus_key.startswith(UPLOAD_PREFIX):
        raise PrivateUpload(
            f"This link names {corpus_key.removeprefix(UPLOAD_PREFIX)[:60]!r}, a corpus uploaded in another "
            "session. Uploads are private to their session, so the defaults are shown."
        )
    else:
        corpus = bundled_corpus(corpus_key)
    model = query.get("model", default_model)
    spec = ModelRequest.parse(model, None, corpus).spec
    params = {h.name: query[h.name] for h in spec.hyperparameters if h.name in query}
    request = ModelRequest.parse(model, params, corpus)
    values = {name: field.parse(query[name], name, corpus) for name, field in fields.items() if name in query}
    return Link(corpus_key, corpus, request, values)


def as_text(value) -> str:
    """A value as it is written in a link (bools as true/false, lists joined by ``;``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ";".join(map(str, value))
    return str(value)


def link_query(corpus_key: str, request: ModelRequest, values: dict) -> dict[str, str]:
    """The query parameters (name -> text) of the sidebar's choices and a page's `values`."""
    query = {"corpus": corpus_key, "model": request.name}
    query.update({name: as_text(value) for name, value in request.params})
    query.update({name: as_text(value) for name, value in values.items()})
    return query


def relative_link(path: str, query: dict[str, str]) -> str:
    """``/Complete?corpus=pokemon&…``: the page's path with its query string."""
    return f"{path}?{urlencode(query)}" if query else path
