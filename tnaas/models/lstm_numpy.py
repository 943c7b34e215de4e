"""The LSTM's forward pass in numpy, from exported weights: inference needs no torch.

The network (see `tnaas.models.lstm_train`) reads BEGIN (id V = vocabulary size) and then
the item's tokens, and after each one predicts the next token or END (id V):

    x_t = embed[token_t]                                   (E,)
    i, f, g, o = split(W_ih x_t + b_ih + W_hh h + b_hh, 4)  PyTorch's gate order
    c = sigmoid(f) * c + sigmoid(i) * tanh(g);  h = sigmoid(o) * tanh(c)
    logits = head_W h + head_b                              (V + 1,), END last

with the END logit -inf right after BEGIN (corpora hold no empty items). Dropout is off
at inference. Since the input is one token, `W_ih x_t + b_ih + b_hh` is a row of a
(V + 1, 4H) table computed once: a step is one table lookup and two matrix products.

`WEIGHT_SHAPES` names the arrays (PyTorch `state_dict` names) and their shapes.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager

import numpy as np

from tnaas.errors import TnaasError

# name -> shape, in terms of V (vocabulary size), E (embedding size) and H (hidden units)
WEIGHT_SHAPES = {
    "embed.weight": ("V+1", "E"),
    "lstm.weight_ih_l0": ("4H", "E"),
    "lstm.weight_hh_l0": ("4H", "H"),
    "lstm.bias_ih_l0": ("4H",),
    "lstm.bias_hh_l0": ("4H",),
    "head.weight": ("V+1", "H"),
    "head.bias": ("V+1",),
}
SCORE_BATCH = 2_048  # items per batch when scoring
SCORE_ELEMENTS = 4_000_000  # at most this many logits per step of a batch (32 MB in float64)
EXP_SAFE = 64.0  # |logits| below this: exp neither overflows nor underflows float32 (e^±87), sums of 1e5 terms neither


_controller = None  # threadpoolctl's, found once


@contextmanager
def one_blas_thread():
    """Run numpy's BLAS on one thread inside the block, when threadpoolctl is installed.

    The matrices are small (batch x 4H): on a shared 2-core machine a second OpenBLAS
    thread made scoring ~6x slower (0.43 s against 0.07 s for 300 items). Without
    threadpoolctl, set OPENBLAS_NUM_THREADS=1 for the same effect."""
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _controller = False
        else:
            _controller = ThreadpoolController()
    if not _controller:
        yield
        return
    with _controller.limit(limits=1, user_api="blas"):
        yield


def single_threaded(method):
    """Decorate `method` to run inside `one_blas_thread`."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with one_blas_thread():
            return method(*args, **kwargs)

    return wrapper


def check_weights(weights: dict, vocab_size: int) -> tuple[int, int]:
    """Check exported weights against `WEIGHT_SHAPES` for a vocabulary of `vocab_size`
    tokens; returns (embedding size E, hidden units H), or raises a one-line `TnaasError`."""
    if not isinstance(weights, dict) or set(weights) != set(WEIGHT_SHAPES):
        got = sorted(weights) if isinstance(weights, dict) else type(weights).__name__
        raise TnaasError(f"LSTM weights must be exactly the arrays {', '.join(WEIGHT_SHAPES)}; got {got}")
    arrays = {name: np.asarray(value) for name, value in weights.items()}
    for name, array in arrays.items():
        if array.dtype not in (np.float32, np.float64) or not np.isfinite(array).all():
            raise TnaasError(f"LSTM weight {name} must hold finite float32 or float64 numbers")
    size = {"V+1": vocab_size + 1}
    if arrays["embed.weight"].ndim == 2:
        size["E"] = arrays["embed.weight"].shape[1]
    if arrays["lstm.weight_hh_l0"].ndim == 2:
        size["H"] = arrays["lstm.weight_hh_l0"].shape[1]
    size["4H"] = 4 * size.get("H", 0)
    for name, dims in WEIGHT_SHAPES.items():
        wanted = tuple(size.get(d, -1) for d in dims)
        if arrays[name].shape != wanted:
            shown = "(" + ", ".join(f"{d}={size.get(d, '?')}" for d in dims) + ")"
            raise TnaasError(f"LSTM weight {name} has shape {arrays[name].shape}, expected {shown}")
    return size["E"], size["H"]


