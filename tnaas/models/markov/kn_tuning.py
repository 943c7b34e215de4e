"""Kneser-Ney discounts (and Pitman-Yor strengths) chosen on held-out data instead of Chen &
Goodman's estimate.

`tuned_parameters(encoded, k)` (what `MarkovModel(discounts="tuned")` uses) splits the items
into 5 seeded folds; each fold is scored under Kneser-Ney counted on the other four, and the
summed held-out negative log-likelihood is minimised over a table of discounts D[row, r]
(count class r: counts 1, 2, 3+; each in (0, r], the ceiling keeping every discounted count
c - D >= 0) and one concentration theta per row (Teh 2006's hierarchical Pitman-Yor with one
table per type):

    p(w | h) = max(c(h w) - D, 0) / (theta + c(h)) + (theta + sum_r D_r N_r(h)) / (theta + c(h)) p(w | h')

with theta in (-min_r D_r, MAX_STRENGTH], so every probability stays positive. A row is the
history's order, whether it starts with BEGIN, and the bucket of its number of distinct
followers (`discount_rows`). The caller then fits the full corpus with that table.

The held-out likelihood is cheap to evaluate for any parameters: for each distinct held-out
(history, token) pair and each order j, the counts that enter the interpolation (c(h_j, w),
c(h_j) and the number of tokens of each class after h_j) do not depend on them, and

    p_j = (c_j - D_j[class(c_j)]) / (theta_j + c(h_j)) + p_(j-1) * (theta_j + sum_r D_j[r] N_r(h_j)) / (theta_j + c(h_j))

is affine in each order's discounts (so without strengths the NLL is convex in each order's
block) and rational in theta_j. Its gradient is exact and cheap; it is minimised by projected
Gauss-Newton (the Hessian's outer-product part) with a backtracking line search, from the
closed-form discounts (theta = 0), accepting only steps that lower it: the result is never
worse than the closed form on the held-out data it was chosen on. Deterministic: same items,
same parameters.
"""

from __future__ import annotations

import numpy as np

from tnaas.data.tokens import Encoded
from tnaas.errors import TnaasError
from tnaas.models.markov.ngram import HistoryTrie, count_ngrams

N_CLASSES = 3  # count classes 1, 2, 3+ (Chen & Goodman)
VALIDATION_SEED = 0
MIN_VALIDATION_ITEMS = 5  # fewer held-out items than this: keep the closed form
LOWEST = 1e-3  # a discount of 0 would leave the history no mass for lower orders
MAX_ITERATIONS = 50
MAX_STRENGTH = 100.0  # Pitman-Yor concentration: far beyond what validation picks
FOLLOWER_EDGES = (3, 8)  # buckets of a history's distinct followers: 1-2, 3-7, 8+
N_BUCKETS = len(FOLLOWER_EDGES) + 1
N_FOLDS = 5  # cross-validation folds of `tuned_parameters`


