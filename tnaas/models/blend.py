"""Blends of two corpora A and B with a weight w in [0, 1].

Mixture (`blend_mixture`): one Markov chain over the weighted sum of both corpora's
transition counts, w * c_A + (1 - w) * c_B — exactly markovify's
``markovify.combine([chain_a, chain_b], [w, 1 - w])``. Its counts are fractional, so the
blend's `NgramCounts.counts` are float64 (the chain only ever divides counts by their state
total, so nothing else changes; `to_markovify_json` writes them as JSON numbers, as
markovify does). Rows of weight 0 (w = 0 or 1) are dropped, where markovify keeps them as
0.0: they change no probability. Kneser-Ney's discounts are defined for whole-number
counts only, so a smoothed mixture is refused unless every blended count is whole.

Product (`ProductBlend`): p(x) ∝ p_A(x)^w p_B(x)^(1-w), the items both models find likely.
Its normaliser has no closed form, so it is taken over the items of at most `max_length`
tokens: the product automaton (states = pairs of chain states, edge weight p_A^w p_B^(1-w),
END likewise) runs through the exact lattice, whose forward mass is Z_L and whose backward
messages give exact samples and an exact k-best. The unnormalised mass of longer items is
left out; `truncated_bound` bounds it (by Hölder's inequality, see its docstring). Only
deterministic automata (Markov chains) qualify: an HMM's p(x) sums over hidden paths,
and a power of a sum does not factor over edges.
"""

from __future__ import annotations

import math

import numpy as np

from tnaas.data.tokens import decode
from tnaas.errors import TnaasError
from tnaas.inference.automaton import Edges, ragged_arange
from tnaas.inference.lattice import Lattice
from tnaas.inference.lengths import MAX_ITEM_TOKENS
from tnaas.inference.patterns import any_sequence_dfa
from tnaas.models.markov import MarkovModel
from tnaas.models.markov.ngram import NgramCounts, count_ngrams
from tnaas.validation import check_count, rng_from

MAX_PRODUCT_EDGES = 2_000_000  # product lattice edges over all lengths (~50 MB); see module docstring


def check_weight(w) -> float:
    """`w` as a float in [0, 1], else `TnaasError`."""
    try:
        value = float(w)
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(w, bool) or not 0.0 <= value <= 1.0:
        raise TnaasError(f"the blend weight must be a number from 0 to 1, not {w!r}")
    return value


def _same_kind(a: str, b: str) -> str:
    if a != b:
        raise TnaasError(f"cannot blend {a} with {b}: both corpora must have the same token kind")
    return a


# ------------------------------------------------------------------------- mixture
def mixture_counts(counts: list[NgramCounts], weights: list[float]) -> NgramCounts:
    """sum_i weights[i] * counts[i] over the union of their vocabularies (markovify's
    `combine`), rows of weight 0 dropped; float64 counts, rows sorted as `count_ngrams`'s."""
    k = counts[0].state_size
    vocabulary = tuple(sorted(set().union(*(c.vocabulary for c in counts))))
    v = len(vocabulary)
    index = {t: i for i, t in enumerate(vocabulary)}
    rows, weight = [], []
    for c, w in zip(counts, weights):
        mapping = np.array([index[t] for t in c.vocabulary] + [v, v + 1], dtype=np.int64)  # END, BEGIN
        rows.append(np.column_stack([mapping[c.contexts], mapping[c.next_ids]]).reshape(-1, k + 1))
        weight.append(c.counts.astype(np.float64) * w)
    table, group = np.unique(np.concatenate(rows), axis=0, return_inverse=True)
    total = np.bincount(group.reshape(-1), weights=np.concatenate(weight), minlength=len(table))
    keep = total > 0
    table = table[keep]
    return NgramCounts(
        vocabulary,
        k,
        np.ascontiguousarray(table[:, :k], dtype=np.int32),
        np.ascontiguousarray(table[:, k], dtype=np.int32),
        total[keep],
    )


