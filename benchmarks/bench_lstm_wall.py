"""Wall-clock time of the LSTM's `long` recipe on makemore's split, on a quiet machine.

    python benchmarks/bench_lstm_wall.py [--names /tmp/names.txt] [--seed 0]

`bench_lstm.py --makemore-split` reports CPU seconds, which are what to compare on a shared
machine; the issue's goal (≤ 3 minutes of training on 2 cores) is wall time, so this fits the
256-unit `long` setting (`bench_lstm.LONG`) once and prints wall and CPU seconds, the load
average before and after (it is only meaningful when both are low), and the test NLL; writes
benchmarks/results/bench_lstm_wall.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from bench_lstm import LONG, fit_timed
from bench_nll import makemore_split

from tnaas.models.lstm import LSTMModel
from tnaas.tasks.evaluate import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", default="/tmp/names.txt")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    train, test = makemore_split(Path(args.names))
    before = os.getloadavg()
    model, wall, cpu = fit_timed(LSTMModel(**LONG, random_state=args.seed), train)
    after = os.getloadavg()
    line = (
        f"{LONG} seed {args.seed}: fit {wall:.1f} s wall, {cpu:.1f} s CPU, {model.epochs_run_} epochs; "
        f"test NLL {evaluate(model, test).nll_per_token:.4f}; load average before {before[0]:.2f}, after {after[0]:.2f}"
    )
    print(line)
    out = Path(__file__).parent / "results" / "bench_lstm_wall.md"
    out.write_text(
        "# LSTM `long` recipe: training wall time on makemore's split\n\n"
        f"`python benchmarks/bench_lstm_wall.py --seed {args.seed}` on {time.strftime('%Y-%m-%d')}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs; torch on one thread, its import included.\n\n"
        f"- {line}\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