def kn_levels(trie: HistoryTrie, lower_order_counts=None) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The counts Kneser-Ney uses at each order j = k..0: [(node, token, count), ...].

    Order k: raw counts c(h w) of the trie's edges; below, per (history, token) the counts
    marginalised onto the history minus its first token, then `lower_order_counts(node, raw,
    distinct)` (default: continuation counts, `distinct`). Arrays of one level share a length.
    """
    n_outcomes = len(trie.counts.vocabulary) + 1
    lower = lower_order_counts or (lambda node, raw, distinct: distinct)
    node = np.repeat(np.arange(trie.n_nodes), np.diff(trie.edge_start))
    token = trie.edge_token.astype(np.int64)
    raw = trie.edge_count.astype(np.float64)
    levels = [(node, token, raw)]
    for _ in range(trie.counts.state_size):
        key = trie.parent[node] * n_outcomes + token
        pairs, group = np.unique(key, return_inverse=True)
        raw = np.bincount(group, weights=raw)
        distinct = np.bincount(group).astype(np.float64)
        node, token = pairs // n_outcomes, pairs % n_outcomes
        levels.append((node, token, lower(node, raw, distinct)))
    return levels


def count_class(count: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """Class index 0..n_classes-1 of each count (1, 2, ..., n_classes+); counts are >= 1."""
    return np.minimum(np.asarray(count), n_classes).astype(np.int64) - 1


def ceilings(n_classes: int = N_CLASSES) -> np.ndarray:
    """The largest discount of each count class r = 1, 2, ...: r, so no count goes negative."""
    return np.arange(1, n_classes + 1, dtype=np.float64)


def follower_bucket(followers: np.ndarray) -> np.ndarray:
    """Bucket 0..len(FOLLOWER_EDGES) of each history's number of distinct followers (1-2,
    3-7, 8+): how many tokens a history has spread its count over (int64)."""
    return np.searchsorted(np.asarray(FOLLOWER_EDGES, dtype=np.float64), followers, side="right").astype(np.int64)


def row_layouts(k: int) -> dict[int, str]:
    """The discount-table layouts by number of rows: per order; per order and BEGIN-or-not;
    per order, BEGIN-or-not and bucket of distinct followers (`discount_rows`)."""
    return {k + 1: "order", 2 * k + 1: "begin", 2 * (k + 1) * N_BUCKETS: "followers"}


def discount_rows(trie: HistoryTrie, n_rows: int, followers: np.ndarray | None = None) -> np.ndarray:
    """The row of the discount table each trie node uses (int64 (nodes,)): its order j; with
    2k + 1 rows, k + j for the histories that start with BEGIN; with 2 (k + 1) B rows,
    ((k + 1) [starts with BEGIN] + j) B + the bucket of its distinct followers (B =
    `N_BUCKETS`; `followers` per node, computed from the trie when not given)."""
    k = trie.counts.state_size
    rows = trie.order.astype(np.int64)
    begin = trie.first == trie.counts.begin_id
    layout = row_layouts(k).get(n_rows)
    if layout == "begin":
        rows = rows + k * begin
    elif layout == "followers":
        if followers is None:
            followers = np.zeros(trie.n_nodes)
            for node, _, _ in kn_levels(trie):  # each node's entries are all at its own order
                followers += np.bincount(node, minlength=trie.n_nodes)
        rows = (rows + (k + 1) * begin) * N_BUCKETS + follower_bucket(followers)
    return rows


def check_discounts(discounts, k: int) -> np.ndarray:
    """`discounts` as float64 (rows, classes) with count class r's values in (0, r], or one
    `TnaasError` saying what is wrong. Rows: k + 1 (row j is order j), 2k + 1 (row k + j: the
    order-j histories that start with BEGIN) or 2 (k + 1) `N_BUCKETS` (see `discount_rows`)."""
    try:
        d = np.array(discounts, dtype=np.float64)
    except (TypeError, ValueError):
        raise TnaasError("Kneser-Ney discounts must be numbers") from None
    if d.ndim != 2 or d.shape[0] not in row_layouts(k) or not 1 <= d.shape[1] <= 10:
        rows = " or ".join(str(r) for r in row_layouts(k))
        raise TnaasError(f"Kneser-Ney discounts must be a table of {rows} rows x 1-10 count classes")
    if not np.isfinite(d).all() or (d <= 0).any() or (d > ceilings(d.shape[1])).any():
        raise TnaasError("each Kneser-Ney discount for count class r must be in (0, r] (r = 1, 2, ...)")
    return d


def check_strengths(strengths, discounts: np.ndarray) -> np.ndarray:
    """`strengths` (one concentration theta per row of the checked `discounts`) as float64
    (rows,), each in (-min_r D_r, MAX_STRENGTH] so that every probability stays positive,
    or one `TnaasError`."""
    try:
        theta = np.array(strengths, dtype=np.float64)
    except (TypeError, ValueError):
        raise TnaasError("Kneser-Ney strengths must be numbers") from None
    if theta.shape != (len(discounts),):
        raise TnaasError(f"Kneser-Ney strengths must be {len(discounts)} numbers, one per row of the discounts")
    if not np.isfinite(theta).all() or (theta > MAX_STRENGTH).any() or (theta + discounts.min(axis=1) <= 0).any():
        raise TnaasError(
            f"each Kneser-Ney strength must be above minus its row's smallest discount and at most {MAX_STRENGTH:g}"
        )
    return theta


def closed_form(counts: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """Chen & Goodman's D_r = r - (r + 1) Y n_(r+1) / n_r, Y = n_1 / (n_1 + 2 n_2), for the
    classes 1..n_classes (the last one: n_classes or more) of one order's counts (float64 (C,)).

    Where the count-of-counts are too sparse: r / 2 (0.5, 1.0, 1.5, ... as SRILM's default).
    """
    n = np.array([(counts == r).sum() for r in range(1, n_classes + 2)], dtype=np.float64)
    r = np.arange(1, n_classes + 1, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = n[0] / (n[0] + 2 * n[1])
        d = r - (r + 1) * y * n[1:] / n[:-1]
    bad = (n[:-1] == 0) | (n[1:] == 0) | (n[0] == 0) | ~np.isfinite(d) | (d <= 0)
    d[bad] = r[bad] / 2
    return np.minimum(d, r)


def subset(encoded: Encoded, items: np.ndarray) -> Encoded:
    """The given items of `encoded`, over the same vocabulary (so token ids agree)."""
    lengths = np.diff(encoded.offsets)[items]
    offsets = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if len(items):
        starts = encoded.offsets[items]
        index = np.repeat(starts - offsets[:-1], lengths) + np.arange(int(offsets[-1]))
        ids = encoded.ids[index]
    else:
        ids = encoded.ids[:0]
    return Encoded(encoded.vocabulary, ids, offsets)


class HeldOutObjective:
    """The held-out NLL (nats, summed) of Kneser-Ney over a fitted trie, as a function of the
    discounts D (float64 (k + 1, n_classes)), with its gradient.

    `held_out` are the n-gram counts of the validation items (same vocabulary and order).
    """

    def __init__(
        self,
        trie: HistoryTrie,
        held_out,
        n_classes: int = N_CLASSES,
        lower_order_counts=None,
        n_rows=None,
        strengths: bool = False,
    ):
        k = trie.counts.state_size
        self.k, self.n_classes, self.strengths = k, n_classes, strengths
        self.n_rows = k + 1 if n_rows is None else n_rows
        n_outcomes = len(trie.counts.vocabulary) + 1
        self.uniform = 1.0 / n_outcomes
        contexts = np.vstack([held_out.contexts, np.full((1, k), trie.counts.begin_id, dtype=np.int32)])
        targets = np.r_[held_out.next_ids, trie.counts.end_id].astype(np.int64)
        weights = np.r_[held_out.counts, 0].astype(np.float64)  # the last row: END after BEGIN
        begin_rows = (contexts == trie.counts.begin_id).all(axis=1)
        begin_rows[-1] = False
        n_events = len(targets)
        # per order j (column j): history node (-1 unseen), its count of the target, total, N_r
        nodes = np.full((n_events, k + 1), -1, dtype=np.int64)
        nodes[:, 0] = 0
        for j in range(1, k + 1):
            current = np.zeros(n_events, dtype=np.int64)
            for i in range(k - j, k):
                current = trie.child(current, contexts[:, i])
                current = np.where(current >= 0, current, -1)
            nodes[:, j] = current
        self.seen = nodes >= 0
        self.row = discount_rows(trie, self.n_rows)[np.maximum(nodes, 0)]
        self.count = np.zeros((n_events, k + 1))
        self.total = np.ones((n_events, k + 1))
        self.per_class = np.zeros((n_events, k + 1, n_classes))
        for level, (node, token, used) in enumerate(kn_levels(trie, lower_order_counts)):
            j = k - level
            here = self.seen[:, j]
            h = nodes[here, j]
            key = node * n_outcomes + token  # sorted: levels come ordered by (node, token)
            order = np.argsort(key, kind="stable")
            key, used_sorted = key[order], used[order]
            want = h * n_outcomes + targets[here]
            at = np.minimum(np.searchsorted(key, want), len(key) - 1)
            self.count[here, j] = np.where(key[at] == want, used_sorted[at], 0.0)
            totals = np.bincount(node, weights=used, minlength=trie.n_nodes)
            self.total[here, j] = totals[h]
            classes = np.zeros((trie.n_nodes, n_classes))
            np.add.at(classes, (node, count_class(used, n_classes)), 1.0)
            self.per_class[here, j] = classes[h]
        self.klass = count_class(np.maximum(self.count, 1), n_classes)
        self.has_count = self.count > 0
        self.weights = weights
        self.n_begin = float(weights[begin_rows].sum())
        self.begin_rows = begin_rows
        # END after BEGIN was seen in training (an empty item): no renormalisation
        self.begin_scaled = trie.begin_state >= 0 and self.count[-1, k] == 0
        self.n_tokens = float(weights.sum())

    def bounds(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lowest, highest) value of each parameter given the discounts of `params`, float64
        (rows, width): discounts in [LOWEST, r], strengths in [LOWEST - min_r D_r,
        MAX_STRENGTH] (then theta + c(h) > 0 and theta + sum_r D_r N_r(h) > 0 for every
        history: every probability stays positive)."""
        low = np.full((self.n_rows, self.n_classes), LOWEST)
        high = np.broadcast_to(ceilings(self.n_classes), low.shape)
        if self.strengths:
            floor = LOWEST - np.asarray(params, dtype=np.float64)[:, : self.n_classes].min(axis=1, keepdims=True)
            low = np.hstack([low, floor])
            high = np.hstack([high, np.full((self.n_rows, 1), MAX_STRENGTH)])
        return low, high

    def project(self, params: np.ndarray) -> np.ndarray:
        """The nearest point of `params` within `bounds` (discounts first, then strengths)."""
        low, high = self.bounds(params)
        clipped = np.clip(params, low, high)
        low, high = self.bounds(clipped)
        return np.clip(clipped, low, high)

    def _split(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(discounts (rows, C), strengths (rows,)) of a parameter table; strengths 0 when
        the objective has none."""
        params = np.asarray(params, dtype=np.float64)
        if self.strengths:
            return params[:, : self.n_classes], params[:, self.n_classes]
        return params, np.zeros(len(params))

    def _forward(self, params: np.ndarray):
        k = self.k
        d, theta = self._split(params)
        n = len(self.weights)
        rows = np.arange(n)
        p = np.full(n, self.uniform)
        below = np.empty((n, k + 1))  # p_(j-1) entering order j
        after = np.empty((n, k + 1))  # p_j
        gamma = np.ones((n, k + 1))
        denominator = np.ones((n, k + 1))
        for j in range(k + 1):
            below[:, j] = p
            seen = self.seen[:, j]
            th = theta[self.row[:, j]]
            t = self.total[:, j] + th if self.strengths else self.total[:, j]
            dj = d[self.row[:, j]]  # (events, classes)
            spent = np.einsum("ec,ec->e", self.per_class[:, j], dj)
            g = (th + spent) / t if self.strengths else spent / t
            a = np.where(self.has_count[:, j], self.count[:, j] - dj[rows, self.klass[:, j]], 0.0) / t
            p = np.where(seen, a + g * p, p)
            after[:, j] = p
            gamma[:, j] = np.where(seen, g, 1.0)
            denominator[:, j] = t
        return p, below, after, gamma, denominator

    def value_and_gradient(self, d: np.ndarray) -> tuple[float, np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """(NLL in nats summed over held-out tokens, gradient (rows, width), scores) at the
        parameters `d`; width = C, or C + 1 with strengths (the last column). The scores, for
        the Gauss-Newton matrix (`gauss_newton`), are d log p / d parameter per event and
        order, compactly: (float64 (events, k + 1, width), the parameter row each (event,
        order) uses, int64 (events, k + 1)); each order uses its own rows."""
        p, below, after, gamma, denominator = self._forward(d)
        k, c = self.k, self.n_classes
        width = c + 1 if self.strengths else c
        # dp/dD_j[r] = prod_(i > j) gamma_i * (N_r p_(j-1) - [class = r, c > 0]) / (theta_j + c(h_j))
        # dp/dtheta_j = prod_(i > j) gamma_i * (p_(j-1) - p_j) / (theta_j + c(h_j))
        above = np.ones_like(gamma)
        above[:, :-1] = np.cumprod(gamma[:, :0:-1], axis=1)[:, ::-1]
        onehot = np.zeros((len(p), k + 1, c))
        np.put_along_axis(onehot, self.klass[:, :, None], self.has_count[:, :, None].astype(np.float64), axis=2)
        dp = (self.per_class * below[:, :, None] - onehot) / denominator[:, :, None]
        if self.strengths:
            dp = np.concatenate([dp, ((below - after) / denominator)[:, :, None]], axis=2)
        dp *= (above * self.seen)[:, :, None]
        with np.errstate(divide="ignore"):
            log_p = np.log(p)
        score = dp / p[:, None, None]  # d log p / d parameter
        value = -float(self.weights @ log_p)
        if self.begin_scaled:  # every first token is renormalised by 1 - p(END | BEGIN)
            # (those events share the END-after-BEGIN event's history, hence its rows)
            q = p[-1]
            value += self.n_begin * np.log1p(-q)
            score[self.begin_rows] += dp[-1] / (1 - q)
            score[-1] = 0.0  # (weight 0: only its derivatives were needed)
        grad = np.bincount(
            (self.row[:, :, None] * width + np.arange(width)).reshape(-1),
            weights=(score * -self.weights[:, None, None]).reshape(-1),
            minlength=self.n_rows * width,
        )
        return value, grad.reshape(self.n_rows, width), (score, self.row)

    def value(self, d: np.ndarray) -> float:
        """The NLL (nats, summed over held-out tokens) at discounts `d` (no derivatives)."""
        p = self._forward(d)[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            value = -float(self.weights @ np.log(p))
            if self.begin_scaled:
                value += self.n_begin * np.log1p(-p[-1])
        return value


class SummedObjective:
    """The sum of several `HeldOutObjective`s over the same parameters (cross-validation
    folds): value, gradient and per-event scores (stacked) as one objective's."""

    def __init__(self, objectives: list[HeldOutObjective]):
        self.objectives = objectives
        first = objectives[0]
        self.n_classes, self.n_rows, self.strengths = first.n_classes, first.n_rows, first.strengths
        self.weights = np.concatenate([o.weights for o in objectives])

    def bounds(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """As `HeldOutObjective.bounds`."""
        return self.objectives[0].bounds(params)

    def project(self, params: np.ndarray) -> np.ndarray:
        """As `HeldOutObjective.project`."""
        return self.objectives[0].project(params)

    def value_and_gradient(self, d: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """As `HeldOutObjective.value_and_gradient`, summed over the folds."""
        parts = [o.value_and_gradient(d) for o in self.objectives]
        scores = np.concatenate([s for _, _, (s, _) in parts]), np.concatenate([r for _, _, (_, r) in parts])
        return sum(v for v, _, _ in parts), sum(g for _, g, _ in parts), scores

    def value(self, d: np.ndarray) -> float:
        """The summed NLL (nats) at `d`."""
        return sum(o.value(d) for o in self.objectives)


def gauss_newton(score: np.ndarray, rows: np.ndarray, weights: np.ndarray, n_rows: int) -> np.ndarray:
    """sum_e weights[e] s_e s_e^T, the Gauss-Newton matrix (the Hessian's outer-product part)
    of the NLL, float64 (n_rows * width, n_rows * width), from compact scores (float64
    (events, orders, width)) and the row each (event, order) uses (int64 (events, orders)).

    An event touches one row per order, so its score has orders * width non-zeros: the
    matrix is summed per pair of orders and row pair (bincount) over the events seen at
    both, never through a dense events x parameters matrix (~30x less work with the
    follower buckets' ~170 parameters).
    """
    n_orders, width = score.shape[1:]
    cells = np.arange(width * width)
    h = np.zeros(n_rows * n_rows * width * width)
    for i in range(n_orders):
        touched = np.flatnonzero(score[:, i].any(axis=1))  # seen at order i: and at every lower one
        s, r, w = score[touched], rows[touched], weights[touched]
        for j in range(i + 1):
            key = (r[:, j] * n_rows + r[:, i])[:, None] * (width * width) + cells
            outer = (s[:, j, :, None] * w[:, None, None]) * s[:, i, None, :]
            block = np.bincount(key.reshape(-1), outer.reshape(-1), minlength=len(h))
            h += block
            if i != j:  # (rows differ between orders: the mirrored block lands elsewhere)
                h += block.reshape(n_rows, n_rows, width, width).transpose(1, 0, 3, 2).reshape(-1)
    return h.reshape(n_rows, n_rows, width, width).transpose(0, 2, 1, 3).reshape(n_rows * width, n_rows * width)


def minimise(objective: HeldOutObjective, start: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(discounts, NLL at start, NLL at the result): projected Gauss-Newton in the box
    [LOWEST, r] from `start` (clipped into the box), never accepting a worse point."""
    d = objective.project(start)
    value, grad, score = objective.value_and_gradient(d)
    first = value
    for _ in range(MAX_ITERATIONS):
        low, high = objective.bounds(d)
        g = grad.reshape(-1)
        x = d.reshape(-1)
        # variables at a bound whose gradient pushes outward stay there
        fixed = ((x <= low.reshape(-1) + 1e-12) & (g > 0)) | ((x >= high.reshape(-1) - 1e-12) & (g < 0))
        free = ~fixed
        if not free.any():
            break
        h = gauss_newton(*score, objective.weights, objective.n_rows)[np.ix_(free, free)]
        h += 1e-9 * np.eye(int(free.sum()))
        step = np.zeros_like(g)
        try:
            step[free] = -np.linalg.solve(h, g[free])
        except np.linalg.LinAlgError:
            step[free] = -g[free]
        t, improved = 1.0, False
        for _ in range(30):  # the line search needs values only; derivatives at the accepted point
            trial = objective.project((x + t * step).reshape(d.shape))
            trial_value = objective.value(trial)
            if np.isfinite(trial_value) and trial_value < value:
                improved = True
                break
            t *= 0.5
        if not improved:
            break
        gain = value - trial_value
        d = trial
        value, grad, score = objective.value_and_gradient(d)
        if gain < 1e-7 * max(1.0, abs(value)):
            break
    return d, first, value


def tuned_parameters(
    encoded: Encoded,
    state_size: int,
    n_classes: int = N_CLASSES,
    seed: int = VALIDATION_SEED,
    n_folds: int = N_FOLDS,
) -> tuple[np.ndarray, np.ndarray] | None:
    """(discounts float64 (2 (k + 1) `N_BUCKETS`, n_classes), strengths float64 (rows,)) of
    interpolated Kneser-Ney with a Pitman-Yor concentration theta per row, rows = (order,
    starts with BEGIN or not, bucket of distinct followers) (`discount_rows`):

        p(w | h) = max(c(h w) - D, 0) / (theta + c(h)) + (theta + sum_r D_r N_r(h)) / (theta + c(h)) p(w | h')

    chosen by `n_folds`-fold cross-validation over `encoded`'s items (seeded folds; each
    fold's items scored under Kneser-Ney counted on the others, the summed NLL minimised),
    started from the closed form with theta = 0 (never worse there); None when a fold would
    hold fewer than `MIN_VALIDATION_ITEMS` items."""
    n_items = len(encoded.offsets) - 1
    if n_items < n_folds * MIN_VALIDATION_ITEMS:
        return None
    k = state_size
    n_rows = 2 * (k + 1) * N_BUCKETS
    order = np.random.default_rng(seed).permutation(n_items)
    objectives = []
    for fold in range(n_folds):
        held = np.zeros(n_items, dtype=bool)
        held[order[fold::n_folds]] = True
        trie = HistoryTrie.build(count_ngrams(subset(encoded, np.flatnonzero(~held)), k))
        held_out = count_ngrams(subset(encoded, np.flatnonzero(held)), k)
        objectives.append(HeldOutObjective(trie, held_out, n_classes, None, n_rows, strengths=True))
    closed = np.array([closed_form(used, n_classes) for _, _, used in kn_levels(trie)[::-1]])
    start = np.hstack([np.tile(np.repeat(closed, N_BUCKETS, axis=0), (2, 1)), np.zeros((n_rows, 1))])
    params = minimise(SummedObjective(objectives), start)[0]
    return params[:, :n_classes].copy(), params[:, n_classes].copy()
