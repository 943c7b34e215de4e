"""A frozen copy of tnaas/inference/smc.py before the issue-13 speed-up (commit 3d7acab), kept
only so that benchmarks/bench_smc.py can time old against new in one run. Not part of the package."""

# ruff: noqa

import math
from dataclasses import dataclass

import numpy as np

from tnaas.data.tokens import detokenize
from tnaas.errors import TnaasError
from tnaas.inference.completion import END_KEY, Completion, impossible_message
from tnaas.inference.lengths import LengthDistribution
from tnaas.inference.patterns import LITERAL, ONE, PatternDFA, any_sequence_dfa, compile_pattern, parse_pattern

PARTICLES = 2_000  # first run: posteriors within ~±0.02 at ESS 2,000; 0.1-1 s on 31k names
MIN_ESS = 500  # below this (suffix patterns like `%ly`) one rerun with proportionally more particles,
AUTO_PARTICLES = 16_000  # up to this many (`%ly` on names: 3-6 s)
MAX_PARTICLES = 100_000
MAX_CANDIDATES = 20_000  # enumerate (exactly) up to this many completions: ~1 s (17,576 names)
TOP_POOL = 2_000  # the heaviest items re-scored exactly to rank the top completions
RESAMPLE_BELOW = 0.5  # resample when the ESS falls below this fraction of the particles
NEGLIGIBLE = 1e-12  # stop once the running particles carry this little next to the items found
_FAR = 1 << 30  # "cannot reach an accepting state"


