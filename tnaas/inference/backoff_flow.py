"""One step of the KN completion lattice, forward and backward, over pooled backoff states.

Nodes are (pattern DFA state q, KN state s), as in `tnaas.inference.lattice`. A node in a
DFA state that reads any token (a `*` or `%`) is *pooled*: its mass goes to its own
entries and, times γ, to its parent state, and each (q, parent) is expanded once for all
the nodes that back off into it (`tnaas.inference.backoff`). The root is dense over V.
Other nodes (literal-only DFA states, the BEGIN state) are *direct*: their few allowed
tokens (or BEGIN's dense row) are expanded pair by pair.

A destination s' = d(h, w) always ends with w (`last[s']`), so one output *cell* (q, s')
carries one token. Its value is Σ positive - Σ negative terms; all are linear in weights
scaled per magnitude band (log weights within `band_width` nats of the band's top, so no
term underflows) and bands are combined in logs. Where cancellation leaves less than
`GUARD` of the positive sum (a true zero included), the cell is recomputed exactly from
the pool's one-level structure, which the nested tables allow:

    cell(q, u·w) = p(w | u) [α(q, u) + Σ_{c child of u, w ∉ diff(c)} γ(c) m(q, c)]
                   + Σ_{c child of u, w ∈ same(c)} m(q, c) weight(c, w)

(m: pooled masses, all sums of positive terms). Backward messages use the transpose
(B(g) = D(g) − γ(g) C(g) + γ(g) B(g'), root first); a guarded node is recomputed exactly
from its dense row. Every answer is therefore exact to ~1e-9 relative, whatever the
magnitudes.
"""

from __future__ import annotations

import numpy as np

from tnaas.inference.automaton import ragged_arange, safe_log
from tnaas.inference.backoff import BackoffStructure
from tnaas.inference.patterns import PatternDFA

GUARD = 1e-6  # a cell or message keeping less than this share of its positive sum is redone
_DENSE_BATCH = 1_000_000  # cells of dense rows per batch of exact recomputations


