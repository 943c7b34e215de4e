"""Training the LSTM with PyTorch (imported only here, only when fitting); the result is
exported as numpy arrays, so that inference (`tnaas.models.lstm_numpy`) needs no torch.

BEGIN → embedding → LSTM → dropout → linear layer over the vocabulary + END, trained by
cross-entropy with Adam, a cosine learning rate, gradient clipping and early stopping on a
seeded validation split.
"""

from __future__ import annotations

import copy
import math
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from tnaas.errors import TnaasError

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
# One thread for training: the same seed gives the same weights on any machine, and for
# matrices this small a second thread was 2-8x slower on a shared 2-core machine.
THREADS = 1
SCORE_BATCH = 2_048  # items per forward pass when scoring the validation split
SCORE_ELEMENTS = 4_000_000  # at most this many logits per forward pass


@dataclass(frozen=True)
class Recipe:
    """How the network is shaped (besides its hidden size) and trained.

    `embedding_size`: dimensions of a token's embedding. `dropout`: the fraction of the
    embedding and of the LSTM output zeroed in training. `learning_rate`: Adam's, decayed
    on a cosine to `final_lr_fraction` of it over the epochs. `batch_size`: items per step.
    `patience`: epochs without a better validation score before stopping. `average`: decay
    of an exponential moving average of the weights, updated after every step (0 = off,
    see `MovingAverage`); when on, validation scores and exported weights are the average's.
    `fused_adam`: Adam's fused kernel, ~3 ms less per step on CPU than its loop over
    the parameters; it rounds differently, so the same seed gives other weights.
    """

    embedding_size: int = EMBEDDING_SIZE
    dropout: float = DROPOUT
    learning_rate: float = LEARNING_RATE
    final_lr_fraction: float = FINAL_LR_FRACTION
    batch_size: int = BATCH_SIZE
    patience: int = PATIENCE
    average: float = 0.0
    fused_adam: bool = False


# The recipes by name (`LSTMModel(recipe=...)`). "standard" is quick and good enough for the
# bundled corpora. "long" regularises more and keeps a moving average of the weights: with
# 256 hidden units and 13 epochs (the cosine spans them) it reaches ~1.89 nats/char on
# makemore's names test split in ~160 CPU seconds ("standard" at 128 units: ~1.92 in ~150;
# benchmarks/bench_lstm.py). A schedule over 28 epochs only gained ~0.003 in validation
# score at twice the time; batches of 128 saved ~12% per epoch but scored ~0.01 worse.
RECIPES = {
    "standard": Recipe(),
    "long": Recipe(embedding_size=64, dropout=0.25, patience=6, average=0.998, fused_adam=True),
}


def load_torch():
    """The torch module, or a `TnaasError` with the install command."""
    try:
        import torch
    except ImportError:
        from tnaas.models import MODELS

        raise TnaasError(MODELS["lstm"].available()[1] or "the lstm model needs torch") from None
    return torch


