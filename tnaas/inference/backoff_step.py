"""One lattice step of `tnaas.inference.backoff_flow`, compiled once per frontier.

`forward_band` and `backward_band` regroup the pooled entries of a frontier on every call
(pool entries, cell keys, a sort). Everything but the masses depends on the frontier's keys
alone, and lattice frontiers repeat (after a few tokens of a `%` they stop changing), so a
`Step` lays the operator out once as flat arrays: each term's owner (pool node, or direct
frontier node), coefficient and output cell (one sorted `cells` array over every term the
pattern allows). A band is then a few gathers and `bincount`s, forward (cells from masses),
backward (owners from cell weights) and for the A* bounds (max instead of sum).

The terms are `forward_band` / `backward_band`'s (terms of zero mass add an exact 0.0),
with γ(g) p(w | g') one precomputed coefficient (so equal to ~1e-16 relative, not bit for
bit), and so is the exactness argument (cancellation guard, exact recomputation). When
every frontier node carries mass, the cells that cancel to exactly 0 depend on the
support alone: they are recomputed the first time and remembered (`zero_cells`).
"""

from __future__ import annotations

import numpy as np

import tnaas.inference.backoff_flow as flow
from tnaas.inference.automaton import safe_log
from tnaas.inference.backoff import BackoffStructure
from tnaas.inference.backoff_flow import (
    Pool,
    _direct_pairs,
    _exact_cells,
    _pair_dst,
    _split,
    next_frontier,
    unique_inverse,
)
from tnaas.inference.patterns import PatternDFA