@dataclass(frozen=True)
class Weighted:
    """Items with weights approximating (or, when enumerated, equal to) p(item | query).

    Stored as a particle family tree: slot i after t + 1 tokens holds token `tokens[t, i]`
    and continues slot `parents[t, i]` after t tokens (both int64 (width, n)). `ends[t, i]`
    (float64 (width + 1, n), summing to 1) is the weight of the item made of the first t
    tokens of slot i. `log_z` is the log of the total weight before normalising (the
    estimate of p(query)); `log_end_weight` (width + 1,) the log factor the target puts on
    ending after t tokens; `truncated` estimates the probability of matching prefixes that
    the length cap cut off; `particles` is how many particles made the tree.
    """

    tokens: np.ndarray
    parents: np.ndarray
    ends: np.ndarray
    log_z: float
    log_end_weight: np.ndarray
    truncated: float = 0.0
    particles: int = 0

    @property
    def ess(self) -> float:
        """Kish's effective sample size of the items, at most the number of particles."""
        total = float(np.sum(self.ends**2))
        return min(1.0 / total, float(self.particles)) if total > 0 else 0.0

    def sequences(self, lengths: np.ndarray, slots: np.ndarray) -> list[np.ndarray]:
        """The token ids of the items (lengths[k], slots[k]) (int64 arrays)."""
        out = np.full((len(slots), int(lengths.max(initial=0))), -1, dtype=np.int64)
        slot = np.asarray(slots, dtype=np.int64).copy()
        for t in range(out.shape[1] - 1, -1, -1):
            inside = lengths > t
            out[inside, t] = self.tokens[t, slot[inside]]
            slot[inside] = self.parents[t, slot[inside]]
        return [row[:n] for row, n in zip(out, lengths)]

    def distinct(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The distinct items with positive weight: (lengths, a slot holding each, total
        weight), each (m,). Slots share a prefix when their parents do and their last token agrees."""
        n = self.ends.shape[1]
        prefix = np.zeros(n, dtype=np.int64)  # id of each slot's prefix, equal ids = equal prefixes
        lengths, slots, weights = [], [], []
        for t in range(self.ends.shape[0]):
            if t > 0:
                key = prefix[self.parents[t - 1]] * (int(self.tokens[t - 1].max(initial=0)) + 1) + self.tokens[t - 1]
                prefix = np.unique(key, return_inverse=True)[1].reshape(-1)
            ended = np.flatnonzero(self.ends[t] > 0)
            if len(ended):
                ids, first, group = np.unique(prefix[ended], return_index=True, return_inverse=True)
                lengths.append(np.full(len(ids), t))
                slots.append(ended[first])
                weights.append(np.bincount(group.reshape(-1), weights=self.ends[t, ended]))
        if not lengths:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate(lengths), np.concatenate(slots), np.concatenate(weights)

    def marginals(self, vocab_size: int) -> list[tuple[np.ndarray, float]]:
        """Per position t: (weight of each token at t (vocab_size,), weight of items ended before t)."""
        used = np.flatnonzero(self.ends.sum(axis=1) > 0)
        last = int(used[-1]) if len(used) else 0
        through = self.ends[last].copy()  # weight of items of length >= t + 1, by slot after t + 1 tokens
        out = [None] * last
        for t in range(last - 1, -1, -1):
            out[t] = np.bincount(self.tokens[t], weights=through, minlength=vocab_size)
            through = self.ends[t] + np.bincount(self.parents[t], weights=through, minlength=self.ends.shape[1])
        ended = np.cumsum(self.ends.sum(axis=1))
        return [(out[t], float(ended[t])) for t in range(last)]


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


def run_smc(model, dfa: PatternDFA, n: int, rng: np.random.Generator, temperature: float, end_weight) -> Weighted:
    """SMC with `n` particles for the items matching `dfa` (see the module docstring).

    `end_weight`: float64 (cap + 1,), the factor on ending after t tokens (all ones: the
    model's own lengths up to the cap `cap`; zero where ending is not allowed).
    """
    vocab_size = len(model.vocabulary_)
    end_weight = np.asarray(end_weight, dtype=np.float64)
    cap = len(end_weight) - 1
    last_end = int(np.flatnonzero(end_weight)[-1]) if end_weight.any() else -1
    next_state = dfa.delta[:, dfa.token_class]  # (DFA states, vocabulary)
    dist = steps_to_accept(next_state, dfa.accepting)
    reach = np.where(next_state >= 0, dist[np.maximum(next_state, 0)], _FAR)  # tokens to accept after each token
    tokens = np.zeros((cap, n), dtype=np.int64)
    parents = np.tile(np.arange(n), (cap, 1))
    log_ends = np.full((cap + 1, n), -np.inf)
    q = np.zeros(n, dtype=np.int64)
    last = np.full(n, vocab_size, dtype=np.int64)  # BEGIN
    weights = np.full(n, 1.0 / n)
    log_run, log_cut, log_found = 0.0, -np.inf, -np.inf  # running mass; cut off by the cap; ended
    state = model.start_state(n)
    with np.errstate(divide="ignore"):
        for t in range(cap + 1):
            probs, state = model.step(last, state, temperature)
            if end_weight[t] > 0:
                log_ends[t] = log_run + np.log(weights * probs[:, vocab_size] * dfa.accepting[q] * end_weight[t])
                log_found = np.logaddexp(log_found, _logsumexp(log_ends[t]))
            if t == cap:
                break
            ok = reach <= last_end - t - 1  # (DFA states, vocabulary): may this token come next?
            cut_off = (reach < _FAR) & ~ok  # matching, but too long for the cap
            tokens_p = probs[:, :vocab_size]
            mass = _masked_sums(tokens_p, q, ok)
            log_cut = np.logaddexp(log_cut, log_run + np.log(np.dot(weights, _masked_sums(tokens_p, q, cut_off))))
            step = float(np.dot(weights, mass))
            if step <= 0:
                break
            log_run += np.log(step)
            weights = weights * mass / step
            if log_run + np.log(end_weight[t + 1 :].max()) < log_found + np.log(NEGLIGIBLE):  # nothing left to find
                log_cut = np.logaddexp(log_cut, log_run)
                break
            if 1.0 / np.sum(weights**2) < RESAMPLE_BELOW * n:
                index = _systematic(weights, rng)
                parents[t], q, tokens_p, weights = index, q[index], tokens_p[index], np.full(n, 1.0 / n)
                state = model.select(state, index)
            live = np.flatnonzero(weights > 0)
            token = _masked_draw(tokens_p[live], q[live], ok, rng)
            tokens[t, live], q[live], last[live] = token, next_state[q[live], token], token
    log_z = _logsumexp(log_ends.ravel())
    ends = np.exp(log_ends - log_z) if log_z > -np.inf else np.zeros_like(log_ends)
    truncated = float(np.exp(log_cut)) if np.isfinite(log_cut) else 0.0
    return Weighted(tokens, parents, ends, log_z, _log(end_weight), truncated, n)


def complete(
    model,
    text: str,
    top: int,
    samples: int,
    rng: np.random.Generator,
    lengths: LengthDistribution,
    temperature: float,
    particles: int | None = None,
    max_candidates: int = MAX_CANDIDATES,
) -> Completion:
    """Answer the pattern `text` for `model` (see the module docstring and `Completion`).

    `particles` None means `PARTICLES`, then once more with up to `AUTO_PARTICLES` if the
    effective sample size came out below `MIN_ESS`. `method` says "exact: ..." only when
    every candidate was scored exactly, else "approximate: SMC, N particles, effective
    sample size E".
    """
    auto = particles is None
    particles = PARTICLES if auto else particles
    pattern = parse_pattern(text, model.token_kind_)
    vocab = model.vocabulary_
    dfa = compile_pattern(pattern, vocab)
    fixed = pattern.fixed_length
    if particles < 1:
        raise TnaasError("particles must be at least 1")
    cap = fixed if fixed is not None else model.max_length_
    end_weight = np.ones(cap + 1)
    note = ""
    if not lengths.is_natural:
        support = [int(lam) for lam in np.flatnonzero(lengths.probs) if lam >= pattern.min_length]
        support = [lam for lam in support if fixed is None or lam == fixed]
        if not support:
            return Completion(text, 0.0, max_length=lengths.max_length, message=impossible_message(text, True))
        cap = max(support)
        log_lengths, note = _length_log_probs(model, support, rng, temperature, particles, max_candidates)
        end_weight = np.zeros(cap + 1)
        known = [lam for lam in support if log_lengths[lam] > -np.inf]  # the model can end there
        end_weight[known] = np.exp(np.log(lengths.probs[known]) - log_lengths[known])
    stars = sum(kind == ONE for kind, _ in pattern.elements)
    enumerated = fixed is not None and len(vocab) ** stars <= max_candidates
    if enumerated:
        found = _enumerate(model, pattern.elements, temperature, end_weight[fixed])
        method = f"exact: all {found.ends.shape[1]:,} completions scored"
        if note:
            method = f"approximate: p(pattern) {note}; posteriors exact ({found.ends.shape[1]:,} completions scored)"
    else:
        found = run_smc(model, dfa, particles, rng, temperature, end_weight)
        if auto and 0 < found.ess < MIN_ESS:
            particles = min(AUTO_PARTICLES, 1000 * math.ceil(particles * MIN_ESS / found.ess / 1000))
            found = run_smc(model, dfa, particles, rng, temperature, end_weight)
        method = f"approximate: SMC, {particles:,} particles, effective sample size {found.ess:,.0f}"
    if found.log_z == -np.inf:
        return Completion(text, 0.0, max_length=cap, message=impossible_message(text, True))
    drawn = _multinomial(found.ends.ravel(), samples, rng)
    n_slots = found.ends.shape[1]
    return Completion(
        text,
        float(np.exp(found.log_z)),
        _positions(pattern, found, vocab),
        _top(model, found, top, temperature),
        [_text(model, s) for s in found.sequences(drawn // n_slots, drawn % n_slots)],
        method=method,
        truncated_mass=found.truncated if lengths.is_natural and fixed is None else 0.0,
        max_length=cap,
        top_complete=enumerated,  # SMC's top items are the best it happened to find
    )


def sample_lengths(
    model, n: int, lengths: LengthDistribution, rng: np.random.Generator, temperature: float
) -> list[np.ndarray]:
    """`n` token-id sequences from p(λ) p_model(item | λ): one SMC run over every length
    of the distribution, its items reweighted so that each length λ carries p(λ)."""
    support = np.flatnonzero(lengths.probs)
    end_weight = np.zeros(int(support[-1]) + 1)
    end_weight[support] = 1.0
    count = min(MAX_PARTICLES, max(PARTICLES, n))
    found = run_smc(model, any_sequence_dfa(len(model.vocabulary_)), count, rng, temperature, end_weight)
    per_length = found.ends.sum(axis=1)
    target = np.zeros_like(per_length)
    possible = per_length > 0
    target[possible] = lengths.probs[: len(per_length)][possible]
    if target.sum() <= 0:
        raise TnaasError(f"the {model.name} model found no items of length {lengths.label}")
    weights = found.ends * (target / target.sum() / np.where(possible, per_length, 1.0))[:, None]
    drawn = _multinomial(weights.ravel(), n, rng)
    return found.sequences(drawn // found.ends.shape[1], drawn % found.ends.shape[1])


# ----------------------------------------------------------------------- helpers
def _enumerate(model, elements, temperature: float, end_weight: float = 1.0) -> Weighted:
    """Every completion of a fixed-length pattern, weighted exactly (a flat `Weighted`)."""
    vocab = model.vocabulary_
    index = {token: i for i, token in enumerate(vocab)}
    unknown = [i for i, (kind, _) in enumerate(elements) if kind == ONE]
    count, width = len(vocab) ** len(unknown), len(elements)
    tokens = np.empty((width, count), dtype=np.int64)
    for i, (kind, token) in enumerate(elements):
        if kind == LITERAL:
            tokens[i] = index[token]
    if unknown:
        tokens[unknown] = np.stack(np.unravel_index(np.arange(count), (len(vocab),) * len(unknown)))
    scores = model.score_ids(list(tokens.T), temperature)
    log_z = _logsumexp(scores) + float(_log(np.array(end_weight)))
    ends = np.zeros((width + 1, count))
    if log_z > -np.inf:
        ends[width] = np.exp(scores - _logsumexp(scores))
    log_end_weight = np.full(width + 1, -np.inf)
    log_end_weight[width] = _log(np.array(end_weight))
    return Weighted(tokens, np.tile(np.arange(count), (width, 1)), ends, log_z, log_end_weight, 0.0, count)


def _length_log_probs(model, support, rng, temperature, particles, max_candidates) -> tuple[np.ndarray, str]:
    """log p_model(length λ) for λ = 0..max(support), exact where enumerable, and "" or a
    note saying how the rest was estimated."""
    out = np.full(max(support) + 1, -np.inf)
    vocab_size = len(model.vocabulary_)
    rest = [lam for lam in support if vocab_size**lam > max_candidates]
    for lam in set(support) - set(rest):
        out[lam] = _enumerate(model, ((ONE, None),) * lam, temperature).log_z
    if not rest:
        return out, ""
    end_weight = np.zeros(max(rest) + 1)
    end_weight[rest] = 1.0
    found = run_smc(model, any_sequence_dfa(vocab_size), particles, rng, temperature, end_weight)
    out[rest] = found.log_z + _log(found.ends.sum(axis=1)[rest])
    return out, f"uses p(length) from SMC, {particles:,} particles, effective sample size {found.ess:,.0f}"


def _positions(pattern, found: Weighted, vocab) -> list[dict]:
    """The distribution of each unknown position (the layout of `complete_exact`)."""
    marginals = found.marginals(len(vocab))
    if pattern.fixed_length is not None:
        indices = [i for i, (kind, _) in enumerate(pattern.elements) if kind == ONE]
    else:
        first = next((i for i, (kind, _) in enumerate(pattern.elements) if kind != LITERAL), 0)
        indices = range(first, len(marginals))
    positions = []
    for i in indices:
        mass, ended = marginals[i]
        dist = {vocab[t]: float(mass[t]) for t in np.flatnonzero(mass)}
        if ended > 0:
            dist[END_KEY] = ended
        if len(dist) > 1 or pattern.fixed_length is not None:
            positions.append({"index": i, "distribution": dict(sorted(dist.items(), key=lambda kv: -kv[1]))})
    return positions


def _top(model, found: Weighted, k: int, temperature: float) -> list[dict]:
    """The k most probable of the `TOP_POOL` heaviest distinct items, ranked by exact score."""
    lengths, slots, weights = found.distinct()
    if k == 0 or len(weights) == 0:
        return []
    pool = np.argsort(-weights, kind="stable")[:TOP_POOL]
    sequences = found.sequences(lengths[pool], slots[pool])
    scores = model.score_ids(sequences, temperature) + found.log_end_weight[lengths[pool]]
    order = np.argsort(-scores, kind="stable")[:k]
    return [
        {"text": _text(model, sequences[j]), "probability": min(1.0, float(np.exp(scores[j] - found.log_z)))}
        for j in order
    ]


def _text(model, ids: np.ndarray) -> str:
    return detokenize((model.vocabulary_[t] for t in ids), model.token_kind_)


def _groups(q: np.ndarray):
    """(DFA state, row indices) for each distinct state in `q`: particles in one state share a mask."""
    states, group = np.unique(q, return_inverse=True)
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(len(states) + 1))
    return [(s, order[a:b]) for s, a, b in zip(states, bounds[:-1], bounds[1:])]


def _masked_sums(probs: np.ndarray, q: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Row sums of `probs` (n, vocabulary) over the tokens `mask[q[row]]` (bool (states, vocabulary)) allows."""
    out = np.zeros(len(probs))
    for state, rows in _groups(q):
        out[rows] = probs[rows] @ mask[state].astype(probs.dtype)
    return out


def _masked_draw(probs: np.ndarray, q: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One token per row of `probs`, among those `mask[q[row]]` allows, proportionally to `probs`."""
    out = np.zeros(len(probs), dtype=np.int64)
    for state, rows in _groups(q):
        out[rows] = draw(probs[rows] * mask[state], rng)
    return out


def _multinomial(weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k indices drawn with probability proportional to `weights` (int64 (k,))."""
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    return rng.choice(len(weights), size=k, p=weights / weights.sum())


def _systematic(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Systematic resampling: n indices, index i about n * weights[i] times (low variance)."""
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


def _log(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(x)


def _logsumexp(x: np.ndarray) -> float:
    if len(x) == 0 or np.max(x) == -np.inf:
        return -np.inf
    top = float(np.max(x))
    return top + float(np.log(np.sum(np.exp(x - top))))
