"""The hidden Markov model: hmmlearn's `CategoricalHMM` EM (vectorised, `hmm_em`) with an END symbol, as an automaton.

hmmlearn has no end state, so the emission alphabet gets one extra symbol, END, and every
training item is followed by it. Then

    p(x1..xn) = sum over h1..h(n+1) of π(h1) B(h1,x1) A(h1,h2) … B(hn,xn) A(hn,h(n+1)) B(h(n+1),END),

which is exactly hmmlearn's likelihood of the sequence x1..xn END, so EM maximises the
likelihood of the items themselves. As an automaton the state is the hidden state about to
emit: an edge from h emits token x with probability B[h,x]·A[h,h'] and moves to h';
ending there has probability B[h,END]; the start is π over all states. The options out of
every state sum to Σx B[h,x] + B[h,END] = 1, and END always terminates, so the model is a
distribution over finite items and the shared exact machinery (sampling, log_prob, the
completion lattice) works unchanged.

Edges carry their log probabilities log B[h,x] + log A[h,h'] too: after EM entries of
1e-300 are normal, and their product underflows to 0 where its log is finite, so the
log-space forward passes (log_prob, next-token distributions) would otherwise lose paths.

Temperature is per step on p(next token | prefix), which for an HMM depends on the
belief over hidden states, not on one state: tempered sampling steps that belief
(`tnaas.models.hmm_temperature`); exact completion and length-controlled sampling need
temperature 1 (the automaton says `deterministic = False`, and `temper` refuses it).
"""

from __future__ import annotations

import numpy as np

from tnaas.data.tokens import decode
from tnaas.errors import TnaasError
from tnaas.inference.automaton import Edges, ragged_arange, safe_log
from tnaas.inference.completion import END_KEY
from tnaas.models.base import AutomatonModel, Heatmap
from tnaas.models.hmm_temperature import TemperedHMM
from tnaas.validation import check_count, check_temperature, rng_from

MIN_HIDDEN_STATES, MAX_HIDDEN_STATES = 2, 64
MIN_ITERATIONS, MAX_ITERATIONS = 1, 1000
# EM stops once an iteration improves the training log-likelihood by less than this many
# nats per token (END included): hmmlearn's own tolerance is absolute, so on a corpus of
# 300k tokens it would hardly ever trigger. At 1e-4 the bundled corpora need 50-100+ iterations.
TOL_PER_TOKEN = 1e-4
DEFAULT_SEED = 0  # the seed of a fit whose random_state is None: the same model every run


