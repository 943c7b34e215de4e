"""A token-level LSTM language model (PyTorch, imported only when the model is used).

BEGIN → embedding → LSTM → linear layer over the vocabulary + END, trained by
cross-entropy with early stopping on a seeded validation split. Scores are exact
(natural log, END included); completion is exact by enumeration when the pattern has few
candidates and approximate (sequential Monte Carlo) otherwise, see `tnaas.inference.smc`.

>>> from tnaas.data.corpus import load_bundled
>>> model = LSTMModel(hidden_size=64, epochs=5, random_state=0).fit(load_bundled("pokemon"))  # doctest: +SKIP
>>> model.sample(3, random_state=1)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import math
from contextlib import contextmanager

import numpy as np

from tnaas.data.tokens import decode
from tnaas.errors import TnaasError
from tnaas.inference import smc
from tnaas.inference.automaton import redraw_until
from tnaas.inference.completion import END_KEY, Completion
from tnaas.models.base import Heatmap, SequenceModel
from tnaas.validation import check_count, check_temperature, rng_from

# Architecture and training defaults, tuned on 31k US names (benchmarks/bench_lstm.py).
EMBEDDING_SIZE = 48
DROPOUT = 0.1
BATCH_SIZE = 64
LEARNING_RATE = 5e-3
FINAL_LR_FRACTION = 0.05  # cosine decay from LEARNING_RATE to this fraction of it over `epochs`
CLIP_NORM = 1.0
VALIDATION_FRACTION = 0.05  # of the items, at most MAX_VALIDATION, only when there are MIN_VALIDATION_CORPUS
MAX_VALIDATION = 1_500
MIN_VALIDATION_CORPUS = 50
PATIENCE = 3  # epochs without a better validation score before stopping
# One thread for training and inference: the same seed gives the same weights on any machine,
# and for matrices this small a second thread was 2-8x slower on a shared 2-core machine.
THREADS = 1
SCORE_BATCH = 2_048  # items per forward pass when scoring
SCORE_ELEMENTS = 4_000_000  # at most this many logits per forward pass (32 MB in float64)


def _torch():
    """The torch module, or a `TnaasError` with the install command."""
    try:
        import torch
    except ImportError:
        from tnaas.models import MODELS

        raise TnaasError(MODELS["lstm"].available()[1] or "the lstm model needs torch") from None
    return torch


@contextmanager
def _threads(torch):
    """Run torch on `THREADS` threads inside the block, then restore the caller's setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _network(torch, vocab_size: int, hidden_size: int):
    """Embedding over tokens + BEGIN (id `vocab_size`), one LSTM layer, a head over tokens + END."""
    nn = torch.nn
    return nn.ModuleDict(
        {
            "embed": nn.Embedding(vocab_size + 1, EMBEDDING_SIZE),
            "lstm": nn.LSTM(EMBEDDING_SIZE, hidden_size, batch_first=True),
            "drop": nn.Dropout(DROPOUT),
            "head": nn.Linear(hidden_size, vocab_size + 1),
        }
    )


def _run(net, inputs, state=None):
    """Logits (batch, time, vocab + 1) for input ids (batch, time), and the LSTM state after.

    After BEGIN the END logit is -inf: corpora hold no empty items, so neither does the model.
    """
    x = net["drop"](net["embed"](inputs))
    out, state = net["lstm"](x, state)
    logits = net["head"](net["drop"](out))
    vocab_size = logits.shape[-1] - 1
    logits[..., vocab_size] = logits[..., vocab_size].masked_fill(inputs == vocab_size, float("-inf"))
    return logits, state


