"""LSTM pattern completion by SMC: an earlier implementation against the current one, in
the same run, on end-anchored patterns (and a few others, for regressions).

    python benchmarks/bench_smc.py [--names /tmp/names.txt] [--seeds 0 1 2] [--cache DIR]
        [--against COMMIT] [--only CORPUS ...]

The old code is tnaas/inference/smc.py and the float32 forward pass of
tnaas/models/lstm_numpy.py at `--against` (default `OLD_COMMIT`, before the speed-up of the
SMC's per-step work; 3d7acab is the code before issue 13 part 3), read with `git show`; the
old SMC runs the old forward pass (`OldForward`) on the same fitted weights. Models:
`LSTMModel()` defaults (hidden 128, random_state 0) on the bundled Pokémon names and sonnets
(word level) and, when present, makemore's names.txt (32,033 names); `--cache DIR` keeps the
fitted models as pickles between runs (rebuilt from their weights with today's code). Each answer is `smc.complete` with the default particle policy, so
the figures are what a user gets: CPU seconds (`time.process_time()`, one BLAS thread, the
median over seeds, the two implementations interleaved), particles, the ESS reported in
`method` (median), and p(pattern) (mean).

ESS check: with a fixed number of particles, p(pattern) over `--spread` seeds; its
"empirical ESS" mean² / variance is what 1/sqrt(ESS) should at least match (the reported ESS
should not exceed it). Writes benchmarks/results/bench_smc.md.
"""

from __future__ import annotations

import argparse
import pickle
import re
import statistics
import sys
import time
from pathlib import Path

import _common
import numpy as np

from tnaas.data.corpus import load_bundled, load_corpus
from tnaas.inference import smc
from tnaas.inference.patterns import compile_pattern, parse_pattern
from tnaas.models import lstm
from tnaas.models.lstm import LSTMModel
from tnaas.models.lstm_numpy import one_blas_thread

OLD_COMMIT = "a3bfdf4"  # before the per-step speed-up (float32 head passes, tail thinning)

PATTERNS = {
    "pokemon": ("%ly", "%on", "%ia%", "Pi%"),
    "names": ("%ly", "%ia%", "mo%"),
    "sonnets": ("% thee,", "% love", "Shall %"),
}
SPREAD = {"pokemon": {"%ly": 2_000, "%ia%": 2_000}, "names": {"%ly": 2_000}, "sonnets": {"% thee,": 600}}


class OldForward:
    """`model` with the float32 forward pass (`start_state`, `step`) of an old lstm_numpy."""

    def __init__(self, model: LSTMModel, old_numpy):
        self._model = model
        self._forward = old_numpy.Forward(model.weights_, np.float32)

    def __getattr__(self, name):
        return getattr(self._model, name)

    def start_state(self, n: int):
        return self._forward.start(n)

    def step(self, tokens, state, temperature: float = 1.0):
        return self._forward.probs(np.asarray(tokens, dtype=np.int64).reshape(-1), state, temperature)


def fitted(name: str, names_path: Path, cache: Path | None) -> LSTMModel | None:
    """The default LSTM fitted on corpus `name` (None when names.txt is missing)."""
    if cache is not None and (cache / f"{name}.pkl").exists():
        with open(cache / f"{name}.pkl", "rb") as f:
            model = pickle.load(f)
        # rebuilt with today's code: a pickle holds the forward passes of the code that fitted it
        params = {key: getattr(model, key) for key in lstm.PARAMS if hasattr(model, key)}
        return LSTMModel.from_weights(params, {key: getattr(model, key) for key in lstm.FACTS}, model.weights_)
    if name == "names":
        if not names_path.exists():
            return None
        corpus = load_corpus(str(names_path), "characters")
    else:
        corpus = load_bundled(name)
    model = LSTMModel(random_state=0).fit(corpus)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        with open(cache / f"{name}.pkl", "wb") as f:
            pickle.dump(model, f)
    return model


def answer(module, model, pattern: str, seed: int) -> tuple[float, float, int, float]:
    """(CPU seconds, p(pattern), particles, ESS) of one default completion."""
    started = time.process_time()
    result = module.complete(model, pattern, 10, 0, np.random.default_rng(seed), model.length_distribution(None), 1.0)
    cpu = time.process_time() - started
    particles = int(re.search(r"SMC, ([\d,]+) particles", result.method)[1].replace(",", ""))
    ess = float(re.search(r"effective sample size ([\d,]+)", result.method)[1].replace(",", ""))
    return cpu, result.probability, particles, ess


