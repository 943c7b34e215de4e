"""Exact samples and the exact k best items of a `BackoffLattice`, by dense expansion of
the few nodes they visit.

Sampling: backward messages are exact, so at each step each distinct node a draw sits at
is expanded over every token (its dense row, `BackoffStructure.dense_rows`) and the
option "end here"; option w weighs p(w | s) β(δ(q, w), d(s, w)) / β(node), looked up in
the next frontier by key. k-best: A* over prefixes with an admissible heuristic U, an
upper bound on the best finish from each node computed over the pooled structure (each
frontier's compiled `backoff_step.Step`, max instead of sum) with exclusions ignored
(each state's bound is the max of its entries' exact terms and γ times its parent's
bound, which can only over-estimate). Through a long saturated `%` (one frontier, one
step, equal end weights up to the cap) the bound does not recurse from the cap: it
starts from log β at the run's first step, which bounds the best finish from every later
step too (a sum over finishes bounds their max, and a later step's finishes, with less
time left, are finishes of the same node at the first), and applies that one step
`BETA_TIGHTENING` times, keeping the elementwise least bound so far (each application maps
an upper bound of the next step's best finish to one of this step's, since the pooled max
over-estimates the exact max-product step, which is monotone; the least of upper bounds is
one). So a few passes serve the whole run, not one per step. Without backward messages (a
lattice built with `backward=False`) the bound recurses step by step from the cap.
A popped node's children are sorted
once and pushed lazily (best first, each pop of a child pushes its next sibling), so a
pop costs O(V log V), not V heap pushes.
"""

from __future__ import annotations

import heapq

import numpy as np

from tnaas.errors import TnaasError
from tnaas.inference.automaton import choose, safe_log
from tnaas.inference.backoff_flow import _DENSE_BATCH
from tnaas.inference.lattice import MAX_SEARCH_POPS


def _options(lat, t: int, nodes: np.ndarray):
    """Dense options of frontier nodes `nodes` (int64 (g,)) after t tokens: (p(w | s)
    float64 (g, V), next node index int64 (g, V), -1 where the pattern or lattice has none)."""
    S, dfa = lat.structure, lat.dfa
    q, s = np.divmod(lat.keys[t][nodes], S.n)
    probs, dsts = S.dense_rows(s)
    nq = dfa.delta[q[:, None], dfa.token_class[None, :]]
    query = np.where(nq >= 0, nq * S.n + dsts, -1)
    kept = getattr(lat, "kept_key_index", None)
    index = kept(t + 1) if kept is not None else None  # (kept by the backward pass: a table lookup)
    if index is not None and index.table is not None:
        return probs, index.find(query)
    # else a binary search in the sorted keys (a `KeyIndex` table over DFA states x KN
    # states would cost far more to build than a few nodes' lookups)
    keys = lat.keys[t + 1]
    if len(keys) == 0:
        return probs, np.full(query.shape, -1)
    at = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return probs, np.where(keys[at] == query, at, -1)


def _option_weights(lat, t: int, probs: np.ndarray, nxt: np.ndarray, log_here: np.ndarray) -> np.ndarray:
    """p(w | s) β(next) / β(node) per option (float64 (g, V)): in linear arithmetic when
    β after t + 1 tokens is one linear band (values >= e^-575, so no product loses
    digits) and no row's factor exp(scale - log β(node)) overflows, else in logs."""
    following = getattr(lat, "_beta", [None] * (t + 2))[t + 1]
    if isinstance(following, tuple):
        values, shift = following  # (values end with a 0 for "absent": index -1)
        lift = shift - log_here
        if lift.max() < 700:
            return values[nxt] * np.exp(lift)[:, None] * probs
    with np.errstate(divide="ignore"):
        return np.exp(np.log(probs) + _take(lat.log_beta, t + 1, nxt) - log_here[:, None])


def _take(log_beta, t: int, index: np.ndarray) -> np.ndarray:
    """log_beta[t] at `index` (-1: absent, -inf), without reading the rest when it can."""
    if hasattr(log_beta, "take"):
        return log_beta.take(t, index)
    return np.r_[log_beta[t], -np.inf][index]