def blend_mixture(corpus_a, corpus_b, w: float, state_size: int = 3, smoothing: str = "none") -> MarkovModel:
    """A fitted `MarkovModel` over w * counts(A) + (1 - w) * counts(B) (see module docstring).

    At w = 1 it is A's chain exactly (w = 0: B's). The novelty filter knows the items of
    every corpus with positive weight; `training_lengths_` (the `corpus` length
    distribution) pools their lengths unweighted.
    """
    w = check_weight(w)
    kind = _same_kind(corpus_a.token_kind, corpus_b.token_kind)
    model = MarkovModel(state_size=state_size, smoothing=smoothing)
    model._check_params()
    used = [(c, x) for c, x in ((corpus_a, w), (corpus_b, 1.0 - w)) if x > 0]
    counts = mixture_counts([count_ngrams(c.encoded, int(state_size)) for c, _ in used], [x for _, x in used])
    if model.smoothed and not np.all(counts.counts == np.round(counts.counts)):
        raise TnaasError(
            f"Kneser-Ney needs whole-number counts and a blend at weight {w:g} has fractional ones: "
            "use smoothing none for a mixture, or the product blend"
        )
    lengths = np.concatenate([np.asarray(c.lengths) for c, _ in used])
    model.token_kind_ = kind
    model.vocabulary_ = counts.vocabulary
    model.training_items_ = frozenset().union(*(c.items for c, _ in used))
    model.training_lengths_ = lengths
    longest = int(lengths.max())
    model.max_length_ = longest + max(10, longest // 4)
    model.blend_weight_ = w
    model._compile(counts)
    return model


# ------------------------------------------------------------------------- product
class _Budget:
    """An automaton that refuses to make more than `limit` edges in total (a clear
    `TnaasError` naming the limit, before the lattice grows past it)."""

    def __init__(self, base, limit: int, what: str):
        self.base, self.limit, self.what, self.made = base, limit, what, 0
        self.vocabulary, self.n_states = base.vocabulary, base.n_states

    def start(self):
        return self.base.start()

    def end_prob(self, states):
        return self.base.end_prob(states)

    def expand(self, states, tokens=None):
        edges = self.base.expand(states, tokens)
        self.made += len(edges.src)
        if self.made > self.limit:
            raise TnaasError(
                f"the {self.what} needs more than {self.limit:,} lattice edges (MAX_PRODUCT_EDGES): "
                "use a smaller max_length, smaller state sizes or no smoothing"
            )
        return edges


class ProductAutomaton:
    """The product of two deterministic automata over their shared tokens.

    State (a, b) has id a * n_B + b; an edge on token t weighs p_A(t | a)^w p_B(t | b)^(1-w),
    ending weighs end_A(a)^w end_B(b)^(1-w). Weights are not probabilities (they sum to at
    most 1 per state, by Hölder); the lattice normalises. 0 < w < 1.
    """

    def __init__(self, a, b, w: float):
        self.a, self.b, self.w = a, b, float(w)
        self.vocabulary = tuple(sorted(set(a.vocabulary) & set(b.vocabulary)))
        index = {t: i for i, t in enumerate(self.vocabulary)}
        self._from_a = np.array([index.get(t, -1) for t in a.vocabulary] + [-1], dtype=np.int64)
        self._from_b = np.array([index.get(t, -1) for t in b.vocabulary] + [-1], dtype=np.int64)
        self._to_a = np.array([a.vocabulary.index(t) for t in self.vocabulary], dtype=np.int64)
        self._to_b = np.array([b.vocabulary.index(t) for t in self.vocabulary], dtype=np.int64)
        self._nb = int(b.n_states)
        self.n_states = int(a.n_states) * self._nb

    def split(self, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(A states, B states) of product state ids, int64 (n,) each."""
        return np.divmod(np.asarray(states, dtype=np.int64), self._nb)

    def _power(self, pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.exp(self.w * np.log(pa) + (1 - self.w) * np.log(pb))

    def start(self) -> tuple[np.ndarray, np.ndarray]:
        """Every pair of start states, weight p_A^w p_B^(1-w)."""
        sa, pa = self.a.start()
        sb, pb = self.b.start()
        states = (np.asarray(sa, dtype=np.int64)[:, None] * self._nb + np.asarray(sb, dtype=np.int64)[None, :]).ravel()
        return states, self._power(np.repeat(pa, len(sb)), np.tile(pb, len(sa)))

    def end_prob(self, states: np.ndarray) -> np.ndarray:
        """end_A^w end_B^(1-w) of each product state, float64 (n,)."""
        sa, sb = self.split(states)
        return self._power(self.a.end_prob(sa), self.b.end_prob(sb))

    def expand(self, states: np.ndarray, tokens: np.ndarray | None = None) -> Edges:
        """Edges out of product `states` on tokens both automata can read (grouped by
        source, tokens ascending within a source)."""
        sa, sb = self.split(states)
        ua, ia = np.unique(sa, return_inverse=True)
        ub, ib = np.unique(sb, return_inverse=True)
        ta = tb = None
        if tokens is not None:
            tokens = np.asarray(tokens, dtype=np.int64)
            ta, tb = self._to_a[tokens], self._to_b[tokens]
        ea, eb = self.a.expand(ua, ta), self.b.expand(ub, tb)
        v = len(self.vocabulary)
        tok_b = self._from_b[eb.token]
        ok = tok_b >= 0
        key_b = eb.src[ok] * v + tok_b[ok]
        order = np.argsort(key_b, kind="stable")
        key_b = key_b[order]
        edge_b = np.flatnonzero(ok)[order]
        count_a = np.bincount(ea.src, minlength=len(ua))
        start_a = np.cumsum(count_a) - count_a
        per = count_a[ia.reshape(-1)]
        edge_a = ragged_arange(start_a[ia.reshape(-1)], per)
        src = np.repeat(np.arange(len(sa)), per)
        tok = self._from_a[ea.token[edge_a]]
        key = ib.reshape(-1)[src] * v + tok
        if len(key_b) == 0:  # B can read none of the shared tokens here
            hit, at = np.zeros(len(key), dtype=bool), np.zeros(len(key), dtype=np.int64)
        else:
            at = np.minimum(np.searchsorted(key_b, key), len(key_b) - 1)
            hit = (tok >= 0) & (key_b[at] == key)
        src, tok, edge_a, edge_b = src[hit], tok[hit], edge_a[hit], edge_b[at[hit]]
        dst = ea.destinations(edge_a) * self._nb + eb.destinations(edge_b)
        return Edges(src, tok, dst, self._power(ea.prob[edge_a], eb.prob[edge_b]))


def _check_markov(model, which: str) -> None:
    if not isinstance(model, MarkovModel):
        name = getattr(model, "name", type(model).__name__)
        raise TnaasError(
            f"the product blend needs two Markov chains; model {which} is a {name} model "
            "(an HMM's probability sums over hidden paths, so its power does not factor over edges)"
        )
    model._check_fitted()


class ProductBlend:
    """p(x) ∝ p_A(x)^w p_B(x)^(1-w) over items of at most `max_length` tokens, exactly.

    `model_a`, `model_b`: fitted `MarkovModel`s of one token kind (smoothed or not, any
    state sizes). At w = 1 it is model A conditioned on length <= max_length (w = 0: B).
    Raises `TnaasError` when the product lattice would exceed `MAX_PRODUCT_EDGES` edges.
    """

    def __init__(self, model_a, model_b, w: float, max_length: int = 20):
        _check_markov(model_a, "A")
        _check_markov(model_b, "B")
        self.w = check_weight(w)
        self.token_kind = _same_kind(model_a.token_kind_, model_b.token_kind_)
        if isinstance(max_length, bool) or not isinstance(max_length, (int, np.integer)):
            raise TnaasError(f"max_length must be a whole number of tokens, not {max_length!r}")
        if not 1 <= max_length <= MAX_ITEM_TOKENS:
            raise TnaasError(f"max_length must be from 1 to {MAX_ITEM_TOKENS} tokens, not {max_length}")
        self.max_length = int(max_length)
        self.model_a, self.model_b = model_a, model_b
        if self.w == 1.0:
            automaton = model_a.automaton_
        elif self.w == 0.0:
            automaton = model_b.automaton_
        else:
            automaton = ProductAutomaton(model_a.automaton_, model_b.automaton_, self.w)
        self.automaton = automaton
        self.vocabulary = automaton.vocabulary
        budget = _Budget(automaton, MAX_PRODUCT_EDGES, f"product blend within {self.max_length} tokens")
        self._lattice = Lattice(
            budget, any_sequence_dfa(len(self.vocabulary)), np.ones(self.max_length + 1), max_edges=MAX_PRODUCT_EDGES
        )
        self._lattice.automaton = automaton  # the budget is for building only
        if self._lattice.log_z == -np.inf:
            raise TnaasError(
                f"no item of at most {self.max_length} tokens has positive probability under both models: "
                "the product blend is empty"
            )

    @property
    def probability_within_bound(self) -> float:
        """Z_L = sum over items x of at most `max_length` tokens of p_A(x)^w p_B(x)^(1-w),
        exactly: the unnormalised mass the blend is normalised by."""
        return self._lattice.probability

    @property
    def truncated_bound(self) -> float:
        """An upper bound on the unnormalised mass of longer items, which is left out.

        For a prefix u of `max_length` tokens reaching states (a, b), the continuations r
        weigh sum_r p_A(r|a)^w p_B(r|b)^(1-w) <= (1 - end_A(a))^w (1 - end_B(b))^(1-w) by
        Hölder; summed over the lattice's last frontier. Also at most 1 - Z_L, as the
        total over all items is at most 1 (Hölder again). 0 when no item is that long.
        """
        lattice, top = self._lattice, self.max_length
        if len(lattice.alpha) <= top:
            return 0.0
        states = lattice.states[top]
        if isinstance(self.automaton, ProductAutomaton):
            sa, sb = self.automaton.split(states)
            with np.errstate(divide="ignore"):
                going = np.exp(
                    self.w * np.log1p(-self.model_a.automaton_.end_prob(sa))
                    + (1 - self.w) * np.log1p(-self.model_b.automaton_.end_prob(sb))
                )
        else:
            going = 1.0 - self.automaton.end_prob(states)
        running = float(np.exp(lattice.log_scale[top]) * np.add.reduce(lattice.alpha[top] * going))
        return max(0.0, min(running, 1.0 - self.probability_within_bound))

    def log_prob_many(self, items) -> np.ndarray:
        """Natural-log blend probability of each item (normalised within the bound; -inf
        beyond `max_length` tokens or where either model gives 0), float64 (n,)."""
        items = list(items)
        lengths = np.array([len(self.model_a._ids(item)) for item in items], dtype=np.int64)
        if self.w == 1.0:
            raw = self.model_a.log_prob_many(items)
        elif self.w == 0.0:
            raw = self.model_b.log_prob_many(items)
        else:
            raw = self.w * self.model_a.log_prob_many(items) + (1 - self.w) * self.model_b.log_prob_many(items)
        out = raw - self._lattice.log_z
        out[lengths > self.max_length] = -np.inf
        return out

    def log_prob(self, item: str) -> float:
        """Natural-log blend probability of one item (see `log_prob_many`)."""
        return float(self.log_prob_many([item])[0])

    def sample(self, n: int, random_state=None) -> list[str]:
        """`n` exact independent draws from the normalised blend (duplicates possible)."""
        n = check_count(n)
        ids = self._lattice.sample(n, rng_from(random_state)) if n else []
        return decode(self.vocabulary, self.token_kind, ids)

    def top(self, k: int = 10) -> list[dict]:
        """The k most probable items under the blend, exactly: [{"text", "probability"}]."""
        best, _ = self._lattice.top(check_count(k, "k", 1000))
        texts = decode(self.vocabulary, self.token_kind, [ids for ids, _ in best])
        return [{"text": t, "probability": p} for t, (_, p) in zip(texts, best)]

    def __repr__(self) -> str:
        z = self.probability_within_bound
        return f"ProductBlend(w={self.w:g}, max_length={self.max_length}, Z={z:.3g}, log Z={math.log(z):.3f})"
