"""Where a tech Kneser-Ney completion's time goes, against a floor for its representation.

For each pattern of `bench_kn_lattice`'s tech queries, in one process per state size (model
fitted and its backoff structure built first), CPU ms, best of `REPEATS`:

- `complete`: the whole answer (`complete(top=10, samples=10)`: probability, per-position
  posteriors, 10 best, 10 samples);
- `forward + backward`: the lattice alone, both passes (what the posteriors and samples need);
- `forward`: the lattice's forward pass alone (the probability);
- `floor, 2 passes`: only the operator's terms, each read, multiplied by a mass and added into
  its cell once (`np.bincount(cell, weights=mass[owner] * coef)`, the compiled steps' own index
  arrays), summed over the steps, times two passes. No engine over this representation can
  touch its terms in numpy for less; everything above it is the pool sweeps, the guards, the
  step builds and the outputs.

    python benchmarks/bench_kn_floor.py        # writes benchmarks/results/bench_kn_floor.md
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REPEATS = 7
PATTERNS = ("py%", "**********", "py*%*on", "%ab%", "%e%e%")


def best_ms(run) -> float:
    """Least CPU ms of `REPEATS` calls of `run` (a loaded machine: the least is the cost)."""
    best = np.inf
    for _ in range(REPEATS):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best * 1000


def floor_ms(structure, dfa, lattice) -> tuple[float, int]:
    """(ms of one pass over every step's terms, the terms), each distinct frontier timed once."""
    from tnaas.inference.backoff_step import Step

    rng = np.random.default_rng(0)
    seen: dict[int, tuple[float, int]] = {}
    total, terms = 0.0, 0
    for t in range(len(lattice.keys) - 1):
        number = lattice.frontier_ids[t]
        if number not in seen:
            step = Step(structure, dfa, *np.divmod(lattice.keys[t], structure.n))
            mass = rng.random(step.pool_size + step.f)
            cells = len(step.cells)
            best = np.inf
            for _ in range(REPEATS):
                start = time.perf_counter()
                np.bincount(step.pos_cell, weights=mass[step.pos_source] * step.pos_coef, minlength=cells)
                np.bincount(step.neg_cell, weights=mass[step.neg_owner] * step.neg_coef, minlength=cells)
                best = min(best, time.perf_counter() - start)
            seen[number] = (best * 1000, len(step.pos_cell) + len(step.neg_cell))
        total += seen[number][0]
        terms += seen[number][1]
    return total, terms


def rows(k: int) -> list[str]:
    """One table row per pattern at state size `k`."""
    import tnaas.inference.exact_paths as exact_paths
    from tnaas.data.corpus import load_bundled
    from tnaas.inference.backoff_lattice import BackoffLattice
    from tnaas.inference.patterns import compile_pattern, parse_pattern
    from tnaas.models.markov import MarkovModel

    model = MarkovModel(k, "kneser-ney").fit(load_bundled("tech"))
    structure = exact_paths.backoff_structure(model.automaton_)
    out = []
    for text in PATTERNS:
        pattern = parse_pattern(text, model.token_kind_)
        dfa = compile_pattern(pattern, model.vocabulary_)
        cap = pattern.fixed_length if pattern.fixed_length is not None else model.max_length_
        weights = np.ones(cap + 1)  # (natural lengths up to the cap, as `complete`)
        whole = best_ms(lambda text=text: model.complete(text, top=10, samples=10, random_state=0))
        both = best_ms(lambda dfa=dfa, weights=weights: BackoffLattice(model.automaton_, dfa, weights))
        forward = best_ms(
            lambda dfa=dfa, weights=weights: BackoffLattice(model.automaton_, dfa, weights, backward=False)
        )
        one, terms = floor_ms(structure, dfa, BackoffLattice(model.automaton_, dfa, weights, backward=False))
        out.append(
            f"| {k} | `{text}` | {whole:.0f} | {both:.0f} | {forward:.0f} | {2 * one:.0f} | {terms / 1e6:.1f} "
            f"| {one / terms * 1e6:.1f} |"
        )
        print(out[-1], flush=True)
    return out


def main() -> None:
    lines = [
        "# tech Kneser-Ney completion: where the time goes, against the terms' floor",
        "",
        f"`python benchmarks/bench_kn_floor.py`; CPU ms, best of {REPEATS}, one process per k (see the",
        "module docstring). `terms` is the operator terms over every step of one pass (millions).",
        "",
        "| k | pattern | complete ms | forward + backward ms | forward ms | floor, 2 passes ms | terms (M) "
        "| ns per term |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for k in (5, 6):
        lines += rows(k)
    (ROOT / "benchmarks" / "results" / "bench_kn_floor.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
