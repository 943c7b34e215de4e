"""The LSTM served without torch: the numpy forward pass against torch's, rebuilding a fitted
model from its weights, and answers that do not change when torch cannot be imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tnaas.data.corpus import corpus_from_items
from tnaas.errors import TnaasError
from tnaas.inference.completion import END_KEY
from tnaas.models.lstm import FACTS, REPORT, LSTMModel
from tnaas.models.lstm_numpy import WEIGHT_SHAPES, Forward

TINY = corpus_from_items(["abc", "acb", "bca", "cab", "abca", "bb", "ca", "cba", "abcb", "ac"], "characters")
ROOT = Path(__file__).resolve().parents[1]


def _random_items(rng: np.random.Generator, vocab_size: int, n: int, longest: int) -> list[np.ndarray]:
    return [rng.integers(vocab_size, size=rng.integers(1, longest + 1)) for _ in range(n)]


@pytest.fixture(scope="module")
def fitted():
    pytest.importorskip("torch")
    return LSTMModel(hidden_size=16, epochs=20, random_state=0).fit(TINY)


def _parts(model) -> tuple[dict, dict, dict]:
    """What an artifact would store: params, facts (plain JSON types) and the weights."""
    params = {"hidden_size": model.hidden_size, "epochs": model.epochs, "random_state": model.random_state}
    facts = {name: getattr(model, name) for name in (*FACTS, *REPORT)}
    facts["vocabulary_"] = list(facts["vocabulary_"])
    facts["training_items_"] = sorted(facts["training_items_"])
    facts["training_lengths_"] = facts["training_lengths_"].tolist()
    facts["token_counts_"] = facts["token_counts_"].tolist()
    return params, facts, model.weights_


def _answers(model) -> dict:
    """Everything the model answers, as JSON-safe values."""
    rng = np.random.default_rng(7)
    items = ["".join(rng.choice(list("abc"), size=rng.integers(1, 7))) for _ in range(50)]
    result = model.complete("a%", top=3, samples=5, random_state=2)
    enumerated = model.complete("*b*", top=3, samples=5, random_state=2)
    return {
        "sample": model.sample(40, random_state=1),
        "sample_length": model.sample(40, random_state=1, length="2-5", temperature=0.8),
        "log_probs": model.log_prob_many(items).tolist(),
        "log_prob": model.log_prob("abc"),
        "next": model.next_token_distribution("ab"),
        "complete": [result.probability, result.method, result.samples, result.top, result.positions],
        "enumerated": [enumerated.probability, enumerated.method, enumerated.samples, enumerated.top],
        "inspect": list(model.inspect()[0].records),
    }


def test_numpy_log_probs_equal_torchs_on_random_items():
    torch = pytest.importorskip("torch")
    from tnaas.models import lstm_train

    rng = np.random.default_rng(0)
    for vocab_size, hidden, temperature in ((3, 8, 1.0), (30, 32, 0.6), (200, 24, 1.7)):
        torch.manual_seed(vocab_size)
        net = lstm_train.network(torch, vocab_size, hidden).eval().requires_grad_(False)
        for param in net.parameters():  # larger than the initialisation: saturated gates too
            param.mul_(3.0)
        weights = lstm_train.export_weights(net)
        items = _random_items(rng, vocab_size, 300, 25)
        reference = lstm_train.score(torch, net.double(), items, vocab_size, temperature)
        ours = Forward(weights, np.float64).log_probs(items, temperature)
        assert np.all(np.isfinite(ours))
        np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-6)
        # the float32 pass (sampling, SMC) agrees with torch's float32 net to float32 precision
        inputs = torch.as_tensor(np.array([[vocab_size, *items[0][:1]]]), dtype=torch.long)
        torch_probs = torch.softmax(lstm_train.run(net.float(), inputs)[0][0] / temperature, dim=-1).numpy()
        fast = Forward(weights, np.float32)
        state = fast.start(1)
        for t, token in enumerate(inputs[0].numpy()):
            probs, state = fast.probs(np.array([token]), state, temperature)
            np.testing.assert_allclose(probs[0], torch_probs[t], rtol=0, atol=1e-6)


def test_fitted_model_answers_as_its_torch_network(fitted):
    torch = pytest.importorskip("torch")
    from tnaas.models import lstm_train

    net = lstm_train.network_from_weights(torch, fitted.weights_).double()  # strict: names and shapes
    items = _random_items(np.random.default_rng(1), 3, 200, 12)
    np.testing.assert_allclose(fitted.score_ids(items), lstm_train.score(torch, net, items, 3), rtol=0, atol=1e-6)
    inputs = torch.as_tensor(np.array([[3, 0, 1]]), dtype=torch.long)  # BEGIN a b
    expected = torch.softmax(lstm_train.run(net, inputs)[0][0, -1], dim=-1).numpy()
    dist = fitted.next_token_distribution("ab")
    assert [dist[name] for name in ("a", "b", "c", END_KEY)] == pytest.approx(expected, abs=1e-9)


def test_weights_are_plain_float32_arrays_by_state_dict_name(fitted):
    assert set(fitted.weights_) == set(WEIGHT_SHAPES)
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float32 for v in fitted.weights_.values())
    assert fitted.weights_["lstm.weight_hh_l0"].shape == (64, 16)
    assert fitted.weights_["head.weight"].shape == (4, 16)  # a, b, c + END


def test_a_model_rebuilt_from_weights_answers_identically(fitted):
    rebuilt = LSTMModel.from_weights(*_parts(fitted))
    assert rebuilt.hidden_size == 16 and rebuilt.epochs_run_ == fitted.epochs_run_
    assert rebuilt.training_items_ == fitted.training_items_ and rebuilt.vocabulary_ == fitted.vocabulary_
    assert _answers(rebuilt) == _answers(fitted)


def test_same_seed_same_answers_when_torch_cannot_be_imported(fitted, tmp_path):
    params, facts, weights = _parts(fitted)
    np.savez(tmp_path / "weights.npz", **weights)
    (tmp_path / "parts.json").write_text(json.dumps({"params": params, "facts": facts}))
    code = f"""
