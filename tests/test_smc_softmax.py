"""The float32 softmax that SMC and sampling read (`Forward.probs`): the temperature folded
into the head and the max-shift skipped when exp cannot overflow give the softmax of the
float64 logits, in both branches, and the cache of the tempered head is never pickled."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from tnaas.models.lstm_numpy import EXP_SAFE, Forward


def _weights(rng, vocab_size: int, hidden: int, scale: float) -> dict:
    shapes = {"embed.weight": (vocab_size + 1, 5), "lstm.weight_ih_l0": (4 * hidden, 5),
              "lstm.weight_hh_l0": (4 * hidden, hidden), "lstm.bias_ih_l0": (4 * hidden,),
              "lstm.bias_hh_l0": (4 * hidden,), "head.weight": (vocab_size + 1, hidden), "head.bias": (vocab_size + 1,)}  # fmt: skip
    return {name: (scale * rng.standard_normal(shape)).astype(np.float32) for name, shape in shapes.items()}


def _softmax64(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("scale, temperature, shifted", [(0.3, 1.0, False), (0.3, 0.05, True), (4.0, 1.0, True),
                                                         (0.3, 2.5, False)])  # fmt: skip
def test_probs_are_the_softmax_of_the_tempered_logits(scale, temperature, shifted):
    rng = np.random.default_rng(1)
    weights = _weights(rng, 40, 16, scale)
    fast, exact = Forward(weights, np.float32), Forward(weights, np.float64)
    assert (fast._tempered_head(temperature)[2] > EXP_SAFE) == shifted  # the branch this case tests
    tokens = np.array([40, 3, 7, 0, 39, 40])  # BEGIN twice: END impossible there
    state = tuple(rng.uniform(-1, 1, (len(tokens), 16)).astype(np.float32) for _ in range(2))
    probs, (h, c) = fast.probs(tokens, state, temperature)
    logits, (h64, c64) = exact.advance(tokens, tuple(part.astype(np.float64) for part in state))
    assert probs.dtype == np.float32 and np.all(np.isfinite(probs))
    np.testing.assert_allclose(probs, _softmax64(logits / temperature), rtol=1e-4, atol=1e-7)
    assert np.all(probs[tokens == 40, 40] == 0)
    np.testing.assert_allclose(h, h64, atol=1e-6)


def test_the_tempered_head_is_cached_per_temperature_and_not_pickled():
    fast = Forward(_weights(np.random.default_rng(2), 10, 8, 0.5), np.float32)
    cold = pickle.loads(pickle.dumps(fast))
    first, _ = fast.probs(np.array([10]), fast.start(1), 0.7)
    assert "_tempered" in fast.__dict__ and "_tempered" not in pickle.loads(pickle.dumps(fast)).__dict__
    again, _ = cold.probs(np.array([10]), cold.start(1), 0.7)
    other, _ = fast.probs(np.array([10]), fast.start(1), 1.3)  # a new temperature: a new head
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
