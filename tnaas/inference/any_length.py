"""Length-conditioned generation without a pattern: every state, every step, nothing stored.

With no pattern, the lattice node after t tokens is just the automaton state, and every
step has the same edges: all of the automaton's transitions. So one expansion of all
states serves every step, forward passes give p_chain(length = λ), and backward messages
over the states give exact draws from p(T | λ) p(λ). Memory: the transitions once plus one
float vector per step — where the pattern lattice would store every step's edges.

Both passes keep state weights as natural logs (see `tnaas.inference.log_flow`): an HMM
with 1e-300 parameters reaches some lengths only with probability far below the smallest
double, and a state far less likely than the step's best can still carry the only way on.
"""

from __future__ import annotations

import numpy as np

from tnaas.inference.automaton import Automaton, choose, safe_log
from tnaas.inference.log_flow import log_dot, push

_log = safe_log


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
        self.log_prob = edges.log_probs()  # finite where an HMM's B·A underflows to 0
        self.end = automaton.end_prob(everything)
        self.edge_start = np.zeros(automaton.n_states + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.src, minlength=automaton.n_states), out=self.edge_start[1:])
        self.start_states, self.start_probs = automaton.start()

    def length_log_probs(self) -> np.ndarray:
        """log p(the automaton stops after exactly λ tokens) for λ = 0..max_length (float64,
        -inf where impossible)."""
        n_states = self.automaton.n_states
        log_alpha = np.full(n_states, -np.inf)
        np.logaddexp.at(log_alpha, np.asarray(self.start_states, dtype=np.int64), _log(self.start_probs))
        log_end = _log(self.end)
        out = np.full(self.max_length + 1, -np.inf)
        for t in range(self.max_length + 1):
            if not (log_alpha > -np.inf).any():
                break
            out[t] = log_dot(log_alpha, log_end)
            if t < self.max_length:
                log_alpha = push(log_alpha, self.src, self.prob, self.log_prob, self.dst, n_states)
        return out

    def length_probs(self) -> np.ndarray:
        """p(the automaton stops after exactly λ tokens) for λ = 0..max_length (float64; 0.0
        where it is below the smallest double: `length_log_probs` holds it)."""
        return np.exp(self.length_log_probs())

    def sample(
        self, end_weight: np.ndarray | None, n: int, rng: np.random.Generator, log_end_weight: np.ndarray | None = None
    ) -> list[np.ndarray]:
        """`n` exact draws of token-id sequences whose probability of ending after t tokens
        is multiplied by `end_weight[t]` (float64 (max_length + 1,); see `tnaas.inference.lengths`),
        or by exp(`log_end_weight[t]`) when that is given (factors beyond any double)."""
        if log_end_weight is None:
            log_end_weight = _log(np.asarray(end_weight, dtype=np.float64))
        horizon = len(log_end_weight) - 1
        log_end = _log(self.end)
        # Backward messages: beta_t(s) = w_t end(s) + sum_e p_e beta_(t+1)(dst_e), in logs.
        log_beta = [np.zeros(0)] * (horizon + 1)
        log_beta[horizon] = log_end_weight[horizon] + log_end
        for t in range(horizon - 1, -1, -1):
            inflow = push(
                log_beta[t + 1], self.dst, self.prob, self.log_prob, self.src, len(self.end), sorted_groups=True
            )
            log_beta[t] = np.logaddexp(log_end_weight[t] + log_end, inflow)
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
            log_w = self.log_prob[edge] + (log_beta[t + 1][self.dst[edge]] if t < horizon else -np.inf)
            log_stop = log_end_weight[t] + log_end[unique]
            shift = log_beta[t][unique]  # finite: only states with a way to finish are reached
            option_owner = np.concatenate([owner, np.arange(len(unique))])
            weight = np.exp(np.concatenate([log_w - shift[owner], log_stop - shift]))
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
