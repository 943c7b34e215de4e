"""Sampling throughput (items/s): markovify's `Chain.walk()` vs `MarkovModel.sample`.

Both sample the same chain (same counts, same probabilities) on a bundled character corpus.
markovify draws one item per `walk()` call in pure Python (its global `random` seeded per
repeat); tnaas draws a batch of `n` items in one vectorised call. Every repeat times every
method once, in rotating order, so that load from other jobs hits them alike; the table
gives medians and the ratio. The mean item length of each method's samples is a sanity
check that they draw from the same distribution.

    python benchmarks/bench_sampling.py [--corpus tech] [--reps 7] [--seed 0]
"""

from __future__ import annotations

import argparse
import random

import _common
import markovify

from tnaas.data.corpus import load_bundled
from tnaas.models.markov import MarkovModel


def markovify_rate(chain: markovify.Chain, n: int, seed: int) -> tuple[float, float]:
    """(items/s, mean length) of `n` walks, each joined into a string as tnaas returns."""
    random.seed(seed)
    start = _common.clock()
    items = ["".join(chain.walk()) for _ in range(n)]
    elapsed = _common.clock() - start
    return n / elapsed, sum(map(len, items)) / n


def tnaas_rate(model: MarkovModel, n: int, seed: int) -> tuple[float, float]:
    """(items/s, mean length) of one `sample(n)` call."""
    start = _common.clock()
    items = model.sample(n, random_state=seed)
    elapsed = _common.clock() - start
    return n / elapsed, sum(map(len, items)) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="tech")
    parser.add_argument("--state-sizes", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--batches", type=int, nargs="+", default=[10, 1000, 10000], help="tnaas batch sizes")
    parser.add_argument("--walks", type=int, default=3000, help="markovify walks per repeat")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    corpus = load_bundled(args.corpus)
    runs = [list(item) for item in corpus.items]
    headers = ["state size", "markovify walk()", "markovify compiled walk()"]
    headers += [f"tnaas sample(n={b:,})" for b in args.batches]
    headers += ["tnaas / walk()", "tnaas / compiled", "mean length (walk / tnaas)"]
    rows = []
    for k in args.state_sizes:
        chain = markovify.Chain(runs, k)
        compiled = chain.compile()
        model = MarkovModel(k).fit(corpus)
        methods = {
            "walk": lambda seed, c=chain: markovify_rate(c, args.walks, seed),
            "compiled": lambda seed, c=compiled: markovify_rate(c, args.walks, seed),
        }
        for b in args.batches:
            methods[b] = lambda seed, b=b, m=model: tnaas_rate(m, b, seed)
        model.sample(10, random_state=0)  # warm numpy's caches before timing
        rates = {name: [] for name in methods}
        lengths = {name: [] for name in methods}
        names = list(methods)
        for rep in range(args.reps):
            for name in names[rep % len(names) :] + names[: rep % len(names)]:
                rate, length = methods[name](args.seed + rep)
                rates[name].append(rate)
                lengths[name].append(length)
        med = {name: _common.median(values) for name, values in rates.items()}
        best = max(args.batches)
        rows.append(
            [k, med["walk"], med["compiled"], *(med[b] for b in args.batches)]
            + [
                f"{_common.ratio(med[best], med['walk']):.1f}×",
                f"{_common.ratio(med[best], med['compiled']):.1f}×",
                f"{_common.median(lengths['walk']):.2f} / {_common.median(lengths[best]):.2f}",
            ]
        )
        print(f"state size {k} done", flush=True)
    body = (
        f"Corpus `{args.corpus}` ({len(corpus.items):,} items). Items per second, median of {args.reps} "
        f"repeats; markovify: {args.walks:,} walks per repeat. Ratios use tnaas at n={max(args.batches):,}.\n\n"
        + _common.table(headers, rows)
    )
    _common.write_result(
        "bench_sampling", "Sampling throughput: markovify vs tnaas", body, "python benchmarks/bench_sampling.py"
    )


if __name__ == "__main__":
    main()
