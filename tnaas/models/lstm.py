"""A token-level LSTM language model: trained with PyTorch, answered with numpy.

`fit` trains the network (`tnaas.models.lstm_train`, torch imported only there) and keeps
its weights as numpy arrays (`weights_`); every answer after that runs the numpy forward
pass (`tnaas.models.lstm_numpy`), so a fitted model, or one rebuilt by
`LSTMModel.from_weights` from saved arrays and corpus facts, needs no torch at all.

Scores are exact (natural log, END included). `sample` draws exactly, also given a
length distribution (`tnaas.models.lstm_sampling`). Completion is exact by enumeration
when the pattern has few candidates and approximate (sequential Monte Carlo) otherwise,
see `tnaas.inference.smc`.

>>> from tnaas.data.corpus import load_bundled
>>> model = LSTMModel(hidden_size=64, epochs=5, random_state=0).fit(load_bundled("pokemon"))  # doctest: +SKIP
>>> model.sample(3, random_state=1)  # doctest: +SKIP
"""

from __future__ import annotations

import math

import numpy as np

from tnaas.data.tokens import decode
from tnaas.errors import TnaasError
from tnaas.inference import smc
from tnaas.inference.automaton import redraw_until
from tnaas.inference.completion import END_KEY, Completion
from tnaas.models import lstm_sampling
from tnaas.models.base import Heatmap, SequenceModel
from tnaas.models.lstm_numpy import Forward, check_weights, single_threaded
from tnaas.validation import check_count, check_temperature, rng_from

PARAMS = ("hidden_size", "epochs", "random_state", "recipe")
# Learned corpus facts `from_weights` needs (see `SequenceModel._remember_corpus`), and the
# training report it takes when given.
FACTS = ("token_kind_", "vocabulary_", "training_items_", "training_lengths_", "max_length_", "token_counts_")
REPORT = ("history_", "epochs_run_", "validation_nll_")