class Step:
    """The compiled one-token operator of frontier nodes (q, s) (int64 (f,) each).

    Terms, in `forward_band`'s order: pool entries (`ent_*`: owner pool index, entry
    index, coefficient, cell), root options (`root_*`), direct pairs (`dir_*`: owner
    frontier index), then the negative corrections (`neg_*`, coefficient γ(owner) times
    p(w | parent)). `cells` (c,) sorted q * n + s' keys; `cell_next` their next-frontier
    keys; `cell_token` their tokens.
    """

    def __init__(self, S: BackoffStructure, dfa: PatternDFA, q: np.ndarray, s: np.ndarray):
        n = S.n
        self.q, self.s, self.f = q, s, len(q)
        self.pooled = _split(S, dfa, q, s)
        self.pool = Pool(S, q[self.pooled], s[self.pooled]) if self.pooled.any() else None
        keys, neg_keys = [], []
        empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0)
        self.ent_owner = self.ent_entry = self.root_owner = self.neg_owner = empty_i
        self.ent_coef = self.root_coef = self.neg_gamma = self.neg_pp = empty_f
        self.pool_size, self.frontier, self.levels, self._roots = 0, empty_i, [], 0
        if self.pool is not None:
            pool = self.pool
            # pool nodes renumbered by (order, key): each order's nodes are one slice, so the
            # bottom-up and top-down sweeps index ranges, not scattered nodes
            self.perm = np.concatenate(pool.levels)  # new index -> pool index (orders ascending)
            self.rank = np.empty_like(self.perm)
            self.rank[self.perm] = np.arange(len(self.perm))
            self.pool_size = len(self.perm)
            self.frontier = self.rank[pool.frontier]
            up = pool.up[self.perm]
            up = np.where(up >= 0, self.rank[np.maximum(up, 0)], -1)
            gamma = pool._gamma[self.perm]
            bounds = np.searchsorted(pool.order[self.perm], np.arange(S.k + 2))
            self._sweep = []  # per order, lowest first: (slice, its parents' slice, parents within it, gamma . )
            for j, (lo, hi) in enumerate(zip(bounds[1:-1], bounds[2:])):  # orders 1..k
                if hi > lo:
                    self.levels.append((slice(int(lo), int(hi)), up[lo:hi], gamma[lo:hi]))
                    # a parent has the order below (a suffix one token shorter): one slice
                    plo, phi = int(bounds[j]), int(bounds[j + 1])
                    self._sweep.append((slice(int(lo), int(hi)), slice(plo, phi), up[lo:hi] - plo, gamma[lo:hi]))
            self.gamma = gamma
            # the entries the pattern allows, owner by owner in the new order (`Pool.entries`'
            # terms, each owner's in token order, without sorting them into it)
            states, dfa_q = pool.s[self.perm], pool.q[self.perm]
            roots = np.arange(len(pool.levels[0]))  # (order 0 comes first)
            self._roots = len(roots)
            inner = np.arange(len(roots), self.pool_size)
            owner, entry = S.entries_of(states[inner])
            owner = inner[owner]
            qq = dfa_q[owner]
            ok = dfa.delta[qq, dfa.token_class[S.token[entry]]] >= 0
            owner, entry, qq = owner[ok], entry[ok], qq[ok]
            rq = np.repeat(dfa_q[roots], S.V)
            rw = np.tile(np.arange(S.V), len(roots))
            rok = dfa.delta[rq, dfa.token_class[rw]] >= 0
            roots, rq, rw = np.repeat(roots, S.V)[rok], rq[rok], rw[rok]
            diff = S.diff[entry]
            self.ent_owner, self.ent_entry = owner, entry
            self.ent_coef = np.where(diff, S.prob[entry], S.weight[entry])
            keys.append(qq * n + S.dst[entry])
            self.root_owner, self.root_token = roots, rw
            self.root_coef = S.root_prob[rw]
            keys.append(rq * n + S.root_dst[rw])
            self.neg_owner = owner[diff]
            self.neg_gamma = gamma[self.neg_owner]
            self.neg_pp = S.parent_prob[entry[diff]]
            neg_keys.append(qq[diff] * n + S.parent_dst[entry[diff]])
        self.dir_node, self.dir_coef = empty_i, empty_f
        direct = np.flatnonzero(~self.pooled)
        if len(direct):
            node, token = _direct_pairs(S, dfa, q[direct], s[direct])
            self.dir_node = direct[node]
            self.dir_coef = S.pair_prob(s[self.dir_node], token)
            keys.append(q[self.dir_node] * n + _pair_dst(S, s[self.dir_node], token))
        every = np.concatenate(keys + neg_keys) if keys + neg_keys else empty_i
        self.cells, inverse = unique_inverse(every, (int(q.max()) + 1) * n if len(q) else 1)
        cuts = np.cumsum([len(self.ent_owner), len(self.root_owner), len(self.dir_node)])
        self.ent_cell, self.root_cell, self.dir_cell, self.neg_cell = np.split(inverse, cuts)
        self.pos_cell = inverse[: cuts[-1]]
        # the positive terms as one gather from [pool masses, frontier masses]
        self.pos_source = np.concatenate([self.ent_owner, self.root_owner, self.pool_size + self.dir_node])
        self.pos_coef = np.concatenate([self.ent_coef, self.root_coef, self.dir_coef])
        self.neg_coef = self.neg_gamma * self.neg_pp
        self.zero_cells = None  # cells exactly 0 whenever every node has mass (`forward`)
        self.released = False
        self._kept_full = None  # the positive cells then (index array, or every cell: a slice)
        self._all_cells = None
        self.cell_next = next_frontier(S, dfa, self.cells)
        self.cell_token = S.last[self.cells % n]
        # distinct next nodes in the cells' order: any kept subset is a sorted frontier as it is
        self.next_increasing = bool(np.all(self.cell_next[1:] > self.cell_next[:-1]))
        self.pooled_at = np.flatnonzero(self.pooled)
        if len(self.pooled_at) == len(q):
            self.pooled_at = slice(None)  # (a view, not a copy)
        log_accepting = safe_log(dfa.accepting.astype(np.float64))
        self.end = S.end[s] * dfa.accepting[q]  # p(END) where accepting, linear (without the length weight)
        self.log_end = safe_log(S.end[s]) + log_accepting[q]
        self.ends = np.flatnonzero(self.log_end > -np.inf)  # the nodes that may end here
        self._log_coefs = None
        # (kept cell indices, their next keys, tokens, (next frontier, each one's index there)
        # or None) of the last single-band forward: a saturated frontier keeps the same cells
        self.kept_cells = None

    def size(self) -> int:
        """Stored terms, pool nodes and cells (what keeping this step costs, in entries)."""
        terms = len(self.ent_owner) + len(self.root_owner) + len(self.dir_node) + len(self.neg_owner)
        pool = 0 if self.pool is None else self.pool.size() + 4 * self.pool_size
        return 2 * terms + len(self.cells) + (pool if not self.released else 4 * self.pool_size)

    def release_forward(self) -> None:
        """Drop what only `forward` reads (the pool, its renumbering, the nodes' states, the
        positive terms' gathers and the cached supports): `backward` and `bound` keep
        working, `forward` no longer does."""
        self.pool = self.perm = self.rank = self._sweep = self.q = self.s = None
        self.pos_source = self.pos_coef = self.neg_coef = None
        self.zero_cells = self._kept_full = self._all_cells = None
        self.released = True

    def work(self) -> int:
        """Terms one pass through this step touches (pool nodes, entry, root, direct and
        negative terms, cells): the unit of the engines' work budgets (`backoff_budget`)."""
        terms = len(self.ent_owner) + len(self.root_owner) + len(self.dir_node) + len(self.neg_owner)
        return int(terms + self.pool_size + len(self.cells))

    def forward(self, S: BackoffStructure, dfa: PatternDFA, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(indices into `cells`, exact cell values float64 > 0) from the frontier's linear
        masses `a` (float64 (f,)), as `forward_band`."""
        if self.released:
            raise RuntimeError("this step's forward arrays were released (`release_forward`)")
        mass = None
        neg = np.zeros(0)
        if self.pool is not None:
            mass = self._masses(a[self.pooled_at])
            source = np.concatenate([mass, a]) if len(self.dir_node) else mass
            neg = mass[self.neg_owner] * self.neg_coef
        else:
            source = np.concatenate([np.zeros(0), a])
        c = len(self.cells)
        P = np.bincount(self.pos_cell, weights=source[self.pos_source] * self.pos_coef, minlength=c)
        N = np.bincount(self.neg_cell, weights=neg, minlength=c)
        # every node carrying mass (no band split it): the cells that cancel to 0 are the same
        # every time (their exact value is a sum of positive terms over the support), so only
        # the first such pass recomputes them
        full = len(a) > 0 and bool(a.min() > 0)
        if full and self.zero_cells is not None:
            P[self.zero_cells] = 0.0
            N[self.zero_cells] = 0.0
        value = P - N
        guard = np.flatnonzero(value <= flow.GUARD * P)  # (then the few with no terms at all left out)
        guard = guard[(P[guard] > 0) | (N[guard] > 0)]
        if len(guard):
            in_pool = (None, None)
            if mass is not None:  # (each node's own mass, only for these: pool order)
                alpha = np.zeros(self.pool_size)
                alpha[self.frontier] = a[self.pooled_at]
                in_pool = (alpha[self.rank], mass[self.rank])
            value[guard] = _exact_cells(S, self.pool, *in_pool, self.cells[guard], self.q, self.s, a, ~self.pooled, dfa)
        if full and self.zero_cells is None:
            self.zero_cells = guard[value[guard] == 0]
        if full and self._kept_full is not None:  # (the same support: the same positive cells)
            keep = self._kept_full
        else:
            keep = np.flatnonzero(value > 0)
            if full and self.zero_cells is not None:
                self._kept_full = keep if len(keep) < len(value) else slice(None)
        if isinstance(keep, slice):
            if self._all_cells is None:
                self._all_cells = np.arange(len(value))
            return self._all_cells, value
        return keep, value[keep]

    def _masses(self, a: np.ndarray) -> np.ndarray:
        """Each pool node's mass after pooling (`Pool.masses`' second array, float64 (p,))
        with the levels' gathers done once, each order's sums added into its parents'
        slice only."""
        mass = np.zeros(self.pool_size)
        mass[self.frontier] = a  # (frontier nodes are distinct pool nodes)
        for sel, parents, up, gamma in self._sweep[::-1]:  # children before parents
            mass[parents] += np.bincount(up, weights=mass[sel] * gamma, minlength=parents.stop - parents.start)
        return mass

    def backward(self, b_cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Σ_w p(w | s) b(next node) per frontier node (float64 (f,)) and the bool mask of
        pooled nodes whose value cancelled, from linear weights per cell `b_cell` (c,), as
        `backward_band`."""
        out = np.zeros(self.f)
        bad = np.zeros(self.f, dtype=bool)
        if self.pool_size:
            size = self.pool_size
            D = np.bincount(self.ent_owner, weights=self.ent_coef * b_cell[self.ent_cell], minlength=size)
            C = np.bincount(self.neg_owner, weights=self.neg_pp * b_cell[self.neg_cell], minlength=size)
            BP, BN = np.zeros(size), np.zeros(size)
            r = self._roots  # (the roots: the first nodes)
            BP[:r] = np.bincount(self.root_owner, weights=self.root_coef * b_cell[self.root_cell], minlength=r)
            for sel, up, g in self.levels:  # parents before children
                BP[sel] = D[sel] + g * BP[up]
                BN[sel] = g * (C[sel] + BN[up])
            at = self.frontier
            top = BP[at]
            value = top - BN[at]
            out[self.pooled_at] = np.maximum(value, 0.0)
            bad[self.pooled_at] = (top > 0) & (value <= flow.GUARD * top)
        if len(self.dir_node):
            out += np.bincount(self.dir_node, weights=self.dir_coef * b_cell[self.dir_cell], minlength=self.f)
        return out, bad

    def bound(self, S: BackoffStructure, log_u_cell: np.ndarray, log_end: np.ndarray) -> np.ndarray:
        """max(log_end, max over options of log p(w | s) + log U(next node)) per frontier
        node, with pooled states' exclusions ignored (an upper bound; `backoff_search`)."""
        best = log_end.copy()
        if self._log_coefs is None:

            def runs(owner):
                return _runs(owner)

            self._log_coefs = (
                safe_log(S.prob[self.ent_entry]),
                safe_log(self.root_coef),
                safe_log(self.dir_coef),
                [safe_log(g) for _, _, g in self.levels],
                (runs(self.ent_owner), runs(self.root_owner), runs(self.dir_node)),
            )
        log_ent, log_root, log_dir, log_gammas, (ent_runs, root_runs, dir_runs) = self._log_coefs
        if self.pool_size:
            size = self.pool_size
            own = _group_max(ent_runs, log_ent + log_u_cell[self.ent_cell], size)
            bound = _group_max(root_runs, log_root + log_u_cell[self.root_cell], size)
            for (sel, up, _), log_gamma in zip(self.levels, log_gammas):  # parents first
                bound[sel] = np.maximum(own[sel], log_gamma + bound[up])
            best[self.pooled_at] = np.maximum(best[self.pooled_at], bound[self.frontier])
        if len(self.dir_node):
            via = log_dir + log_u_cell[self.dir_cell]
            best = np.maximum(best, _group_max(dir_runs, via, len(best)))
        return best