def unique_inverse(values: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values, index of each value among them) of int64 `values` in
    [0, span): a marking table when the span is not much wider than the count (linear),
    else a sort (numpy's hashed `unique` is far slower on these arrays)."""
    if len(values) == 0:
        return values.astype(np.int64), np.zeros(0, dtype=np.int64)
    low = int(values.min())  # (the table spans the values' range only: one DFA state's keys, often)
    span = min(span, int(values.max()) + 1) - low
    if span <= 8 * len(values) + (1 << 20):
        present = np.zeros(span, dtype=bool)
        shifted = values - low if low else values
        present[shifted] = True
        rank = np.cumsum(present, dtype=np.int64) - 1
        found = np.flatnonzero(present)
        if low:
            found += low
        return found, rank[shifted]
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new = np.r_[True, ordered[1:] != ordered[:-1]]
    inverse = np.empty(len(values), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return ordered[new], inverse


class KeyIndex:
    """Position of int64 keys in a sorted distinct array `keys` (values >= 0): `find(query)`
    gives the index, or -1 where absent; a dense table over the keys' range when that is
    not much wider than their count."""

    def __init__(self, keys: np.ndarray):
        self.keys = keys
        self.table = None
        self.low = int(keys[0]) if len(keys) else 0  # (the table covers the keys' range only)
        width = int(keys[-1]) + 1 - self.low if len(keys) else 0
        if width <= 8 * len(keys) + (1 << 21):
            self.table = np.full(width + 1, -1, dtype=np.int64)  # (the last: "absent")
            self.table[keys - self.low] = np.arange(len(keys))

    def find(self, query: np.ndarray) -> np.ndarray:
        """Index of each query key in `keys`, -1 where absent (negative queries: absent)."""
        query = np.asarray(query, dtype=np.int64)
        if self.table is not None:
            at = query - self.low
            last = len(self.table) - 1
            return self.table[np.where((at >= 0) & (at < last), at, last)]
        if len(self.keys) == 0:
            return np.full(len(query), -1)
        at = np.minimum(np.searchsorted(self.keys, query), len(self.keys) - 1)
        return np.where(self.keys[at] == query, at, -1)


def log_add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(exp(a) + exp(b)) elementwise (float64), as `np.logaddexp` to ~1 ulp of the
    larger log but with the vectorised exp and log (several times faster)."""
    top = np.maximum(a, b)
    with np.errstate(invalid="ignore"):
        out = top + np.log(1.0 + np.exp(-np.abs(a - b)))
    return np.where(top > -np.inf, out, -np.inf)


def band_width(structure: BackoffStructure) -> float:
    """Nats of log weights one linear band may span: its smallest weight times the
    smallest product of probabilities a term can carry stays a normal double."""
    low = safe_log(np.array([structure.min_prob]))[0] * (structure.k + 2)
    return float(np.clip(690.0 + low, 1.0, 575.0))


def bands(log_v: np.ndarray, width: float):
    """Yield (shift, index array) groups of the finite entries of `log_v`, each within
    `width` nats below its shift (its largest); usually a single group (then the index is
    `slice(None)` when it is every entry)."""
    if len(log_v) and (top := float(log_v.max())) - float(log_v.min()) <= width:
        yield top, slice(None)  # every entry finite and in one band (the usual case)
        return
    rest = np.flatnonzero(log_v > -np.inf)
    while len(rest):
        top = float(log_v[rest].max())
        inside = log_v[rest] >= top - width
        yield top, rest[inside]
        rest = rest[~inside]


def scaled(value: np.ndarray, shift: float, width: float):
    """Positive linear sums `value` (float64) at log scale `shift` as (values / their max,
    shift + log max) when one magnitude band of `width` nats holds them, else as logs."""
    top, low = (float(value.max()), float(value.min())) if len(value) else (0.0, 0.0)
    if low > 0 and np.log(top) - np.log(low) <= width:
        return value / top, shift + float(np.log(top))
    with np.errstate(divide="ignore"):
        return np.log(value) + shift


def with_ends(value: np.ndarray, shift: float, end: np.ndarray | None, log_weight: float, width: float):
    """β as (linear values + a last 0 for "absent", log scale) from pulled linear sums
    `value` (scale `shift`, >= 0) plus the end terms `end` (p(END) where allowed, linear;
    None: none) times exp(`log_weight`), or None when they do not fit one band."""
    total = value
    if end is not None and log_weight > -np.inf:
        lift = log_weight - shift  # the end terms' factor at this scale
        if not -width < lift < width:
            return None
        total = value + end * np.exp(lift)  # (p(END) >= min_prob: no underflow)
    top = float(total.max()) if len(total) else 0.0
    if top <= 0:
        return None
    low = float(np.min(total, where=total > 0, initial=np.inf))
    if np.log(top) - np.log(low) > width:
        return None
    out = np.empty(len(total) + 1)
    np.divide(total, top, out=out[:-1])
    out[-1] = 0.0
    return out, shift + float(np.log(top))


def log_scaled(log_v: np.ndarray, width: float, sentinel: bool = False):
    """Logs `log_v` as (linear values [+ a last 0], log scale) when one band holds their
    finite entries, else as they are."""
    finite = log_v > -np.inf
    if not finite.any():
        return log_v
    top = float(log_v[finite].max())
    if top - float(log_v[finite].min()) > width:
        return log_v
    out = np.zeros(len(log_v) + sentinel)
    np.exp(log_v - top, out=out[: len(log_v)])
    return out, top


def read_logs(item, sentinel: bool = False) -> np.ndarray:
    """The logs of a `scaled` / `with_ends` / `log_scaled` item (float64)."""
    if isinstance(item, tuple):
        values, shift = item
        with np.errstate(divide="ignore"):
            return np.log(values[:-1] if sentinel else values) + shift
    return item


def take_logs(item, index: np.ndarray, sentinel: bool = False) -> np.ndarray:
    """`read_logs(item)` at `index` only (int64, any shape; -1: absent, -inf)."""
    if isinstance(item, tuple) and sentinel:
        with np.errstate(divide="ignore"):
            return np.log(item[0][index]) + item[1]
    return np.r_[read_logs(item, sentinel), -np.inf][index]


class Pool:
    """The pooled nodes of a frontier and all their suffix states, per DFA state.

    `keys` int64 (p,) = q * n + state, ascending; `q`, `s`, `order`; `up` the index of the
    parent (-1: root); `frontier` the pool index of each frontier node given. Built once
    per step and shared by the forward, backward and bound passes (`masses`, `entries`).
    """

    def __init__(self, S: BackoffStructure, q: np.ndarray, s: np.ndarray, a: np.ndarray | None = None):
        n = S.n
        front = q * n + s
        span = (int(front.max()) // n + 1) * n if len(front) else 1
        if len(front) and span - (int(front.min()) // n) * n <= 8 * len(front) + (1 << 22):
            self._marked(S, front, span)
        else:
            levels = [front]
            cur = s
            while len(cur) and (cur > 0).any():
                keep = cur > 0
                cur, q = S.parent[cur[keep]], q[keep]
                levels.append(q * n + cur)
            self.keys, inverse = unique_inverse(np.concatenate(levels), span)
            self.q, self.s = np.divmod(self.keys, n)
            nonroot = self.s > 0
            self.up = np.full(len(self.keys), -1)
            self.up[nonroot] = KeyIndex(self.keys).find(self.q[nonroot] * n + S.parent[self.s[nonroot]])
            self.frontier = inverse[: len(front)]  # each frontier node's pool index
        self.order = S.order[self.s]
        self.levels = [np.flatnonzero(self.order == j) for j in range(S.k + 1)]
        self._gamma = S.gamma[self.s]
        self._entries = None
        if a is not None:
            self.alpha, self.mass = self.masses(a)

    def _marked(self, S: BackoffStructure, front: np.ndarray, span: int) -> None:
        """`keys`, `q`, `s`, `up`, `frontier` by marking (q, suffix) keys in a table over
        `span`: each level adds only the suffixes not marked yet (most are frontier nodes
        themselves), and the table's running count numbers the keys."""
        n = S.n
        low = (int(front.min()) // n) * n  # (suffixes keep their DFA state: the table starts at the lowest)
        present = np.zeros(span - low, dtype=bool)
        present[front - low] = True
        cur = front - low
        while len(cur):
            q, s = np.divmod(cur, n)
            inner = s > 0
            up = q[inner] * n + S.parent[s[inner]]
            cur = up[~present[up]]  # (a new suffix of several nodes repeats: harmless)
            present[cur] = True
        rank = np.cumsum(present, dtype=np.int64) - 1
        self.keys = np.flatnonzero(present) + low
        self.q, self.s = np.divmod(self.keys, n)
        nonroot = self.s > 0
        self.up = np.full(len(self.keys), -1)
        self.up[nonroot] = rank[self.q[nonroot] * n + S.parent[self.s[nonroot]] - low]
        self.frontier = rank[front - low]

    def size(self) -> int:
        """Stored pool nodes plus cached entries (what keeping this pool costs)."""
        extra = 0 if self._entries is None else len(self._entries[0][0]) + len(self._entries[1][0])
        extra += 0 if getattr(self, "_by_parent", None) is None else 2 * len(self._by_parent[0])
        return len(self.keys) + extra

    def by_parent(self) -> tuple[np.ndarray, np.ndarray]:
        """(non-root pool indices sorted by their parent's, stably; those parents'), int64,
        computed once."""
        if getattr(self, "_by_parent", None) is None:
            nonroot = np.flatnonzero(self.up >= 0)
            by_parent = nonroot[np.argsort(self.up[nonroot], kind="stable")]
            self._by_parent = by_parent, self.up[by_parent]
        return self._by_parent

    def masses(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(each pool node's own mass, its mass after pooling: children's times γ added,
        bottom up), float64 (p,) each, from the frontier nodes' linear masses `a`."""
        alpha = np.bincount(self.frontier, weights=a, minlength=len(self.keys))
        mass = alpha.copy()
        for sel in self.levels[:0:-1]:  # children before parents
            mass += np.bincount(self.up[sel], weights=mass[sel] * self._gamma[sel], minlength=len(self.keys))
        return alpha, mass

    def entries(self, S: BackoffStructure, dfa: PatternDFA):
        """(owner pool index, entry index, owner's DFA state) of every entry the pattern
        allows, and (root pool index, its DFA state, token) of every allowed root option."""
        if self._entries is None:
            inner = np.flatnonzero(self.s > 0)
            owner, entry = S.entries_of(self.s[inner])
            owner = inner[owner]
            qq = self.q[owner]
            ok = dfa.delta[qq, dfa.token_class[S.token[entry]]] >= 0
            roots = np.flatnonzero(self.s == 0)
            rq = np.repeat(self.q[roots], S.V)
            rw = np.tile(np.arange(S.V), len(roots))
            rok = dfa.delta[rq, dfa.token_class[rw]] >= 0
            self._entries = (owner[ok], entry[ok], qq[ok]), (np.repeat(roots, S.V)[rok], rq[rok], rw[rok])
        return self._entries


def _split(S: BackoffStructure, dfa: PatternDFA, q: np.ndarray, s: np.ndarray) -> np.ndarray:
    """True for the frontier nodes that are pooled (module docstring)."""
    return dfa.allows_any[q] & (s != S.begin)


def _direct_pairs(S, dfa, q, s):
    """(node index, token) of every allowed pair of the direct nodes (int64 (m,) each)."""
    nodes, tokens = [], []
    literal = dfa.literal_ids
    if len(literal):
        nodes.append(np.repeat(np.arange(len(q)), len(literal)))
        tokens.append(np.tile(literal, len(q)))
    dense = np.flatnonzero(dfa.allows_any[q])  # BEGIN nodes that read any token
    if len(dense):
        everything = np.arange(S.V)
        nodes.append(np.repeat(dense, S.V))
        tokens.append(np.tile(everything, len(dense)))
    if not nodes:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    node, token = np.concatenate(nodes), np.concatenate(tokens)
    pairs = np.unique(node * S.V + token)
    node, token = np.divmod(pairs, S.V)
    ok = dfa.delta[q[node], dfa.token_class[token]] >= 0
    return node[ok], token[ok]


def _pair_dst(S, s, token):
    return S.automaton.next_state(s, token) if len(s) else np.zeros(0, dtype=np.int64)


def forward_band(S: BackoffStructure, dfa: PatternDFA, q, s, a, pool: Pool | None = None):
    """Push linear masses `a` (float64 (f,)) of frontier nodes (q, s) one token on.

    `pool`: the `Pool` of the pooled ones among these nodes, when the caller has it.
    Returns (cell keys q * n + s' int64 (c,), exact cell values float64 (c,) > 0).
    """
    n = S.n
    pooled = _split(S, dfa, q, s)
    pos_k, pos_v, neg_k, neg_v = [], [], [], []
    if pooled.any():
        pool = pool or Pool(S, q[pooled], s[pooled])
        alpha, mass = pool.masses(a[pooled])
        (owner, entry, qq), (roots, rq, rw) = pool.entries(S, dfa)
        m = mass[owner]
        live = m > 0  # (a band's pool holds the other bands' nodes at mass 0)
        owner, entry, qq, m = owner[live], entry[live], qq[live], m[live]
        diff = S.diff[entry]
        pos_k.append(qq * n + S.dst[entry])
        pos_v.append(m * np.where(diff, S.prob[entry], S.weight[entry]))
        neg_k.append(qq[diff] * n + S.parent_dst[entry[diff]])
        neg_v.append(m[diff] * pool._gamma[owner[diff]] * S.parent_prob[entry[diff]])
        m = mass[roots]
        live = m > 0
        pos_k.append(rq[live] * n + S.root_dst[rw[live]])
        pos_v.append(m[live] * S.root_prob[rw[live]])
    else:
        pool = alpha = mass = None
    direct = np.flatnonzero(~pooled)
    if len(direct):
        node, token = _direct_pairs(S, dfa, q[direct], s[direct])
        node = direct[node]
        node, token = node[a[node] > 0], token[a[node] > 0]
        pos_k.append(q[node] * n + _pair_dst(S, s[node], token))
        pos_v.append(a[node] * S.pair_prob(s[node], token))
    keys = np.concatenate(pos_k + neg_k) if pos_k else np.zeros(0, dtype=np.int64)
    cells, inverse = unique_inverse(keys, (int(q.max()) + 1) * n if len(q) else 1)
    n_pos = sum(len(k) for k in pos_k)
    P = np.bincount(inverse[:n_pos], weights=np.concatenate(pos_v), minlength=len(cells))
    N = np.bincount(inverse[n_pos:], weights=np.concatenate(neg_v) if neg_v else None, minlength=len(cells))
    value = P - N
    guard = np.flatnonzero(value <= GUARD * P)
    if len(guard):
        value[guard] = _exact_cells(S, pool, alpha, mass, cells[guard], q, s, a, ~pooled, dfa)
    keep = value > 0
    return cells[keep], value[keep]


def _exact_cells(S, pool, alpha, mass, cells, q, s, a, is_direct, dfa) -> np.ndarray:
    """Exact values of cells (q * n + s') from the pool's one-level structure (module
    docstring) plus the direct nodes' pairs; float64 (len(cells),)."""
    n = S.n
    cq, cs = np.divmod(cells, n)
    u, w = S.prefix[cs], S.last[cs]
    out = np.zeros(len(cells))
    if pool is not None:
        at = np.searchsorted(pool.keys, cq * n + u)
        found = (at < len(pool.keys)) & (pool.keys[np.minimum(at, len(pool.keys) - 1)] == cq * n + u)
        at = np.minimum(at, len(pool.keys) - 1)
        by_parent, parent_sorted = pool.by_parent()
        lo = np.searchsorted(parent_sorted, at)
        hi = np.searchsorted(parent_sorted, at, side="right")
        counts = np.where(found, hi - lo, 0)
        cell_of = np.repeat(np.arange(len(cells)), counts)
        child = by_parent[ragged_arange(lo, counts)]
        e = S.find(pool.s[child], w[cell_of])
        has = e >= 0
        is_diff = has & S.diff[np.maximum(e, 0)]
        is_same = has & ~S.diff[np.maximum(e, 0)]
        through = np.where(is_diff, 0.0, S.gamma[pool.s[child]] * mass[child])
        own = np.bincount(cell_of, weights=through, minlength=len(cells))
        own += np.where(found, alpha[at], 0.0)
        p_u = np.where(u == 0, S.root_prob[w], 0.0)
        deep = found & (u > 0)
        p_u[deep] = S.prob[S.find(u[deep], w[deep])]
        same = np.where(is_same, mass[child] * S.weight[np.maximum(e, 0)], 0.0)
        out = np.where(found, p_u * own, 0.0) + np.bincount(cell_of, weights=same, minlength=len(cells))
    direct = np.flatnonzero(is_direct)
    if len(direct):
        node, token = _direct_pairs(S, dfa, q[direct], s[direct])
        node = direct[node]
        key = q[node] * n + _pair_dst(S, s[node], token)
        at = np.searchsorted(cells, key)
        hit = (at < len(cells)) & (cells[np.minimum(at, len(cells) - 1)] == key)
        out += np.bincount(at[hit], weights=(a[node] * S.pair_prob(s[node], token))[hit], minlength=len(cells))
    return out


def next_frontier(S, dfa, cells: np.ndarray) -> np.ndarray:
    """The next frontier's key q' * n + s' of each cell (q * n + s'), int64."""
    cq, cs = np.divmod(cells, S.n)
    return dfa.delta[cq, dfa.token_class[S.last[cs]]] * S.n + cs


def backward_band(S, dfa, q, s, next_keys: np.ndarray, b: np.ndarray, pool: Pool | None = None):
    """Σ_w p(w | s) b(δ(q, w), d(s, w)) per frontier node (float64 (f,)) and a bool mask
    of the nodes whose value cancelled (to redo exactly). `b`: linear weights on the
    sorted `next_keys`. `pool`: the pooled nodes' `Pool`, when the caller has it."""
    n = S.n

    index = KeyIndex(next_keys)
    b0 = np.r_[b, 0.0]  # index -1: absent, weight 0

    def look(qq, w, d):
        nq = dfa.delta[qq, dfa.token_class[w]]
        return b0[index.find(np.where(nq >= 0, nq * n + d, -1))]

    out = np.zeros(len(q))
    bad = np.zeros(len(q), dtype=bool)
    pooled = _split(S, dfa, q, s)
    if pooled.any():
        pool = pool or Pool(S, q[pooled], s[pooled])
        size = len(pool.keys)
        (owner, entry, qq), (roots_of, rq, rw) = pool.entries(S, dfa)
        w = S.token[entry]
        diff = S.diff[entry]
        D = np.bincount(
            owner, weights=np.where(diff, S.prob[entry], S.weight[entry]) * look(qq, w, S.dst[entry]), minlength=size
        )
        C = np.bincount(
            owner[diff],
            weights=S.parent_prob[entry[diff]] * look(qq[diff], w[diff], S.parent_dst[entry[diff]]),
            minlength=size,
        )
        BP, BN = np.zeros(size), np.zeros(size)
        BP += np.bincount(roots_of, weights=S.root_prob[rw] * look(rq, rw, S.root_dst[rw]), minlength=size)
        for sel in pool.levels[1:]:  # parents before children
            g = pool._gamma[sel]
            BP[sel] = D[sel] + g * BP[pool.up[sel]]
            BN[sel] = g * (C[sel] + BN[pool.up[sel]])
        at = pool.frontier
        value = BP[at] - BN[at]
        out[pooled] = np.maximum(value, 0.0)
        bad[pooled] = (BP[at] > 0) & (value <= GUARD * BP[at])  # BP = 0: nothing, exactly
    direct = np.flatnonzero(~pooled)
    if len(direct):
        node, token = _direct_pairs(S, dfa, q[direct], s[direct])
        node = direct[node]
        terms = S.pair_prob(s[node], token) * look(q[node], token, _pair_dst(S, s[node], token))
        out += np.bincount(node, weights=terms, minlength=len(q))
    return out, bad


def exact_log_pull(S, dfa, q, s, next_keys, log_b) -> np.ndarray:
    """log Σ_w p(w | s) exp(log_b(δ(q, w), d(s, w))) per node from dense rows, exactly in
    logs (float64 (len(q),)); for the nodes whose pooled value cancelled."""
    out = np.full(len(q), -np.inf)
    index = KeyIndex(next_keys)
    log_b0 = np.r_[log_b, -np.inf]
    step = max(1, _DENSE_BATCH // S.V)
    for lo in range(0, len(q), step):
        qq, ss = q[lo : lo + step], s[lo : lo + step]
        probs, dsts = S.dense_rows(ss)
        nq = dfa.delta[qq[:, None], dfa.token_class[None, :]]
        found = index.find(np.where(nq >= 0, nq * S.n + dsts, -1))
        terms = safe_log(probs) + log_b0[found]
        top = terms.max(axis=1)
        shift = np.where(np.isfinite(top), top, 0.0)
        out[lo : lo + step] = shift + safe_log(np.exp(terms - shift[:, None]).sum(axis=1))
    return out
