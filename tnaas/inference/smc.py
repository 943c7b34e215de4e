"""Completion for a model that is not an automaton (the LSTM): exact when it can enumerate,
else sequential Monte Carlo (SMC) constrained by the pattern's DFA.

An LSTM's next-token distribution depends on the whole prefix, so the exact lattice of
`tnaas.inference.lattice` does not apply. Two answers instead:

- **Enumeration** (exact): a fixed-length pattern whose `*`s leave at most `max_candidates`
  completions is answered by scoring every candidate with the model's exact log-probability.
- **SMC** (approximate): particles grow token by token. Each draws its next token from the
  model's distribution restricted to the tokens the pattern DFA allows (and that can still
  reach an accepting state within the length cap) and multiplies its weight by that allowed
  mass. Ending is not sampled but branched off: wherever the DFA accepts, the particle's
  prefix is recorded as a finished item weighted by its probability of ending there (a
  Rao-Blackwellised estimate with less variance). When the particles' effective sample size
  (ESS) drops below half their number they are resampled (systematic). The recorded weights
  sum to an unbiased estimate of p(pattern) and, normalised, approximate p(item | pattern).

**Literal suffix, read exactly.** A pattern ending in literal tokens S (`%ly`: S = l, y) is
Q followed by S, and every match is x + S for exactly one x matching Q. So the particles
grow prefixes x of Q (up to the cap minus |S| tokens) and, wherever Q's DFA accepts, record
the item x + S with weight w(x) p(S, END | x), computed exactly by |S| more batched steps
of the rows concerned. This is the same Rao-Blackwellisation as for ending, with the
suffix; it stays an unbiased estimator (each item is still recorded by exactly one
decomposition) and every particle contributes at every step, instead of the few that
happen to draw S and then END. On `%ly` (names, Pokémon) and `% thee,` (sonnets) the ESS
per particle went from ~0.03 to 0.4-1, so such patterns start with `SUFFIX_PARTICLES`.
Otherwise a first run uses `PARTICLES`; below `MIN_ESS` one rerun uses proportionally more.

**Cost.** Particles with equal prefixes share one row of the model state (all start on the
one BEGIN row; a literal prefix stays one row; resampled copies share their parent's row
until they draw different tokens): each step advances only the distinct (row, token) pairs.
Tokens are drawn for all particles at once, by inverse CDF over blocks of ~sqrt(V) tokens
(read in place when the DFA allows every token, as after `%`). **Thinning**: once the weight
still to be found is a small share s of the total (forecast from the decay of the weight
recorded per level, never above the running mass), the particles are resampled down to
~s² n / `THIN_VARIANCE` (at least `THIN_FLOOR`): resampling to any number of particles is
unbiased, and this adds at most ~`THIN_VARIANCE` to p(pattern)'s relative variance. Sonnet
lines end after ~8 words, the cap is 21: the last ~10 steps run 32 particles, not 600.

**ESS** (in `Completion.method`) is Kish's 1 / sum w² over the items, the items one
particle records between two resamplings summed first (they come from one run, and
counting them apart overstated the ESS ~4x on `%ia%`); at most the number of particles.
The relative error of p(pattern) is at most about 1/sqrt(ESS) (tests/test_smc.py).

Length distributions other than natural: p(item) = p(λ) p_model(item) / p_model(λ), so one
run over any sequence estimates p_model(λ) for every λ at once (exact by enumeration when
short), and the pattern run weighs ending after λ tokens by p(λ) / p_model(λ).

**The model interface** (the LSTM's; any next-token model can plug in): `vocabulary_`
(tuple of V tokens), `token_kind_`, `max_length_` (the length cap), and

- `start_state(n)`: the state of n runs before anything is read;
- `step(tokens, state, temperature) -> (probs, state)`: read one input id per run (int64
  (n,), id V = BEGIN) and return the next-token probabilities (float (n, V + 1), END last,
  tempered) and the new state;
- `select(state, index)`: the state of the runs at `index` (int64 (m,), repeats allowed);
- `score_ids(sequences, temperature)`: exact natural-log probabilities, END included
  (float64 (n,)).

See `tnaas.models.lstm.LSTMModel`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tnaas.data.tokens import detokenize
from tnaas.errors import TnaasError
from tnaas.inference.completion import END_KEY, Completion, impossible_message
from tnaas.inference.lengths import LengthDistribution
from tnaas.inference.patterns import (
    LITERAL,
    ONE,
    Pattern,
    PatternDFA,
    any_sequence_dfa,
    compile_pattern,
    parse_pattern,
)

PARTICLES = 2_000  # first run: posteriors within ~±0.02 at ESS 2,000; 0.1-1 s on 31k names
MIN_ESS = 500  # below this (suffix patterns like `%ly`) one rerun with proportionally more particles,
AUTO_PARTICLES = 16_000  # up to this many
SUFFIX_PARTICLES = 600  # first run when the pattern ends in literal tokens, read exactly (ESS 0.4-1 per particle)
MAX_PARTICLES = 100_000
# Each step holds a few (particles x vocabulary) tables (next-token probabilities, their masked
# copy, the network's logits and softmax temporaries): ~24 bytes per cell. On word corpora
# (thousands of tokens) this, not MAX_PARTICLES, bounds the particles.
TABLE_BUDGET_BYTES = 256 * 2**20
BYTES_PER_CELL = 24
MAX_CANDIDATES = 20_000  # enumerate (exactly) up to this many completions: ~1 s (17,576 names)
TOP_POOL = 2_000  # at most this many candidates re-scored exactly to rank the top completions
SCORE_SLACK = 0.01  # nats: candidates this close to the k-th best approximate score are re-scored too
RESAMPLE_BELOW = 0.5  # resample when the ESS falls below this fraction of the particles
THIN_VARIANCE = 0.01  # thinning adds at most ~this fraction to p(pattern)'s variance (see `thinned_size`)
THIN_FLOOR = 32  # ... keeping at least this many particles,
THIN_BELOW = 0.5  # ... and cutting them by half or more at a time
NEGLIGIBLE = 1e-12  # stop once the running particles carry this little next to the items found
LOOKAHEAD = 8  # at most this many trailing literal tokens are read exactly by every particle
_FAR = 1 << 30  # "cannot reach an accepting state"


@dataclass(frozen=True)
class Weighted:
    """Items with weights approximating (or, when enumerated, equal to) p(item | query).

    Stored as a particle family tree of prefixes, each item being a prefix followed by the
    fixed `suffix` (int64 (k,), often empty): slot i after t + 1 tokens holds token
    `tokens[t, i]` and continues slot `parents[t, i]` after t tokens (both int64 (width, n)).
    `ends[t, i]` (float64 (width + 1, n), summing to 1) is the weight of the item made of the
    first t tokens of slot i, then the suffix ("level" t, t + k tokens). `log_z` is the log
    of the total weight before normalising (the estimate of p(query)); `log_end_weight`
    (width + 1,) the log factor the target puts on the item of level t; `truncated`
    estimates (an upper bound on) the probability of matching items that the length cap cut
    off; `particles` is how many particles made the tree. `segments` (int64 (width + 1,),
    None = all 0) numbers the stretches between resamplings: the items one slot records
    within one stretch come from one particle's single run, so `ess` counts them as one.
    `log_scores` (like `ends`, None = unknown) is each item's log target probability from
    the sampling pass (float32 network: ~1e-5 off): what `_top` ranks candidates by.
    """

    tokens: np.ndarray
    parents: np.ndarray
    ends: np.ndarray
    log_z: float
    log_end_weight: np.ndarray
    truncated: float = 0.0
    particles: int = 0
    suffix: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    segments: np.ndarray | None = None
    log_scores: np.ndarray | None = None

    @property
    def ess(self) -> float:
        """Kish's effective sample size, at most the number of particles: 1 / sum w², the
        weights w being those of one particle's items within one stretch between
        resamplings, summed (they are one draw, so counting them apart would overstate it)."""
        ends = self.ends
        if self.segments is not None:
            ends = np.stack([ends[self.segments == s].sum(axis=0) for s in np.unique(self.segments)])
        total = float(np.sum(ends**2))
        return min(1.0 / total, float(self.particles)) if total > 0 else 0.0

    def sequences(self, levels: np.ndarray, slots: np.ndarray) -> list[np.ndarray]:
        """The token ids of the items (levels[k], slots[k]) (int64 arrays, suffix included)."""
        levels = np.asarray(levels, dtype=np.int64)
        out = np.full((len(slots), int(levels.max(initial=0))), -1, dtype=np.int64)
        slot = np.asarray(slots, dtype=np.int64).copy()
        for t in range(out.shape[1] - 1, -1, -1):
            inside = levels > t
            out[inside, t] = self.tokens[t, slot[inside]]
            slot[inside] = self.parents[t, slot[inside]]
        return [np.concatenate([row[:n], self.suffix]) for row, n in zip(out, levels)]

    def distinct(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The distinct items with positive weight: (levels, a slot holding each, total
        weight), each (m,). Slots share a prefix when their parents do and their last token agrees."""
        n = self.ends.shape[1]
        prefix = np.zeros(n, dtype=np.int64)  # id of each slot's prefix, equal ids = equal prefixes
        levels, slots, weights = [], [], []
        for t in range(self.ends.shape[0]):
            if t > 0:
                key = prefix[self.parents[t - 1]] * (int(self.tokens[t - 1].max(initial=0)) + 1) + self.tokens[t - 1]
                prefix = np.unique(key, return_inverse=True)[1].reshape(-1)
            ended = np.flatnonzero(self.ends[t] > 0)
            if len(ended):
                ids, first, group = np.unique(prefix[ended], return_index=True, return_inverse=True)
                levels.append(np.full(len(ids), t))
                slots.append(ended[first])
                weights.append(np.bincount(group.reshape(-1), weights=self.ends[t, ended]))
        if not levels:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate(levels), np.concatenate(slots), np.concatenate(weights)

    def marginals(self, vocab_size: int) -> list[tuple[np.ndarray, float]]:
        """Per position p: (weight of each token at p (vocab_size,), weight of items ended before p)."""
        per_level = self.ends.sum(axis=1)
        used = np.flatnonzero(per_level > 0)
        last = int(used[-1]) if len(used) else 0  # the longest prefix with weight
        k = len(self.suffix)
        out = [np.zeros(vocab_size) for _ in range(last + k if len(used) else 0)]
        through = self.ends[last].copy()  # weight of items of level >= t + 1, by slot after t + 1 tokens
        for t in range(last - 1, -1, -1):
            out[t] += np.bincount(self.tokens[t], weights=through, minlength=vocab_size)
            through = self.ends[t] + np.bincount(self.parents[t], weights=through, minlength=self.ends.shape[1])
        for level in used:  # the suffix of the items of this level fills positions level .. level + k - 1
            for j, token in enumerate(self.suffix):
                out[level + j][token] += per_level[level]
        ended = np.zeros(len(out) + 1)
        np.add.at(ended, np.minimum(np.arange(len(per_level)) + k, len(out)), per_level)
        ended = np.cumsum(ended)  # ended[p]: weight of items of at most p tokens
        return [(out[p], float(ended[p])) for p in range(len(out))]


