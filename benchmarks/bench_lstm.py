"""The LSTM on 32k US baby names: held-out NLL and training time, against Kneser-Ney Markov
chains; and how close its approximate (SMC) completions come to exact or Monte Carlo answers.

The names are karpathy/makemore's `names.txt` (32,033 names), kept outside the repository:

    curl -o /tmp/names.txt https://raw.githubusercontent.com/karpathy/makemore/master/names.txt
    python benchmarks/bench_lstm.py [--names /tmp/names.txt] [--seeds 0 1] [--makemore-split]
        [--settings standard long]

1,000 names are held out (`train_test_split(..., 1000, random_state=0)`, or with
`--makemore-split` exactly makemore's split, see `bench_nll.makemore_split`); NLL is nats per
character, END included (`tnaas.tasks.evaluate.evaluate`). `--settings` picks the LSTM
settings of `SETTINGS` to train: "standard" (the defaults) and "long" (`LONG`: 256 units, ≤13
epochs, the "long" recipe); each early-stops on a validation split carved from the training names.
CPU seconds are process time (one torch thread), the fair figure on a shared machine; wall
seconds are what a user waits.
Completion checks: a fixed-length pattern answered exactly (enumeration) and by SMC, and
gap patterns by SMC against plain Monte Carlo over 300,000 samples from the same model.
Writes benchmarks/results/bench_lstm.md (bench_lstm_makemore.md with `--makemore-split`).

`--serving` instead times inference after fitting, numpy (what the model runs) against the
torch network holding the same weights (what it ran before): scoring 1,000 items, sampling
1,000 items, and exact length-conditioned sampling. It trains on the names when present,
else on the bundled Pokémon names, and writes benchmarks/results/bench_lstm_serving.md.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import _common

MC_SAMPLES = 300_000
GAP_PATTERNS = ("mo%", "a%n", "%ly", "%ia%")
SERVING_ITEMS = 1_000
SERVING_REPEATS = 7
# The "long" setting: the recipe of that name, with its cosine schedule spanning these epochs.
LONG = {"hidden_size": 256, "epochs": 13, "recipe": "long"}
# LSTM settings by name: (constructor arguments, label).
SETTINGS = {
    "standard": ({}, "LSTM standard (hidden 128, ≤30 epochs)"),
    "long": (LONG, f"LSTM long (hidden {LONG['hidden_size']}, ≤{LONG['epochs']} epochs, long recipe)"),
}


def fit_timed(model, train) -> tuple[object, float, float]:
    """Fit `model`; returns (model, wall seconds, CPU seconds)."""
    wall, cpu = _common.clock(), time.process_time()
    model.fit(train)
    return model, _common.clock() - wall, time.process_time() - cpu


class TorchStepper:
    """The old inference path: `step`/`select` on the float32 torch network (for
    `lstm_sampling.draw_runs`), one torch thread, same interface as `LSTMModel`."""

    def __init__(self, torch, model):
        from tnaas.models import lstm_train

        self.torch, self.train = torch, lstm_train
        self.net = lstm_train.network_from_weights(torch, model.weights_)
        self.vocabulary_ = model.vocabulary_

    def start_state(self, n):
        return None

    def step(self, tokens, state, temperature=1.0):
        torch = self.torch
        with torch.no_grad(), self.train.threads(torch):
            inputs = torch.as_tensor(tokens, dtype=torch.long).reshape(-1, 1)
            logits, state = self.train.run(self.net, inputs, state)
            return torch.softmax(logits[:, 0] / temperature, dim=-1).numpy(), state

    def select(self, state, index):
        if state is None:
            return None
        at = self.torch.as_tensor(index, dtype=self.torch.long)
        return tuple(part[:, at] for part in state)


def describe_recipe(recipe) -> str:
    """A training recipe in words, for the result file."""
    average = f"an exponential moving average of the weights (decay {recipe.average}) validated and kept"
    return (
        f"embedding {recipe.embedding_size}, dropout {recipe.dropout}, Adam with a cosine learning rate from "
        f"{recipe.learning_rate:g} to {recipe.learning_rate * recipe.final_lr_fraction:g}, batches of "
        f"{recipe.batch_size}, patience {recipe.patience} epochs"
        + (f", {average}" if recipe.average else "")
        + (", Adam's fused kernel" if recipe.fused_adam else "")
    )


def timed(fn) -> float:
    """Median wall seconds of `SERVING_REPEATS` calls of `fn()`."""
    times = []
    for _ in range(SERVING_REPEATS):
        started = _common.clock()
        fn()
        times.append(_common.clock() - started)
    return _common.median(times)


def serving(names: Path) -> None:
    """Numpy against torch inference on one fitted model (see the module docstring)."""
    import numpy as np
    import torch

    from tnaas.data.corpus import corpus_from_items, load_bundled
    from tnaas.errors import TnaasError
    from tnaas.models import lstm_sampling, lstm_train
    from tnaas.models.lstm import LSTMModel
    from tnaas.models.lstm_numpy import one_blas_thread

    corpus = corpus_from_items(names.read_text(encoding="utf-8").split(), "characters") if names.exists() else None
    corpus, label = (corpus, "US names") if corpus else (load_bundled("pokemon"), "bundled Pokémon names")
    model = LSTMModel(random_state=0).fit(corpus)
    items = list(corpus.items[:SERVING_ITEMS])
    ids = [model._ids(x) for x in items]
    exact_net = lstm_train.network_from_weights(torch, model.weights_).double()
    stepper = TorchStepper(torch, model)
    cap = 3 * model.max_length_
    gap = float(np.abs(model.score_ids(ids) - lstm_train.score(torch, exact_net, ids, len(model.vocabulary_))).max())

    def numpy_draws():
        with one_blas_thread():
            lstm_sampling.draw_runs(model, SERVING_ITEMS, np.random.default_rng(0), 1.0, cap)

    rows = [
        [
            f"score {SERVING_ITEMS:,} items (float64)",
            timed(lambda: model.score_ids(ids)),
            timed(lambda: lstm_train.score(torch, exact_net, ids, len(model.vocabulary_))),
        ],
        [
            f"sample {SERVING_ITEMS:,} items (float32)",
            timed(numpy_draws),
            timed(lambda: lstm_sampling.draw_runs(stepper, SERVING_ITEMS, np.random.default_rng(0), 1.0, cap)),
        ],
    ]
    for row in rows:
        row.append(f"{row[2] / row[1]:.1f}x")
    exact_rows = []
    for spec in ("corpus", "6", "3", "12"):
        started = _common.clock()
        try:
            model.sample(SERVING_ITEMS, random_state=0, length=spec)
            outcome = "drawn"
        except TnaasError as error:
            outcome = f"TnaasError: {error}"
        exact_rows.append([f"`length={spec}`", _common.clock() - started, outcome])
    body = f"""