class LSTMModel(SequenceModel):
    """An LSTM over tokens; `hidden_size` units, at most `epochs` passes over the data.

    `recipe` names how it is trained (`lstm_train.RECIPES`): "standard" (quick: dropout
    0.1, 3 epochs of patience) or "long" (more dropout, a moving average of the weights,
    more patience: better scores on large corpora, e.g. 256 units over 13 epochs). Training is
    reproducible for a given `random_state` (int seed; None draws a fresh one) and leaves
    torch's global random state untouched. Inference is the same numpy pass either way.
    """

    name = "lstm"
    smoothed = True  # softmax outputs: every sequence of known tokens has positive probability
    exact = False  # completion is approximate in general (exact only when it can enumerate)

    def __init__(self, hidden_size: int = 128, epochs: int = 30, random_state=None, recipe: str = "standard"):
        self.hidden_size = hidden_size
        self.epochs = epochs
        self.random_state = random_state
        self.recipe = recipe

    # ------------------------------------------------------------------- training
    def _check_params(self) -> None:
        for name, low, high in (("hidden_size", 8, 1024), ("epochs", 1, 500)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
                raise TnaasError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
        from tnaas.models.lstm_train import RECIPES  # numpy only: torch loads at fit time

        if self.recipe not in RECIPES:
            raise TnaasError(f"recipe must be one of {', '.join(RECIPES)}, not {self.recipe!r}")

    def fit(self, corpus, progress=None) -> LSTMModel:
        """Train on a `Corpus` (needs torch); returns self.

        With at least `lstm_train.MIN_VALIDATION_CORPUS` items, a seeded fraction of them is
        held out and training stops after `lstm_train.PATIENCE` epochs without a better
        validation score, keeping the best weights. Learns `weights_` (float32 arrays by
        name, see `tnaas.models.lstm_numpy.WEIGHT_SHAPES`), the corpus facts in `FACTS`,
        `epochs_run_`, `validation_nll_` (nats per token on the held-out split, NaN without
        one) and `history_` (per epoch: training and validation nats per token).
        `progress(fraction, message)` is called after every epoch, and with 1.0 when
        training stops early.
        """
        from tnaas.models import lstm_train

        self._check_params()
        torch = lstm_train.load_torch()
        rng = rng_from(self.random_state)
        self._remember_corpus(corpus)
        vocab_size = len(self.vocabulary_)
        encoded = corpus.encoded
        sequences = [encoded.item_ids(j).astype(np.int64) for j in range(len(corpus.items))]
        recipe = lstm_train.RECIPES[self.recipe]
        weights, n_val, history = lstm_train.train(
            torch, sequences, vocab_size, self.hidden_size, self.epochs, rng, progress, recipe
        )
        self.token_counts_ = np.bincount(encoded.ids, minlength=vocab_size)
        self.history_ = history
        self.epochs_run_ = len(history)
        self.validation_nll_ = min((v for _, v in history), default=math.nan) if n_val else math.nan
        self._set_weights(weights)
        return self

    def _set_weights(self, weights: dict) -> None:
        """Keep `weights_` and build the numpy passes: float64 for exact numbers (batched and
        one-by-one scores agree to 1e-12), float32 for sampling and SMC (2-3x faster; the two
        differ by ~1e-7 in probability, far below Monte Carlo error)."""
        check_weights(weights, len(self.vocabulary_))
        self.weights_ = {name: np.array(value, dtype=np.float32) for name, value in weights.items()}
        self._exact = Forward(self.weights_, np.float64)
        self._sampler = Forward(self.weights_, np.float32)

    @classmethod
    def from_weights(cls, params: dict, facts: dict, weights: dict) -> LSTMModel:
        """A fitted model from saved parts, without torch: answers exactly as the model they
        came from did.

        `params`: the constructor's `hidden_size`, `epochs`, `random_state`, `recipe` (any subset;
        `hidden_size` defaults to the weights'). `facts`: every name in `FACTS` —
        `token_kind_` (str), `vocabulary_` (tuple of str, id order), `training_items_`
        (iterable of str), `training_lengths_` (int (items,), tokens per training item),
        `max_length_` (int, the length cap), `token_counts_` (int (V,)) — and optionally
        those in `REPORT`: `history_` (list of (training, validation) pairs), `epochs_run_`
        (int), `validation_nll_` (float). `weights`: `weights_` of the fitted model
        (float32 or float64 arrays, rounded to float32). Wrong names or shapes raise a
        one-line `TnaasError`.
        """
        unknown = set(params) - set(PARAMS)
        missing = [name for name in FACTS if name not in facts]
        if unknown or missing:
            raise TnaasError(
                f"cannot rebuild the lstm model: unknown params {sorted(unknown)}"
                if unknown
                else f"cannot rebuild the lstm model: facts lack {', '.join(missing)}"
            )
        model = cls(**{"hidden_size": None, **params})
        model.token_kind_ = str(facts["token_kind_"])
        model.vocabulary_ = tuple(facts["vocabulary_"])
        model.training_items_ = frozenset(facts["training_items_"])
        model.training_lengths_ = np.asarray(facts["training_lengths_"], dtype=np.int64)
        model.max_length_ = int(facts["max_length_"])
        model.token_counts_ = np.asarray(facts["token_counts_"], dtype=np.int64)
        if model.token_counts_.shape != (len(model.vocabulary_),):
            raise TnaasError(f"token_counts_ must hold one count per token ({len(model.vocabulary_)})")
        _, hidden = check_weights(weights, len(model.vocabulary_))
        if model.hidden_size is None:
            model.hidden_size = hidden
        elif model.hidden_size != hidden:
            raise TnaasError(f"hidden_size {model.hidden_size!r} does not match the weights' {hidden}")
        model.history_ = [tuple(map(float, pair)) for pair in facts.get("history_", [])]
        model.epochs_run_ = int(facts.get("epochs_run_", len(model.history_)))
        model.validation_nll_ = float(facts.get("validation_nll_", math.nan))
        model._set_weights(weights)
        return model

    def _check_fitted(self) -> None:
        super()._check_fitted()
        if not hasattr(self, "weights_"):
            raise TnaasError("the lstm model is not fitted yet: call fit(corpus) first")

    # ------------------------------------------------------------------ inference
    def start_state(self, n: int):
        """The LSTM state (h, c), float32 (n, hidden_size) zeros, before BEGIN is read."""
        return self._sampler.start(n)

    def step(self, tokens: np.ndarray, state, temperature: float = 1.0):
        """Feed one token id per run (int64 (n,), `len(vocabulary_)` = BEGIN); returns
        (probabilities float32 (n, vocabulary + 1) of the next token, END last; new state).

        Runs the float32 pass: for Monte Carlo (sampling, SMC), not for exact numbers."""
        return self._sampler.probs(np.asarray(tokens, dtype=np.int64).reshape(-1), state, temperature)

    @staticmethod
    def select(state, index: np.ndarray):
        """The LSTM state of the runs at `index` (int64 (m,)), e.g. after resampling."""
        return tuple(part[index] for part in state)

    @single_threaded
    def score_ids(self, sequences, temperature: float = 1.0) -> np.ndarray:
        """Natural-log probability of token-id sequences, END included (float64 (n,)); -inf
        for any sequence with an id < 0 (an unknown token)."""
        return self._exact.log_probs(sequences, temperature)

    def log_prob(self, item: str) -> float:
        """Natural-log probability that the model generates exactly `item` (END included)."""
        return float(self.log_prob_many([item])[0])

    def log_prob_many(self, items) -> np.ndarray:
        """Natural-log probabilities of many items, scored in batches (float64 (n,))."""
        self._check_fitted()
        return self.score_ids([self._ids(item) for item in items])

    @single_threaded
    def next_token_distribution(self, prefix: str) -> dict[str, float]:
        """p(next token | the item starts with `prefix`), with `END_KEY` for "the item ends".

        Sorted by probability; empty when `prefix` holds a token the model never saw.
        """
        self._check_fitted()
        ids = self._ids(prefix) if prefix else np.zeros(0, dtype=np.int64)
        if (ids < 0).any():
            return {}
        probs = _softmax(self._exact.run(ids[None, :])[0, -1])
        names = [*self.vocabulary_, END_KEY]
        return dict(sorted(((names[t], float(p)) for t, p in enumerate(probs) if p > 0), key=lambda kv: -kv[1]))

    @single_threaded
    def inspect(self, limit: int = 20) -> list[Heatmap]:
        """p(second token | first token) for the `limit` most frequent tokens as first token,
        over the 30 most frequent next tokens and END: the LSTM's view of a one-token start."""
        self._check_fitted()
        order = np.argsort(-self.token_counts_, kind="stable")
        rows, columns = order[:limit], [*order[:30].tolist(), len(self.vocabulary_)]
        probs = _softmax(self._exact.run(rows[:, None])[:, -1])
        names = [*self.vocabulary_, END_KEY]
        data = tuple((names[r], names[c], float(probs[i, c])) for i, r in enumerate(rows) for c in columns)
        return [Heatmap("Next token after a one-token start", "first token", "second token", data)]

    @single_threaded
    def sample(self, n: int, random_state=None, temperature: float = 1.0, length=None) -> list[str]:
        """`n` items drawn independently (duplicates possible), batched over the items.

        `temperature` divides the logits of every choice. Natural length: the model's own
        draws (runs still going after 3 * `max_length_` tokens are redrawn). Any other
        `length`: each item's length λ is drawn from that distribution, then the item
        exactly from the (tempered) model's p(item | λ), by rejection from its natural draws
        or, for short lengths, by scoring every item of that length (see
        `tnaas.models.lstm_sampling`); a length the model almost never makes and too long
        to enumerate is a `TnaasError` naming it.
        """
        self._check_fitted()
        n = check_count(n)
        rng = rng_from(random_state)
        temperature = check_temperature(temperature)
        lengths = self.length_distribution(length)
        if not lengths.is_natural:
            wanted = rng.choice(len(lengths.probs), size=n, p=lengths.probs)
            ids = lstm_sampling.sample_given_lengths(self, wanted, rng, temperature, self.name)
        else:
            cap = 3 * self.max_length_
            ids = redraw_until(n, lambda size: lstm_sampling.natural_batch(self, size, rng, temperature, cap), cap)
        return decode(self.vocabulary_, self.token_kind_, ids)

    @single_threaded
    def complete(
        self,
        pattern: str,
        top: int = 10,
        samples: int = 0,
        random_state=None,
        length=None,
        temperature: float = 1.0,
        *,
        particles: int | None = None,
        max_candidates: int | None = None,
    ) -> Completion:
        """The answer to a masked pattern (see `tnaas.inference.patterns` and `Completion`).

        Exact, by scoring every candidate, when the pattern has a fixed length and at most
        `max_candidates` completions; otherwise approximate by sequential Monte Carlo with
        `particles` particles, and `method` says so (see `tnaas.inference.smc`).
        """
        self._check_fitted()
        return smc.complete(
            self,
            pattern,
            top=check_count(top, "top", 1000),
            samples=check_count(samples, "samples"),
            rng=rng_from(random_state),
            lengths=self.length_distribution(length),
            temperature=check_temperature(temperature),
            particles=None if particles is None else check_count(particles, "particles", smc.MAX_PARTICLES),
            max_candidates=smc.MAX_CANDIDATES if max_candidates is None else max_candidates,
        )


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis (float64 logits, -inf allowed where others are finite)."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)