def split_suffix(pattern: Pattern) -> tuple[Pattern, tuple[str, ...]]:
    """(the pattern without its trailing literal tokens, those tokens), at most `LOOKAHEAD` of them."""
    elements = pattern.elements
    k = 0
    while k < min(LOOKAHEAD, len(elements)) and elements[len(elements) - 1 - k][0] == LITERAL:
        k += 1
    head = elements[: len(elements) - k]
    return Pattern(pattern.text, pattern.token_kind, head), tuple(token for _, token in elements[len(elements) - k :])


def thinned_size(n: int, alive: int, share: float) -> int:
    """How many of `alive` particles (of `n` at the start) to keep when at most `share` of
    the total weight is still to be found: `alive`, unless fewer will do.

    Resampling to m particles is unbiased for any m; what m costs is variance. The rest,
    a share s of the total, estimated with m particles adds about s² n / m to the relative
    variance the n particles give the whole, so m = s² n / `THIN_VARIANCE` adds at most that
    fraction (at least `THIN_FLOOR` are kept). Particles are cut only by half or more at a
    time: each thinning is a resampling, itself a little noise."""
    wanted = max(min(alive, THIN_FLOOR), math.ceil(share**2 * n / THIN_VARIANCE))
    return wanted if wanted <= alive * THIN_BELOW else alive


