"""Temperature for the HMM: per step, on the next-token distribution given the prefix.

TNaaS defines temperature once, for every model: after a prefix x1..xt the next token
(END included) is drawn from q(x | prefix) ∝ p(x | prefix)^(1/T), and a tempered item
has probability Π_t q(x(t+1) | x1..xt) (END last). For an HMM

    p(x | prefix) = Σ_h b(h) B[h, x],   b(h) = p(hidden state h about to emit | prefix),

and after emitting x the belief moves to b'(h') ∝ Σ_h b(h) B[h, x] A[h, h']. The belief
is continuous, so unlike a Markov chain the tempered HMM is no finite automaton over the
hidden states (tempering its (token, next state) edges would temper the joint, not this
marginal). Sampling steps the belief of every run in log space, which is exact; so is
`tempered_log_probs`. Exact completion and length-controlled sampling at T ≠ 1 would need
a finite automaton and are refused (`tnaas.inference.automaton.temper`).
"""

from __future__ import annotations

import numpy as np

from tnaas.inference.automaton import MAX_SAMPLE_CELLS, redraw_until, safe_log


def _logsumexp(values: np.ndarray, axis: int) -> np.ndarray:
    """log Σ exp over `axis`, shifted by the maximum; -inf where every entry is -inf."""
    top = np.max(values, axis=axis, keepdims=True)
    shift = np.where(np.isfinite(top), top, 0.0)
    return np.squeeze(shift, axis) + safe_log(np.sum(np.exp(values - shift), axis=axis))


class TemperedHMM:
    """The per-step tempered next-token process of an HMM with END (see module docstring).

    `startprob` (H,), `transmat` (H, H), `emissionprob` (H, V + 1) with END in column V:
    the fitted parameters. `temperature` > 0. All work is in natural logs.
    """

    def __init__(self, startprob, transmat, emissionprob, temperature: float):
        self.log_start = safe_log(np.asarray(startprob, dtype=np.float64))
        self.log_trans = safe_log(np.asarray(transmat, dtype=np.float64))
        self.log_emit = safe_log(np.asarray(emissionprob, dtype=np.float64))
        self.temperature = float(temperature)
        self.n_hidden, self.n_symbols = self.log_emit.shape
        self.end_id = self.n_symbols - 1

    def initial(self, n: int) -> np.ndarray:
        """The belief of `n` runs before any token: log π, float64 (n, H)."""
        return np.tile(self.log_start, (n, 1))

    def next_log_probs(self, belief: np.ndarray) -> np.ndarray:
        """log q(x | prefix) for every symbol x (END last), float64 (n, V + 1).

        `belief`: float64 (n, H) log b, normalised (each row's logsumexp is 0)."""
        log_p = _logsumexp(belief[:, :, None] + self.log_emit[None, :, :], axis=1) / self.temperature
        total = _logsumexp(log_p, axis=1)[:, None]
        return log_p - np.where(np.isfinite(total), total, 0.0)  # an impossible prefix stays at -inf

    def advance(self, belief: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """The normalised log belief after each run emits `tokens` (int64 (n,), not END)."""
        joint = belief + self.log_emit[:, tokens].T  # (n, H): log b(h) B[h, x]
        moved = _logsumexp(joint[:, :, None] + self.log_trans[None, :, :], axis=1)  # (n, H')
        total = _logsumexp(moved, axis=1)[:, None]
        return moved - np.where(np.isfinite(total), total, 0.0)

    def batch_size(self) -> int:
        """Runs per vectorised batch so that one step's (n, H, V + 1) arrays stay bounded."""
        return max(1, MAX_SAMPLE_CELLS // (self.n_hidden * (self.n_symbols + self.n_hidden)))

    def sample_ids(self, n: int, rng: np.random.Generator, max_length: int) -> list[np.ndarray]:
        """`n` token-id sequences drawn from the tempered process (END not included).

        Like `tnaas.inference.automaton.sample_ids`, a run still going after `max_length`
        tokens is redrawn (the result is conditioned on length <= `max_length`), and a
        temperature at which almost every run loops is one `TnaasError`.
        """
        batch = self.batch_size()
        return redraw_until(n, lambda size: self._sample_batch(min(batch, size), rng, max_length), max_length)

    def _sample_batch(self, n: int, rng: np.random.Generator, max_length: int) -> list[np.ndarray | None]:
        belief = self.initial(n)
        tokens = np.full((n, max_length), -1, dtype=np.int64)
        lengths = np.full(n, -1, dtype=np.int64)
        active = np.arange(n)
        for step in range(max_length + 1):
            if len(active) == 0:
                break
            probs = np.exp(self.next_log_probs(belief))
            if step == max_length:  # at the cap only ending is accepted; other runs are redrawn
                ends = rng.random(len(active)) < probs[:, self.end_id]
                lengths[active[ends]] = step
                break
            cumulative = np.cumsum(probs, axis=1)
            target = rng.random(len(active)) * cumulative[:, -1]
            # The first symbol whose cumulative mass passes the target; rounding can leave
            # the target above every entry, so clamp to the last symbol with mass.
            chosen = (cumulative <= target[:, None]).sum(axis=1)
            last = self.n_symbols - 1 - np.argmax((probs > 0)[:, ::-1], axis=1)
            chosen = np.minimum(chosen, last)
            done = chosen == self.end_id
            lengths[active[done]] = step
            go = ~done
            tokens[active[go], step] = chosen[go]
            belief = self.advance(belief[go], chosen[go])
            active = active[go]
        return [tokens[i, : lengths[i]].copy() if lengths[i] >= 0 else None for i in range(n)]

    def log_probs(self, sequences: list[np.ndarray]) -> np.ndarray:
        """log Π_t q(x(t+1) | x1..xt) of each token-id sequence, END included (float64 (n,)).

        Ids < 0 or >= V (unknown tokens) give -inf. One batched pass per position.
        """
        n = len(sequences)
        lengths = np.array([len(s) for s in sequences], dtype=np.int64)
        width = int(lengths.max()) if n else 0
        padded = np.full((n, width + 1), self.end_id, dtype=np.int64)
        for i, seq in enumerate(sequences):
            seq = np.asarray(seq, dtype=np.int64)
            padded[i, : len(seq)] = np.where((seq >= 0) & (seq < self.end_id), seq, -1)
        result = np.zeros(n)
        belief = self.initial(n)
        for t in range(width + 1):
            live = lengths >= t
            rows = np.flatnonzero(live)
            symbol = padded[rows, t]
            known = symbol >= 0
            log_q = self.next_log_probs(belief[rows])
            result[rows[~known]] = -np.inf
            result[rows[known]] += log_q[np.flatnonzero(known), symbol[known]]
            going = rows[(lengths[rows] > t) & known]
            if len(going):
                belief[going] = self.advance(belief[going], padded[going, t])
        return result