class HMMAutomaton:
    """The automaton of an HMM with an END symbol (see the module docstring).

    `startprob`: float64 (H,); `transmat`: float64 (H, H); `emissionprob`: float64
    (H, V + 1), column V is END. Rows must sum to 1. Edges are compiled once into CSR
    arrays of the nonzero emissions and transitions, so `expand` is a few gathers. Not
    deterministic: after a prefix the model is in a mixture of hidden states.
    """

    deterministic = False

    def __init__(self, startprob, transmat, emissionprob, vocabulary: tuple[str, ...]):
        self.vocabulary = tuple(vocabulary)
        vocab_size = len(self.vocabulary)
        emissions = np.asarray(emissionprob, dtype=np.float64)
        self.n_states = len(emissions)
        self._start_states = np.flatnonzero(startprob).astype(np.int64)
        self._start_probs = np.asarray(startprob, dtype=np.float64)[self._start_states]
        self._end = emissions[:, vocab_size].copy()
        # CSR of emissions (tokens ascending within a state) and of transitions.
        owner, token = np.nonzero(emissions[:, :vocab_size])
        self._emit_token = token.astype(np.int64)
        self._emit_prob = emissions[owner, token]
        self._emit_log = safe_log(self._emit_prob)
        self._emit_start = _row_starts(owner, self.n_states)
        owner, dst = np.nonzero(np.asarray(transmat))
        self._trans_dst = dst.astype(np.int64)
        self._trans_prob = np.asarray(transmat, dtype=np.float64)[owner, dst]
        self._trans_log = safe_log(self._trans_prob)
        self._trans_start = _row_starts(owner, self.n_states)

    def start(self) -> tuple[np.ndarray, np.ndarray]:
        """The hidden states with positive start probability, and π there."""
        return self._start_states, self._start_probs

    def expand(self, states: np.ndarray, tokens: np.ndarray | None = None) -> Edges:
        """Edges out of `states` (int64 (n,)): one per (emitted token, next hidden state),
        grouped by source, then token, then next state ascending; only `tokens` if given.
        `prob` is B[h,x]·A[h,h'] and `log_prob` log B[h,x] + log A[h,h'] (finite even
        where the product underflows)."""
        states = np.asarray(states, dtype=np.int64)
        counts = self._emit_start[states + 1] - self._emit_start[states]
        emit = ragged_arange(self._emit_start[states], counts)
        src = np.repeat(np.arange(len(states), dtype=np.int64), counts)
        if tokens is not None:
            wanted = np.zeros(len(self.vocabulary), dtype=bool)
            tokens = np.asarray(tokens, dtype=np.int64)
            wanted[tokens[(tokens >= 0) & (tokens < len(wanted))]] = True
            keep = wanted[self._emit_token[emit]]
            emit, src = emit[keep], src[keep]
        # Each emission pairs with every transition of its state: B[h,x]·A[h,h'].
        hidden = states[src]
        per_emit = self._trans_start[hidden + 1] - self._trans_start[hidden]
        trans = ragged_arange(self._trans_start[hidden], per_emit)
        return Edges(
            np.repeat(src, per_emit),
            np.repeat(self._emit_token[emit], per_emit),
            self._trans_dst[trans],
            np.repeat(self._emit_prob[emit], per_emit) * self._trans_prob[trans],
            np.repeat(self._emit_log[emit], per_emit) + self._trans_log[trans],
        )

    def end_prob(self, states: np.ndarray) -> np.ndarray:
        """B[h, END] for each hidden state h in `states`, float64 (n,)."""
        return self._end[np.asarray(states, dtype=np.int64)]


def _row_starts(owner: np.ndarray, n_rows: int) -> np.ndarray:
    """CSR row pointers (int64 (n_rows + 1,)) of entries whose rows `owner` are ascending."""
    starts = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n_rows), out=starts[1:])
    return starts


