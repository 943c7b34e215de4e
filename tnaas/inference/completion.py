"""The answer to a masked pattern: p(pattern), per-position posteriors, top-k, samples."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from tnaas.data.tokens import detokenize
from tnaas.inference.automaton import Automaton
from tnaas.inference.exact_paths import make_lattice
from tnaas.inference.lengths import NATURAL, LengthDistribution, log_end_weights
from tnaas.inference.patterns import LITERAL, ONE, Pattern, compile_pattern

END_KEY = "<end>"  # in a position's distribution: the item has already ended there


@dataclass(frozen=True)
class Completion:
    """Everything a model can say about a masked pattern.

    `probability`: p(a generated item matches), under the model's length distribution;
    `log_probability`: its natural log, which holds it where the float underflows to 0.0
    (a long pattern, a model with tiny parameters): -inf only if nothing can match.
    `positions`: [{"index": i, "distribution": {token: p}}] for each unknown position i
    (counting tokens from 0), sorted by probability; with a gap (`%`) a position may also
    hold `END_KEY` (the item ended before it). `top`: [{"text", "probability"}] the most
    probable matches with p(item | pattern), descending. `samples`: draws from
    p(item | pattern). `method` says "exact" or how the answer was approximated.
    `truncated_mass` bounds the probability left out by the length cap `max_length`.
    """

    pattern: str
    probability: float
    positions: list[dict] = field(default_factory=list)
    top: list[dict] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    method: str = "exact"
    truncated_mass: float = 0.0
    max_length: int = 0
    top_complete: bool = True
    message: str = ""
    log_probability: float | None = None  # None: log(probability) (answers built elsewhere)

    def __post_init__(self):
        if self.log_probability is None:
            with np.errstate(divide="ignore"):
                object.__setattr__(self, "log_probability", float(np.log(self.probability)))

    @property
    def matches(self) -> bool:
        """False when no item of the model can match the pattern (a possible one whose
        probability underflows to 0.0 still matches: see `log_probability`)."""
        return self.log_probability > -np.inf

    def with_hint(self, hint: str) -> Completion:
        """The same answer with `hint` said right after the reason the pattern cannot match."""
        reason = impossible_message(self.pattern)
        if not hint or self.matches:
            return self
        rest = self.message.removeprefix(reason) if self.message.startswith(reason) else " " + self.message
        return replace(self, message=f"{reason} {hint}{rest}".rstrip())

    def to_dict(self) -> dict:
        """The JSON shape of `python -m tnaas complete --json`."""
        return {
            "pattern": self.pattern,
            "probability": self.probability,
            "log_probability": self.log_probability,
            "positions": self.positions,
            "top": self.top,
            "samples": self.samples,
            "method": self.method,
            "truncated_mass": self.truncated_mass,
            "max_length": self.max_length,
            "top_complete": self.top_complete,
            "message": self.message,
        }


def impossible_message(pattern: str, smoothed: bool | None = None) -> str:
    """What to tell a user whose pattern has probability 0 (model-neutral: the caller, who
    knows the model's options, adds hints with `Completion.with_hint`)."""
    return f"No item this model can generate matches {pattern!r}: its probability is 0."


def complete_exact(
    automaton: Automaton,
    pattern: Pattern,
    kind: str,
    max_length: int,
    top: int = 10,
    samples: int = 0,
    rng: np.random.Generator | None = None,
    lengths: LengthDistribution = NATURAL,
    smoothed: bool = False,
) -> Completion:
    """Answer `pattern` exactly on `automaton` (see `Completion`).

    `max_length` caps gap patterns under the natural length distribution; fixed-length
    patterns and other length distributions need no cap.
    """
    dfa = compile_pattern(pattern, automaton.vocabulary)
    cap = pattern.fixed_length
    if cap is None:
        cap = max_length if lengths.is_natural else lengths.max_length
    log_weights = np.full(cap + 1, -np.inf)
    given = log_end_weights(automaton, lengths, cap)
    log_weights[: min(len(given), cap + 1)] = given[: cap + 1]
    lattice = make_lattice(automaton, dfa, log_end_weight=log_weights)
    if lattice.log_z == -np.inf:
        return Completion(pattern.text, 0.0, max_length=cap, message=impossible_message(pattern.text, smoothed))
    vocab = automaton.vocabulary
    names = np.fromiter(vocab, dtype=object, count=len(vocab))
    posteriors = lattice.token_posteriors()
    if pattern.fixed_length is not None:
        unknown = [i for i, (kind_, _) in enumerate(pattern.elements) if kind_ == ONE]
        ended = np.zeros(cap + 1)
    else:
        unknown = list(range(_leading_literals(pattern), len(posteriors)))
        ended = np.cumsum(lattice.end_posterior())
    positions = []
    for i in unknown:
        dist = _distribution(names, *posteriors[i], float(ended[i]))
        if len(dist) > 1 or pattern.fixed_length is not None:
            positions.append({"index": i, "distribution": dist})
    best, complete = lattice.top(top)
    rng = rng if rng is not None else np.random.default_rng()
    drawn = lattice.sample(samples, rng) if samples else []
    return Completion(
        pattern.text,
        lattice.probability,
        positions,
        [{"text": detokenize((vocab[t] for t in ids), kind), "probability": p} for ids, p in best],
        [detokenize((vocab[t] for t in ids), kind) for ids in drawn],
        truncated_mass=lattice.running_mass if lengths.is_natural and pattern.fixed_length is None else 0.0,
        max_length=cap,
        top_complete=complete,
        log_probability=lattice.log_z,
    )


def _distribution(names: np.ndarray, ids: np.ndarray, probs: np.ndarray, ended: float) -> dict[str, float]:
    """{token: p} by descending p (ties: ascending id), with END_KEY: `ended` when > 0 after
    every token at least as likely (a stable sort of the tokens then END); one argsort.
    `names`: the vocabulary as an object array."""
    order = np.argsort(-probs, kind="stable")
    keys, values = names[ids[order]].tolist(), probs[order].tolist()
    if ended > 0:
        at = int(np.count_nonzero(probs >= ended))
        keys.insert(at, END_KEY)
        values.insert(at, ended)
    return dict(zip(keys, values))


def _leading_literals(pattern: Pattern) -> int:
    count = 0
    for kind, _ in pattern.elements:
        if kind != LITERAL:
            break
        count += 1
    return count