class LSTMModel(SequenceModel):
    """An LSTM over tokens; `hidden_size` units, at most `epochs` passes over the data.

    Training is reproducible for a given `random_state` (int seed; None draws a fresh one)
    and leaves torch's global random state untouched.
    """

    name = "lstm"
    smoothed = True  # softmax outputs: every sequence of known tokens has positive probability
    exact = False  # completion is approximate in general (exact only when it can enumerate)

    def __init__(self, hidden_size: int = 128, epochs: int = 30, random_state=None):
        self.hidden_size = hidden_size
        self.epochs = epochs
        self.random_state = random_state

    # ------------------------------------------------------------------- training
    def _check_params(self) -> None:
        for name, low, high in (("hidden_size", 8, 1024), ("epochs", 1, 500)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
                raise TnaasError(f"{name} must be a whole number from {low} to {high}, not {value!r}")

    def fit(self, corpus, progress=None) -> LSTMModel:
        """Train on a `Corpus`; returns self.

        With at least `MIN_VALIDATION_CORPUS` items, a seeded `VALIDATION_FRACTION` of them is
        held out and training stops after `PATIENCE` epochs without a better validation
        score, keeping the best weights. Learns `net_` (float64 torch modules, eval mode) and
        its float32 twin `sampler_`, `token_counts_`, `epochs_run_`, `validation_nll_` (nats
        per token on the held-out split, NaN without one) and `history_` (per epoch: training
        and validation nats per token). `progress(fraction, message)` is called after every
        epoch, and with 1.0 when training stops early.
        """
        self._check_params()
        torch = _torch()
        rng = rng_from(self.random_state)
        seed = int(rng.integers(2**62))
        self._remember_corpus(corpus)
        vocab_size = len(self.vocabulary_)
        encoded = corpus.encoded
        sequences = [encoded.item_ids(j).astype(np.int64) for j in range(len(corpus.items))]
        order = rng.permutation(len(sequences))
        n_val = min(MAX_VALIDATION, round(VALIDATION_FRACTION * len(sequences)))
        n_val = n_val if len(sequences) >= MIN_VALIDATION_CORPUS else 0
        validation = [sequences[i] for i in order[:n_val]]
        training = [sequences[i] for i in order[n_val:]]
        with _threads(torch), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net, history = self._train(torch, vocab_size, training, validation, rng, progress)
        # Exact numbers (scores, next-token distributions) come from a float64 copy, so that
        # batched and one-by-one scores agree to 1e-12; sampling and SMC run the float32 one,
        # 3-4x faster (the two differ by ~1e-7 in probability: far below Monte Carlo error).
        net.eval().requires_grad_(False)
        self.sampler_ = net
        self.net_ = copy.deepcopy(net).double()
        self.token_counts_ = np.bincount(encoded.ids, minlength=vocab_size)
        self.history_ = history
        self.epochs_run_ = len(history)
        self.validation_nll_ = min((v for _, v in history), default=math.nan) if validation else math.nan
        return self

    def _train(self, torch, vocab_size, training, validation, rng, progress):
        net = _network(torch, vocab_size, self.hidden_size)
        optimiser = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
        inputs, targets, lengths = _pad(torch, training, vocab_size)
        best, best_state, stale, history = math.inf, None, 0, []
        for epoch in range(self.epochs):
            cosine = 0.5 * (1 + math.cos(math.pi * epoch / max(1, self.epochs - 1)))
            for group in optimiser.param_groups:
                group["lr"] = LEARNING_RATE * (FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * cosine)
            net.train()
            total, count = 0.0, 0
            for batch in _batches(lengths, BATCH_SIZE, rng):
                width = int(lengths[batch].max()) + 1
                logits, _ = _run(net, inputs[batch, :width])
                target = targets[batch, :width].reshape(-1)
                loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab_size + 1), target, ignore_index=-1)
                optimiser.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), CLIP_NORM)
                optimiser.step()
                tokens = int((target >= 0).sum())
                total, count = total + float(loss.detach()) * tokens, count + tokens
            net.eval()
            val = (
                -float(np.sum(_score(torch, net, validation, vocab_size))) / sum(len(s) + 1 for s in validation)
                if validation
                else math.nan
            )
            history.append((total / count, val))
            if progress is not None:
                shown = f", validation {val:.3f}" if validation else ""
                progress(
                    (epoch + 1) / self.epochs,
                    f"epoch {epoch + 1}/{self.epochs}: training {total / count:.3f}{shown} nats/token",
                )
            if not validation:
                continue
            if val < best - 1e-4:
                best, best_state, stale = val, copy.deepcopy(net.state_dict()), 0
            else:
                stale += 1
                if stale >= PATIENCE:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        if progress is not None and len(history) < self.epochs:
            progress(1.0, f"stopped after {len(history)} epochs: the validation score stopped improving")
        return net, history

    # ------------------------------------------------------------------ inference
    def start_state(self, n: int):
        """The LSTM state before BEGIN has been read, for `n` runs (None: zeros)."""
        return None

    def step(self, tokens: np.ndarray, state, temperature: float = 1.0):
        """Feed one token id per run (int64 (n,), `len(vocabulary_)` = BEGIN); returns
        (probabilities float32 (n, vocabulary + 1) of the next token, END last; new state).

        Runs the float32 `sampler_`: for Monte Carlo (sampling, SMC), not for exact numbers."""
        torch = _torch()
        with torch.no_grad(), _threads(torch):
            logits, state = _run(self.sampler_, torch.as_tensor(tokens, dtype=torch.long).reshape(-1, 1), state)
            probs = torch.softmax(logits[:, 0] / temperature, dim=-1)
        return probs.numpy(), state

    @staticmethod
    def select(state, index: np.ndarray):
        """The LSTM state of the runs at `index` (int64 (m,)), e.g. after resampling."""
        if state is None:
            return None
        torch = _torch()
        at = torch.as_tensor(index, dtype=torch.long)
        return tuple(part[:, at] for part in state)

    def score_ids(self, sequences, temperature: float = 1.0) -> np.ndarray:
        """Natural-log probability of token-id sequences, END included (float64 (n,)); -inf
        for any sequence with an id < 0 (an unknown token)."""
        torch = _torch()
        return _score(torch, self.net_, sequences, len(self.vocabulary_), temperature)

    def log_prob(self, item: str) -> float:
        """Natural-log probability that the model generates exactly `item` (END included)."""
        return float(self.log_prob_many([item])[0])

    def log_prob_many(self, items) -> np.ndarray:
        """Natural-log probabilities of many items, scored in batches (float64 (n,))."""
        self._check_fitted()
        return self.score_ids([self._ids(item) for item in items])

    def next_token_distribution(self, prefix: str) -> dict[str, float]:
        """p(next token | the item starts with `prefix`), with `END_KEY` for "the item ends".

        Sorted by probability; empty when `prefix` holds a token the model never saw.
        """
        self._check_fitted()
        ids = self._ids(prefix) if prefix else np.zeros(0, dtype=np.int64)
        if (ids < 0).any():
            return {}
        torch = _torch()
        inputs = torch.as_tensor(np.r_[len(self.vocabulary_), ids], dtype=torch.long).reshape(1, -1)
        with torch.no_grad(), _threads(torch):
            probs = torch.softmax(_run(self.net_, inputs)[0][0, -1], dim=-1).numpy()
        names = [*self.vocabulary_, END_KEY]
        return dict(sorted(((names[t], float(p)) for t, p in enumerate(probs) if p > 0), key=lambda kv: -kv[1]))

    def inspect(self, limit: int = 20) -> list[Heatmap]:
        """p(second token | first token) for the `limit` most frequent tokens as first token,
        over the 30 most frequent next tokens and END: the LSTM's view of a one-token start."""
        self._check_fitted()
        torch = _torch()
        rows = np.argsort(-self.token_counts_, kind="stable")[:limit]
        vocab_size = len(self.vocabulary_)
        columns = [*np.argsort(-self.token_counts_, kind="stable")[:30].tolist(), vocab_size]
        inputs = torch.as_tensor(np.stack([np.full(len(rows), vocab_size), rows], axis=1), dtype=torch.long)
        with torch.no_grad(), _threads(torch):
            probs = torch.softmax(_run(self.net_, inputs)[0][:, -1], dim=-1).numpy()
        names = [*self.vocabulary_, END_KEY]
        data = tuple((names[r], names[c], float(probs[i, c])) for i, r in enumerate(rows) for c in columns)
        return [Heatmap("Next token after a one-token start", "first token", "second token", data)]

    def sample(self, n: int, random_state=None, temperature: float = 1.0, length=None) -> list[str]:
        """`n` items drawn independently (duplicates possible), batched over the items.

        `temperature` divides the logits of every choice. `length` other than natural draws
        each item's length from that distribution, then the item from an SMC approximation
        of p(item | length) (see `tnaas.inference.smc.sample_lengths`).
        """
        self._check_fitted()
        n = check_count(n)
        rng = rng_from(random_state)
        temperature = check_temperature(temperature)
        lengths = self.length_distribution(length)
        if not lengths.is_natural:
            ids = smc.sample_lengths(self, n, lengths, rng, temperature)
        else:
            # runs that reach the cap are redrawn, as for the automata
            ids = redraw_until(n, lambda size: self._sample_batch(size, rng, temperature), 3 * self.max_length_)
        return decode(self.vocabulary_, self.token_kind_, ids)

    def _sample_batch(self, n: int, rng: np.random.Generator, temperature: float) -> list[np.ndarray | None]:
        vocab_size = len(self.vocabulary_)
        cap = 3 * self.max_length_
        tokens = np.zeros((n, cap), dtype=np.int64)
        lengths = np.full(n, -1)
        active = np.arange(n)
        state = self.start_state(n)
        last = np.full(n, vocab_size)
        for t in range(cap + 1):
            probs, state = self.step(last, state, temperature)
            drawn = smc.draw(probs, rng)
            ended = drawn == vocab_size
            lengths[active[ended]] = t
            if t == cap:
                break
            going = np.flatnonzero(~ended)
            active, last = active[going], drawn[going]
            if len(active) == 0:
                break
            tokens[active, t] = last
            state = self.select(state, going)
        return [tokens[i, : lengths[i]].copy() if lengths[i] >= 0 else None for i in range(n)]

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