class HMMModel(AutomatonModel):
    """A hidden Markov model over tokens, fitted by EM (`tnaas.models.hmm_em`, hmmlearn's EM vectorised).

    `hidden_states` hidden states emit tokens and move on; an extra END symbol lets items
    stop by themselves (see the module docstring). `iterations` caps EM, which stops
    earlier once it gains less than `TOL_PER_TOKEN` nats per token. `random_state` seeds
    the random initialisation; None (the default) means `DEFAULT_SEED`, resolved at fit
    time, so an unseeded fit gives the same model on every run (never the global RNG).

    Learned: `startprob_` (H,), `transmat_` (H, H), `emissionprob_` (H, V + 1) with END
    in the last column, `n_iter_` EM iterations run, `converged_`, `train_nll_` (nats
    per training token, END included, at the last E-step) and `automaton_`.

    >>> from tnaas.data.corpus import load_bundled
    >>> model = HMMModel(hidden_states=8, iterations=10, random_state=0).fit(load_bundled("pokemon"))
    >>> len(model.sample(5, random_state=0))
    5
    """

    name = "hmm"

    def __init__(self, hidden_states: int = 16, iterations: int = 100, random_state=None):
        self.hidden_states = hidden_states
        self.iterations = iterations
        self.random_state = random_state

    def _check_params(self) -> None:
        for what, value, low, high in (
            ("hidden states", self.hidden_states, MIN_HIDDEN_STATES, MAX_HIDDEN_STATES),
            ("iterations", self.iterations, MIN_ITERATIONS, MAX_ITERATIONS),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
                raise TnaasError(f"{what} must be a whole number from {low} to {high}, not {value!r}")
        seed = self.random_state
        if not (
            seed is None
            or isinstance(seed, np.random.Generator)
            or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0)
        ):
            raise TnaasError(f"random_state must be a non-negative whole number or None, not {seed!r}")

    def fit(self, corpus, progress=None) -> HMMModel:
        """Fit by EM on every item followed by END; returns self.

        The EM is `tnaas.models.hmm_em.baum_welch`, hmmlearn's `CategoricalHMM` EM
        (scaling implementation, flat priors) vectorised over all items, from hmmlearn's
        random initialisation: the same seed gives the model hmmlearn would fit, to
        rounding. `progress(fraction, message)` is called after each EM iteration. Each
        iteration costs about (training tokens) × hidden_states² and, in Python, a few
        numpy calls per position of the longest item.
        """
        from tnaas.models import hmm_em

        self._check_params()
        self._remember_corpus(corpus)
        vocab_size = len(corpus.vocabulary)
        symbols, lengths = _with_end(corpus.encoded.ids, corpus.encoded.offsets, vocab_size)
        # The initial parameters come from a legacy RandomState seeded from our seed (None:
        # the fixed default, so fitting is reproducible), drawn as hmmlearn draws them.
        seed = DEFAULT_SEED if self.random_state is None else self.random_state
        seed = int(rng_from(seed).integers(2**32))
        n_iter = int(self.iterations)
        start, trans, emit = hmm_em.initial_parameters(int(self.hidden_states), vocab_size + 1, seed)

        def report(iteration: int, log_likelihood: float) -> None:
            if progress is not None:
                progress(
                    min(iteration / n_iter, 0.99),
                    f"EM iteration {iteration}/{n_iter}: {-log_likelihood / len(symbols):.4f} nats per token",
                )

        try:
            result = hmm_em.baum_welch(
                symbols, lengths, start, trans, emit, n_iter, TOL_PER_TOKEN * len(symbols), report
            )
        except (ValueError, FloatingPointError) as error:  # numerical breakdown inside EM
            raise TnaasError(f"HMM fitting failed ({error}); try another seed or fewer hidden states") from None
        if not all(np.all(np.isfinite(p)) for p in (result.start, result.trans, result.emit)):
            raise TnaasError("HMM fitting failed (EM produced non-finite probabilities); try another seed")
        start, trans, emit = _tidy(result.start, result.trans, result.emit)
        self.startprob_, self.transmat_, self.emissionprob_ = start, trans, emit
        self.n_iter_ = len(result.history)
        self.converged_ = bool(self.n_iter_ < n_iter or result.converged_by_tol)
        self.train_nll_ = -float(result.history[-1]) / len(symbols)
        self.automaton_ = HMMAutomaton(start, trans, emit, self.vocabulary_)
        if progress is not None:
            progress(1.0, f"EM done after {self.n_iter_} iterations")
        return self

    def sample(self, n: int, random_state=None, temperature: float = 1.0, length=None) -> list[str]:
        """`n` items drawn independently (duplicates possible) from the model.

        At temperature T each next token (END included) is drawn from p(x | prefix)^(1/T),
        renormalised, with p(x | prefix) the HMM's exact marginal over its hidden-state
        belief (see `tnaas.models.hmm_temperature`); T = 1 is the model itself. `length`
        other than natural (exact p(item | length)) needs T = 1: a `TnaasError` says so.
        """
        self._check_fitted()
        temperature = check_temperature(temperature)
        if temperature == 1 or not self.length_distribution(length).is_natural:
            return super().sample(n, random_state=random_state, temperature=temperature, length=length)
        n = check_count(n)
        process = TemperedHMM(self.startprob_, self.transmat_, self.emissionprob_, temperature)
        ids = process.sample_ids(n, rng_from(random_state), 3 * self.max_length_)
        return decode(self.vocabulary_, self.token_kind_, ids)

    def tempered_log_prob_many(self, items, temperature: float) -> np.ndarray:
        """Natural-log probability of each item under sampling at `temperature` (float64 (n,)).

        The product over steps of p(x | prefix)^(1/T) / Σ_y p(y | prefix)^(1/T), END
        included; at T = 1 this is `log_prob_many`.
        """
        self._check_fitted()
        process = TemperedHMM(self.startprob_, self.transmat_, self.emissionprob_, check_temperature(temperature))
        return process.log_probs([self._ids(item) for item in items])

    def state_visits(self) -> np.ndarray:
        """Expected number of visits to each hidden state per generated item, float64 (H,).

        v = π + v·M with M[h,h'] = (1 - B[h,END])·A[h,h'] (emit a token, then move).
        """
        self._check_fitted()
        keep_going = (1.0 - self.emissionprob_[:, -1])[:, None] * self.transmat_
        return np.linalg.solve((np.eye(len(keep_going)) - keep_going).T, self.startprob_)

    def inspect(self, limit: int = 20) -> list[Heatmap]:
        """Two matrices: the hidden-state transitions A (state × next state) and the
        emissions B for the `limit` tokens emitted most often, END included."""
        self._check_fitted()
        n = len(self.transmat_)
        labels = [f"h{i:0{len(str(n - 1))}d}" for i in range(n)]
        rows, cols = np.nonzero(self.transmat_)
        transitions = tuple(
            (labels[i], labels[j], float(self.transmat_[i, j])) for i, j in zip(rows.tolist(), cols.tolist())
        )
        names = list(self.vocabulary_) + [END_KEY]
        usage = self.state_visits() @ self.emissionprob_  # expected emissions of each token per item
        top = np.argsort(-usage, kind="stable")[: max(1, int(limit))]
        if len(names) - 1 not in top:
            top = np.append(top[:-1], len(names) - 1)
        emissions = tuple((labels[h], names[t], float(self.emissionprob_[h, t])) for h in range(n) for t in top)
        return [
            Heatmap(f"Hidden-state transitions ({n} states)", "hidden state", "next hidden state", transitions),
            Heatmap(
                "Emissions (most used tokens)",
                "hidden state",
                "emitted token",
                emissions,
            ),
        ]


