"""Exact inference over an automaton constrained by a pattern: the completion lattice.

Node t of the lattice is a pair (pattern DFA state, automaton state) reached after t
tokens that still match the pattern. A forward pass gives p(pattern); a backward pass gives
exact posteriors, exact samples (backward messages, then forward sampling) and an exact
k-best search (A* with the max-product backward pass as heuristic). Nothing here samples
to estimate or enumerates strings.

Every node weight, forward or backward, is kept as a natural log (`tnaas.inference.log_flow`
explains how without paying an `exp` per edge): one scale factor per step would lose any
node whose weight falls below ~1e-308 of the step's best, and on a long pattern or an HMM
with 1e-300 parameters that node can carry the whole answer, whose probability may itself
be far below the smallest double (hence `log_z`).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from tnaas.errors import TnaasError
from tnaas.inference.automaton import Automaton, choose, safe_log
from tnaas.inference.log_flow import TINY, log_dot, log_group_sum, push, scaled
from tnaas.inference.patterns import PatternDFA

MAX_LATTICE_EDGES = 6_000_000  # ~120 MB of int32/float64 edge arrays; see README "Limits"
MAX_SEARCH_POPS = 20_000  # k-best search budget (only a loose HMM bound ever nears it)


@dataclass(frozen=True)
class Step:
    """Lattice edges from the nodes after t tokens to those after t + 1 (ascending `src`).

    `src`, `dst`: int32 (e,) node indices in frontier t and t + 1; `token`: int32 (e,);
    `prob`: float64 (e,) automaton probabilities; `log_prob`: float64 (e,) their logs when
    the automaton gives them (HMMs: finite where `prob` underflows to 0), else None.
    """

    src: np.ndarray
    token: np.ndarray
    dst: np.ndarray
    prob: np.ndarray
    log_prob: np.ndarray | None = None

    def log_probs(self, part=slice(None)) -> np.ndarray:
        """Natural logs of the probabilities of the edges `part` (a slice or index array)."""
        return self.log_prob[part] if self.log_prob is not None else safe_log(self.prob[part])


_log = safe_log


def _unique_inverse(values: np.ndarray, low: int | None = None, span: int | None = None):
    """`np.unique(values, return_inverse=True)` for int64 values >= 0, same output.

    When the values span a range not much wider than their count (lattice keys nearly
    always do), marking a table is linear where sorting is not. `low` and `span`, when the
    caller knows them, bound the values (low <= v < low + span) and save two passes.
    """
    if len(values) == 0:
        return np.unique(values, return_inverse=True)
    if low is None:
        if (values[1:] > values[:-1]).all():  # already distinct and sorted (most frontiers)
            return values.copy(), np.arange(len(values))
        low = int(values.min())
        span = int(values.max()) - low + 1
    if span > 4 * len(values) + 4096:
        return np.unique(values, return_inverse=True)
    shifted = values - low if low else values
    present = np.zeros(span, dtype=bool)
    present[shifted] = True
    rank = np.cumsum(present) - 1
    return np.flatnonzero(present) + low, rank[shifted]


def _step_dfa(dfa: PatternDFA, q: np.ndarray, node: np.ndarray, token: np.ndarray) -> tuple[np.ndarray, int | None]:
    """(`dfa.step(q[node], token)` int64 (e,), None) or (None, the DFA state all go to).

    Cheaper when every node is in one DFA state (always, for patterns without `%`) and,
    more so, when that state reads any token alike (a `*`)."""
    if len(node) == 0:
        return np.zeros(0, dtype=np.int64), None
    if len(q) and (q == q[0]).all():
        row = dfa.delta[q[0]]
        if (row == row[0]).all():  # no per-edge array: the caller uses the shared state
            return None, int(row[0])
        return row[dfa.token_class[token]], None
    return dfa.step(q[node], token), None


def _too_big(max_edges: int):
    raise TnaasError(
        f"this query needs more than {max_edges:,} lattice edges: too many unknown tokens for "
        "this model; use fewer `*`/`%` (or a fixed length), or a smaller model (state size, "
        "hidden states) without smoothing"
    )


def _logsumexp(x: np.ndarray) -> float:
    if len(x) == 0:
        return -np.inf
    m = float(np.max(x))
    if m == -np.inf:
        return -np.inf
    return m + float(np.log(np.sum(np.exp(x - m))))


class Lattice:
    """The pattern-constrained lattice of an automaton, with forward and backward passes.

    `end_weight`: float64 (max_length + 1,): factor on the probability of ending after t
    tokens (all ones: the chain's own stopping; see `tnaas.inference.lengths`), or
    `log_end_weight`, its natural log, which holds factors no double can (a length the
    chain reaches with probability 1e-400 gets a factor of ~1e400). Build cost and memory
    grow with the number of lattice edges, capped at `max_edges` (a `TnaasError` says so).
    """

    def __init__(
        self,
        automaton: Automaton,
        dfa: PatternDFA,
        end_weight: np.ndarray | None = None,
        max_edges: int = MAX_LATTICE_EDGES,
        backward: bool = True,
        log_end_weight: np.ndarray | None = None,
    ):
        if log_end_weight is None:
            if end_weight is None:
                raise TnaasError("a lattice needs its end weights (end_weight or log_end_weight)")
            log_end_weight = _log(np.asarray(end_weight, dtype=np.float64))
        self.automaton = automaton
        self.dfa = dfa
        self.log_end_weight = np.asarray(log_end_weight, dtype=np.float64)
        self.max_length = len(self.log_end_weight) - 1
        self.steps: list[Step] = []
        self.states: list[np.ndarray] = []  # automaton state of each node, per t
        self.log_alpha: list[np.ndarray] = []  # log p(prefix, node) of each node, per t
        self.log_end: list[np.ndarray] = []  # log end weight of each node (prob * accept * weight)
        self._forward(max_edges)
        self.log_z = self._log_total()
        if backward and self.log_z > -np.inf:
            self._backward()

    # ----------------------------------------------------------------- forward pass
    def _forward(self, max_edges: int) -> None:
        auto, dfa = self.automaton, self.dfa
        states, probs = auto.start()
        q = np.zeros(len(states), dtype=np.int64)
        s = np.asarray(states, dtype=np.int64)
        log_alpha = _log(np.asarray(probs, dtype=np.float64))
        n_edges = 0
        log_accepting = _log(dfa.accepting.astype(np.float64))
        for t in range(self.max_length + 1):
            if not (log_alpha > -np.inf).any():
                break
            self.states.append(s)
            self.log_alpha.append(log_alpha)
            self.log_end.append(_log(auto.end_prob(s)) + log_accepting[q] + self.log_end_weight[t])
            if t == self.max_length:
                break
            tokens = None if dfa.allows_any[q].any() else dfa.literal_ids
            unique, inverse = _unique_inverse(s)
            # Automata that can count their edges before making them (smoothed ones: every
            # token everywhere) let a hopeless query be refused at once, not after seconds;
            # the count is exact when any token may come next.
            count_edges = getattr(auto, "edge_count", None)
            if tokens is None and count_edges is not None and n_edges + count_edges(unique, None) > max_edges:
                _too_big(max_edges)
            edges = auto.expand(unique, tokens)
            log_prob = getattr(edges, "log_prob", None)
            if np.array_equal(unique, s):  # distinct and sorted: node i is automaton state unique[i]
                node, token, target, prob = edges.src, edges.token, edges.dst, edges.prob
            else:  # one automaton state under several pattern states: share its edges
                counts = np.bincount(edges.src, minlength=len(unique))
                starts = np.cumsum(counts) - counts
                per_node = counts[inverse]
                node = np.repeat(np.arange(len(s)), per_node)
                within = np.arange(int(per_node.sum())) - np.repeat(np.cumsum(per_node) - per_node, per_node)
                edge = np.repeat(starts[inverse], per_node) + within
                token, target, prob = edges.token[edge], edges.dst[edge], edges.prob[edge]
                log_prob = None if log_prob is None else log_prob[edge]
            q_next, shared = _step_dfa(dfa, q, node, token)
            if shared is not None and shared < 0:  # no token can continue the match here
                node, token, target, prob, q_next, shared = node[:0], token[:0], target[:0], prob[:0], node[:0], None
                log_prob = None if log_prob is None else log_prob[:0]
            elif shared is None:
                keep = q_next >= 0
                if not keep.all():
                    node, token, target, prob, q_next = node[keep], token[keep], target[keep], prob[keep], q_next[keep]
                    log_prob = None if log_prob is None else log_prob[keep]
            n_edges += len(node)
            if n_edges > max_edges:
                _too_big(max_edges)
            if shared is not None:  # keys shared * n + target: rank the targets alone
                unique_key, dst = _unique_inverse(target, 0, auto.n_states)
                unique_key = unique_key + shared * auto.n_states
            else:
                unique_key, dst = _unique_inverse(q_next * auto.n_states + target)
            step = Step(node.astype(np.int32), token.astype(np.int32), dst.astype(np.int32), prob, log_prob)
            self.steps.append(step)
            log_alpha = push(log_alpha, node, prob, log_prob, dst, len(unique_key))
            q, s = unique_key // auto.n_states, unique_key % auto.n_states
        self.steps = self.steps[: len(self.log_alpha) - 1]  # drop a step into an empty frontier

    def _log_total(self) -> float:
        parts = [log_dot(a, e) for a, e in zip(self.log_alpha, self.log_end)]
        return _logsumexp(np.array(parts))

    @property
    def probability(self) -> float:
        """p(pattern): total probability of the items that match, float (0.0 when it is
        below the smallest double: `log_z` holds it then)."""
        return float(np.exp(self.log_z))

    @property
    def log_scale(self) -> list[float]:
        """log of the total forward mass after t tokens, per t (floats)."""
        return [_logsumexp(a) for a in self.log_alpha]

    @property
    def alpha(self) -> list[np.ndarray]:
        """Forward weights after t tokens divided by their total (`log_scale`), per t."""
        return [np.exp(a - ls) for a, ls in zip(self.log_alpha, self.log_scale)]

    @property
    def running_mass(self) -> float:
        """Probability of matching prefixes still running after `max_length` tokens.

        An upper bound on the probability mass the length cap leaves out (0 when every
        match is shorter than the cap).
        """
        if len(self.log_alpha) <= self.max_length:
            return 0.0
        with np.errstate(divide="ignore"):
            log_going = np.log1p(-self.automaton.end_prob(self.states[self.max_length]))
        return float(np.exp(log_dot(self.log_alpha[self.max_length], log_going)))

    # ---------------------------------------------------------------- backward pass
    def _backward(self) -> None:
        """Backward messages: log_beta[t][node] = log p(a matching finish | node after t tokens)."""
        horizon = len(self.log_alpha) - 1
        self.log_beta: list[np.ndarray] = [np.zeros(0)] * (horizon + 1)
        for t in range(horizon, -1, -1):
            log_beta = self.log_end[t]
            if t < horizon:
                step = self.steps[t]
                inflow = push(
                    self.log_beta[t + 1],
                    step.dst,
                    step.prob,
                    step.log_prob,
                    step.src,
                    len(log_beta),
                    sorted_groups=True,
                )
                log_beta = np.logaddexp(log_beta, inflow)
            self.log_beta[t] = log_beta

    def _edge_posterior(self, t: int) -> np.ndarray:
        """p(the item takes edge e of step t | pattern), float64 (e,)."""
        step = self.steps[t]
        log_a, log_b = self.log_alpha[t], self.log_beta[t + 1]
        shift_a, a = scaled(log_a)
        shift_b, b = scaled(log_b)
        offset = shift_a + shift_b - self.log_z
        terms = a[step.src] * step.prob * b[step.dst]
        # The linear product is exact unless a term underflows although its log is finite,
        # or the common factor itself under- or overflows; then work per edge in logs.
        small = terms < TINY
        if -700 < offset < 700:
            if not small.any():
                return terms * np.exp(offset)
            log_small = log_a[step.src[small]] + step.log_probs(small) + log_b[step.dst[small]]
            if not np.isfinite(log_small).any():
                return terms * np.exp(offset)
        return np.exp(log_a[step.src] + step.log_probs() + log_b[step.dst] - self.log_z)

    def end_log_mass(self) -> np.ndarray:
        """log p(the item matches and has length t) for t = 0..max_length, float64 (max_length + 1,)."""
        out = np.full(self.max_length + 1, -np.inf)
        for t, (a, e) in enumerate(zip(self.log_alpha, self.log_end)):
            out[t] = log_dot(a, e)
        return out

    def end_mass(self) -> np.ndarray:
        """p(the item matches and has length t) for t = 0..max_length, float64 (max_length + 1,)."""
        return np.exp(self.end_log_mass())

    def end_posterior(self) -> np.ndarray:
        """p(length = t | pattern) for t = 0..max_length, float64 (max_length + 1,)."""
        return np.exp(self.end_log_mass() - self.log_z)

    def token_posteriors(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each position t: (token ids, probabilities) of the token at t given the pattern.

        Probabilities at t sum to p(length > t | pattern); the rest is the chance that the
        item has already ended. A list of max_length pairs of (k,) arrays.
        """
        if self.log_z == -np.inf:
            raise TnaasError("no item matches the pattern: there is no posterior")
        out = []
        vocab_size = len(self.automaton.vocabulary)
        for t in range(len(self.steps)):
            weights = np.bincount(self.steps[t].token, weights=self._edge_posterior(t), minlength=vocab_size)
            ids = np.flatnonzero(weights > 0)
            out.append((ids, weights[ids]))
        return out

    # ---------------------------------------------------------------- exact samples
    def sample(self, n: int, rng: np.random.Generator) -> list[np.ndarray]:
        """`n` exact draws of token-id sequences from p(item | pattern)."""
        if self.log_z == -np.inf:
            raise TnaasError("no item matches the pattern: nothing to sample")
        first = np.exp(self.log_alpha[0] + self.log_beta[0] - self.log_z)
        node = rng.choice(len(first), size=n, p=first / first.sum())
        tokens = np.zeros((n, len(self.log_alpha)), dtype=np.int64)  # row i: draw i's tokens so far
        lengths = np.zeros(n, dtype=np.int64)
        active = np.arange(n)
        for t in range(len(self.log_alpha)):
            if len(active) == 0:
                break
            n_nodes = len(self.log_alpha[t])
            # Each option's share of its node's backward mass: at most 1, exact in logs.
            # (A node with no matching finish is never reached: any finite shift will do.)
            log_here = np.where(self.log_beta[t] > -np.inf, self.log_beta[t], 0.0)
            end_weight = np.exp(self.log_end[t] - log_here)
            if t < len(self.steps):
                step = self.steps[t]
                edge_weight = np.exp(step.log_probs() + self.log_beta[t + 1][step.dst] - log_here[step.src])
                owner = np.concatenate([step.src.astype(np.int64), np.arange(n_nodes)])
                weight = np.concatenate([edge_weight, end_weight])
                target = np.concatenate([step.dst.astype(np.int64), np.full(n_nodes, -1)])
                token = np.concatenate([step.token.astype(np.int64), np.full(n_nodes, -1)])
                order = np.argsort(owner, kind="stable")
                owner, weight, target, token = owner[order], weight[order], target[order], token[order]
            else:
                owner, weight = np.arange(n_nodes), end_weight
                target = token = np.full(n_nodes, -1)
            picked = choose(owner, weight, n_nodes, node[active], rng)
            going = token[picked] >= 0
            tokens[active[going], t] = token[picked][going]
            lengths[active[going]] += 1
            node[active[going]] = target[picked][going]
            active = active[going]
        return [row[:length].copy() for row, length in zip(tokens, lengths.tolist())]

    # ----------------------------------------------------------------- k-best search
    def _max_backward(self, log_p: list[np.ndarray]) -> list[np.ndarray]:
        """log U_t(node): an upper bound (exact for deterministic automata) on the best
        probability of finishing from each node (`log_p[t]`: step t's edge log probabilities)."""
        vocab_size = len(self.automaton.vocabulary)
        horizon = len(self.log_alpha) - 1
        log_u: list[np.ndarray] = [np.zeros(0)] * (horizon + 1)
        for t in range(horizon, -1, -1):
            best = self.log_end[t].copy()
            if t < horizon and len(self.steps[t].src):
                step = self.steps[t]
                via = log_p[t] + log_u[t + 1][step.dst]
                owner = step.src  # ascending
                same = owner[1:] == owner[:-1]
                if (same & (step.token[1:] <= step.token[:-1])).any():  # several edges per (node, token)
                    pairs, group = _unique_inverse(owner.astype(np.int64) * vocab_size + step.token)
                    via = log_group_sum(group, via, len(pairs))
                    owner = pairs // vocab_size
                    same = owner[1:] == owner[:-1]
                first = np.flatnonzero(np.r_[True, ~same])
                best[owner[first]] = np.maximum(best[owner[first]], np.maximum.reduceat(via, first))
            log_u[t] = best
        return log_u

    def top(self, k: int) -> tuple[list[tuple[np.ndarray, float]], bool]:
        """The k most probable matching items, exactly, in descending probability.

        Returns ([(token ids, p(item | pattern)), ...], complete) where `complete` is False
        only if the search budget ran out first (what was found is still exact and ordered).
        """
        if self.log_z == -np.inf or k <= 0:
            return [], True
        log_p = [step.log_probs() for step in self.steps]  # once per step, not once per pop
        log_u = self._max_backward(log_p)
        starts = [np.searchsorted(step.src, np.arange(len(self.log_alpha[t]) + 1)) for t, step in enumerate(self.steps)]
        counter = 0
        nodes0 = np.arange(len(self.log_alpha[0]))
        weights0 = self.log_alpha[0]
        # entries: (-priority, tie-break, t, prefix, nodes, weights, lo, hi); the node set is
        # nodes[lo:hi] (sliced only when popped: most entries never are), None when finished
        heap = [(-_logsumexp(weights0 + log_u[0]), counter, 0, (), nodes0, weights0, 0, len(nodes0))]
        found: list[tuple[np.ndarray, float]] = []
        pops = 0
        while heap and len(found) < k:
            neg, _, t, prefix, nodes, weights, lo, hi = heapq.heappop(heap)
            pops += 1
            if pops > MAX_SEARCH_POPS:
                return found, False
            if nodes is None:  # a finished item: its priority is its exact probability
                found.append((np.array(prefix, dtype=np.int64), float(np.exp(-neg - self.log_z))))
                continue
            nodes, weights = nodes[lo:hi], weights[lo:hi]
            if len(nodes) == 1:  # the rule for deterministic automata: scalars, no arrays
                log_end = float(weights[0] + self.log_end[t][nodes[0]])  # = _logsumexp of one number
            else:
                log_end = _logsumexp(weights + self.log_end[t][nodes])
            if log_end > -np.inf:
                counter += 1
                heapq.heappush(heap, (-log_end, counter, t, prefix, None, None, 0, 0))
            if t >= len(self.steps):
                continue
            step = self.steps[t]
            if len(nodes) == 1:  # its edges are one contiguous run
                first_edge, end_edge = int(starts[t][nodes[0]]), int(starts[t][nodes[0] + 1])
                if first_edge == end_edge:
                    continue
                log_w = weights[0] + log_p[t][first_edge:end_edge]
                token, dst = step.token[first_edge:end_edge], step.dst[first_edge:end_edge]
            else:
                edge = _ranges(starts[t], nodes)
                if len(edge) == 0:
                    continue
                owner_weight = np.repeat(weights, starts[t][nodes + 1] - starts[t][nodes])
                log_w = owner_weight + log_p[t][edge]
                token, dst = step.token[edge], step.dst[edge]
            distinct = len(token) < 2 or bool((token[1:] > token[:-1]).all())
            if not distinct:  # (when tokens ascend, distinct, the sort below is the identity)
                order = np.lexsort((dst, token))
                token, dst, log_w = token[order], dst[order], log_w[order]
                # merge paths that reach the same node with the same token (HMMs)
                same = np.r_[False, (token[1:] == token[:-1]) & (dst[1:] == dst[:-1])]
                if same.any():  # a segmented log-sum-exp over runs of equal (token, node)
                    first = np.flatnonzero(~same)
                    top = np.maximum.reduceat(log_w, first)
                    group = np.cumsum(~same) - 1
                    with np.errstate(invalid="ignore"):
                        shifted = np.where(np.isfinite(top[group]), np.exp(log_w - top[group]), 0.0)
                    log_w = _log(np.add.reduceat(shifted, first)) + np.where(np.isfinite(top), top, 0.0)
                    log_w[~np.isfinite(top)] = -np.inf
                    token, dst = token[first], dst[first]
            dst = dst.astype(np.int64)
            via = log_w + log_u[t + 1][dst]
            if distinct:  # one lattice node per token: its priority is `via` itself
                for a, (tok, priority) in enumerate(zip(token.tolist(), via.tolist())):
                    if priority > -np.inf:
                        counter += 1
                        heapq.heappush(heap, (-priority, counter, t + 1, prefix + (tok,), dst, log_w, a, a + 1))
                continue
            bound = np.flatnonzero(np.r_[True, token[1:] != token[:-1], True])
            # One lattice node per token is the rule (deterministic automata): its priority
            # is `via` itself, which is what _logsumexp of one number returns, so only
            # groups of several nodes (HMMs) need the call.
            for a, b, tok in zip(bound[:-1].tolist(), bound[1:].tolist(), token[bound[:-1]].tolist()):
                priority = float(via[a]) if b - a == 1 else _logsumexp(via[a:b])
                if priority > -np.inf:
                    counter += 1
                    heapq.heappush(heap, (-priority, counter, t + 1, prefix + (tok,), dst, log_w, a, b))
        return found, True


def _ranges(starts: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    counts = starts[nodes + 1] - starts[nodes]
    within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts[nodes], counts) + within
