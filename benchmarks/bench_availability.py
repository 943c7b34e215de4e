"""Offline name availability: index sizes, load time, lookup time and memory.

    python benchmarks/bench_availability.py [--reps 3] [--lookups 2000]

Each repeat runs in a fresh subprocess (a cold start, as on a new Lambda instance) that
imports `tnaas.tasks.availability`, then loads each index on its first lookup and measures:

- load: wall seconds of the first lookup (read + gunzip; for `popular`, reading the 10,000
  popular names into the dict that near misses look a name's one-edit neighbours up in), and
  the resident memory it adds
  (RSS from /proc/self/statm before and after);
- lookup: median microseconds of one membership test, for names that are in the index
  (drawn from it) and for names that are not (random letters), `--lookups` of each;
  numpy, which the rest of tnaas imports anyway, is measured on its own row;
- `similar_to` and the full `check(name)` (three lookups, validity, near misses), per name.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import _common

CHILD = r"""
import json, os, random, statistics, sys, time
sys.path.insert(0, sys.argv[1])
page = os.sysconf("SC_PAGE_SIZE")

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page

import tnaas.tasks.availability as av
lookups = int(sys.argv[2])
rng = random.Random(0)
out = {"import_rss": rss()}
for key in ("pypi", "npm", "cran"):
    before, t = rss(), time.perf_counter()
    av.status("zzqxwvkpl", key)
    out[key] = {"load_s": time.perf_counter() - t, "rss": rss() - before}
before, t = rss(), time.perf_counter()
import numpy  # the rest of tnaas loads it anyway: measured apart from the indexes
out["numpy"] = {"load_s": time.perf_counter() - t, "rss": rss() - before}
before, t = rss(), time.perf_counter()
av.similar_to("zzqxwvkpl")
out["popular"] = {"load_s": time.perf_counter() - t, "rss": rss() - before}

def per_call_us(function, items):
    times = []
    for item in items:
        t = time.perf_counter()
        function(item)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e6

gibberish = ["".join(rng.choice("bcdfghjkmnpqrstvwxz") for _ in range(rng.randint(5, 12))) for _ in range(lookups)]
for key in ("pypi", "npm", "cran"):
    index = av._INDEX[key]
    names = index.data().split(b"\n")[:-1]
    present = [rng.choice(names).decode() for _ in range(lookups)]
    out[key]["names"] = len(names)
    out[key]["taken_us"] = per_call_us(index.__contains__, present)
    out[key]["absent_us"] = per_call_us(index.__contains__, gibberish)
    assert all(name in index for name in present[:100])
popular = [e[2] for e in av._POPULAR.entries()]
typos = [name[:-1] + "q" for name in rng.sample(popular, min(lookups, len(popular)))]
out["similar_to_us"] = per_call_us(av.similar_to, typos)
out["check_us"] = per_call_us(av.check, gibberish + typos)
out["total_rss"] = rss()
print(json.dumps(out))
"""


def run_child(lookups: int) -> dict:
    """One cold-start measurement in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(_common.ROOT), str(lookups)], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def main() -> None:
    """Measure and write results/availability.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--lookups", type=int, default=2000)
    args = parser.parse_args()
    runs = [run_child(args.lookups) for _ in range(args.reps)]

    def med(*path):
        values = []
        for run in runs:
            value = run
            for key in path:
                value = value[key]
            values.append(value)
        return _common.median(values)

    index_dir = _common.ROOT / "tnaas" / "data" / "index"
    files = {p.name: p.stat().st_size for p in sorted(index_dir.iterdir())}
    rows = []
    for key, file in (("pypi", "pypi.txt.gz"), ("npm", "npm.txt.gz"), ("cran", "cran.txt.gz")):
        rows.append(
            [
                key,
                f"{runs[0][key]['names']:,}",
                f"{files[file] / 1e6:.2f}",
                med(key, "load_s") * 1e3,
                med(key, "rss") / 1e6,
                med(key, "taken_us"),
                med(key, "absent_us"),
            ]
        )
    rows.append(
        [
            "popular (near misses)",
            "10,000",
            f"{files['popular.tsv'] / 1e6:.2f}",
            med("popular", "load_s") * 1e3,
            med("popular", "rss") / 1e6,
            "",
            "",
        ]
    )
    rows.append(
        ["(import numpy, for the above)", "", "", med("numpy", "load_s") * 1e3, med("numpy", "rss") / 1e6, "", ""]
    )
    body = _common.table(
        [
            "index",
            "names",
            "on disk (MB)",
            "load (ms)",
            "memory (MB, RSS)",
            "lookup, taken (µs)",
            "lookup, absent (µs)",
        ],
        rows,
    )
    body += (
        f"\n\nAll index files: {sum(files.values()) / 1e6:.2f} MB on disk. "
        f"Per name: `similar_to` {_common.fmt(med('similar_to_us'))} µs (one-typo variants of popular names), "
        f"full `check` {_common.fmt(med('check_us'))} µs. "
        f"Process RSS after import {med('import_rss') / 1e6:.0f} MB, with every index loaded {med('total_rss') / 1e6:.0f} MB "
        f"(medians of {args.reps} cold starts, {args.lookups:,} lookups of each kind)."
    )
    _common.write_result(
        "availability",
        "Offline name availability: sizes, load, lookup, memory",
        body,
        f"python benchmarks/bench_availability.py --reps {args.reps} --lookups {args.lookups}",
    )


if __name__ == "__main__":
    main()
