"""N-gram transition counts and the trie of histories built from them.

`NgramCounts` is exactly markovify's ``Chain.model`` in array form (state tuple, next
token, count); `HistoryTrie` indexes every suffix of every state so that both the plain
chain and its Kneser-Ney smoothing can look up "the history h followed by token w".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tnaas.data.tokens import Encoded

# markovify's own markers, so that its JSON files load and ours load in markovify.
BEGIN = "___BEGIN__"
END = "___END__"
MIN_STATE_SIZE, MAX_STATE_SIZE = 1, 6  # the chain orders supported (k tokens of history)

# Tokens per counting chunk: bounds the transient memory of `count_ngrams` on huge corpora
# (about 40 bytes per token of a chunk) at no measurable cost in time.
_CHUNK_TOKENS = 1_000_000
# Largest dense table of counts (int64 cells) `count_ngrams` uses instead of sorting keys.
_MAX_DENSE_CELLS = 1 << 22


@dataclass(frozen=True)
class NgramCounts:
    """Transition counts of an order-`state_size` chain, one row per (state, next token).

    Token ids: 0..V-1 are `vocabulary`, V is END, V + 1 is BEGIN (padding, never
    predicted). `contexts`: int32 (rows, state_size); `next_ids`: int32 (rows,);
    `counts`: int64 (rows,). Rows are unique.
    """

    vocabulary: tuple[str, ...]
    state_size: int
    contexts: np.ndarray
    next_ids: np.ndarray
    counts: np.ndarray

    @property
    def end_id(self) -> int:
        """The id of the END token (= vocabulary size)."""
        return len(self.vocabulary)

    @property
    def begin_id(self) -> int:
        """The id of the BEGIN padding token (= vocabulary size + 1)."""
        return len(self.vocabulary) + 1


def _padded(ids: np.ndarray, offsets: np.ndarray, k: int, begin: int, end: int) -> np.ndarray:
    """Items laid out as [BEGIN]*k + tokens + [END], concatenated (int32)."""
    lengths = np.diff(offsets)
    starts = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths + k + 1, out=starts[1:])
    seq = np.full(int(starts[-1]), begin, dtype=np.int32)
    shift = np.repeat(starts[:-1] + k - offsets[:-1], lengths)
    seq[np.arange(len(ids), dtype=np.int64) + shift] = ids
    seq[starts[1:] - 1] = end
    return seq


def _windows(seq: np.ndarray, k: int, begin: int):
    """Columns (context tokens 0..k-1, then the next token) of every predicted position of
    `seq`, yielded one at a time so that only one column is ever in memory."""
    predicted = seq[k:] != begin
    for i in range(k + 1):
        yield seq[i : len(seq) - k + i][predicted]


def count_ngrams(encoded: Encoded, state_size: int) -> NgramCounts:
    """Count every (state, next token) transition of the encoded items, as markovify does.

    Each item is padded with `state_size` BEGIN tokens and one END token; every position
    after the padding is predicted from the `state_size` tokens before it. Rows come out
    sorted by (context, next token).
    """
    k = state_size
    vocab_size = len(encoded.vocabulary)
    begin, end = vocab_size + 1, vocab_size
    radix = vocab_size + 2
    if radix ** (k + 1) < 2**62:
        keys, counts = _count_packed(encoded, k, begin, end, radix)
        contexts, next_ids = _unpack(keys, k, radix)
    else:
        seq = _padded(encoded.ids, encoded.offsets, k, begin, end)
        matrix = np.stack(list(_windows(seq, k, begin)), axis=1)
        rows, counts = np.unique(matrix, axis=0, return_counts=True)
        contexts, next_ids = rows[:, :k], rows[:, k]
    return NgramCounts(
        encoded.vocabulary,
        k,
        np.ascontiguousarray(contexts, dtype=np.int32),
        np.ascontiguousarray(next_ids, dtype=np.int32),
        counts.astype(np.int64, copy=False),
    )


def _count_packed(encoded: Encoded, k: int, begin: int, end: int, radix: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct windows packed into one int64 each (ascending) and their counts (int64).

    Chunk by chunk: a dense table of counts when it is no larger than the keys themselves
    (one bincount, no sort), else each chunk's keys sorted and run-length counted, then
    merged into the running result.
    """
    offsets = encoded.offsets
    n_items = len(offsets) - 1
    cells = radix ** (k + 1)
    dense = cells <= min(len(encoded.ids) + n_items, _MAX_DENSE_CELLS)
    table = np.zeros(cells if dense else 0, dtype=np.int64)
    keys, counts = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    first = 0
    while first < n_items:
        last = int(np.searchsorted(offsets, offsets[first] + _CHUNK_TOKENS, side="right")) - 1
        last = min(max(last, first + 1), n_items)
        seq = _padded(
            encoded.ids[offsets[first] : offsets[last]], offsets[first : last + 1] - offsets[first], k, begin, end
        )
        key = np.zeros(int((seq[k:] != begin).sum()), dtype=np.int64)
        for column in _windows(seq, k, begin):
            np.multiply(key, radix, out=key)
            np.add(key, column, out=key)
        del seq
        if dense:
            table += np.bincount(key, minlength=cells)
        else:
            key.sort()
            chunk_keys, chunk_counts = _runs(key)
            del key
            keys, counts = _merge(keys, counts, chunk_keys, chunk_counts)
        first = last
    if dense:
        keys = np.flatnonzero(table)
        counts = table[keys]
    return keys, counts


