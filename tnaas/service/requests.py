"""What a request asks for, parsed once at the edge: limits, the length choice, the model.

Every front end (CLI, app, API) hands raw values (text from a flag or a URL, numbers from a
widget) to these parsers; nothing downstream parses a parameter again.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from tnaas.errors import TnaasError
from tnaas.inference.lengths import MAX_ITEM_TOKENS, NATURAL, LengthDistribution, corpus_length, custom_length
from tnaas.models import ModelSpec, get_spec
from tnaas.validation import MAX_SAMPLES, _shown, check_int, check_text

# Limits of one request, documented in the README and the API's schema.
MAX_ITEMS = MAX_SAMPLES  # items generated per request
MAX_TOP = 1_000  # most probable completions
MAX_COMPLETION_SAMPLES = MAX_SAMPLES
MAX_PATTERN_CHARS = 400  # a pattern (64 tokens at most, see tnaas.inference.patterns)
MAX_NAME_CHARS = 200  # a name to score, check or classify
MAX_PREFIX_CHARS = 2_000  # a context for the next-token distribution
MAX_SEED = 2**31 - 1


def parse_seed(value) -> int:
    """A request's seed: the given one (0..2^31-1), or a fresh one when None.

    Either way the answer names it, so any answer can be reproduced.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return secrets.randbelow(MAX_SEED + 1)
    return check_int(value, "seed", 0, MAX_SEED)


_FLAG_WORDS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


def parse_flag(value, name: str) -> bool:
    """A yes/no option: a bool, or text from a URL ("true"/"false", "1"/"0", "yes"/"no", "on"/"off")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _FLAG_WORDS:
        return _FLAG_WORDS[value.strip().lower()]
    raise TnaasError(f"{name} must be true or false, not {_shown(value)}")


def parse_pattern_text(text) -> str:
    """A masked pattern as typed (at most `MAX_PATTERN_CHARS` characters)."""
    return check_text(text, "the pattern", MAX_PATTERN_CHARS)


def parse_name(text, what: str = "the name") -> str:
    """A name to score, check or classify (at most `MAX_NAME_CHARS` characters)."""
    return check_text(text, what, MAX_NAME_CHARS)


@dataclass(frozen=True)
class LengthChoice:
    """The length distribution a request asks for; hashable, so it keys caches.

    `kind`: "natural" (the model's own stopping), "corpus" (the training corpus's
    histogram) or "range" (`low`..`high` tokens, `shape` uniform or peaked; low == high
    is one exact length).
    """

    kind: str = "natural"
    low: int = 0
    high: int = 0
    shape: str = "uniform"

    @classmethod
    def parse(cls, value) -> LengthChoice:
        """From text: "natural", "corpus", "6", "4-8" or "4-8:peaked" (or a `LengthChoice`)."""
        if isinstance(value, LengthChoice):
            return value
        if value is None:
            return cls()
        text = str(value).strip().lower() if isinstance(value, str) and len(value) <= 40 else None
        if text in ("natural", "corpus"):
            return cls(text)
        match = re.fullmatch(r"(\d{1,4})(?:\s*-\s*(\d{1,4}))?(?::(uniform|peaked))?", text or "")
        if not match:
            raise TnaasError(
                f"unknown length {_shown(value)}: use natural, corpus, a length (6), a range (4-8) or 4-8:peaked"
            )
        low = int(match[1])
        high = int(match[2]) if match[2] else low
        return cls.range(low, high, match[3] or "uniform")

    @classmethod
    def range(cls, low: int, high: int, shape: str = "uniform") -> LengthChoice:
        """`low`..`high` tokens (validated: 1 <= low <= high <= MAX_ITEM_TOKENS)."""
        if not 1 <= low <= high <= MAX_ITEM_TOKENS:
            raise TnaasError(f"length range {low}-{high} is not valid: use 1 <= MIN <= MAX <= {MAX_ITEM_TOKENS}")
        if shape not in ("uniform", "peaked"):
            raise TnaasError(f"length shape must be uniform or peaked, not {_shown(shape)}")
        return cls("range", low, high, shape)

    def distribution(self, model) -> LengthDistribution:
        """What `model.sample(length=...)` and `model.complete(length=...)` accept."""
        if self.kind == "natural":
            return NATURAL
        if self.kind == "corpus":
            return corpus_length(model.training_lengths_)
        return custom_length(self.low, self.high, self.shape)

    def __str__(self) -> str:
        if self.kind != "range":
            return self.kind
        text = str(self.low) if self.low == self.high else f"{self.low}-{self.high}"
        return text if self.shape == "uniform" else f"{text}:{self.shape}"


@dataclass(frozen=True)
class ModelRequest:
    """A registered model with every hyperparameter resolved for one corpus.

    `params` is a sorted tuple of (name, value): defaults filled in, values validated by
    the registry, so equal requests compare (and hash) equal.
    """

    name: str
    params: tuple[tuple[str, object], ...]

    @classmethod
    def parse(cls, name, params: dict | None = None, corpus=None) -> ModelRequest:
        """From a model name and raw values (None = default) for `corpus`."""
        spec = get_spec(str(name).strip().lower() if isinstance(name, str) else name)
        return cls(spec.name, tuple(sorted(spec.resolve(params, corpus).items())))

    @property
    def spec(self) -> ModelSpec:
        """The registry entry."""
        return get_spec(self.name)

    def build(self):
        """A new unfitted model."""
        return self.spec.build(dict(self.params))

    def to_dict(self) -> dict:
        """{"name": ..., "params": {...}} for answers."""
        return {"name": self.name, "params": dict(self.params)}
