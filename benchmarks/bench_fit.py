"""Fit time and peak memory on ~886k PyPI names: markovify `Chain` vs `MarkovModel.fit`.

Every measurement runs in a fresh subprocess, which first loads the names (a list of
strings, read line by line) and then records its baseline. Then it builds the model:

- markovify (list): `markovify.Chain([list(name) for name in names], k)`, as usually written;
- markovify (generator): `markovify.Chain((list(name) for name in names), k)`, the least
  memory markovify can use: it then holds only its model, not ~150 MB of lists;
- tnaas: `MarkovModel(k).fit(corpus_from_items(names, "characters"))`, the corpus
  (validation, integer encoding) included in the time and memory, and split out.

Memory is reported two ways: the increase of the child's peak resident set size
(`resource.getrusage(RUSAGE_SELF).ru_maxrss` after the fit minus that after loading) and,
in a separate run because tracing slows allocation, the `tracemalloc` peak of the fit
(numpy reports its buffers to tracemalloc). Repeats are interleaved (markovify, tnaas,
markovify, ...) and the table gives medians.

    python benchmarks/bench_fit.py [--state-sizes 1 2 3 4 5 6] [--reps 3] [--names PATH]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tracemalloc

import _common


def _peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(library: str, k: int, mode: str, path: str) -> dict:
    """Load the names, then fit one model; returns the measurements (run in a subprocess)."""
    names = _common.load_pypi_names(_common.Path(path))
    if library.startswith("markovify"):
        import markovify
    else:
        from tnaas.data.corpus import corpus_from_items
        from tnaas.models.markov import MarkovModel
    gc.collect()
    baseline = _peak_rss_mb()
    if mode == "tracemalloc":
        tracemalloc.start()
    start = _common.clock()
    corpus_seconds = 0.0
    result = {"items": len(names)}
    if library == "markovify-list":
        model = markovify.Chain([list(name) for name in names], k)
        size = len(model.model)
    elif library == "markovify-gen":
        model = markovify.Chain((list(name) for name in names), k)
        size = len(model.model)
    else:
        corpus = corpus_from_items(names, "characters")
        corpus_seconds = _common.clock() - start
        if mode == "tracemalloc":  # the fit's own peak, above the corpus it is given
            before, result["corpus_traced_mb"] = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
        model = MarkovModel(k).fit(corpus)
        if mode == "tracemalloc":
            result["fit_traced_mb"] = (tracemalloc.get_traced_memory()[1] - before) / 2**20
            result["corpus_traced_mb"] /= 2**20
        size = int((model.trie_.order == k).sum())
    result.update(seconds=_common.clock() - start, corpus_seconds=corpus_seconds, states=size)
    if mode == "tracemalloc":
        result["traced_mb"] = max(tracemalloc.get_traced_memory()[1] / 2**20, result.get("corpus_traced_mb", 0))
        tracemalloc.stop()
    result["rss_mb"] = _peak_rss_mb() - baseline
    return result


def measure(library: str, k: int, mode: str, path: str) -> dict:
    """Run `child` in a fresh interpreter and parse its JSON answer."""
    command = [sys.executable, __file__, "--child", library, str(k), mode, "--names", path]
    out = subprocess.run(command, capture_output=True, text=True, check=False, cwd=_common.ROOT)
    if out.returncode != 0:
        sys.exit(f"child {library} k={k} {mode} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


LIBRARIES = ("markovify-list", "markovify-gen", "tnaas")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-sizes", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--names", default=str(_common.PYPI_NAMES))
    parser.add_argument("--child", nargs=3, metavar=("LIBRARY", "K", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        library, k, mode = args.child
        print(json.dumps(child(library, int(k), mode, args.names)))
        return

    results = {(lib, k): {"time": [], "tracemalloc": []} for lib in LIBRARIES for k in args.state_sizes}
    for rep in range(args.reps):
        for k in args.state_sizes:
            order = LIBRARIES[rep % 3 :] + LIBRARIES[: rep % 3]
            for lib in order:
                results[lib, k]["time"].append(measure(lib, k, "time", args.names))
                if rep == 0:  # tracemalloc counts allocations: deterministic, one run is enough
                    results[lib, k]["tracemalloc"].append(measure(lib, k, "tracemalloc", args.names))
            print(f"repeat {rep + 1}/{args.reps}, state size {k} done", flush=True)

    def med(lib, k, key):
        return _common.median([r[key] for r in results[lib, k]["time"]])

    def traced(lib, k, key="traced_mb"):
        return results[lib, k]["tracemalloc"][0][key]

    time_rows, memory_rows = [], []
    for k in args.state_sizes:
        states = {results[lib, k]["time"][0]["states"] for lib in LIBRARIES}
        if len(states) != 1:
            sys.exit(f"state counts differ at k={k} ({states}): the chains are not the same model")
        m_list, m_gen, t_all = (
            med("markovify-list", k, "seconds"),
            med("markovify-gen", k, "seconds"),
            med("tnaas", k, "seconds"),
        )
        t_corpus = med("tnaas", k, "corpus_seconds")
        time_rows.append(
            [
                k,
                f"{states.pop():,}",
                m_list,
                m_gen,
                f"{_common.fmt(t_all)} ({_common.fmt(t_corpus)} + {_common.fmt(t_all - t_corpus)})",
                f"{_common.ratio(min(m_list, m_gen), t_all):.1f}×",
            ]
        )
        rss = [med(lib, k, "rss_mb") for lib in LIBRARIES]
        tm = [traced(lib, k) for lib in LIBRARIES]
        memory_rows.append(
            [
                k,
                *rss,
                _common.fmt(_common.ratio(min(rss[:2]), rss[2])) + "×",
                *tm[:2],
                f"{_common.fmt(tm[2])} ({_common.fmt(traced('tnaas', k, 'corpus_traced_mb'))} / "
                f"{_common.fmt(traced('tnaas', k, 'fit_traced_mb'))})",
                _common.fmt(_common.ratio(min(tm[:2]), tm[2])) + "×",
            ]
        )
    n_items = results["tnaas", args.state_sizes[0]]["time"][0]["items"]
    time_table = _common.table(
        [
            "state size",
            "states",
            "markovify (list) s",
            "markovify (generator) s",
            "tnaas s (corpus + fit)",
            "tnaas speed-up vs faster markovify",
        ],
        time_rows,
    )
    memory_table = _common.table(
        [
            "state size",
            "markovify (list) peak RSS MB",
            "markovify (generator) peak RSS MB",
            "tnaas peak RSS MB",
            "RSS: leaner markovify / tnaas",
            "markovify (list) tracemalloc MB",
            "markovify (generator) tracemalloc MB",
            "tnaas tracemalloc MB (corpus peak / fit peak above the corpus)",
            "tracemalloc: leaner markovify / tnaas",
        ],
        memory_rows,
    )
    body = (
        f"{n_items:,} names from `{_common.Path(args.names).name}`. Times and RSS are medians of {args.reps} "
        "fresh subprocesses, tracemalloc peaks come from one more run each (tracing slows allocation). "
        "`states` is the number of chain states (markovify's `len(chain.model)`, checked equal to the "
        "number of tnaas's order-k histories). Memory is the increase over the process after loading "
        "the names. Ratios compare tnaas with the better of the two markovify variants: above 1 means "
        "tnaas is faster / leaner.\n\n## Time\n\n" + time_table + "\n\n## Peak memory\n\n" + memory_table
    )
    _common.write_result("bench_fit", "Fit time and memory on the PyPI names", body, "python benchmarks/bench_fit.py")


if __name__ == "__main__":
    main()