def _tail_forecast(log_level: np.ndarray) -> float:
    """The log of the weight still to be recorded after the last of `log_level` (the log
    weight recorded at each level so far), forecast as a geometric tail: with r the larger
    of the last two ratios between consecutive levels, last x r / (1 - r); +inf (no
    forecast) unless the last three levels are positive and decreasing. A forecast only
    steers how many particles go on (variance, not bias: `thinned_size`)."""
    if len(log_level) < 3 or not np.all(np.isfinite(log_level[-3:])):
        return np.inf
    log_ratio = max(log_level[-1] - log_level[-2], log_level[-2] - log_level[-3])
    if log_ratio >= 0:
        return np.inf
    return float(log_level[-1] + log_ratio - np.log(-np.expm1(log_ratio)))


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
    model, dfa: PatternDFA, n: int, rng: np.random.Generator, temperature: float, end_weight, suffix=()
) -> Weighted:
    """SMC with `n` particles for the items `x + suffix` with x matching `dfa` (see the
    module docstring).

    `end_weight`: float64 (cap + 1,), the factor on an item of t tokens, suffix included
    (all ones: the model's own lengths up to the cap `cap`; zero where ending is not
    allowed). `suffix`: token ids (k,) every item ends with, whose probability is computed
    exactly for every particle at every step instead of being left to chance.
    """
    vocab_size = len(model.vocabulary_)
    suffix = np.asarray(suffix, dtype=np.int64).reshape(-1)
    k = len(suffix)
    end_weight = np.asarray(end_weight, dtype=np.float64)[k:]  # by prefix length
    width = len(end_weight) - 1
    if width < 0:  # the suffix alone is longer than the cap
        empty = np.zeros((0, n), dtype=np.int64)
        return Weighted(empty, empty, np.zeros((1, n)), -np.inf, np.full(1, -np.inf), 0.0, n, suffix)
    last_end = int(np.flatnonzero(end_weight)[-1]) if end_weight.any() else -1
    next_state = dfa.delta[:, dfa.token_class]  # (DFA states, vocabulary)
    dist = steps_to_accept(next_state, dfa.accepting)
    reach = np.where(next_state >= 0, dist[np.maximum(next_state, 0)], _FAR)  # tokens to accept after each token
    tokens = np.zeros((width, n), dtype=np.int64)
    parents = np.tile(np.arange(n), (width, 1))
    segments = np.zeros(width + 1, dtype=np.int64)
    log_ends = np.full((width + 1, n), -np.inf)
    log_scores = np.full((width + 1, n), -np.inf)
    log_level = np.full(width + 1, -np.inf)  # the log weight recorded at each level
    weights = np.full(n, 1.0 / n)
    log_run, log_cut, log_found = 0.0, -np.inf, -np.inf  # running mass; cut off by the cap; ended
    # Particles with equal prefixes share one row of the network state: `node[i]` is the row
    # of particle i, `q_row` each row's DFA state. All particles start on the one BEGIN row.
    node = np.zeros(n, dtype=np.int64)
    q_row = np.zeros(1, dtype=np.int64)
    log_path = np.zeros(1)  # each row's log p_model(prefix), from the float32 pass
    probs, state = model.step(np.array([vocab_size]), model.start_state(1), temperature)
    resamplings = 0
    alive = n  # particles since the last thinning: slots 0 .. alive - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in range(width + 1):
            segments[t] = resamplings
            if end_weight[t] > 0:
                finish = _finish_probs(model, probs, state, q_row, dfa.accepting, suffix, temperature)
                log_ends[t] = log_run + np.log(weights * finish[node] * end_weight[t])
                log_scores[t] = (log_path + np.log(finish * end_weight[t]))[node]
                log_level[t] = _logsumexp(log_ends[t])
                log_found = np.logaddexp(log_found, log_level[t])
            else:
                finish = None
            if t == width:  # what would continue past the cap: at most the running mass not finishing now
                rest = np.dot(weights, 1.0 - finish[node]) if finish is not None else 1.0
                log_cut = np.logaddexp(log_cut, log_run + np.log(max(rest, 0.0)))
                break
            ok = reach <= last_end - t - 1  # (DFA states, vocabulary): may this token come next?
            ok_everywhere = ok.all(axis=1)
            cut_off = (reach < _FAR) & ~ok  # matching, but too long for the cap
            token_probs = probs[:, :vocab_size]
            masked, sums = _masked_blocks(token_probs, None if ok_everywhere[q_row].all() else ok[q_row])
            mass = sums.sum(axis=1)
            if cut_off[q_row].any():
                cut = np.einsum("ij,ij->i", token_probs, cut_off[q_row], dtype=np.float64)
                log_cut = np.logaddexp(log_cut, log_run + np.log(np.dot(weights, cut[node])))
            step = float(np.dot(weights, mass[node]))
            if step <= 0:
                break
            log_run += np.log(step)
            weights = weights * mass[node] / step
            if log_run + np.log(end_weight[t + 1 :].max()) < log_found + np.log(NEGLIGIBLE):  # nothing left to find
                log_cut = np.logaddexp(log_cut, log_run)
                break
            # Thinning: once what is still to find is a small share of the total, fewer
            # particles estimate it well enough (see `thinned_size`). That share is at most
            # the running mass's, and forecast from the recorded mass's decay per level.
            ahead = min(log_run + np.log(end_weight[t + 1 :].max()), _tail_forecast(log_level[: t + 1]))
            share = np.exp(ahead - np.logaddexp(log_found, ahead))  # NaN: nothing found, nothing ahead
            size = thinned_size(n, alive, float(share) if share >= 0 else 1.0)
            if size < alive or 1.0 / np.sum(weights**2) < RESAMPLE_BELOW * alive:
                index = _systematic(weights, rng, size)
                parents[t] = 0  # the slots past `size` are dead from here on (weight 0)
                parents[t, :size] = index
                node_kept = np.zeros(n, dtype=np.int64)
                node_kept[:size] = node[index]
                node, weights, alive = node_kept, np.zeros(n), size
                weights[:size] = 1.0 / size
                resamplings += 1
            live = np.flatnonzero(weights > 0)
            drawn = _draw_rows(masked, sums, node[live], rng)
            tokens[t, live] = drawn
            # the new rows: one per distinct (row, token) pair among the live particles
            pairs, inverse = np.unique(node[live] * vocab_size + drawn, return_inverse=True)
            parent_row, token = np.divmod(pairs, vocab_size)
            node = np.zeros(n, dtype=np.int64)  # dead particles (weight 0) point anywhere
            node[live] = inverse.reshape(-1)
            q_row = next_state[q_row[parent_row], token]
            log_path = log_path[parent_row] + np.log(probs[parent_row, token].astype(np.float64))
            probs, state = model.step(token, model.select(state, parent_row), temperature)
    log_z = _logsumexp(log_ends.ravel())
    ends = np.exp(log_ends - log_z) if log_z > -np.inf else np.zeros_like(log_ends)
    truncated = float(np.exp(log_cut)) if np.isfinite(log_cut) else 0.0
    log_scores[ends <= 0] = -np.inf
    return Weighted(tokens, parents, ends, log_z, _log(end_weight), truncated, n, suffix, segments, log_scores)


