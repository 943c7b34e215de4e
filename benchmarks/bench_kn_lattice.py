"""Kneser-Ney completion and length control: the explicit lattice vs the backoff lattice,
before (commit `BEFORE`: after issue 13's second speed pass) and after its third (k-best
bounds from log β, linear sampling weights, key tables over the keys' range).

Each query runs in a fresh interpreter (so peak memory is its own) with a time cap; the
old engine is the explicit `Lattice`/`AllPaths` (forced by hiding the backoff structure),
"before" the backoff engine as it was at commit `BEFORE` (its `tnaas` tree from git, first
on the path), "new" the working tree's. Reports CPU ms of the query (model fitted before
timing) and the process's peak RSS; the three engines run query by query, interleaved.

    python benchmarks/bench_kn_lattice.py            # writes benchmarks/results/bench_kn_lattice.md
    python benchmarks/bench_kn_lattice.py --every-length   # `%` with length control, every
                                                           # bundled corpus x k = 1-6 (new engine)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "40f50fd"  # the backoff engines after issue 13's second speed pass
_BEFORE_TREE: list[str] = []  # the extracted tree's directory, once
CAP_SECONDS = 150  # wall seconds per engine and query (a loaded machine: CPU times are what is reported)
REPEATS = 5
ROUNDS = 3  # fresh processes per query for "before" and "new", alternating: the median round is reported
QUERIES = [
    *[
        ("sonnets", k, "kneser-ney", p, None)
        for k in (2, 3)
        for p in ("% love %", "the * of %", "* * * * *", "shall I % thee")
    ],
    *[("tech", k, "kneser-ney", p, None) for k in (5, 6) for p in ("py%", "**********", "py*%*on", "%ab%", "%e%e%")],
    ("tech", 6, "kneser-ney", "*" * 60, None),  # under the work budget (~0.87e9 units)
    ("ipsum", 6, "kneser-ney", " ".join("*" * 64), None),  # over the work budget: refused up front
    *[(c, k, "kneser-ney", "%", "corpus") for c, k in (("tech", 6), ("sonnets", 3), ("ipsum", 3), ("pokemon", 6))],
    ("sonnets", 2, "none", "% love %", None),
    ("tech", 5, "none", "py*%*on", None),
]


def one(engine: str, corpus: str, k: int, smoothing: str, pattern: str, length: str | None) -> dict:
    import resource
    import time

    import tnaas.inference.exact_paths as exact_paths
    from tnaas.data.corpus import load_bundled
    from tnaas.errors import TnaasError
    from tnaas.models.markov import MarkovModel

    if engine == "old":
        exact_paths.backoff_structure = lambda automaton: None
    model = MarkovModel(k, smoothing).fit(load_bundled(corpus))
    if smoothing != "none" and engine != "old":
        exact_paths.backoff_structure(model.automaton_)  # the one-off structure, cached per model
    cpu = None
    for _ in range(REPEATS):  # best of REPEATS (a loaded machine); seeded: the same answer each time
        start = time.process_time()
        try:
            if length is None:
                answer = model.complete(pattern, top=10, samples=10, random_state=0)
                result = f"p={answer.probability:.6g}"
            else:
                drawn = model.sample(10, random_state=0, length=length)
                result = f"{len(drawn)} samples"
        except TnaasError as error:
            result = "refused: " + str(error)[:60]
        took = (time.process_time() - start) * 1000
        cpu = took if cpu is None else min(cpu, took)
        if took > 10_000:  # (one run of a slow query is enough)
            break
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"cpu_ms": round(cpu), "peak_mb": round(peak), "result": result}


def before_tree() -> str:
    """A directory holding the `tnaas` package as of commit `BEFORE` (extracted once)."""
    if not _BEFORE_TREE:
        folder = tempfile.mkdtemp(prefix="kn_before_")
        archive = subprocess.run(["git", "archive", BEFORE, "tnaas"], capture_output=True, check=True, cwd=ROOT)
        subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
        _BEFORE_TREE.append(folder)
    return _BEFORE_TREE[0]


def run(engine, query) -> dict:
    first = before_tree() if engine == "before" else str(ROOT)
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {first!r}); "
        f"import benchmarks.bench_kn_lattice as b, json; print(json.dumps(b.one({engine!r}, *{query!r})))"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=CAP_SECONDS, cwd=ROOT
        )
        return json.loads(done.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        return {"cpu_ms": None, "peak_mb": None, "result": f"stopped after {CAP_SECONDS} s"}


def rounds(query) -> tuple[dict, dict]:
    """("before", "new") results of `query`, each the median by CPU time of `ROUNDS` fresh
    processes, run alternately (a shared machine drifts between runs: pairs share the drift)."""
    runs: dict[str, list[dict]] = {"before": [], "new": []}
    for _ in range(ROUNDS):
        for engine in runs:
            runs[engine].append(run(engine, query))

    def median(results: list[dict]) -> dict:
        timed = sorted((r for r in results if r["cpu_ms"] is not None), key=lambda r: r["cpu_ms"])
        return timed[len(timed) // 2] if timed else results[0]

    return median(runs["before"]), median(runs["new"])


def main() -> None:
    lines = [
        "# Kneser-Ney completion: explicit lattice (old) vs backoff lattice (new)",
        "",
        "`python benchmarks/bench_kn_lattice.py`; CPU ms of one `complete(top=10, samples=10)` (or",
        f"`sample(10, length='corpus')`), best of {REPEATS} runs in a process, model fitted first; peak RSS",
        "of the whole process (Python + numpy + model ≈ 60-100 MB of it). Old runs capped at "
        f"{CAP_SECONDS} s, once; before and new: the median of {ROUNDS} processes each, alternating. Shared",
        "2-core machine: one process's CPU time varies by ~±30% from run to run.",
        f"old: the explicit lattice; before: the backoff lattice at commit {BEFORE}; new: this tree's.",
        "",
        "| corpus | k | smoothing | query | old ms | old MB | old result | before ms | before MB "
        "| new ms | new MB | new result |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for query in QUERIES:
        old, before, new = run("old", query), *rounds(query)
        corpus, k, smoothing, pattern, length = query
        label = f"`{pattern}`" + (f" length={length}" if length else "")
        same = "" if before["result"] == new["result"] else f" (before: {before['result']})"
        lines.append(
            f"| {corpus} | {k} | {smoothing} | {label} | {old['cpu_ms']} | {old['peak_mb']} | {old['result']} "
            f"| {before['cpu_ms']} | {before['peak_mb']} | {new['cpu_ms']} | {new['peak_mb']} | {new['result']}{same} |"
        )
        print(lines[-1], flush=True)
    (ROOT / "benchmarks" / "results" / "bench_kn_lattice.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def every_length() -> None:
    """`sample(10, length='corpus')` with Kneser-Ney on every bundled corpus at k = 1-6
    (the backoff engine only): writes benchmarks/results/bench_kn_lengths.md."""
    from tnaas.data.corpus import bundled_names

    lines = [
        "# Kneser-Ney length control (`%`, length = the corpus's lengths) on every bundled corpus",
        "",
        "`python benchmarks/bench_kn_lattice.py --every-length`; CPU ms of one `sample(10, length='corpus')`",
        f"(best of {REPEATS}, model fitted first), peak RSS of the process, capped at {CAP_SECONDS} s.",
        "",
        f"before: the backoff engine at commit {BEFORE}; new: this tree's (interleaved).",
        "",
        "| corpus | k | before ms | before MB | before result | new ms | new MB | new result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for corpus in bundled_names():
        for k in range(1, 7):
            query = (corpus, k, "kneser-ney", "%", "corpus")
            before, new = run("before", query), run("new", query)
            lines.append(
                f"| {corpus} | {k} | {before['cpu_ms']} | {before['peak_mb']} | {before['result']} "
                f"| {new['cpu_ms']} | {new['peak_mb']} | {new['result']} |"
            )
            print(lines[-1], flush=True)
    (ROOT / "benchmarks" / "results" / "bench_kn_lengths.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    every_length() if sys.argv[1:] == ["--every-length"] else main()
