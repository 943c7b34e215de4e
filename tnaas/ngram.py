"""N-gram transition counts and the trie of histories built from them.

`NgramCounts` is exactly markovify's ``Chain.model`` in array form (state tuple, next
token, count); `HistoryTrie` indexes every suffix of every state so that both the plain
chain and its Kneser-Ney smoothing can look up "the history h followed by token w".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tnaas.tokens import Encoded

# markovify's own markers, so that its JSON files load and ours load in markovify.
BEGIN = "___BEGIN__"
END = "___END__"

# Items per counting chunk: bounds the peak memory of `count_ngrams` on huge corpora.
_CHUNK_TOKENS = 2_000_000


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


def _windows(seq: np.ndarray, k: int, begin: int) -> list[np.ndarray]:
    """Columns (context tokens 0..k-1, next token) of every predicted position of `seq`."""
    predicted = seq[k:] != begin
    return [seq[i : len(seq) - k + i][predicted] for i in range(k + 1)]


def count_ngrams(encoded: Encoded, state_size: int) -> NgramCounts:
    """Count every (state, next token) transition of the encoded items, as markovify does.

    Each item is padded with `state_size` BEGIN tokens and one END token; every position
    after the padding is predicted from the `state_size` tokens before it.
    """
    k = state_size
    vocab_size = len(encoded.vocabulary)
    begin, end = vocab_size + 1, vocab_size
    radix = vocab_size + 2
    if radix ** (k + 1) < 2**62:
        rows, counts = _count_packed(encoded, k, begin, end, radix)
    else:
        seq = _padded(encoded.ids, encoded.offsets, k, begin, end)
        matrix = np.stack(_windows(seq, k, begin), axis=1)
        rows, counts = np.unique(matrix, axis=0, return_counts=True)
    return NgramCounts(
        encoded.vocabulary,
        k,
        np.ascontiguousarray(rows[:, :k], dtype=np.int32),
        np.ascontiguousarray(rows[:, k], dtype=np.int32),
        counts.astype(np.int64),
    )


def _count_packed(encoded: Encoded, k: int, begin: int, end: int, radix: int):
    """Count windows packed into one int64 each (fast path), chunk by chunk."""
    offsets = encoded.offsets
    n_items = len(offsets) - 1
    keys_parts, count_parts = [], []
    first = 0
    while first < n_items:
        last = int(np.searchsorted(offsets, offsets[first] + _CHUNK_TOKENS, side="right")) - 1
        last = min(max(last, first + 1), n_items)
        chunk_offsets = offsets[first : last + 1] - offsets[first]
        chunk_ids = encoded.ids[offsets[first] : offsets[last]]
        seq = _padded(chunk_ids, chunk_offsets, k, begin, end)
        key = np.zeros(int((seq[k:] != begin).sum()), dtype=np.int64)
        for column in _windows(seq, k, begin):
            key *= radix
            key += column
        keys, counts = np.unique(key, return_counts=True)
        keys_parts.append(keys)
        count_parts.append(counts)
        first = last
    keys = np.concatenate(keys_parts)
    counts = np.concatenate(count_parts)
    if len(keys_parts) > 1:
        keys, inverse = np.unique(keys, return_inverse=True)
        counts = np.bincount(inverse, weights=counts).astype(np.int64)
    rows = np.empty((len(keys), k + 1), dtype=np.int64)
    for i in range(k, -1, -1):
        keys, rows[:, i] = np.divmod(keys, radix)
    return rows, counts


@dataclass(frozen=True)
class HistoryTrie:
    """Every history (suffix of a chain state, orders 0..k) as a node, plus the counts.

    Node 0 is the empty history. Per node (arrays of shape (nodes,)): `order`, `parent`
    (the history without its first token; -1 for the root), `first` and `last` token ids
    (-1 for the root). `child(h, w)` finds the node of history h followed by token w.
    Transition counts hang off the order-k nodes in CSR form: node n's rows are
    `edge_start[n]:edge_start[n + 1]` of `edge_token` / `edge_count` (sorted by token).
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
        contexts = counts.contexts
        n_rows = len(contexts)
        order, parent, first = [np.zeros(1, np.int8)], [np.full(1, -1)], [np.full(1, -1)]
        level_keys, level_base, level_mult = [], [], []
        suffix = np.zeros(n_rows, dtype=np.int64)  # node of each row's order-j suffix
        n_nodes = 1
        for j in range(1, k + 1):
            key = contexts[:, k - j].astype(np.int64) * n_nodes + suffix
            uniq, inverse = np.unique(key, return_inverse=True)
            level_keys.append(uniq)
            level_base.append(n_nodes)
            level_mult.append(n_nodes)
            first.append(uniq // n_nodes)
            parent.append(uniq % n_nodes)
            order.append(np.full(len(uniq), j, np.int8))
            suffix = n_nodes + inverse.reshape(-1)
            n_nodes += len(uniq)
        order_a = np.concatenate(order)
        parent_a = np.concatenate(parent).astype(np.int64)
        first_a = np.concatenate(first).astype(np.int64)

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

        radix = len(counts.vocabulary) + 2
        has_prefix = prefix_a >= 0
        child_keys = prefix_a[has_prefix] * radix + last_a[has_prefix]
        sort = np.argsort(child_keys, kind="stable")
        child_keys = child_keys[sort]
        child_nodes = np.flatnonzero(has_prefix)[sort]

        state_of_row = suffix
        row_order = np.lexsort((counts.next_ids, state_of_row))
        edge_start = np.zeros(n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(state_of_row, minlength=n_nodes), out=edge_start[1:])

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
            counts.next_ids[row_order].astype(np.int64),
            counts.counts[row_order],
            begin_state,
        )

    @staticmethod
    def _lookup(keys, nodes, node, radix, token) -> int:
        key = node * radix + token
        at = int(np.searchsorted(keys, key))
        if at >= len(keys) or keys[at] != key:
            return -1
        return int(nodes[at])
