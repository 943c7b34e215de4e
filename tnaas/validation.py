"""The one validator for numbers and free text, used by every layer and front end.

Every numeric option (counts, temperatures, shares, seeds) and every free-text input
(patterns, names, prefixes) passes through here, so NaN, infinities, absurd magnitudes and
over-long text get one short message wherever they come from.
"""

from __future__ import annotations

import numpy as np

from tnaas.errors import TnaasError

MAX_SAMPLES = 100_000  # per call: more than anyone reads, few enough to stay responsive
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 10.0


def rng_from(random_state) -> np.random.Generator:
    """A numpy Generator from a seed (int), None (fresh entropy) or a Generator."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is not None and (
        isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)) or random_state < 0
    ):
        raise TnaasError(f"a seed must be a whole number of 0 or more, not {random_state!r}")
    return np.random.default_rng(random_state)


def check_count(n, what: str = "n", limit: int = MAX_SAMPLES) -> int:
    """`n` as an int in 0..limit, else `TnaasError`."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n <= limit:
        raise TnaasError(f"{what} must be a whole number from 0 to {limit:,}, not {n!r}")
    return int(n)


def check_temperature(temperature) -> float:
    """`temperature` as a float in the allowed range, else `TnaasError`."""
    try:
        value = float(temperature)
    except (TypeError, ValueError):
        value = float("nan")
    if not MIN_TEMPERATURE <= value <= MAX_TEMPERATURE:
        raise TnaasError(f"temperature must be between {MIN_TEMPERATURE} and {MAX_TEMPERATURE}, not {temperature!r}")
    return value