def _group_starts(owner: np.ndarray) -> np.ndarray:
    """First index of each run of equal values of `owner` (int64)."""
    return np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]) if len(owner) else owner


MAX_LAYERS = 64  # runs up to this long: a max per rank layer; longer: `reduceat`


def _runs(owner: np.ndarray):
    """How `_group_max` takes a max per run of equal ascending `owner` values: ("layers",
    [(term indices, their owners)] per rank within the runs) when the runs are short (a
    scatter per layer, each owner once: ~2x faster than `reduceat` over many tiny runs),
    else ("reduceat", run starts, their owners)."""
    starts = _group_starts(owner)
    lengths = np.diff(np.r_[starts, len(owner)])
    if len(starts) and lengths.max() <= MAX_LAYERS:
        rank = np.arange(len(owner)) - np.repeat(starts, lengths)
        order = np.argsort(rank.astype(np.uint8), kind="stable")  # (small integers: a radix sort)
        cuts = np.searchsorted(rank[order], np.arange(int(lengths.max()) + 1))
        return "layers", [(order[lo:hi], owner[order[lo:hi]]) for lo, hi in zip(cuts[:-1], cuts[1:])]
    return "reduceat", starts, owner[starts] if len(starts) else starts


def _group_max(groups: tuple, values: np.ndarray, size: int) -> np.ndarray:
    """max of `values` per owner, -inf where none (float64 (size,)); `groups` from `_runs`."""
    out = np.full(size, -np.inf)
    if groups[0] == "layers":
        layers = groups[1]
        index, owners = layers[0]
        out[owners] = values[index]
        for index, owners in layers[1:]:
            out[owners] = np.maximum(out[owners], values[index])
        return out
    _, starts, owners = groups
    if len(starts):
        out[owners] = np.maximum.reduceat(values, starts)
    return out