@contextmanager
def threads(torch):
    """Run torch on `THREADS` threads inside the block, then restore the caller's setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def network(torch, vocab_size: int, hidden_size: int, embedding_size: int = EMBEDDING_SIZE, dropout: float = DROPOUT):
    """Embedding over tokens + BEGIN (id `vocab_size`), one LSTM layer, a head over tokens + END."""
    nn = torch.nn
    return nn.ModuleDict(
        {
            "embed": nn.Embedding(vocab_size + 1, embedding_size),
            "lstm": nn.LSTM(embedding_size, hidden_size, batch_first=True),
            "drop": nn.Dropout(dropout),
            "head": nn.Linear(hidden_size, vocab_size + 1),
        }
    )


def export_weights(net) -> dict[str, np.ndarray]:
    """The network's parameters as float32 numpy arrays, by `state_dict` name (see
    `tnaas.models.lstm_numpy.WEIGHT_SHAPES`)."""
    return {name: value.detach().cpu().numpy().astype(np.float32) for name, value in net.state_dict().items()}


def network_from_weights(torch, weights: dict[str, np.ndarray]):
    """A torch network (eval mode) holding exported `weights`: to check the numpy pass against."""
    vocab_size, hidden_size = weights["head.weight"].shape[0] - 1, weights["lstm.weight_hh_l0"].shape[1]
    net = network(torch, vocab_size, hidden_size, weights["embed.weight"].shape[1])
    net.load_state_dict({name: torch.from_numpy(np.asarray(value)) for name, value in weights.items()})
    return net.eval().requires_grad_(False)


def run(net, inputs, state=None):
    """Logits (batch, time, vocab + 1) for input ids (batch, time), and the LSTM state after.

    After BEGIN the END logit is -inf: corpora hold no empty items, so neither does the model.
    """
    x = net["drop"](net["embed"](inputs))
    out, state = net["lstm"](x, state)
    logits = net["head"](net["drop"](out))
    vocab_size = logits.shape[-1] - 1
    logits[..., vocab_size] = logits[..., vocab_size].masked_fill(inputs == vocab_size, float("-inf"))
    return logits, state


def train(
    torch,
    sequences,
    vocab_size: int,
    hidden_size: int,
    epochs: int,
    rng: np.random.Generator,
    progress,
    recipe: Recipe | None = None,
):
    """Train on token-id `sequences` (int64 arrays) with `recipe` (default `Recipe()`);
    returns (float32 weights, validation split size, history: per epoch (training,
    validation) nats per token).

    `rng` drives the split, the batches and torch's seed; torch's global random state is
    left as it was.
    """
    recipe = recipe or Recipe()
    seed = int(rng.integers(2**62))
    order = rng.permutation(len(sequences))
    n_val = min(MAX_VALIDATION, round(VALIDATION_FRACTION * len(sequences)))
    n_val = n_val if len(sequences) >= MIN_VALIDATION_CORPUS else 0
    validation = [sequences[i] for i in order[:n_val]]
    training = [sequences[i] for i in order[n_val:]]
    with threads(torch), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net, history = _epochs(torch, vocab_size, hidden_size, epochs, training, validation, rng, progress, recipe)
    return export_weights(net), n_val, history


def _epochs(torch, vocab_size, hidden_size, epochs, training, validation, rng, progress, recipe):
    net = network(torch, vocab_size, hidden_size, recipe.embedding_size, recipe.dropout)
    optimiser = torch.optim.Adam(net.parameters(), lr=recipe.learning_rate, fused=recipe.fused_adam or None)
    # The weights validated and kept: the network's own, or their moving average.
    averaged = MovingAverage(torch, net, recipe.average) if recipe.average else None
    kept = net if averaged is None else averaged.module
    inputs, targets, lengths = pad(torch, training, vocab_size)
    best, best_state, stale, history = math.inf, None, 0, []
    for epoch in range(epochs):
        cosine = 0.5 * (1 + math.cos(math.pi * epoch / max(1, epochs - 1)))
        for group in optimiser.param_groups:
            group["lr"] = recipe.learning_rate * (recipe.final_lr_fraction + (1 - recipe.final_lr_fraction) * cosine)
        net.train()
        total, count = 0.0, 0
        for batch in _batches(lengths, recipe.batch_size, rng):
            width = int(lengths[batch].max()) + 1
            logits, _ = run(net, inputs[batch, :width])
            target = targets[batch, :width].reshape(-1)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab_size + 1), target, ignore_index=-1)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), CLIP_NORM)
            optimiser.step()
            if averaged is not None:
                averaged.update()
            tokens = int((target >= 0).sum())
            total, count = total + float(loss.detach()) * tokens, count + tokens
        kept.eval()
        val = (
            -float(np.sum(score(torch, kept, validation, vocab_size))) / sum(len(s) + 1 for s in validation)
            if validation
            else math.nan
        )
        history.append((total / count, val))
        if progress is not None:
            shown = f", validation {val:.3f}" if validation else ""
            progress(
                (epoch + 1) / epochs, f"epoch {epoch + 1}/{epochs}: training {total / count:.3f}{shown} nats/token"
            )
        if not validation:
            continue
        if val < best - 1e-4:
            best, best_state, stale = val, copy.deepcopy(kept.state_dict()), 0
        else:
            stale += 1
            if stale >= recipe.patience:
                break
    if best_state is not None:
        kept.load_state_dict(best_state)
    if progress is not None and len(history) < epochs:
        progress(1.0, f"stopped after {len(history)} epochs: the validation score stopped improving")
    return kept.eval().requires_grad_(False), history


class MovingAverage:
    """An exponential moving average of a network's weights, in its own copy `module`.

    `update()` after every step: the first copies the weights; after n updates the next
    keeps min(decay, (1 + n) / (10 + n)) of the average, a warm-up so that on a small corpus
    (a few steps per epoch) the average soon forgets the random initial weights. One `lerp_`
    per parameter, in place (torch's `AveragedModel` took ~1 ms more per step).
    """

    def __init__(self, torch, net, decay: float):
        self.torch, self.decay, self.updates = torch, decay, 0
        self.module = copy.deepcopy(net)
        self.pairs = list(zip(self.module.parameters(), net.parameters(), strict=True))

    def update(self) -> None:
        """Fold the current weights of the network given at construction in."""
        n = self.updates
        rate = min(self.decay, (1 + n) / (10 + n))
        with self.torch.no_grad():
            for average, current in self.pairs:
                if n == 0:
                    average.copy_(current)
                else:
                    average.lerp_(current, 1 - rate)
        self.updates = n + 1


def pad(torch, sequences, vocab_size: int):
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


def score(torch, net, sequences, vocab_size: int, temperature: float = 1.0) -> np.ndarray:
    """Log-probabilities (float64 (n,)) of id sequences under the torch `net` (eval mode):
    the validation score, and the reference the numpy pass is tested against."""
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
        inputs, targets, _ = pad(torch, [sequences[i] for i in index], vocab_size)
        with torch.no_grad(), threads(torch):
            logits = run(net, inputs)[0].to(torch.float64) / temperature
            picked = logits.gather(2, targets.clamp(min=0).unsqueeze(2)).squeeze(2) - torch.logsumexp(logits, dim=2)
            result[index] = torch.where(targets >= 0, picked, 0.0).sum(dim=1).numpy()
    return result
