"""The Lambda bundle: cold start, hot latency, size and memory, side by side in one run.

    python benchmarks/bench_lambda.py [--runs 7] [--zip PATH]

Cold start: a fresh `python -I -S` process with only the unpacked zip on sys.path that
imports the handler and answers /api/markov/pokemon/complete?q=***base (Kneser-Ney: the
unsmoothed chain gives ***base probability 0), against the talk's naive handler (a fresh
process: import markovify, build the Chain from the Pokémon corpus, one walk) and against
the floor (a fresh process importing numpy, fastapi and mangum from the zip). Hot: p50/p99
of generate / complete / score events through the handler in one warm process. RSS of
a warm process after answering every bundled corpus. Writes benchmarks/results/bench_lambda.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "bench_lambda.md"

RECORDED = json.loads((ROOT / "tests" / "events" / "http_v2_complete.json").read_text(encoding="utf-8"))


def event(path: str, query: dict[str, str]) -> dict:
    """The recorded HTTP API (payload 2.0, stage `prod` in the path) event, sent to `path?query`."""
    from urllib.parse import urlencode

    out = json.loads(json.dumps(RECORDED))
    out["rawPath"] = out["requestContext"]["http"]["path"] = f"/prod{path}"
    out["rawQueryString"] = urlencode(query)
    out["queryStringParameters"] = dict(query)
    out["pathParameters"] = {"proxy": path.lstrip("/")}
    return out


KN = {"smoothing": "kneser-ney"}
EVENTS = {
    "generate": event("/api/markov/pokemon/generate", {"n": "10", "seed": "1"} | KN),
    "complete": event("/api/markov/pokemon/complete", {"q": "***base", "seed": "1"} | KN),
    "score": event("/api/markov/pokemon/score", {"item": "Pikachu"} | KN),
}

# Every request goes through the real handler (tnaas.api.handler: Mangum, FastAPI, the
# stage stripping), as the deployed function answers it.
ANSWER = (
    "from tnaas.api import handler\n"
    f"EVENTS = json.loads({json.dumps(json.dumps(EVENTS))})\n"
    "def call(kind, seed=None):\n"
    "    e = EVENTS[kind]\n"
    "    if seed is not None:\n"
    "        e = dict(e, queryStringParameters=dict(e['queryStringParameters'], seed=str(seed)),\n"
    "                 rawQueryString=e['rawQueryString'].replace('seed=1', f'seed={seed}'))\n"
    "    r = handler(e, None)\n"
    "    assert r['statusCode'] == 200, r\n"
    "    return r\n"
    "def answer():\n"
    "    r = call('complete')\n"
    "    assert json.loads(r['body'])['probability'] > 0, r\n"
    "    return r\n"
)

COLD = "t0 = time.perf_counter()\n" + ANSWER + "answer()\nprint(json.dumps({'s': time.perf_counter() - t0}))\n"
FLOOR = "t0 = time.perf_counter()\nimport numpy, fastapi, mangum\nprint(json.dumps({'s': time.perf_counter() - t0}))\n"
NAIVE = (
    "import json, time\nt0 = time.perf_counter()\n"
    "import markovify, random\n"
    "from tnaas.data.corpus import CORPORA_DIR\n"
    "names = (CORPORA_DIR / 'pokemon.txt').read_text(encoding='utf-8').splitlines()\n"
    "chain = markovify.Chain([list(n) for n in names if n], 3)\n"
    "random.seed(0); ''.join(chain.walk())\n"
    "print(json.dumps({'s': time.perf_counter() - t0}))\n"
)

HOT = ANSWER + (
    "from tnaas import service\n"
    "from tnaas.data.corpus import bundled_names\n"
    "tasks = {\n"
    "    'generate': lambda i: call('generate', seed=i),\n"
    "    'complete': lambda i: answer(),\n"
    "    'score': lambda i: call('score'),\n"
    "}\n"
    "sizes = {name: len(f(0)['body']) for name, f in tasks.items()}\n"
    "out = {'body_bytes': sizes}\n"
    "for name, f in tasks.items():\n"
    "    times = []\n"
    "    for i in range(300):\n"
    "        t = time.perf_counter(); f(i); times.append(time.perf_counter() - t)\n"
    "    times.sort(); out[name] = [times[len(times) // 2], times[int(len(times) * 0.99)]]\n"
    "for name in bundled_names():\n"
    "    corpus = service.bundled_corpus(name)\n"
    "    for smoothing in ('none', 'kneser-ney'):\n"
    "        req = service.ModelRequest.parse('markov', {'smoothing': smoothing}, corpus)\n"
    "        service.generate_answer(corpus, req, n=5, seed=0)\n"
    "        item = corpus.items[0]\n"
    "        pattern = item[:6] + '*' if corpus.token_kind == 'characters' else ' '.join(item.split()[:6] + ['*'])\n"
    "        service.complete_answer(corpus, req, pattern)\n"
    "        assert service.fitted(corpus, req)[1] is None\n"
    "import resource\n"
    "rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]\n"
    "out['rss_mb'] = int(rss) / 1024; out['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
    "print(json.dumps(out))\n"
)
NAIVE_HOT = (
    "import json, time, random, markovify\n"
    "from tnaas.data.corpus import CORPORA_DIR\n"
    "names = (CORPORA_DIR / 'pokemon.txt').read_text(encoding='utf-8').splitlines()\n"
    "def request():\n"
    "    chain = markovify.Chain([list(n) for n in names if n], 3)\n"
    "    return ''.join(chain.walk())\n"
    "request(); times = []\n"
    "for _ in range(30):\n"
    "    t = time.perf_counter(); request(); times.append(time.perf_counter() - t)\n"
    "times.sort(); print(json.dumps({'p50': times[len(times) // 2]}))\n"
)


def isolated(root: Path, code: str) -> dict:
    """Run `code` in `python -I -S` with only `root` added to sys.path; its JSON output."""
    prelude = f"import sys, json, time; sys.path.insert(0, {str(root)!r})\n"
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", prelude + code],
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def wall(command: list[str], **kwargs) -> float:
    """Wall-clock seconds of a whole fresh process (interpreter start included)."""
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, timeout=600, **kwargs)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--zip", type=Path, help="an existing tnaas-lambda.zip (default: build one now)")
    args = parser.parse_args()
    from tnaas.deploy.lambda_zip import build_lambda

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.zip:
            path = args.zip
            with zipfile.ZipFile(path) as z:
                unzipped = sum(i.file_size for i in z.infolist())
        else:
            bundle = build_lambda(tmp / "build", report=print)
            path, unzipped = bundle.path, bundle.unzipped_bytes
        zipped = path.stat().st_size
        root = tmp / "task"
        with zipfile.ZipFile(path) as z:
            z.extractall(root)
        prelude = f"import sys, json, time; sys.path.insert(0, {str(root)!r})\n"
        isolated_cmd = [sys.executable, "-I", "-S", "-c"]
        rows = {"cold": [], "floor": [], "naive": [], "cold_in": [], "floor_in": [], "naive_in": []}
        for _ in range(args.runs):  # interleaved, so that load on the machine hits all alike
            rows["cold"].append(wall([*isolated_cmd, prelude + COLD], env={"PATH": "/usr/bin:/bin"}))
            rows["floor"].append(wall([*isolated_cmd, prelude + FLOOR], env={"PATH": "/usr/bin:/bin"}))
            rows["naive"].append(wall([sys.executable, "-c", NAIVE], cwd=ROOT))
            rows["cold_in"].append(isolated(root, COLD)["s"])
            rows["floor_in"].append(isolated(root, FLOOR)["s"])
            done = subprocess.run([sys.executable, "-c", NAIVE], cwd=ROOT, capture_output=True, text=True, check=True)
            rows["naive_in"].append(json.loads(done.stdout)["s"])
        med = {k: statistics.median(v) for k, v in rows.items()}
        hot = isolated(root, HOT)
        done = subprocess.run([sys.executable, "-c", NAIVE_HOT], cwd=ROOT, capture_output=True, text=True, check=True)
        naive_hot = json.loads(done.stdout)["p50"]

    import numpy

    what = "the real handler (tnaas.api.handler, Mangum) with the recorded HTTP API event tests/events/http_v2_complete.json retargeted"
    lines = [
        "# The Lambda bundle: cold start, hot latency, size, memory",
        "",
        f"Produced by `python benchmarks/bench_lambda.py --runs {args.runs}` on {time.strftime('%Y-%m-%d')}.",
        f"Python {platform.python_version()}, numpy {numpy.__version__} here ({'' if args.zip else 'zip built with '}"
        "numpy from the manylinux2014 wheel), 2 CPUs (x86_64), shared with other jobs: absolute times are noisy;",
        "the rows of one table were measured interleaved in the same run. Measured locally on this machine, not on AWS.",
        "",
        f"Cold start answers /api/markov/pokemon/complete?q=***base&smoothing=kneser-ney through {what}, "
        "in a fresh `python -I -S` process with only the unpacked zip on sys.path, from the zip's artifacts.",
        "",
        f"## Cold start (median of {args.runs} fresh processes)",
        "",
        "| process | whole process s | inside the process s |",
        "|---|---|---|",
        f"| tnaas from the zip: import + answer | {med['cold']:.3f} | {med['cold_in']:.3f} |",
        f"| floor: import numpy + fastapi + mangum | {med['floor']:.3f} | {med['floor_in']:.3f} |",
        f"| naive: import markovify, build the Chain, one walk | {med['naive']:.3f} | {med['naive_in']:.3f} |",
        "",
        f"Cold answer / floor: {med['cold'] / med['floor']:.2f}x whole process, "
        f"{med['cold_in'] / med['floor_in']:.2f}x inside (goal ≤ 1.5x); cold answer "
        f"{med['cold']:.3f} s (goal ≤ 1 s); naive / tnaas cold: {med['naive'] / med['cold']:.2f}x.",
        "",
        "## Hot, through the handler in one warm process (300 events each, pokemon, Kneser-Ney)",
        "",
        "| request | p50 ms | p99 ms | naive handler per request (build + walk) / p50 |",
        "|---|---|---|---|",
    ]
    for name in ("generate", "complete", "score"):
        p50, p99 = hot[name]
        lines.append(f"| {name} | {p50 * 1e3:.2f} | {p99 * 1e3:.2f} | {naive_hot / p50:.2f}x |")
    lines += [
        "",
        f"Naive handler per request (markovify Chain built from the corpus, one walk): {naive_hot * 1e3:.1f} ms (p50 of 30). "
        "Goal: complete p50 ≤ 5 ms. Response bodies: "
        + ", ".join(f"{k} {v:,} bytes" for k, v in hot["body_bytes"].items())
        + ". Events: generate n=10 (seed varied per event), complete q=***base seed=1, score item=Pikachu.",
        "",
        "## Package and memory",
        "",
        f"- zip: {zipped / 1e6:.1f} MB zipped, {unzipped / 1e6:.1f} MB unzipped (limits 50 MB and 250 MB)",
        f"- RSS of the warm process after answering every bundled corpus (Markov, both smoothings, "
        f"generate + complete of the first item's first 6 tokens then `*`): {hot['rss_mb']:.0f} MB now, {hot['peak_rss_mb']:.0f} MB peak (goal ≤ 256 MB)",
        "",
    ]
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