def sample_lattice(lat, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`n` exact draws of token-id sequences from p(item | pattern) (module docstring)."""
    if lat.log_z == -np.inf:
        raise TnaasError("no item matches the pattern: nothing to sample")
    V = lat.structure.V
    horizon = len(lat.log_alpha)
    # A lattice starts at its node 0. The explicit samplers draw the start node from a
    # one-point distribution first: drawing it here too keeps seeded draws the same.
    node = np.full(n, getattr(lat, "start_node", 0), dtype=np.int64) + rng.choice(1, size=n, p=[1.0])
    tokens = np.zeros((n, horizon), dtype=np.int64)
    lengths = np.zeros(n, dtype=np.int64)
    active = np.arange(n)
    for t in range(horizon):
        if len(active) == 0:
            break
        unique, inverse = np.unique(node[active], return_inverse=True)
        log_here = _take(lat.log_beta, t, unique)  # finite: only nodes with a finish are reached
        log_stop = lat.log_end[t][unique] - log_here
        picked_token = np.full(len(active), -1)
        picked_node = np.zeros(len(active), dtype=np.int64)
        step = max(1, _DENSE_BATCH // (V + 1))
        for lo in range(0, len(unique), step):
            rows = np.arange(lo, min(lo + step, len(unique)))
            draws = np.flatnonzero((inverse >= lo) & (inverse < lo + len(rows)))
            if t < len(lat.cells):  # (the last step has no tokens left)
                probs, nxt = _options(lat, t, unique[rows])
                w = _option_weights(lat, t, probs, nxt, log_here[rows])
            else:
                w = np.zeros((len(rows), V))
                nxt = np.full((len(rows), V), -1)
            weight = np.concatenate([w, np.exp(log_stop[rows, None])], axis=1)
            owner = np.repeat(np.arange(len(rows)), V + 1)
            choice = choose(owner, weight.reshape(-1), len(rows), inverse[draws] - lo, rng)
            row, option = np.divmod(choice, V + 1)
            going = option < V
            picked_token[draws[going]] = option[going]
            picked_node[draws[going]] = nxt[row[going], option[going]]
        going = picked_token >= 0
        tokens[active[going], t] = picked_token[going]
        lengths[active[going]] += 1
        node[active[going]] = picked_node[going]
        active = active[going]
    return [row[:length].copy() for row, length in zip(tokens, lengths.tolist())]


BETA_TIGHTENING = 3  # bound passes from log β through a saturated run (module docstring)


def upper_bounds(lat) -> list[np.ndarray]:
    """log U_t(node) >= log max over matching finishes of p(finish | node), per t (module
    docstring); exact at the last step."""
    S = lat.structure
    horizon = len(lat.log_alpha) - 1
    out = [np.zeros(0)] * (horizon + 1)
    out[horizon] = lat.log_end[horizon]
    frontier = [lat._frontier_id(keys) for keys in lat.keys]
    weight = lat.log_end_weight
    first = horizon  # the saturated run: steps first..horizon - 1 share one frontier and end weight
    while first > 0 and frontier[first - 1] == frontier[horizon] and weight[first - 1] == weight[horizon]:
        first -= 1
    last = horizon - 1  # the last step the recursion below computes
    has_beta = getattr(lat, "_beta", None) is not None
    if has_beta and horizon - first >= BETA_TIGHTENING + 2:  # (shorter: the recursion is as cheap)
        step = lat.step(first)
        lookup = lat.cell_lookup(first, step)
        bound = lat.log_beta[first]
        for _ in range(BETA_TIGHTENING):
            bound = np.minimum(bound, step.bound(S, np.r_[bound, -np.inf][lookup], lat.log_end[first]))
        out[first:horizon] = [bound] * (horizon - first)
        last = first - 1
    for t in range(last, -1, -1):
        step = lat.step(t)
        log_u = np.r_[out[t + 1], -np.inf]  # the last: absent
        out[t] = step.bound(S, log_u[lat.cell_lookup(t, step)], lat.log_end[t])
    return out


def top_lattice(lat, k: int) -> tuple[list[tuple[np.ndarray, float]], bool]:
    """The k most probable matching items, exactly, descending: ([(ids, p(item | pattern))],
    complete), `complete` False only when the search budget ran out (module docstring)."""
    if lat.log_z == -np.inf or k <= 0:
        return [], True
    bound = upper_bounds(lat)
    heap: list = []
    counter = 0

    def expand(t: int, i: int, prefix: tuple, log_w: float) -> None:
        nonlocal counter
        log_end = log_w + float(lat.log_end[t][i])
        if log_end > -np.inf:
            counter += 1
            heapq.heappush(heap, (-log_end, counter, prefix, None))
        if t >= len(lat.cells):
            return
        probs, nxt = _options(lat, t, np.array([i]))
        log_p, nxt = safe_log(probs[0]), nxt[0]
        priority = log_w + log_p + np.r_[bound[t + 1], -np.inf][nxt]
        keep = np.flatnonzero(priority > -np.inf)
        if len(keep) == 0:
            return
        keep = keep[np.argsort(-priority[keep], kind="stable")]
        children = (t + 1, keep, nxt[keep], log_w + log_p[keep], priority[keep])
        counter += 1
        heapq.heappush(heap, (-float(children[4][0]), counter, prefix, (children, 0)))

    expand(0, 0, (), float(lat.log_alpha[0][0]))
    found: list[tuple[np.ndarray, float]] = []
    pops = 0
    while heap and len(found) < k:
        neg, _, prefix, child = heapq.heappop(heap)
        pops += 1
        if pops > MAX_SEARCH_POPS:
            return found, False
        if child is None:  # a finished item: its priority is its exact probability
            found.append((np.array(prefix, dtype=np.int64), float(np.exp(-neg - lat.log_z))))
            continue
        (t, token, nxt, log_w, priority), a = child
        if a + 1 < len(token):  # the next sibling, no better than this one
            counter += 1
            heapq.heappush(heap, (-float(priority[a + 1]), counter, prefix, (child[0], a + 1)))
        expand(t, int(nxt[a]), prefix + (int(token[a]),), float(log_w[a]))
    return found, True
