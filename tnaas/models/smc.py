"""Completion for a model that is not an automaton (the LSTM): exact when it can enumerate,
else sequential Monte Carlo (SMC) constrained by the pattern's DFA.

An LSTM's next-token distribution depends on the whole prefix, so the exact lattice of
`tnaas.lattice` does not apply. Two answers instead:

- **Enumeration** (exact): a fixed-length pattern whose `*`s leave at most `max_candidates`
  completions is answered by scoring every candidate with the model's exact log-probability.
- **SMC** (approximate): particles grow token by token; each draws its next token from the
  model's distribution restricted to the tokens the pattern DFA allows (and that can still
  reach an accepting state within the length limit) and multiplies its weight by the
  allowed probability mass. When the effective sample size (ESS) drops below half the
  particles they are resampled (systematic). The mean weight increments multiply to an
  unbiased estimate of p(pattern); the weighted particles approximate p(item | pattern).

`model` is anything with `vocabulary_`, `token_kind_`, `max_length_`, `start_state(n)`,
`step(tokens, state, temperature) -> (probs (n, vocabulary + 1), state)` with END last
and BEGIN = id `len(vocabulary_)` as input, `select(state, index)` and
`score_ids(sequences, temperature)`: see `tnaas.models.lstm.LSTMModel`.

Length distributions other than natural: p(item) = p(λ) p_model(item) / p_model(λ). For
each length λ the pattern allows, one SMC run constrained to exactly λ tokens estimates
p_model(pattern, λ) and another (or enumeration, when small) estimates p_model(λ).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tnaas.completion import END_KEY, Completion, impossible_message
from tnaas.errors import TnaasError
from tnaas.lengths import LengthDistribution
from tnaas.patterns import LITERAL, ONE, PatternDFA, any_sequence_dfa, compile_pattern, parse_pattern
from tnaas.tokens import detokenize

PARTICLES = 2_000  # default: ~1% error on posteriors near 0.5 at ESS 2,000; a fraction of a second
MAX_PARTICLES = 100_000
MAX_CANDIDATES = 20_000  # enumerate (exactly) up to this many completions: ~1 s for the LSTM
SAMPLE_PARTICLES = 500  # per distinct length when sampling under a length distribution
MAX_LENGTHS = 40  # lengths one answer may span under a length distribution (two SMC runs each)
RESAMPLE_BELOW = 0.5  # resample when ESS < this fraction of the particles
_FAR = 1 << 30  # "cannot reach an accepting state"


@dataclass(frozen=True)
class Particles:
    """Weighted token sequences approximating p(item | constraint).

    `tokens`: int64 (n, width), -1 past each item's end; `lengths`: int64 (n,); `weights`:
    float64 (n,) summing to 1; `log_z`: estimated log p(constraint) (natural log);
    `truncated`: estimated probability of matching prefixes cut off by the length cap.
    """

    tokens: np.ndarray
    lengths: np.ndarray
    weights: np.ndarray
    log_z: float
    truncated: float = 0.0
    scores: np.ndarray | None = None  # exact log target probability of each row, when known
    length_factor: np.ndarray | None = None  # log p(λ) / p_model(λ) by λ, for length distributions

    @property
    def ess(self) -> float:
        """Effective sample size of the weights, 1 / sum(w²)."""
        return float(1.0 / np.sum(self.weights**2)) if self.weights.sum() > 0 else 0.0


def steps_to_accept(next_state: np.ndarray, accepting: np.ndarray) -> np.ndarray:
    """Fewest tokens from each DFA state to an accepting one (int64 (states,); `_FAR` if none).

    `next_state`: int64 (states, vocabulary), -1 where the token does not match.
    """
    dist = np.where(accepting, 0, _FAR).astype(np.int64)
    while True:
        via = np.where(next_state >= 0, dist[np.maximum(next_state, 0)] + 1, _FAR).min(axis=1, initial=_FAR)
        new = np.minimum(dist, via)
        if np.array_equal(new, dist):
            return dist
        dist = new


def run_smc(
    model,
    dfa: PatternDFA,
    n: int,
    rng: np.random.Generator,
    temperature: float,
    cap: int,
    exact_length: int | None = None,
) -> Particles:
    """SMC with `n` particles for items matching `dfa`, at most `cap` tokens long (exactly
    `exact_length` when given; then `truncated` is 0). See the module docstring."""
    vocab_size = len(model.vocabulary_)
    next_state = dfa.delta[:, dfa.token_class]  # (dfa states, vocabulary)
    dist = steps_to_accept(next_state, dfa.accepting)
    limit = cap if exact_length is None else exact_length
    tokens = np.full((n, limit), -1, dtype=np.int64)
    lengths = np.full(n, -1, dtype=np.int64)
    q = np.zeros(n, dtype=np.int64)
    last = np.full(n, vocab_size, dtype=np.int64)  # BEGIN
    weights = np.full(n, 1.0 / n)
    log_z, truncated = 0.0, 0.0
    state = model.start_state(n)
    for t in range(limit + 1):
        alive = lengths < 0
        if not alive.any():
            break
        probs, state = model.step(np.where(alive, last, vocab_size), state, temperature)
        nq = next_state[q]
        reach = np.where(nq >= 0, dist[np.maximum(nq, 0)], _FAR)
        ok = reach <= limit - t - 1
        can_end = dfa.accepting[q] & (exact_length is None or t == exact_length)
        allowed = np.concatenate([probs[:, :vocab_size] * ok, (probs[:, vocab_size] * can_end)[:, None]], axis=1)
        mass = np.where(alive, allowed.sum(axis=1), 1.0)
        if exact_length is None:  # matching prefixes that would need more than `cap` tokens
            cut = (probs[:, :vocab_size] * ((reach < _FAR) & ~ok)).sum(axis=1)
            truncated += float(np.exp(log_z) * np.dot(weights, np.where(alive, cut, 0.0)))
        step_z = float(np.dot(weights, mass))
        if step_z <= 0:
            return Particles(tokens, lengths, np.zeros(n), -np.inf)
        log_z += np.log(step_z)
        weights = weights * mass / step_z
        live = np.flatnonzero(alive & (mass > 0))
        drawn = draw(allowed[live], rng)
        ended = drawn == vocab_size
        lengths[live[ended]] = t
        going, token = live[~ended], drawn[~ended]
        if len(going):  # never at t == limit, where only ending is allowed
            tokens[going, t] = token
            q[going], last[going] = next_state[q[going], token], token
        if (lengths < 0).any() and 1.0 / np.sum(weights**2) < RESAMPLE_BELOW * n:
            index = _systematic(weights, rng)
            tokens, lengths, q, last = tokens[index], lengths[index], q[index], last[index]
            state = model.select(state, index)
            weights = np.full(n, 1.0 / n)
    lengths[lengths < 0] = limit  # unreachable: every particle has ended by now (mass 0 otherwise)
    return Particles(tokens, lengths, weights, float(log_z), truncated)


def complete(
    model,
    text: str,
    top: int,
    samples: int,
    rng: np.random.Generator,
    lengths: LengthDistribution,
    temperature: float,
    particles: int = PARTICLES,
    max_candidates: int = MAX_CANDIDATES,
) -> Completion:
    """Answer the pattern `text` for `model` (see the module docstring and `Completion`).

    `top` and `samples` as for the exact models; `method` says "exact: ..." only when every
    candidate was scored, else "approximate: SMC, N particles, effective sample size E".
    """
    pattern = parse_pattern(text, model.token_kind_)
    vocab = model.vocabulary_
    dfa = compile_pattern(pattern, vocab)
    fixed = pattern.fixed_length
    if particles < 1:
        raise TnaasError("particles must be at least 1")
    support = None  # lengths to consider; None = the model's own stopping (natural)
    if not lengths.is_natural:
        support = [int(lam) for lam in np.flatnonzero(lengths.probs) if lam >= pattern.min_length]
        support = [lam for lam in support if fixed is None or lam == fixed]
        if not support:
            return Completion(text, 0.0, max_length=lengths.max_length or 0, message=impossible_message(text, True))
        if len(support) > MAX_LENGTHS:
            raise TnaasError(
                f"the {model.name} model completes gap patterns under at most {MAX_LENGTHS} different lengths "
                f"(length {lengths.label} allows {len(support)}): choose a narrower length range or a fixed length"
            )
    stars = sum(kind == ONE for kind, _ in pattern.elements)
    if fixed is not None and len(vocab) ** stars <= max_candidates:
        found = _enumerate(model, pattern.elements, temperature)
        method = f"exact: all {len(found.weights):,} completions scored"
        if support is not None:
            log_len, how = _log_length_prob(model, fixed, rng, temperature, particles, max_candidates)
            delta = float(np.log(lengths.probs[fixed]) - log_len)
            found = Particles(
                found.tokens, found.lengths, found.weights, found.log_z + delta, 0.0, found.scores + delta
            )
            if how != "exact":
                method = f"exact posteriors ({len(found.weights):,} completions scored); p(pattern) {how}"
    elif support is None:
        found = run_smc(model, dfa, particles, rng, temperature, fixed if fixed is not None else model.max_length_)
        method = _smc_method(particles, found)
    else:
        found = _smc_over_lengths(model, dfa, support, lengths, rng, temperature, particles, max_candidates)
        method = _smc_method(particles, found, len(support))
    cap = fixed if fixed is not None else (model.max_length_ if support is None else max(support))
    if found.log_z == -np.inf:
        return Completion(text, 0.0, max_length=cap, message=impossible_message(text, True))
    return Completion(
        text,
        float(np.exp(found.log_z)),
        _positions(pattern, found, vocab),
        _top(model, found, top, temperature),
        [_text(model, found.tokens[i], found.lengths[i]) for i in _multinomial(found.weights, samples, rng)],
        method=method,
        truncated_mass=found.truncated,
        max_length=cap,
        top_complete=method.startswith("exact"),
    )


def sample_lengths(
    model, n: int, lengths: LengthDistribution, rng: np.random.Generator, temperature: float
) -> list[np.ndarray]:
    """`n` token-id sequences: λ drawn from `lengths`, then an item from the SMC approximation
    of p_model(item | length λ) (at least `SAMPLE_PARTICLES` particles per distinct λ)."""
    drawn = rng.choice(len(lengths.probs), size=n, p=lengths.probs)
    out: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * n
    anything = any_sequence_dfa(len(model.vocabulary_))
    for lam in np.unique(drawn):
        where = np.flatnonzero(drawn == lam)
        count = min(MAX_PARTICLES, max(SAMPLE_PARTICLES, 4 * len(where)))
        found = run_smc(model, anything, count, rng, temperature, int(lam), exact_length=int(lam))
        for i, pick in zip(where, _multinomial(found.weights, len(where), rng)):
            out[i] = found.tokens[pick, :lam].copy()
    return out


# ----------------------------------------------------------------------- helpers
def _enumerate(model, elements, temperature: float) -> Particles:
    """Every completion of a fixed-length pattern, weighted exactly by p(item | pattern)."""
    vocab = model.vocabulary_
    index = {token: i for i, token in enumerate(vocab)}
    unknown = [i for i, (kind, _) in enumerate(elements) if kind == ONE]
    count = len(vocab) ** len(unknown)
    tokens = np.empty((count, len(elements)), dtype=np.int64)
    for i, (kind, token) in enumerate(elements):
        if kind == LITERAL:
            tokens[:, i] = index[token]
    if unknown:
        grid = np.unravel_index(np.arange(count), (len(vocab),) * len(unknown))
        tokens[:, unknown] = np.stack(grid, axis=1)
    scores = model.score_ids(list(tokens), temperature)
    log_z = _logsumexp(scores)
    weights = np.exp(scores - log_z) if log_z > -np.inf else np.zeros(count)
    return Particles(tokens, np.full(count, len(elements)), weights, log_z, 0.0, scores)


def _log_length_prob(
    model, lam: int, rng, temperature: float, particles: int, max_candidates: int
) -> tuple[float, str]:
    """log p_model(length = λ) and how it was found ("exact" or an "approximate: ..." note)."""
    if len(model.vocabulary_) ** lam <= max_candidates:
        return _enumerate(model, ((ONE, None),) * lam, temperature).log_z, "exact"
    found = run_smc(model, any_sequence_dfa(len(model.vocabulary_)), particles, rng, temperature, lam, lam)
    return (
        found.log_z,
        f"approximate: p(length {lam}) by SMC, {particles:,} particles, effective sample size {found.ess:,.0f}",
    )


def _smc_over_lengths(model, dfa, support, lengths, rng, temperature, particles, max_candidates) -> Particles:
    """One SMC run per allowed length λ, mixed with weights p(λ) p̂(pattern, λ) / p̂(λ)."""
    runs, log_mix = [], []
    factor = np.full(max(support) + 1, -np.inf)
    for lam in support:
        found = run_smc(model, dfa, particles, rng, temperature, lam, exact_length=lam)
        factor[lam] = (
            np.log(lengths.probs[lam]) - _log_length_prob(model, lam, rng, temperature, particles, max_candidates)[0]
        )
        runs.append(found)
        log_mix.append(factor[lam] + found.log_z)
    log_z = _logsumexp(np.array(log_mix))
    if log_z == -np.inf:
        return Particles(np.zeros((0, 0), dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0), -np.inf)
    width = max(support)
    tokens = np.concatenate(
        [np.pad(r.tokens, ((0, 0), (0, width - r.tokens.shape[1])), constant_values=-1) for r in runs]
    )
    weights = np.concatenate([r.weights * np.exp(m - log_z) for r, m in zip(runs, log_mix)])
    return Particles(tokens, np.concatenate([r.lengths for r in runs]), weights, log_z, 0.0, None, factor)


def _smc_method(particles: int, found: Particles, n_lengths: int = 1) -> str:
    each = f" for each of {n_lengths} lengths" if n_lengths > 1 else ""
    return f"approximate: SMC, {particles:,} particles{each}, effective sample size {found.ess:,.0f}"


def _positions(pattern, found: Particles, vocab) -> list[dict]:
    """Weighted token frequencies at each unknown position (the layout of `complete_exact`)."""
    keep = found.weights > 0
    tokens, lengths, weights = found.tokens[keep], found.lengths[keep], found.weights[keep]
    if pattern.fixed_length is not None:
        indices = [i for i, (kind, _) in enumerate(pattern.elements) if kind == ONE]
    else:
        first = next((i for i, (kind, _) in enumerate(pattern.elements) if kind != LITERAL), 0)
        indices = range(first, int(lengths.max(initial=0)))
    positions = []
    for i in indices:
        going = lengths > i
        mass = np.bincount(tokens[going, i], weights=weights[going], minlength=len(vocab))
        dist = {vocab[t]: float(mass[t]) for t in np.flatnonzero(mass)}
        ended = float(weights[~going].sum())
        if ended > 0:
            dist[END_KEY] = ended
        if len(dist) > 1 or pattern.fixed_length is not None:
            positions.append({"index": i, "distribution": dict(sorted(dist.items(), key=lambda kv: -kv[1]))})
    return positions


def _top(model, found: Particles, k: int, temperature: float) -> list[dict]:
    """The k most probable distinct rows, ranked by exact model score (times the length factor)."""
    keep = np.flatnonzero(found.weights > 0)
    if k == 0 or len(keep) == 0:
        return []
    rows = np.concatenate([found.tokens[keep], found.lengths[keep, None]], axis=1)
    _, first = np.unique(rows, axis=0, return_index=True)
    distinct = keep[first]
    if found.scores is not None:
        scores = found.scores[distinct]
    else:
        scores = model.score_ids([found.tokens[i, : found.lengths[i]] for i in distinct], temperature)
        if found.length_factor is not None:
            scores = scores + found.length_factor[found.lengths[distinct]]
    order = np.argsort(-scores, kind="stable")[:k]
    return [
        {
            "text": _text(model, found.tokens[distinct[j]], found.lengths[distinct[j]]),
            "probability": min(1.0, float(np.exp(scores[j] - found.log_z))),
        }
        for j in order
    ]


def _text(model, tokens: np.ndarray, length: int) -> str:
    return detokenize((model.vocabulary_[t] for t in tokens[:length]), model.token_kind_)


def _multinomial(weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k row indices drawn with probability proportional to `weights`."""
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    return rng.choice(len(weights), size=k, p=weights / weights.sum())


def _systematic(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Systematic resampling: n indices, row i about n * weights[i] times (low variance)."""
    n = len(weights)
    cumulative = np.cumsum(weights)
    points = (rng.random() + np.arange(n)) / n * cumulative[-1]
    return np.minimum(np.searchsorted(cumulative, points, side="right"), n - 1)


def draw(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One column index per row of `probs` (float64 (n, k), non-negative, rows with positive
    sum), chosen with probability proportional to the row's entries (inverse CDF)."""
    cumulative = np.cumsum(probs, axis=1)
    target = rng.random(len(probs)) * cumulative[:, -1]
    return np.minimum((cumulative <= target[:, None]).sum(axis=1), probs.shape[1] - 1)


def _logsumexp(x: np.ndarray) -> float:
    if len(x) == 0 or np.max(x) == -np.inf:
        return -np.inf
    top = float(np.max(x))
    return top + float(np.log(np.sum(np.exp(x - top))))
