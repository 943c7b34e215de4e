"""Length distributions p(λ): the talk's p(T) = p(T | λ) p(λ).

`natural` keeps the chain's own stopping (markovify's behaviour). Any other choice
reweights the chain's probability of ending after λ tokens by p(λ) / p_chain(λ), which is
exactly "draw λ from p(λ), then draw T from p(T | λ)". `tnaas.inference.any_length` samples under it
and `tnaas.inference.lattice` completes patterns under it, with no generate-and-discard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from tnaas.errors import TnaasError
from tnaas.inference.any_length import AllPaths
from tnaas.inference.automaton import Automaton
from tnaas.inference.exact_paths import make_all_paths

MAX_ITEM_TOKENS = 400  # the longest length anyone can ask for, in tokens
LENGTH_CHOICES = ("natural", "corpus", "MIN-MAX", "L")


@dataclass(frozen=True)
class LengthDistribution:
    """p(λ) over item lengths in tokens.

    `probs` is None for `natural` (the chain decides), else float64 (max λ + 1,) summing
    to 1. `label` says where it came from, for messages and charts.
    """

    label: str
    probs: np.ndarray | None = None

    @property
    def is_natural(self) -> bool:
        """True when the chain's own stopping decides the length."""
        return self.probs is None

    @property
    def max_length(self) -> int | None:
        """The longest length with positive probability (None for natural)."""
        return None if self.probs is None else int(np.flatnonzero(self.probs)[-1])


NATURAL = LengthDistribution("natural")


def fixed_length(length: int) -> LengthDistribution:
    """Every item has exactly `length` tokens."""
    return custom_length(length, length)


def custom_length(low: int, high: int, shape: str = "uniform") -> LengthDistribution:
    """Lengths from `low` to `high` tokens, inclusive: `uniform`, or `peaked` (triangular,
    most likely in the middle)."""
    if not (1 <= low <= high <= MAX_ITEM_TOKENS):
        raise TnaasError(f"length range {low}-{high} is not valid: use 1 <= MIN <= MAX <= {MAX_ITEM_TOKENS}")
    weights = np.zeros(high + 1)
    if shape == "uniform":
        weights[low:] = 1.0
    elif shape == "peaked":
        span = np.arange(low, high + 1)
        weights[low:] = 1.0 + np.minimum(span - low, high - span)
    else:
        raise TnaasError(f"unknown length shape {shape!r}: use uniform or peaked")
    label = f"{low}" if low == high else f"{low}-{high} ({shape})"
    return LengthDistribution(label, weights / weights.sum())


def corpus_length(lengths: np.ndarray) -> LengthDistribution:
    """The empirical length histogram of a corpus (`lengths`: int (items,) in tokens)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) == 0:
        raise TnaasError("the corpus length distribution needs a corpus: this model was not fitted on items")
    counts = np.bincount(lengths).astype(np.float64)
    return LengthDistribution("corpus", counts / counts.sum())


def parse_length(spec: str, corpus_lengths: np.ndarray | None = None) -> LengthDistribution:
    """Parse `natural`, `corpus`, `MIN-MAX` (uniform) or `L` (fixed) into a distribution."""
    spec = str(spec).strip().lower()
    if spec == "natural":
        return NATURAL
    if spec == "corpus":
        return corpus_length(np.zeros(0) if corpus_lengths is None else corpus_lengths)
    match = re.fullmatch(r"(\d+)\s*-\s*(\d+)", spec)
    if match:
        return custom_length(int(match[1]), int(match[2]))
    if spec.isdigit():
        return fixed_length(int(spec))
    raise TnaasError(f"unknown length distribution {spec!r}: use natural, corpus, MIN-MAX (e.g. 4-8) or a length")


def chain_length_probs(automaton: Automaton, max_length: int) -> np.ndarray:
    """p_chain(length = λ) for λ = 0..max_length under the automaton's own stopping."""
    return make_all_paths(automaton, max_length).length_probs()


def log_end_weights(
    automaton: Automaton, lengths: LengthDistribution, max_length: int, paths: AllPaths | None = None
) -> np.ndarray:
    """Natural logs of the factors w_λ = p(λ) / p_chain(λ) on ending after λ tokens
    (float64 (cap + 1,), -inf for a length left out).

    For `natural` all zeros (factor 1) up to `max_length`. Lengths the chain cannot produce
    are dropped and p(λ) renormalised over the rest; if none is left a `TnaasError` says so.
    Worked in logs: a length the chain reaches with probability 1e-400 is possible, and its
    factor, ~1e400, is no double. `paths` reuses an `AllPaths` of the automaton already
    built for `lengths.max_length`.
    """
    if lengths.is_natural:
        return np.zeros(max_length + 1)
    cap = lengths.max_length
    log_chain = (paths or make_all_paths(automaton, cap)).length_log_probs()
    target = lengths.probs[: cap + 1]
    possible = log_chain > -np.inf
    kept = target[possible].sum()
    if kept <= 0:
        wanted = np.flatnonzero(target)
        raise TnaasError(
            f"this model never produces items of length {wanted.min()}–{wanted.max()} tokens "
            f"(length {lengths.label}); choose another length or turn on smoothing"
        )
    out = np.full(cap + 1, -np.inf)
    with np.errstate(divide="ignore"):
        out[possible] = np.log(target[possible]) - log_chain[possible] - np.log(kept)
    return out


def end_weights(
    automaton: Automaton, lengths: LengthDistribution, max_length: int, paths: AllPaths | None = None
) -> np.ndarray:
    """Factors w_λ = p(λ) / p_chain(λ) on ending after λ tokens (float64 (cap + 1,)).

    exp of `log_end_weights` (see there): inf where p_chain(λ) is below ~1e-308 p(λ), so
    anything exact should take the logs.
    """
    with np.errstate(over="ignore"):
        return np.exp(log_end_weights(automaton, lengths, max_length, paths))
