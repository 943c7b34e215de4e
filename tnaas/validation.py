"""The one validator for numbers and free text, used by every layer and front end.

Every numeric option (counts, temperatures, shares, seeds) and every free-text input
(patterns, names, prefixes) passes through here, so NaN, infinities, absurd magnitudes and
over-long text get one short message wherever they come from.
"""

from __future__ import annotations

import math
import re

import numpy as np

from tnaas.errors import TnaasError

MAX_SAMPLES = 100_000  # per call: more than anyone reads, few enough to stay responsive
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 10.0

# Bidirectional controls make a text display in another order than it reads ("Trojan
# Source"): refused in every free-text input and every file.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def rng_from(random_state) -> np.random.Generator:
    """A numpy Generator from a seed (int), None (fresh entropy) or a Generator."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is not None and (
        isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)) or random_state < 0
    ):
        raise TnaasError(f"a seed must be a whole number of 0 or more, not {_shown(random_state)}")
    return np.random.default_rng(random_state)


def check_count(n, what: str = "n", limit: int = MAX_SAMPLES) -> int:
    """`n` (an int: the library takes no text, front ends parse it first) in 0..limit, else `TnaasError`."""
    if not isinstance(n, int | np.integer) or isinstance(n, bool):
        raise TnaasError(f"{what} must be a whole number from 0 to {limit:,}, not {_shown(n)}")
    return check_int(n, what, 0, limit)


def check_temperature(temperature) -> float:
    """`temperature` as a float in the allowed range, else `TnaasError`."""
    return check_float(temperature, "temperature", MIN_TEMPERATURE, MAX_TEMPERATURE)


def _shown(value, limit: int = 24) -> str:
    """`value` as a short repr for a message: absurd inputs (1e308, 10,000 digits) stay one line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_int(value, name: str, low: int, high: int) -> int:
    """`value` (an int, or text such as "42" from a URL or a flag) as an int in low..high.

    Refuses bools, fractions, NaN, infinities, and anything out of range, in one line that
    names the option and the range.
    """
    number = value
    if isinstance(value, str):
        text = value.strip()
        number = int(text) if len(text) <= 20 and text.lstrip("+-").isdigit() else None
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    if isinstance(number, bool) or not isinstance(number, (int, np.integer)) or not low <= number <= high:
        raise TnaasError(f"{name} must be a whole number from {low:,} to {high:,}, not {_shown(value)}")
    return int(number)


def check_float(value, name: str, low: float, high: float, *, low_open: bool = False) -> float:
    """`value` (a number or its text) as a finite float in [low, high] ((low, high] if `low_open`).

    NaN and infinities are refused like any other value out of range.
    """
    try:
        number = float(value.strip() if isinstance(value, str) and len(value) <= 40 else value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if isinstance(value, bool):
        number = math.nan
    inside = (low < number if low_open else low <= number) and number <= high  # False for NaN
    if not (math.isfinite(number) and inside):
        bracket = "(" if low_open else "["
        raise TnaasError(f"{name} must be a number in {bracket}{low:g}, {high:g}], not {_shown(value)}")
    return number


def check_text(text, name: str, max_chars: int, *, allow_empty: bool = False) -> str:
    """`text` as a str of at most `max_chars` characters (no line breaks, no control characters).

    Every free-text input (a pattern, a name, a prefix) has a documented cap, so no
    request's work grows with an unbounded input.
    """
    if not isinstance(text, str):
        raise TnaasError(f"{name} must be text, not {type(text).__name__}")
    if len(text) > max_chars:
        raise TnaasError(f"{name} has {len(text):,} characters; the limit is {max_chars:,}")
    if not allow_empty and not text.strip():
        raise TnaasError(f"{name} is empty")
    if any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 or ch in "\u2028\u2029" for ch in text):
        raise TnaasError(f"{name} contains a line break or a control character")
    if BIDI_CONTROLS.search(text):
        raise TnaasError(f"{name} contains a bidirectional control character (U+202A-U+202E, U+2066-U+2069)")
    return text