One model, hidden 128, trained on {len(corpus.items):,} {label} ({model.epochs_run_} epochs, seed 0);
torch {torch.__version__} with one thread, numpy BLAS limited to one thread. Median of
{SERVING_REPEATS} runs. The items scored are the first {SERVING_ITEMS:,} training items; the
largest difference between the numpy and torch log-probabilities was {gap:.1e} nats.

## Numpy against torch, same weights

{_common.table(["task", "numpy s", "torch s", "torch / numpy"], rows)}

Sampling runs the same draw loop (`lstm_sampling.draw_runs`) over each network's step.

## Exact length-conditioned sampling ({SERVING_ITEMS:,} items, numpy)

{_common.table(["length", "seconds", "outcome"], exact_rows)}
"""
    _common.write_result(
        "bench_lstm_serving",
        "LSTM serving: numpy inference against torch",
        body,
        "python benchmarks/bench_lstm.py --serving",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", default="/tmp/names.txt", help="makemore's names.txt (one name per line)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="LSTM training seeds")
    parser.add_argument("--serving", action="store_true", help="time numpy against torch inference instead")
    parser.add_argument("--makemore-split", action="store_true", help="hold out makemore's own 1,000 test names")
    parser.add_argument("--settings", nargs="+", default=["standard"], choices=list(SETTINGS), help="LSTM settings")
    args = parser.parse_args()
    path = Path(args.names)
    if args.serving:
        serving(path)
        return
    if not path.exists():
        raise SystemExit(f"missing {path}: download makemore's names.txt (see this script's docstring)")

    import torch

    from tnaas.data.corpus import corpus_from_items
    from tnaas.models import lstm_train
    from tnaas.models.lstm import LSTMModel
    from tnaas.models.markov import MarkovModel
    from tnaas.tasks.evaluate import evaluate, train_test_split

    if args.makemore_split:
        from bench_nll import makemore_split

        train, test = makemore_split(path)
        split = "makemore's split: torch seed 3407, the last 1,000 of `randperm`"
    else:
        names = path.read_text(encoding="utf-8").split()
        train, test = train_test_split(corpus_from_items(names, "characters"), 1000, random_state=0)
        split = "`train_test_split(names, 1000, random_state=0)`"
    rows, lstm, curves = [], None, []
    for k in (3, 4, 5):
        model, wall, cpu = fit_timed(MarkovModel(state_size=k, smoothing="kneser-ney"), train)
        rows.append(
            [f"Markov, Kneser-Ney, order {k}", f"{evaluate(model, test).nll_per_token:.4f}", "—", wall, cpu, "—"]
        )
    for setting in args.settings:
        params, label = SETTINGS[setting]
        for seed in args.seeds:
            model, wall, cpu = fit_timed(LSTMModel(**params, random_state=seed), train)
            lstm = lstm or model
            nll = evaluate(model, test).nll_per_token
            rows.append(
                [
                    f"{label}, seed {seed}",
                    f"{nll:.4f}",
                    f"{model.validation_nll_:.4f}",
                    wall,
                    cpu,
                    f"{model.epochs_run_}",
                ]
            )
            curves.append(f"- {label}, seed {seed}: " + ", ".join(f"{v:.3f}" for _, v in model.history_))
            print(rows[-1], flush=True)
    headers = ["model", "test NLL (nats/char)", "validation NLL", "fit wall s", "fit CPU s", "epochs run"]
    nll_table = _common.table(headers, rows)
    curve = "\n".join(curves)

    # ---------------------------------------------------------------- completion
    exact_started = _common.clock()
    exact = lstm.complete("***a", top=5, random_state=0)
    exact_s = _common.clock() - exact_started
    smc_started = _common.clock()
    approx = lstm.complete("***a", top=5, random_state=0, max_candidates=0)
    smc_s = _common.clock() - smc_started
    gaps = [
        max(abs(a["distribution"].get(t, 0.0) - p) for t, p in e["distribution"].items())
        for e, a in zip(exact.positions, approx.positions)
    ]
    fixed_rows = [
        ["exact (enumeration)", f"{exact.probability:.5f}", "—", exact_s, exact.method],
        ["SMC", f"{approx.probability:.5f}", max(gaps), smc_s, approx.method],
    ]
    drawn = []
    for start in range(0, MC_SAMPLES, 100_000):
        drawn += lstm.sample(min(100_000, MC_SAMPLES - start), random_state=1000 + start)
    gap_rows = []
    for pattern in GAP_PATTERNS:
        regex = _common.pattern_regex(pattern)
        hits = sum(1 for item in drawn if regex.fullmatch(item))
        p = hits / len(drawn)
        half = 1.96 * math.sqrt(p * (1 - p) / len(drawn))
        started = _common.clock()
        result = lstm.complete(pattern, random_state=0)
        seconds = _common.clock() - started
        gap_rows.append([f"`{pattern}`", f"{result.probability:.5f}", f"{p:.5f} ± {half:.5f}", seconds, result.method])

    # `mo%` (a prefix, then anything) has an exact answer: p(m) p(o | m).
    long_recipe = describe_recipe(lstm_train.RECIPES["long"])
    prefix_exact = lstm.next_token_distribution("")["m"] * lstm.next_token_distribution("m")["o"]

    body = f"""