def _finish_probs(model, probs, state, q_row, accepting, suffix, temperature) -> np.ndarray:
    """Per network row (float64 (rows,)): the probability that the prefix is followed by
    exactly `suffix` and END, 0 where the DFA does not accept. The rows that need it read
    the suffix (len(suffix) more batched steps)."""
    vocab_size = probs.shape[1] - 1
    out = np.zeros(len(q_row))
    rows = np.flatnonzero(accepting[q_row])
    if len(rows) == 0:
        return out
    if len(suffix) == 0:
        out[rows] = probs[rows, vocab_size]
        return out
    chance = probs[rows, suffix[0]].astype(np.float64)
    ahead = model.select(state, rows)
    for j, token in enumerate(suffix):
        p, ahead = model.step(np.full(len(rows), token), ahead, temperature)
        chance *= p[:, suffix[j + 1] if j + 1 < len(suffix) else vocab_size]
    out[rows] = chance
    return out


def _block_size(vocab_size: int) -> int:
    """Tokens per block of `_masked_blocks` (~sqrt(vocab_size), at least 8)."""
    return max(8, math.isqrt(max(vocab_size - 1, 0)) + 1)


def _masked_blocks(probs: np.ndarray, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """`probs` (rows, vocabulary) with the entries `allowed` (bool, same shape; None = all)
    forbids zeroed: (that table (rows, vocabulary) in the dtype of `probs`, `probs` itself
    when nothing is forbidden; float64 sums of its blocks of `_block_size` tokens (rows,
    blocks), the last block maybe shorter). Drawing then reads one block per draw instead
    of a whole row: O(rows x vocabulary) sums, not a row-wise cumulative sum."""
    table = probs if allowed is None else np.where(allowed, probs, probs.dtype.type(0))
    starts = np.arange(0, table.shape[1], _block_size(table.shape[1]))
    # float32 sums of ~sqrt(V) entries (1e-7 relative): 3x faster than float64 ones
    return table, np.add.reduceat(table, starts, axis=1).astype(np.float64)


def _draw_rows(table: np.ndarray, sums: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One token per entry of `rows` (int64 (m,)), drawn from that row of `table` (see
    `_masked_blocks`; each row drawn from has positive mass) in proportion to its entries:
    first a block by inverse CDF over the block sums, one `searchsorted` over all rows
    (row r shifted into [r, r + 1)), then a token within the block."""
    n_rows, blocks = sums.shape
    vocab_size = table.shape[1]
    block = _block_size(vocab_size)
    cumulative = np.cumsum(sums, axis=1)
    total = cumulative[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):  # rows no particle draws from may have no mass
        scaled = np.where(total > 0, cumulative / total, 1.0)
    flat = (scaled + np.arange(n_rows)[:, None]).ravel()
    chosen = np.searchsorted(flat, rows + rng.random(len(rows)), side="right") - rows * blocks
    chosen = _last_positive(sums[rows], chosen)
    columns = chosen[:, None] * block + np.arange(block)  # (m, block); past the vocabulary in the last block
    inside = np.where(columns < vocab_size, table[rows[:, None], np.minimum(columns, vocab_size - 1)], 0)
    inside = np.cumsum(inside, axis=1, dtype=np.float64)
    target = rng.random(len(rows)) * inside[:, -1]
    token = _last_positive(np.diff(inside, axis=1, prepend=0.0), (inside <= target[:, None]).sum(axis=1))
    return chosen * block + token


def _last_positive(weights: np.ndarray, index: np.ndarray) -> np.ndarray:
    """`index` (m,), except where rounding took it past the last positive entry of its row
    of `weights` (m, width) (an inverse-CDF draw with a uniform within 1e-16 of 1): that entry."""
    last = weights.shape[1] - 1 - np.argmax(weights[:, ::-1] > 0, axis=1)
    return np.minimum(index, last)


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

    `particles` None means `PARTICLES` (`SUFFIX_PARTICLES` for a pattern ending in literal
    tokens), then once more with up to `AUTO_PARTICLES` if the effective sample size came
    out below `MIN_ESS`. `method` says "exact: ..." only when
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
    budget = particle_budget(len(vocab))
    if not auto and particles > budget:
        raise TnaasError(
            f"{particles:,} particles over {len(vocab):,} tokens need about "
            f"{particles * (len(vocab) + 1) * BYTES_PER_CELL / 2**20:,.0f} MB per step; "
            f"use at most {budget:,} particles for this model"
        )
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
        head, suffix = split_suffix(pattern)
        head_dfa = compile_pattern(head, vocab) if suffix else dfa
        suffix_ids = [vocab.index(token) for token in suffix]
        if auto and suffix:
            particles = SUFFIX_PARTICLES
        if auto:
            particles = min(particles, budget)
        found = run_smc(model, head_dfa, particles, rng, temperature, end_weight, suffix_ids)
        more = 1000 * math.ceil(particles * MIN_ESS / found.ess / 1000) if found.ess > 0 else 0
        if auto and 0 < found.ess < MIN_ESS and min(AUTO_PARTICLES, more, budget) > particles:
            # (a rerun as large as the first run, all the budget allowed, would only redo it)
            particles = min(AUTO_PARTICLES, more, budget)
            found = run_smc(model, head_dfa, particles, rng, temperature, end_weight, suffix_ids)
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


# ----------------------------------------------------------------------- helpers
def particle_budget(vocab_size: int) -> int:
    """The most particles whose per-step tables (particles x (vocab_size + 1) cells, see
    `BYTES_PER_CELL`) fit in `TABLE_BUDGET_BYTES`, at least 1."""
    return max(1, TABLE_BUDGET_BYTES // (BYTES_PER_CELL * (vocab_size + 1)))


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
    log_scores = np.full((width + 1, count), -np.inf)
    log_scores[width] = scores + log_end_weight[width]
    parents = np.tile(np.arange(count), (width, 1))
    return Weighted(tokens, parents, ends, log_z, log_end_weight, 0.0, count, log_scores=log_scores)


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
    """The k most probable distinct items found, ranked by exact score.

    Candidates are those whose approximate score (`Weighted.log_scores`) comes within
    `SCORE_SLACK` of the k-th best (at most `TOP_POOL`), else the `TOP_POOL` heaviest."""
    lengths, slots, weights = found.distinct()
    if k == 0 or len(weights) == 0:
        return []
    if found.log_scores is not None:
        approx = found.log_scores[lengths, slots]
        pool = np.argsort(-approx, kind="stable")[:TOP_POOL]
        kth = approx[pool[min(k, len(pool)) - 1]]
        pool = pool[: max(k, int(np.sum(approx[pool] >= kth - SCORE_SLACK)))]
    else:
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


def _multinomial(weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k indices drawn with probability proportional to `weights` (int64 (k,))."""
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    return rng.choice(len(weights), size=k, p=weights / weights.sum())


def _systematic(weights: np.ndarray, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
    """Systematic resampling: `size` (default len(weights)) indices, index i about
    size * weights[i] / sum(weights) times (low variance; unbiased for any size)."""
    size = len(weights) if size is None else size
    cumulative = np.cumsum(weights)
    points = (rng.random() + np.arange(size)) / size * cumulative[-1]
    return np.minimum(np.searchsorted(cumulative, points, side="right"), len(weights) - 1)


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
