"""Length-conditioned generation without a pattern: every state, every step, nothing stored.

With no pattern, the lattice node after t tokens is just the automaton state, and every
step has the same edges: all of the automaton's transitions. So one expansion of all
states serves every step, forward passes give p_chain(length = λ), and backward messages
over the states give exact draws from p(T | λ) p(λ). Memory: the transitions once plus one
float vector per step — where the pattern lattice would store every step's edges.
"""

from __future__ import annotations

import numpy as np

from tnaas.inference.automaton import Automaton, choose


def _log(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(x)


class AllPaths:
    """All transitions of an automaton, as CSR over source states (see module docstring).

    `max_length`: the longest item considered, in tokens.
    """

    def __init__(self, automaton: Automaton, max_length: int):
        self.automaton = automaton
        self.max_length = int(max_length)
        everything = np.arange(automaton.n_states)
        edges = automaton.expand(everything)  # grouped by source state, ascending
        self.src = edges.src.astype(np.int64)
        self.token = edges.token.astype(np.int64)
        self.dst = edges.dst.astype(np.int64)
        self.prob = edges.prob
        self.end = automaton.end_prob(everything)
        self.edge_start = np.zeros(automaton.n_states + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.src, minlength=automaton.n_states), out=self.edge_start[1:])
        self.start_states, self.start_probs = automaton.start()

    def length_probs(self) -> np.ndarray:
        """p(the automaton stops after exactly λ tokens) for λ = 0..max_length (float64)."""
        alpha = np.zeros(self.automaton.n_states)
        np.add.at(alpha, np.asarray(self.start_states, dtype=np.int64), self.start_probs)
        out = np.zeros(self.max_length + 1)
        log_scale = 0.0
        for t in range(self.max_length + 1):
            mass = alpha.sum()
            if mass <= 0:
                break
            alpha /= mass  # rescaled every step: long items would underflow otherwise
            log_scale += np.log(mass)
            out[t] = np.exp(log_scale) * float(np.add.reduce(alpha * self.end))
            alpha = np.bincount(self.dst, weights=alpha[self.src] * self.prob, minlength=len(alpha))
        return out

    def sample(self, end_weight: np.ndarray, n: int, rng: np.random.Generator) -> list[np.ndarray]:
        """`n` exact draws of token-id sequences whose probability of ending after t tokens
        is multiplied by `end_weight[t]` (float64 (max_length + 1,); see `tnaas.inference.lengths`)."""
        horizon = len(end_weight) - 1
        # Backward messages in log space: beta_t(s) = w_t end(s) + sum_e p_e beta_(t+1)(dst_e).
        log_beta = [np.zeros(0)] * (horizon + 1)
        log_beta[horizon] = _log(end_weight[horizon] * self.end)
        for t in range(horizon - 1, -1, -1):
            nxt = log_beta[t + 1]
            top = nxt.max()
            inflow = np.zeros(len(self.end))
            if np.isfinite(top):
                inflow = np.bincount(self.src, weights=self.prob * np.exp(nxt[self.dst] - top), minlength=len(self.end))
            log_beta[t] = np.logaddexp(_log(end_weight[t] * self.end), _log(inflow) + (top if np.isfinite(top) else 0))
        start_states = np.asarray(self.start_states, dtype=np.int64)
        first = _log(self.start_probs) + log_beta[0][start_states]
        first = np.exp(first - first.max())
        state = start_states[rng.choice(len(start_states), size=n, p=first / first.sum())]
        tokens = np.full((n, horizon), -1, dtype=np.int64)
        length = np.full(n, horizon, dtype=np.int64)
        active = np.arange(n)
        for t in range(horizon + 1):
            if len(active) == 0:
                break
            unique, inverse = np.unique(state[active], return_inverse=True)
            counts = self.edge_start[unique + 1] - self.edge_start[unique]
            within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
            edge = np.repeat(self.edge_start[unique], counts) + within
            owner = np.repeat(np.arange(len(unique)), counts)
            # Options of each state: its edges towards a possible finish, then ending here.
            log_w = _log(self.prob[edge]) + (log_beta[t + 1][self.dst[edge]] if t < horizon else -np.inf)
            log_end = _log(end_weight[t] * self.end[unique])
            shift = log_beta[t][unique]
            option_owner = np.concatenate([owner, np.arange(len(unique))])
            weight = np.exp(np.concatenate([log_w - shift[owner], log_end - shift]))
            option_edge = np.concatenate([edge, np.full(len(unique), -1)])
            order = np.argsort(option_owner, kind="stable")
            picked = option_edge[order][
                choose(option_owner[order], weight[order], len(unique), inverse.reshape(-1), rng)
            ]
            ends = picked < 0
            length[active[ends]] = t
            going = active[~ends]
            if len(going) == 0:  # at the horizon everyone ends (column t does not exist)
                break
            tokens[going, t] = self.token[picked[~ends]]
            state[going] = self.dst[picked[~ends]]
            active = going
        return [tokens[i, : length[i]] for i in range(n)]