def spread(module, model, pattern: str, seeds: int, particles: int) -> tuple[float, float, float, float]:
    """(mean p(pattern), empirical ESS mean²/variance, mean reported ESS, CPU seconds per
    run) over `seeds` runs of `particles` particles."""
    parsed = parse_pattern(pattern, model.token_kind_)
    cap = np.ones(model.max_length_ + 1)
    values, reported = [], []
    started = time.process_time()
    for seed in range(seeds):
        rng = np.random.default_rng(1000 + seed)
        if hasattr(module, "split_suffix"):  # the literal suffix read exactly (issue 13 part 3 on)
            head, suffix = module.split_suffix(parsed)
            ids = [model.vocabulary_.index(t) for t in suffix]
            found = module.run_smc(model, compile_pattern(head, model.vocabulary_), particles, rng, 1.0, cap, ids)
        else:
            found = module.run_smc(model, compile_pattern(parsed, model.vocabulary_), particles, rng, 1.0, cap)
        values.append(float(np.exp(found.log_z)))
        reported.append(found.ess)
    per_run = (time.process_time() - started) / seeds
    mean = statistics.fmean(values)
    return mean, mean**2 / statistics.variance(values), statistics.fmean(reported), per_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=Path, default=Path("/tmp/names.txt"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--spread", type=int, default=20, help="seeds for the ESS check")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--against", default=OLD_COMMIT, help="the commit of the old code")
    parser.add_argument("--only", nargs="+", default=list(PATTERNS), choices=list(PATTERNS), help="corpora to run")
    args = parser.parse_args()
    old_smc = _common.load_old_module("tnaas/inference/smc.py", args.against)
    old_numpy = _common.load_old_module("tnaas/models/lstm_numpy.py", args.against)
    rows, checks = [], []
    with one_blas_thread():
        for name in args.only:
            model = fitted(name, args.names, args.cache)
            if model is None:
                continue
            models = {"old": OldForward(model, old_numpy), "new": model}
            for pattern in PATTERNS[name]:
                runs = {"old": [], "new": []}
                for seed in args.seeds:  # interleaved: the machine's load hits both alike
                    runs["old"].append(answer(old_smc, models["old"], pattern, seed))
                    runs["new"].append(answer(smc, model, pattern, seed))
                old, new = ([statistics.median(r[i] for r in runs[k]) for i in (0, 2, 3)] for k in ("old", "new"))
                p_old, p_new = (statistics.fmean(r[1] for r in runs[k]) for k in ("old", "new"))
                rows.append(
                    [f"{name} (V={len(model.vocabulary_):,})", f"`{pattern}`", old[0], new[0],
                     _common.ratio(old[0], new[0]), f"{int(old[1]):,}", f"{int(new[1]):,}", f"{old[2]:,.0f}",
                     f"{new[2]:,.0f}", p_old, p_new]
                )  # fmt: skip
                print(rows[-1], flush=True)
            for pattern, particles in SPREAD.get(name, {}).items():
                for label, module in (("old", old_smc), ("new", smc)):
                    mean, empirical, reported, per_run = spread(module, models[label], pattern, args.spread, particles)
                    checks.append(
                        [name, f"`{pattern}`", f"{particles:,}", label, mean, f"{empirical:,.0f}", f"{reported:,.0f}", per_run]
                    )  # fmt: skip
                    print(checks[-1], flush=True)
    body = (
        f"Old: commit {args.against}. Default particle policy, seeds {args.seeds} (median CPU seconds "
        "and ESS, mean p); one BLAS thread.\n\n"
        + _common.table(
            [
                "corpus",
                "pattern",
                "old CPU s",
                "new CPU s",
                "speed-up",
                "old particles",
                "new particles",
                "old ESS",
                "new ESS",
                "old p(pattern)",
                "new p(pattern)",
            ],
            rows,
        )  # fmt: skip
        + f"\n\n## Is the reported ESS honest?\n\nA fixed number of particles, {args.spread} seeds: "
        "p(pattern)'s empirical ESS (mean² / variance, itself within about ±30% from this many "
        "seeds) against the mean ESS reported; the reported one should not be the larger by much.\n\n"
        + _common.table(
            ["corpus", "pattern", "particles", "code", "mean p", "empirical ESS", "reported ESS", "CPU s / run"], checks
        )
    )
    command = "python benchmarks/bench_smc.py " + " ".join(sys.argv[1:])
    _common.write_result("bench_smc", "LSTM SMC completion: old against new", body, command.strip())


if __name__ == "__main__":
    main()