# ----------------------------------------------------------------------- helpers
def _pad(torch, sequences, vocab_size: int):
    """Inputs (BEGIN + tokens) and targets (tokens + END, -1 = padding), both int64
    (n, longest + 1) tensors, and the lengths int64 (n,) as numpy."""
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    width = int(lengths.max()) + 1 if len(sequences) else 1
    inputs = np.full((len(sequences), width), vocab_size, dtype=np.int64)
    targets = np.full((len(sequences), width), -1, dtype=np.int64)
    for i, seq in enumerate(sequences):
        inputs[i, 1 : len(seq) + 1] = seq
        targets[i, : len(seq)] = seq
        targets[i, len(seq)] = vocab_size
    return torch.from_numpy(inputs), torch.from_numpy(targets), lengths


def _batches(lengths: np.ndarray, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of item indices, grouped by similar length to save padding."""
    order = rng.permutation(len(lengths))
    chunk = 32 * size  # sort within chunks: batches of similar lengths that still vary each epoch
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i : i + size] for i in range(0, len(part), size))
    return [batches[i] for i in rng.permutation(len(batches))]


def _score(torch, net, sequences, vocab_size: int, temperature: float = 1.0) -> np.ndarray:
    """Log-probabilities (float64 (n,)) of id sequences under `net` (in eval mode)."""
    sequences = [np.asarray(s, dtype=np.int64) for s in sequences]
    result = np.full(len(sequences), -np.inf)
    known = [i for i, s in enumerate(sequences) if not (s < 0).any()]
    if not known:
        return result
    # Logits are (batch, length + 1, vocabulary + 1): cap them at SCORE_ELEMENTS numbers.
    longest = max(len(sequences[i]) for i in known)
    size = max(1, min(SCORE_BATCH, SCORE_ELEMENTS // ((longest + 1) * (vocab_size + 1))))
    for start in range(0, len(known), size):
        index = known[start : start + size]
        inputs, targets, _ = _pad(torch, [sequences[i] for i in index], vocab_size)
        with torch.no_grad(), _threads(torch):
            logits = _run(net, inputs)[0].to(torch.float64) / temperature
            picked = logits.gather(2, targets.clamp(min=0).unsqueeze(2)).squeeze(2) - torch.logsumexp(logits, dim=2)
            result[index] = torch.where(targets >= 0, picked, 0.0).sum(dim=1).numpy()
    return result