import json, sys
sys.modules["torch"] = None  # `import torch` now raises ImportError
import numpy as np
sys.path.insert(0, {str(ROOT / "tests")!r})
from test_lstm_numpy import _answers
from tnaas.models.lstm import LSTMModel
parts = json.loads(open({str(tmp_path / "parts.json")!r}).read())
with np.load({str(tmp_path / "weights.npz")!r}, allow_pickle=False) as saved:
    weights = {{name: saved[name] for name in saved.files}}
model = LSTMModel.from_weights(parts["params"], parts["facts"], weights)
answers = _answers(model)
try:
    model.fit(None)
except Exception as error:
    answers["fit"] = str(error)
print(json.dumps(answers))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    without_torch = json.loads(out.stdout)
    assert "pip install" in without_torch.pop("fit")
    assert without_torch == json.loads(json.dumps(_answers(fitted)))


def test_rebuilding_from_bad_parts_is_one_clear_error(fitted):
    params, facts, weights = _parts(fitted)
    with pytest.raises(TnaasError, match="facts lack max_length_"):
        LSTMModel.from_weights(params, {k: v for k, v in facts.items() if k != "max_length_"}, weights)
    with pytest.raises(TnaasError, match="unknown params"):
        LSTMModel.from_weights({**params, "layers": 2}, facts, weights)
    with pytest.raises(TnaasError, match="must be exactly the arrays"):
        LSTMModel.from_weights(params, facts, {k: v for k, v in weights.items() if k != "head.bias"})
    with pytest.raises(TnaasError, match=r"head.weight has shape \(5, 16\), expected \(V\+1=4, H=16\)"):
        LSTMModel.from_weights(params, facts, {**weights, "head.weight": np.zeros((5, 16), np.float32)})
    with pytest.raises(TnaasError, match="finite float32 or float64"):
        LSTMModel.from_weights(params, facts, {**weights, "head.bias": np.full(4, np.nan, np.float32)})
    with pytest.raises(TnaasError, match="does not match the weights' 16"):
        LSTMModel.from_weights({**params, "hidden_size": 32}, facts, weights)
    with pytest.raises(TnaasError, match="not fitted"):
        LSTMModel().log_prob("abc")
