"""The LSTM's training recipes ("standard", "long"): seeded, exported as the same numpy
network, exact scores (brute force), artifacts, and the weights kept are the ones validated."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tnaas.data.corpus import corpus_from_items
from tnaas.errors import TnaasError
from tnaas.inference.completion import END_KEY
from tnaas.models import MODELS

ROOT = Path(__file__).resolve().parent.parent
TINY = corpus_from_items(["abc", "acb", "bca", "cab", "abca", "bb", "ca", "cba", "abcb", "ac"], "characters")

torch = pytest.importorskip("torch")
from tnaas.models import lstm_train  # noqa: E402
from tnaas.models.lstm import LSTMModel  # noqa: E402


@pytest.fixture(scope="module")
def long_model():
    return LSTMModel(hidden_size=16, epochs=15, random_state=0, recipe="long").fit(TINY)


def test_the_registry_offers_every_recipe_and_standard_is_the_default():
    (recipe,) = [h for h in MODELS["lstm"].hyperparameters if h.name == "recipe"]
    assert recipe.choices == tuple(lstm_train.RECIPES) and recipe.default == "standard"
    assert MODELS["lstm"].build({}, random_state=0).recipe == "standard"
    assert MODELS["lstm"].build({"recipe": "LONG"}, random_state=0).recipe == "long"
    with pytest.raises(TnaasError, match="recipe must be one of standard, long"):
        MODELS["lstm"].build({"recipe": "fast"})
    with pytest.raises(TnaasError, match="recipe must be one of"):
        LSTMModel(recipe="fast").fit(TINY)


def test_the_standard_recipe_is_the_old_training():
    # The defaults that produced every published figure: changing them is a decision.
    assert lstm_train.RECIPES["standard"] == lstm_train.Recipe(
        embedding_size=48, dropout=0.1, learning_rate=5e-3, final_lr_fraction=0.05, batch_size=64, patience=3
    )
    assert lstm_train.RECIPES["standard"].average == 0


def test_long_training_is_seeded_and_differs_from_standard(long_model):
    again = LSTMModel(hidden_size=16, epochs=15, random_state=0, recipe="long").fit(TINY)
    for name, value in long_model.weights_.items():
        assert np.array_equal(value, again.weights_[name])
    other_seed = LSTMModel(hidden_size=16, epochs=15, random_state=1, recipe="long").fit(TINY)
    standard = LSTMModel(hidden_size=16, epochs=15, random_state=0).fit(TINY)
    assert long_model.weights_["embed.weight"].shape == (4, lstm_train.RECIPES["long"].embedding_size)
    for model in (other_seed, standard):
        assert not np.array_equal(model.weights_["head.weight"], long_model.weights_["head.weight"])
    assert long_model.sample(20, random_state=3) == again.sample(20, random_state=3)


def test_numpy_answers_equal_the_torch_network(long_model):
    net = lstm_train.network_from_weights(torch, long_model.weights_).double()
    items = [long_model._ids(x) for x in ["a", "abc", "cbacba", "bb", "c"]]
    np.testing.assert_allclose(long_model.score_ids(items), lstm_train.score(torch, net, items, 3), rtol=0, atol=1e-6)


def test_probabilities_of_every_item_sum_to_one_by_brute_force(long_model):
    # p(every item of length <= L) + p(the item goes on past L) = 1, the second term from
    # the prefixes of length L, chained through `next_token_distribution`, times p(not END).
    vocab, longest = ("a", "b", "c"), 5
    items = ["".join(t) for n in range(1, longest + 1) for t in itertools.product(vocab, repeat=n)]
    total = float(np.exp(long_model.log_prob_many(items)).sum())
    longer = 0.0
    for tokens in itertools.product(vocab, repeat=longest):
        prefix, p = "", 1.0
        for token in tokens:
            p *= long_model.next_token_distribution(prefix)[token]
            prefix += token
        longer += p * (1 - long_model.next_token_distribution(prefix).get(END_KEY, 0.0))
    assert math.isclose(total + longer, 1.0, abs_tol=1e-9)
    assert long_model.next_token_distribution("").get(END_KEY, 0.0) == 0.0  # no empty item


def test_the_kept_weights_are_the_validated_average():
    # With `average` on, the network returned (and exported) is the moving average of the
    # weights, at its best validation epoch: its score on the validation items is the best
    # one in the history (it would not be if the raw weights were kept).
    rng = np.random.default_rng(0)
    sequences = [rng.integers(0, 3, size=rng.integers(1, 6)) for _ in range(120)]
    training, validation = sequences[:100], sequences[100:]
    recipe = lstm_train.Recipe(average=0.9, patience=2)
    with lstm_train.threads(torch), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net, history = lstm_train._epochs(torch, 3, 8, 6, training, validation, rng, None, recipe)
    kept = -lstm_train.score(torch, net, validation, 3).sum() / sum(len(s) + 1 for s in validation)
    assert math.isclose(kept, min(v for _, v in history), rel_tol=0, abs_tol=1e-6)
    assert not any(math.isclose(kept, t, abs_tol=1e-6) for t, _ in history)


def test_an_artifact_of_the_long_recipe_answers_identically_without_torch(long_model, tmp_path):
    from tnaas.artifacts import load_artifact, save_artifact
    from tnaas.service import ModelRequest

    request = ModelRequest.parse("lstm", {"hidden_size": 16, "epochs": 15, "recipe": "long"}, TINY)
    model = request.build().fit(TINY)
    header, _ = save_artifact(model, request, TINY, tmp_path)
    loaded = load_artifact(header)
    assert loaded.recipe == "long"
    items = ["abc", "cab", "bbbb", "a"]
    np.testing.assert_array_equal(loaded.log_prob_many(items), model.log_prob_many(items))
    code = (
        "import sys\nfrom tnaas.artifacts import load_artifact\n"
        f"m = load_artifact({str(header)!r})\n"
        "print(m.sample(5, random_state=0), m.log_prob('abc'), m.complete('a*', top=2, random_state=0).probability)\n"
        "print('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    samples, flag = done.stdout.splitlines()
    assert flag == "False"
    assert samples.startswith(str(model.sample(5, random_state=0)))


def test_the_average_forgets_the_initial_weights_on_a_small_corpus():
    # 30 epochs of 2 steps: a plain average with decay 0.999 would still be 94% the random
    # initial weights; the warmed-up decay follows the training most of the way.
    rng = np.random.default_rng(1)
    training = [np.array([0, 1, 2] * 2)[: rng.integers(2, 6)] for _ in range(100)]
    plain, averaged = lstm_train.Recipe(batch_size=50), lstm_train.Recipe(batch_size=50, average=0.999)

    def nll(net):
        return -lstm_train.score(torch, net, training, 3).sum() / sum(len(s) + 1 for s in training)

    def trained(recipe):
        with lstm_train.threads(torch), torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            initial = lstm_train.network(torch, 3, 8).eval()
            torch.manual_seed(0)
            return initial, lstm_train._epochs(torch, 3, 8, 30, training, [], np.random.default_rng(1), None, recipe)[0]

    initial, raw = trained(plain)
    _, kept = trained(averaged)
    assert nll(raw) < nll(initial) - 0.3  # training got somewhere
    assert nll(kept) < nll(initial) - 0.5 * (nll(initial) - nll(raw))


def test_the_moving_average_follows_its_warmed_up_decay():
    # Weights set by hand before each update: the average must be the formula's, in place
    # in its own copy, with the network itself untouched.
    net = lstm_train.network(torch, 3, 4)
    average = lstm_train.MovingAverage(torch, net, decay=0.3)
    assert average.module is not net
    expected = None
    for n, value in enumerate([1.0, 3.0, 0.0, 2.0, -1.0, 5.0]):
        with torch.no_grad():
            for p in net.parameters():
                p.fill_(value)
        average.update()
        rate = min(0.3, (1 + n) / (10 + n))
        expected = value if n == 0 else rate * expected + (1 - rate) * value
        for kept, current in zip(average.module.parameters(), net.parameters(), strict=True):
            np.testing.assert_allclose(kept.detach().numpy(), expected, rtol=1e-6)
            assert float(current.detach().flatten()[0]) == value
    assert average.updates == 6 and rate == 0.3  # the decay caps the warm-up after a few updates


def test_fused_adam_trains_the_same_network_with_other_rounding():
    # The flag reaches the optimiser: same seed, bits differ, the networks barely do.
    ids = [np.array(["abc".index(t) for t in item], dtype=np.int64) for item in TINY.items]

    def weights(fused):
        recipe = lstm_train.Recipe(fused_adam=fused)
        return lstm_train.train(torch, ids, 3, 8, 3, np.random.default_rng(0), None, recipe)[0]

    loop, fused = weights(False), weights(True)
    assert any(not np.array_equal(loop[name], fused[name]) for name in loop)
    for name in loop:
        np.testing.assert_allclose(loop[name], fused[name], rtol=0, atol=1e-4)
    assert lstm_train.RECIPES["long"].fused_adam and not lstm_train.RECIPES["standard"].fused_adam