def _with_end(ids: np.ndarray, offsets: np.ndarray, end_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Every item's token ids followed by `end_id`, concatenated (int64 (tokens + items,)),
    and the sequence lengths (int64 (items,)) as hmmlearn wants them."""
    item_lengths = np.diff(offsets)
    symbols = np.full(len(ids) + len(item_lengths), end_id, dtype=np.int64)
    # Item j's tokens shift right by j (the j END symbols before them).
    symbols[np.arange(len(ids)) + np.repeat(np.arange(len(item_lengths)), item_lengths)] = ids
    return symbols, item_lengths + 1


def _tidy(start, trans, emit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fitted parameters as a proper automaton: float64, rows renormalised, unused states fixed.

    A state EM never visits gets all-zero rows (as in hmmlearn); it becomes "emit END at
    once" (B row one-hot on END, A row a self-loop) so that every state's options sum to
    1. It is unreachable, so no probability changes. Nothing is pruned, however small:
    held-out items can depend on 1e-20 paths. (On a sonnets split with 34 held-out lines,
    zeroing entries below 1e-12 made edge lists 13x shorter but 10 of the lines impossible;
    zeroing only such emissions, 3x shorter and 0.19 nats per held-out token worse.)
    """
    start, trans, emit = (np.array(p, dtype=np.float64) for p in (start, trans, emit))
    unused = emit.sum(axis=1) <= 0
    emit[unused, -1] = 1.0
    dead_end = trans.sum(axis=1) <= 0
    trans[dead_end, np.flatnonzero(dead_end)] = 1.0
    return start / start.sum(), trans / trans.sum(axis=1, keepdims=True), emit / emit.sum(axis=1, keepdims=True)