Training set: {len(train.items):,} names; held out: {len(test):,} ({split}); torch
{torch.__version__}, one thread. Validation: 1,500 names carved (seeded) from the training
names, never the test names; its NLL is per token, END included, like the test column.

## Held-out NLL and training time

{nll_table}

LSTM standard (the defaults): embedding 48, one LSTM layer of 128 units, dropout 0.1, Adam
with a cosine learning rate from 5e-3 to 2.5e-4 over 30 epochs, batches of 64 names grouped
by length, early stopping after 3 epochs without a better validation score. LSTM long:
{long_recipe}; {LONG["hidden_size"]} units, ≤{LONG["epochs"]} epochs (the cosine spans them). Both serve
through the same numpy pass.

Validation NLL per epoch:

{curve}

## Completion: `***a` (17,576 candidates), exact enumeration vs SMC

{_common.table(["answer", "p(pattern)", "largest posterior error", "seconds", "method"], fixed_rows)}

## Completion: gap patterns, SMC vs Monte Carlo ({MC_SAMPLES:,} samples, 95% interval)

{_common.table(["pattern", "SMC p(pattern)", "Monte Carlo p(pattern)", "SMC seconds", "method"], gap_rows)}

`mo%` has an exact answer, p(m) p(o | m) = {prefix_exact:.5f} from `next_token_distribution`:
every SMC particle carries the same weight there, so its estimate has no variance (the
Monte Carlo column has sampling error, ± the 95% half-width).
"""
    command = "python benchmarks/bench_lstm.py --seeds " + " ".join(str(s) for s in args.seeds)
    command += " --settings " + " ".join(args.settings) + (" --makemore-split" if args.makemore_split else "")
    result = "bench_lstm_makemore" if args.makemore_split else "bench_lstm"
    _common.write_result(result, "LSTM: held-out NLL on US names, and SMC completion accuracy", body, command)


if __name__ == "__main__":
    main()