def _runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted int64 array and how often each occurs (int64)."""
    if len(sorted_keys) == 0:
        return sorted_keys, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    counts = np.diff(np.r_[starts, len(sorted_keys)])
    return sorted_keys[starts], counts


def _merge(keys: np.ndarray, counts: np.ndarray, new_keys: np.ndarray, new_counts: np.ndarray):
    """Add the counts of distinct ascending `new_keys` into distinct ascending `keys`.

    Linear in the result: no re-sort of everything seen so far.
    """
    at = np.searchsorted(keys, new_keys)
    seen = at < len(keys)
    seen[seen] = keys[at[seen]] == new_keys[seen]
    counts = counts.copy()
    counts[at[seen]] += new_counts[seen]  # `new_keys` are distinct, so no index repeats
    fresh = ~seen
    return np.insert(keys, at[fresh], new_keys[fresh]), np.insert(counts, at[fresh], new_counts[fresh])


def _unpack(keys: np.ndarray, k: int, radix: int) -> tuple[np.ndarray, np.ndarray]:
    """Packed window keys back into contexts (int32 (rows, k)) and next ids (int32 (rows,)).

    Consumes `keys` (divides it in place).
    """
    contexts = np.empty((len(keys), k), dtype=np.int32)
    next_ids = (keys % radix).astype(np.int32)
    keys //= radix
    for i in range(k - 1, -1, -1):
        contexts[:, i] = keys % radix
        keys //= radix
    return contexts, next_ids


@dataclass(frozen=True)
class HistoryTrie:
    """Every history (suffix of a chain state, orders 0..k) as a node, plus the counts.

    Node 0 is the empty history. Per node (arrays of shape (nodes,)): `order`, `parent`
    (the history without its first token; -1 for the root), `first` and `last` token ids
    (-1 for the root). `child(h, w)` finds the node of history h followed by token w.
    Transition counts hang off the order-k nodes in CSR form: node n's rows are
    `edge_start[n]:edge_start[n + 1]` of `edge_token` (int32) / `edge_count` (int64), sorted by
    token; both share memory with `counts` whenever its rows come sorted (`count_ngrams`).
    """

    counts: NgramCounts
    order: np.ndarray
    parent: np.ndarray
    first: np.ndarray
    last: np.ndarray
    child_keys: np.ndarray
    child_nodes: np.ndarray
    edge_start: np.ndarray
    edge_token: np.ndarray
    edge_count: np.ndarray
    begin_state: int

    @property
    def n_nodes(self) -> int:
        """Number of histories, the root included."""
        return len(self.order)

    @property
    def radix(self) -> int:
        """Multiplier of child keys: vocabulary size + 2 (END and BEGIN)."""
        return len(self.counts.vocabulary) + 2

    def child(self, nodes: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """Node of history `nodes[i]` followed by `tokens[i]`, or -1 where never seen.

        Shapes: (n,) int arrays in, (n,) int64 out.
        """
        keys = np.asarray(nodes, dtype=np.int64) * self.radix + tokens
        at = np.searchsorted(self.child_keys, keys)
        at = np.minimum(at, len(self.child_keys) - 1)
        found = (self.child_keys[at] == keys) & (np.asarray(nodes) >= 0)
        return np.where(found, self.child_nodes[at], -1)

    @classmethod
    def build(cls, counts: NgramCounts) -> HistoryTrie:
        """Index every suffix of every state of `counts` (vectorised, one pass per order)."""
        k = counts.state_size
        contexts, next_ids, row_counts = counts.contexts, counts.next_ids, counts.counts
        if not _rows_sorted(contexts, next_ids):  # markovify JSON; `count_ngrams` sorts its rows
            perm = np.lexsort((next_ids, *(contexts[:, i] for i in range(k - 1, -1, -1))))
            contexts, next_ids, row_counts = contexts[perm], next_ids[perm], row_counts[perm]
        # Sorted rows: each run of equal contexts is one state. Working on the distinct
        # states rather than on every row keeps the per-order sorts small.
        new_state = np.ones(len(contexts), dtype=bool)
        new_state[1:] = (contexts[1:] != contexts[:-1]).any(axis=1)
        state_rows = np.flatnonzero(new_state)
        rows_per_state = np.diff(np.r_[state_rows, len(contexts)])
        states = contexts[state_rows]
        del new_state, state_rows
        order, parent, first = [np.zeros(1, np.int8)], [np.full(1, -1)], [np.full(1, -1)]
        level_keys, level_base, level_mult = [], [], []
        suffix = np.zeros(len(states), dtype=np.int64)  # node of each state's order-j suffix
        n_nodes = 1
        for j in range(1, k + 1):
            key = states[:, k - j].astype(np.int64) * n_nodes + suffix
            uniq, inverse = np.unique(key, return_inverse=True)
            level_keys.append(uniq)
            level_base.append(n_nodes)
            level_mult.append(n_nodes)
            first.append(uniq // n_nodes)
            parent.append(uniq % n_nodes)
            order.append(np.full(len(uniq), j, np.int8))
            suffix = n_nodes + inverse.reshape(-1)
            n_nodes += len(uniq)
        del states, key, uniq, inverse
        order_a = np.concatenate(order)
        parent_a = np.concatenate(parent).astype(np.int64, copy=False)
        first_a = np.concatenate(first).astype(np.int64, copy=False)
        del order, parent, first  # node-sized arrays: free each as soon as it is done with

        # last token and prefix (history without its last token), order by order.
        last_a = np.full(n_nodes, -1, dtype=np.int64)
        prefix_a = np.full(n_nodes, -1, dtype=np.int64)
        for j in range(1, k + 1):
            nodes = np.arange(level_base[j - 1], level_base[j - 1] + len(level_keys[j - 1]))
            if j == 1:
                last_a[nodes] = first_a[nodes]
                prefix_a[nodes] = 0
                continue
            last_a[nodes] = last_a[parent_a[nodes]]
            parent_prefix = prefix_a[parent_a[nodes]]
            key = first_a[nodes] * level_mult[j - 2] + parent_prefix
            keys = level_keys[j - 2]
            at = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
            ok = (keys[at] == key) & (parent_prefix >= 0)
            prefix_a[nodes] = np.where(ok, level_base[j - 2] + at, -1)

        del level_keys
        radix = len(counts.vocabulary) + 2
        child_nodes = np.flatnonzero(prefix_a >= 0)
        child_keys = prefix_a[child_nodes] * radix + last_a[child_nodes]
        del prefix_a
        sort = np.argsort(child_keys, kind="stable")
        child_keys = child_keys[sort]
        child_nodes = child_nodes[sort]
        del sort

        # Order-k node ids ascend with their contexts (each order's nodes are numbered by
        # (first token, suffix node)), so the sorted rows are already grouped by node.
        edge_start = np.zeros(n_nodes + 1, dtype=np.int64)
        edge_start[1 + suffix] = rows_per_state
        np.cumsum(edge_start, out=edge_start)

        begin_state = 0
        for _ in range(k):
            begin_state = int(cls._lookup(child_keys, child_nodes, begin_state, radix, counts.begin_id))
        return cls(
            counts,
            order_a,
            parent_a,
            first_a,
            last_a,
            child_keys,
            child_nodes,
            edge_start,
            next_ids,  # int32, shared with `counts` when its rows were already sorted
            row_counts,
            begin_state,
        )

    @staticmethod
    def _lookup(keys, nodes, node, radix, token) -> int:
        key = node * radix + token
        at = int(np.searchsorted(keys, key))
        if at >= len(keys) or keys[at] != key:
            return -1
        return int(nodes[at])


def _rows_sorted(contexts: np.ndarray, next_ids: np.ndarray) -> bool:
    """True when the rows (context, next id) are strictly ascending, lexicographically."""
    undecided = np.ones(max(len(next_ids) - 1, 0), dtype=bool)  # consecutive rows equal so far
    for column in (*contexts.T, next_ids):
        if (undecided & (column[1:] < column[:-1])).any():
            return False
        undecided &= column[1:] == column[:-1]
    return not undecided.any()
