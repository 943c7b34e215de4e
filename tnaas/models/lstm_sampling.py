"""Drawing items from an LSTM: natural draws, and exact draws given the length.

p(item | λ) = p(item) / p(λ) has no closed form for an LSTM (p(λ) sums over every item of
λ tokens), but two exact ways to draw from it:

- **Rejection**: draw items the model's own way (tempered) and keep those of exactly λ
  tokens. A kept draw is an exact draw from p(item | λ); one natural draw serves whichever
  requested length it happens to have. It costs about 1 / p(λ) draws per item.
- **Enumeration**: when the vocabulary has few enough items of λ tokens (V**λ at most
  `ENUMERATE_UP_TO`), score them all and draw from the normalised scores.

`sample_given_lengths` uses rejection while it is cheaper, estimating p(λ) from the draws
so far, and switches a length to enumeration once enumerating it costs fewer items than the
draws still expected. A length that neither reaches within natural draws that read
`REJECTION_BUDGET` tokens in all (too rare for rejection, too long to enumerate) is a
`TnaasError` naming it, raised early once even an optimistic estimate of p(λ) says the
budget cannot suffice.

Which draws are kept depends only on the lengths drawn, never on their tokens, so the
kept items of each length are independent exact draws. Rejection draws come from the
float32 network, enumeration scores from the float64 one (they differ by ~1e-7 in
probability).

`model` is anything with `vocabulary_`, `start_state(n)`, `step(tokens, state,
temperature)`, `select(state, index)` and `score_ids(sequences, temperature)`, as
`tnaas.inference.smc` describes.
"""

from __future__ import annotations

import numpy as np

from tnaas.errors import TnaasError
from tnaas.inference.smc import draw

ENUMERATE_UP_TO = 20_000  # score every item of λ tokens when there are at most this many
REJECTION_BUDGET = 4_000_000  # tokens read by the natural draws of one call, at most (~5 s, hidden 128)
FAIL_FAST_AFTER = 10_000  # draws after which a length hopeless even at an optimistic rate stops the call
MIN_BATCH, MAX_BATCH = 256, 10_000  # natural draws per rejection round


def draw_runs(model, n: int, rng: np.random.Generator, temperature: float, cap: int):
    """`n` natural runs, each stopped at END or after `cap` tokens: (tokens int64 (n, cap),
    lengths int64 (n,), -1 for runs that had not ended after `cap` tokens)."""
    vocab_size = len(model.vocabulary_)
    tokens = np.zeros((n, cap), dtype=np.int64)
    lengths = np.full(n, -1, dtype=np.int64)
    active = np.arange(n)
    state = model.start_state(n)
    last = np.full(n, vocab_size, dtype=np.int64)  # BEGIN
    for t in range(cap + 1):
        probs, state = model.step(last, state, temperature)
        drawn = draw(probs, rng)
        ended = drawn == vocab_size
        lengths[active[ended]] = t
        if t == cap:
            break
        going = np.flatnonzero(~ended)
        active, last = active[going], drawn[going]
        if len(active) == 0:
            break
        tokens[active, t] = last
        state = model.select(state, going)
    return tokens, lengths


def natural_batch(model, n: int, rng: np.random.Generator, temperature: float, cap: int) -> list:
    """`n` natural draws as id arrays, None for runs cut off at `cap` tokens (for `redraw_until`)."""
    tokens, lengths = draw_runs(model, n, rng, temperature, cap)
    return [tokens[i, : lengths[i]].copy() if lengths[i] >= 0 else None for i in range(n)]


def sample_given_lengths(
    model, lengths: np.ndarray, rng: np.random.Generator, temperature: float, name: str = "lstm"
) -> list[np.ndarray]:
    """One exact draw from p(item | λ) (tempered) for each λ in `lengths` (int (n,), each
    >= 1), as id arrays in the same order (see the module docstring)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    out: list = [None] * len(lengths)
    if len(lengths) == 0:
        return out
    waiting = {int(lam): list(np.flatnonzero(lengths == lam)) for lam in np.unique(lengths)}
    vocab_size = len(model.vocabulary_)
    seen = np.zeros(int(lengths.max()) + 1)  # natural draws of each length so far
    drawn = read = 0  # natural draws so far, and the tokens they read
    while waiting:
        for lam in sorted(waiting):
            rate = (seen[lam] + 1) / (drawn + 2)  # estimate of p(λ) (Laplace: never 0)
            candidates = vocab_size**lam
            if candidates <= ENUMERATE_UP_TO and candidates < len(waiting[lam]) / rate:
                _enumerate_into(model, lam, waiting.pop(lam), out, rng, temperature, name)
        if not waiting:
            break
        if read >= REJECTION_BUDGET or (drawn >= FAIL_FAST_AFTER and _hopeless(waiting, seen, drawn, read)):
            raise TnaasError(_too_rare(name, waiting, seen, drawn))
        needed = max(len(rows) * (drawn + 2) / (seen[lam] + 1) for lam, rows in waiting.items())
        size = int(min(MAX_BATCH, max(MIN_BATCH, 1.2 * needed)))
        cap = max(waiting)
        tokens, got = draw_runs(model, size, rng, temperature, cap)
        drawn, read = drawn + size, read + int(np.where(got >= 0, got + 1, cap + 1).sum())
        seen += np.bincount(got[got >= 0], minlength=len(seen))[: len(seen)]
        for lam in list(waiting):
            rows = waiting[lam]
            hits = np.flatnonzero(got == lam)[: len(rows)]
            for row, hit in zip(rows, hits):
                out[row] = tokens[hit, :lam].copy()
            del rows[: len(hits)]
            if not rows:
                del waiting[lam]
    return out


def _enumerate_into(model, lam: int, rows: list, out: list, rng, temperature: float, name: str) -> None:
    """Exact draws for `rows` of `out` from p(item | λ), by scoring all V**λ items."""
    vocab_size = len(model.vocabulary_)
    items = np.stack(np.unravel_index(np.arange(vocab_size**lam), (vocab_size,) * lam), axis=1)
    scores = model.score_ids(list(items), temperature)
    if not np.isfinite(scores).any():
        raise TnaasError(f"the {name} model gives items of {lam} tokens no probability at this temperature")
    weights = np.exp(scores - scores.max())
    for row, pick in zip(rows, rng.choice(len(items), size=len(rows), p=weights / weights.sum())):
        out[row] = items[pick].copy()


def _hopeless(waiting: dict, seen: np.ndarray, drawn: int, read: int) -> bool:
    """True when some length would need more draws than the budget has left, even at a rate
    3 standard errors above its estimate (a decision on lengths only, so exactness holds)."""
    per_draw = read / drawn
    for lam, rows in waiting.items():
        optimistic = (seen[lam] + 1 + 3 * np.sqrt(seen[lam] + 1)) / drawn
        if len(rows) / optimistic * per_draw > REJECTION_BUDGET - read:
            return True
    return False


def _too_rare(name: str, waiting: dict, seen: np.ndarray, drawn: int) -> str:
    """The message for lengths the model (almost) never ends at."""
    shown = sorted(waiting)[:5]
    which = ", ".join(f"{lam} ({int(seen[lam])} of {drawn:,} draws)" for lam in shown)
    more = f" and {len(waiting) - len(shown)} more" if len(waiting) > len(shown) else ""
    return (
        f"the {name} model too rarely makes items of {'this length' if len(waiting) == 1 else 'these lengths'} "
        f"to draw them exactly: {which}{more}; ask for lengths nearer its own (e.g. length='corpus') "
        "or fewer items"
    )