class Forward:
    """The network in one float dtype (float64 for exact numbers, float32 for sampling).

    `weights`: the exported arrays (see `WEIGHT_SHAPES`), already checked.
    """

    def __init__(self, weights: dict, dtype=np.float64):
        w = {name: np.asarray(value, dtype=dtype) for name, value in weights.items()}
        self.dtype = np.dtype(dtype)
        self.begin = w["head.bias"].shape[0] - 1  # BEGIN as input, END as output
        self.hidden = w["lstm.weight_hh_l0"].shape[1]
        # sigmoid(x) = 0.5 + 0.5 tanh(x / 2): with the i, f, o pre-activations halved (exact in
        # floating point) one tanh over all four gates does the work, and never overflows.
        half = np.ones(4 * self.hidden, dtype=dtype)
        half[: 2 * self.hidden] = half[3 * self.hidden :] = 0.5
        table = w["embed.weight"] @ w["lstm.weight_ih_l0"].T + w["lstm.bias_ih_l0"] + w["lstm.bias_hh_l0"]
        self.input_gates = table * half  # (V + 1, 4H)
        self.recurrent = np.ascontiguousarray(w["lstm.weight_hh_l0"].T * half)  # (H, 4H)
        self.head = np.ascontiguousarray(w["head.weight"].T)  # (H, V + 1)
        self.head_bias = w["head.bias"]

    def start(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The state (h, c), each (n, H) zeros, before BEGIN has been read."""
        return np.zeros((n, self.hidden), self.dtype), np.zeros((n, self.hidden), self.dtype)

    def advance(self, tokens: np.ndarray, state) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """Read one input id per run (int (n,), `begin` = BEGIN); returns (logits (n, V + 1),
        END last, -inf for END right after BEGIN; the new state)."""
        h, c = self._cell(tokens, state)
        logits = h @ self.head + self.head_bias
        logits[tokens == self.begin, self.begin] = -np.inf
        return logits, (h, c)

    def _cell(self, tokens: np.ndarray, state) -> tuple[np.ndarray, np.ndarray]:
        """The LSTM cell: the state (h, c) after reading `tokens` (int (n,)) in `state`."""
        h, c = state
        size = self.hidden
        gates = self.input_gates[tokens]
        gates += h @ self.recurrent
        np.tanh(gates, out=gates)
        for part in (gates[:, : 2 * size], gates[:, 3 * size :]):  # i, f, o: sigmoids
            part *= 0.5
            part += 0.5
        i, f, g, o = (gates[:, k * size : (k + 1) * size] for k in range(4))
        c = f * c + i * g
        h = o * np.tanh(c)
        return h, c

    def run(self, ids: np.ndarray) -> np.ndarray:
        """Logits (rows, len + 1, V + 1) after BEGIN and after each token of `ids` (int (rows, len))."""
        ids = np.asarray(ids, dtype=np.int64).reshape(len(ids), -1)
        inputs = np.concatenate([np.full((len(ids), 1), self.begin), ids], axis=1)
        state, out = self.start(len(ids)), []
        for t in range(inputs.shape[1]):
            logits, state = self.advance(inputs[:, t], state)
            out.append(logits)
        return np.stack(out, axis=1)

    def log_probs(self, sequences, temperature: float = 1.0) -> np.ndarray:
        """Natural-log probability (float64 (n,)) of each id sequence followed by END, with
        every step's logits divided by `temperature`; -inf for sequences with an id < 0."""
        sequences = [np.asarray(s, dtype=np.int64) for s in sequences]
        result = np.full(len(sequences), -np.inf)
        known = np.array([i for i, s in enumerate(sequences) if not (s < 0).any()], dtype=np.int64)
        if len(known) == 0:
            return result
        lengths = np.array([len(sequences[i]) for i in known])
        known = known[np.argsort(-lengths, kind="stable")]  # longest first: live rows stay a prefix
        size = max(1, min(SCORE_BATCH, SCORE_ELEMENTS // (self.begin + 1)))
        for start in range(0, len(known), size):
            index = known[start : start + size]
            result[index] = self._score_batch([sequences[i] for i in index], temperature)
        return result

    def _score_batch(self, sequences: list[np.ndarray], temperature: float) -> np.ndarray:
        """`log_probs` of sequences sorted longest first."""
        lengths = np.array([len(s) for s in sequences])
        tokens = np.full((len(sequences), int(lengths[0]) + 1), self.begin, dtype=np.int64)
        for row, seq in enumerate(sequences):
            tokens[row, : len(seq)] = seq  # then END (= begin) as the last target
        total = np.zeros(len(sequences))
        state, last = self.start(len(sequences)), np.full(len(sequences), self.begin)
        for t in range(tokens.shape[1]):
            live = int(np.searchsorted(-lengths, -t, side="right"))  # rows with length >= t
            state = (state[0][:live], state[1][:live])
            logits, state = self.advance(last[:live], state)
            logits = logits.astype(np.float64, copy=False) / temperature
            target = tokens[:live, t]
            total[:live] += logits[np.arange(live), target] - _logsumexp(logits)
            last = target
        return total

    def probs(self, tokens: np.ndarray, state, temperature: float = 1.0):
        """`advance`, then the softmax of logits / `temperature`: (probabilities (n, V + 1)
        in this dtype, END last; the new state).

        The temperature is folded into the head's weights, and the row maxima are
        subtracted only when the logits could overflow `exp`: |logit| <= |head column|_1 +
        |bias| since |h| <= 1, so below `EXP_SAFE` the exponentials stay within float32's
        range (a softmax is unchanged by the shift). Three passes over the table, not six."""
        h, c = self._cell(tokens, state)
        head, bias, bound = self._tempered_head(temperature)
        table = h @ head
        table += bias
        table[tokens == self.begin, self.begin] = -np.inf
        if bound > EXP_SAFE:
            table -= table.max(axis=1, keepdims=True)
        np.exp(table, out=table)
        table /= table.sum(axis=1, keepdims=True)
        return table, (h, c)

    def _tempered_head(self, temperature: float) -> tuple[np.ndarray, np.ndarray, float]:
        """(head / temperature (H, V + 1), bias / temperature, the largest |logit| they can
        give), kept for the last temperature asked."""
        cached = self.__dict__.get("_tempered")
        if cached is None or cached[0] != temperature:
            bound = float(np.max(np.abs(self.head).sum(axis=0) + np.abs(self.head_bias), initial=0.0))
            if temperature == 1.0:
                head, bias = self.head, self.head_bias
            else:
                scale = self.dtype.type(1.0 / temperature)
                head, bias = self.head * scale, self.head_bias * scale
            cached = self._tempered = (temperature, head, bias, bound / temperature)
        return cached[1:]

    def __getstate__(self) -> dict:
        """Pickled without the tempered-head cache (rebuilt on first use)."""
        return {key: value for key, value in self.__dict__.items() if key != "_tempered"}


def _logsumexp(logits: np.ndarray) -> np.ndarray:
    """log sum exp over the last axis of a 2-d array with a finite entry per row."""
    top = logits.max(axis=1)
    return top + np.log(np.exp(logits - top[:, None]).sum(axis=1))
