"""How fast the HTTP API answers, and what HTTP costs on top of the service.

1. Over loopback: `python -m tnaas serve --workers 2` on 127.0.0.1 (a free port), then 50
   concurrent clients (httpx, asyncio) for 30 s sending a mix of generate / complete /
   score on several corpora (Markov chain, models fitted before timing). Throughput,
   p50/p95/p99 latency per kind, error count (must be 0), each worker's resident memory.
   The same `complete ***base` on tech (k=3) is also timed from one sequential client, so
   the HTTP overhead is seen without queueing.
2. The same mix in-process (service calls, no HTTP), one caller.
3. The talk's naive handler: build a markovify Chain from the corpus on every request and
   walk it once, beside one generated name from the API (`n=1`).

    python benchmarks/bench_api.py [--quick]

Writes benchmarks/results/bench_api.md. Only loopback is used; the server is stopped by its PID.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

from _common import RESULTS, ROOT, clock, environment, table

CLIENTS = 50
SECONDS = 30.0
GOAL = ("complete", "/api/markov/tech/complete?q=***base&seed=1")
MIX = [
    GOAL,
    ("complete", "/api/markov/pokemon/complete?q=Pika*%25&seed=1"),
    ("complete", "/api/markov/ikea/complete?q=B*LL*&top=5&seed=1"),
    ("generate", "/api/markov/pokemon/generate?n=5&seed={seed}"),
    ("generate", "/api/markov/tech/generate?n=5&seed={seed}&temperature=0.8"),
    ("generate", "/api/markov/rhcp/generate?n=3&seed={seed}&length=2-4"),
    ("score", "/api/markov/tech/score?item=numpy"),
    ("score", "/api/markov/pokemon/score?item=Pikachu"),
    ("score", "/api/markov/sonnets/score?item=Shall%20I%20compare%20thee%20to%20a%20summer's%20day"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Every live descendant of `pid` (uvicorn's worker processes), from /proc."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found += kids
        frontier += kids
    return found


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)

    def at(q):
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return at(0.50), at(0.95), at(0.99)


async def _load(base: str, clients: int, seconds: float, mix) -> tuple[dict, int, float, list[str]]:
    """`clients` concurrent loops over `mix` for `seconds`: (latencies ms by url, errors, elapsed s, samples)."""
    import httpx

    latencies: dict[str, list[float]] = {}
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        deadline = clock() + seconds

        async def one(worker: int):
            rng = random.Random(worker)
            while clock() < deadline:
                kind, url = mix[rng.randrange(len(mix))]
                started = clock()
                response = await client.get(url.format(seed=rng.randrange(1000)))
                latencies.setdefault(url, []).append((clock() - started) * 1000)
                if response.status_code != 200:
                    errors.append(f"{response.status_code} {url}")

        started = clock()
        await asyncio.gather(*(one(w) for w in range(clients)))
        elapsed = clock() - started
    return latencies, len(errors), elapsed, errors[:5]


def _rows(latencies: dict[str, list[float]], mix) -> list[list]:
    rows = []
    for kind in ("generate", "complete", "score"):
        values = [v for k, u in mix if k == kind for v in latencies.get(u, [])]
        rows.append([kind, f"{len(values):,}", *_percentiles(values)])
    everything = [v for values in latencies.values() for v in values]
    rows.append(["all", f"{len(everything):,}", *_percentiles(everything)])
    rows.append(["complete ***base on tech (k=3)", f"{len(latencies[GOAL[1]]):,}", *_percentiles(latencies[GOAL[1]])])
    return rows


def _in_process(seconds: float) -> dict[str, list[float]]:
    """The same mix through the service layer (no HTTP), one caller, models fitted first."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    from tnaas import service
    from tnaas.service import ModelRequest

    calls = []
    for kind, url in MIX:
        parts = urlsplit(url)
        _, _, model, corpus, _ = parts.path.split("/")
        params = dict(parse_qsl(parts.query))
        calls.append((kind, url, unquote(corpus), model, params))

    def run(kind, corpus_name, model_name, params, seed):
        corpus = service.bundled_corpus(corpus_name)
        request = ModelRequest.parse(model_name, {}, corpus)
        params = {k: (v.format(seed=seed) if isinstance(v, str) else v) for k, v in params.items()}
        if kind == "generate":
            return service.jsonable(service.generate_answer(corpus, request, **params))
        if kind == "complete":
            params = dict(params)
            return service.jsonable(service.complete_answer(corpus, request, params.pop("q"), **params))
        return service.jsonable(service.score_answer(corpus, request, params["item"]))

    for kind, _, corpus, model, params in calls:  # fit everything before timing
        run(kind, corpus, model, params, 0)
    latencies: dict[str, list[float]] = {}
    rng = random.Random(0)
    deadline = clock() + seconds
    while clock() < deadline:
        kind, url, corpus, model, params = calls[rng.randrange(len(calls))]
        started = clock()
        run(kind, corpus, model, params, rng.randrange(1000))
        latencies.setdefault(url, []).append((clock() - started) * 1000)
    return latencies


def _naive_and_ours(repeats: int) -> tuple[list[float], list[float]]:
    """(the naive handler's ms, the service's generate n=1 ms) on tech at k=3."""
    import markovify

    from tnaas import service
    from tnaas.service import ModelRequest

    corpus = service.bundled_corpus("tech")
    request = ModelRequest.parse("markov", {"state_size": 3}, corpus)
    service.generate_answer(corpus, request, n=1, seed=0)
    naive, ours = [], []
    for i in range(repeats):
        started = clock()
        chain = markovify.Chain([list(item) for item in corpus.items], state_size=3)
        "".join(chain.walk())
        naive.append((clock() - started) * 1000)
        started = clock()
        service.generate_answer(corpus, request, n=1, seed=i)
        ours.append((clock() - started) * 1000)
    return naive, ours


def _wait_for(base: str, server: subprocess.Popen, seconds: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(base + "/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the server did not start")
        time.sleep(0.2)


def _stop(server: subprocess.Popen) -> None:
    """SIGTERM to the server we started (uvicorn stops its workers), SIGKILL by PID if it hangs."""
    workers = _children(server.pid)
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)
    for pid in workers:  # a worker that outlived its master (should not happen)
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


def main() -> None:
    """Run the benchmark and write benchmarks/results/bench_api.md."""
    import httpx

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 s of load instead of 30")
    args = parser.parse_args()
    seconds = 5.0 if args.quick else SECONDS

    load_before = Path("/proc/loadavg").read_text().split()[:3]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    server = subprocess.Popen(
        [sys.executable, "-m", "tnaas", "serve", "--workers", "2", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(base, server)
        # Warm both workers: each URL many times, so every worker fits every model once.
        asyncio.run(_load(base, 8, 8.0 if not args.quick else 4.0, MIX))
        sequential = []
        with httpx.Client(base_url=base) as client:
            for _ in range(300):
                started = clock()
                assert client.get(GOAL[1]).status_code == 200
                sequential.append((clock() - started) * 1000)
            health = []
            for _ in range(300):
                started = clock()
                assert client.get("/health").status_code == 200
                health.append((clock() - started) * 1000)
            sizes = {url: len(client.get(url.format(seed=1)).content) for _, url in MIX}
        # Fewer clients first: per-request latency without (1) and with little (8) queueing.
        few = {n: asyncio.run(_load(base, n, min(seconds, 10.0), MIX)) for n in (1, 8)}
        latencies, errors, elapsed, examples = asyncio.run(_load(base, CLIENTS, seconds, MIX))
        workers = [(pid, _cmdline(pid), _rss_mb(pid)) for pid in _children(server.pid)]
        master_rss = _rss_mb(server.pid)
    finally:
        _stop(server)

    total = sum(len(v) for v in latencies.values())
    local = _in_process(min(seconds, 10.0))
    local_total = sum(len(v) for v in local.values())
    local_seconds = sum(sum(v) for v in local.values()) / 1000
    naive, ours = _naive_and_ours(20 if args.quick else 50)
    naive_p50, ours_p50 = _percentiles(naive)[0], _percentiles(ours)[0]
    http_goal, local_goal = _percentiles(latencies[GOAL[1]])[0], _percentiles(local[GOAL[1]])[0]
    seq_goal = _percentiles(sequential)

    headers = ["request", "requests", "p50 ms", "p95 ms", "p99 ms"]
    lines = [
        "# bench_api: the HTTP API under load",
        "",
        environment(),
        "",
        f"Load average before the run: {' '.join(load_before)} (1, 5, 15 min) on 2 cores (other jobs may "
        "share the machine). uvicorn's HTTP stack: "
        + ", ".join(f"{m} {'installed' if importlib.util.find_spec(m) else 'missing'}" for m in ("httptools", "uvloop"))
        + " (without httptools, h11's two-segment responses wait ~40 ms for delayed ACKs on kept-alive connections).",
        "",
        "    python benchmarks/bench_api.py" + (" --quick" if args.quick else ""),
        "",
        f"## Over loopback: `tnaas serve --workers 2`, {CLIENTS} concurrent clients, {seconds:g} s",
        "",
        f"Throughput **{total / elapsed:,.0f} requests/s** ({total:,} requests in {elapsed:.1f} s), "
        f"**errors: {errors}**{' ' + str(examples) if examples else ''}. The load generator (httpx, asyncio) "
        "runs on the same 2 cores as the two workers.",
        "",
        table(headers, _rows(latencies, MIX)),
        "",
        f"One sequential client, `complete ***base` on tech: p50 {seq_goal[0]:.2f} ms, p95 {seq_goal[1]:.2f} ms, "
        f"p99 {seq_goal[2]:.2f} ms (HTTP without queueing); `/health` (the HTTP floor: uvicorn, FastAPI, "
        f"httpx): p50 {_percentiles(health)[0]:.2f} ms.",
        "",
        "### Latency against the number of clients (same mix)",
        "",
        table(
            ["clients", "requests/s", "all p50 ms", "all p99 ms", "complete ***base p50 ms", "errors"],
            [
                [
                    f"{n:,}",
                    f"{sum(len(v) for v in lat.values()) / el:,.0f}",
                    _percentiles([x for v in lat.values() for x in v])[0],
                    _percentiles([x for v in lat.values() for x in v])[2],
                    _percentiles(lat[GOAL[1]])[0] if lat.get(GOAL[1]) else float("nan"),
                    str(err),
                ]
                for n, (lat, err, el, _) in [*few.items(), (CLIENTS, (latencies, errors, elapsed, examples))]
            ],
        ),
        "",
        "With 2 workers on 2 cores the server is throughput-bound: past ~2 clients a request waits "
        "for the ones ahead of it, so latency grows as clients / throughput (Little's law: "
        f"{CLIENTS} / {total / elapsed:,.0f} req/s = {CLIENTS / (total / elapsed) * 1000:,.0f} ms expected, "
        f"{_percentiles([x for v in latencies.values() for x in v])[0]:,.0f} ms p50 measured). "
        "The per-request cost is the 1-client row.",
        "",
        "Response sizes: " + ", ".join(f"`{u.format(seed=1)}` {b:,} bytes" for u, b in sizes.items()) + ".",
        "",
        "Resident memory after the run (every mix model fitted in each worker):",
        "",
        table(
            ["process", "RSS MB"],
            [["uvicorn master", master_rss]] + [[f"pid {p}: {c[-60:]}", r] for p, c, r in workers],
        ),
        "",
        f"## In-process (service calls, no HTTP), one caller, {min(seconds, 10.0):g} s",
        "",
        f"{local_total:,} requests, {local_total / local_seconds:,.0f} requests/s of one thread.",
        "",
        table(headers, _rows(local, MIX)),
        "",
        "## Naive handler vs the service (tech, k=3, one name per request, in-process)",
        "",
        table(
            ["handler", "p50 ms", "p95 ms", "p99 ms"],
            [
                ["naive: markovify.Chain built per request + one walk()", *_percentiles(naive)],
                ["service: generate_answer n=1 (model cached)", *_percentiles(ours)],
            ],
        ),
        "",
        f"The naive handler is **{naive_p50 / ours_p50:,.0f}x** slower at the median.",
        "",
        "## Goals",
        "",
        table(
            ["goal", "measured", "met"],
            [
                [
                    "complete ***base on tech, in-process p50 <= 5 ms",
                    f"{local_goal:.2f} ms",
                    "yes" if local_goal <= 5 else "no",
                ],
                [
                    "the same over loopback, 1 client, p50 <= 20 ms",
                    f"{_percentiles(few[1][0][GOAL[1]])[0]:.1f} ms" if few[1][0].get(GOAL[1]) else "n/a",
                    "yes" if few[1][0].get(GOAL[1]) and _percentiles(few[1][0][GOAL[1]])[0] <= 20 else "no",
                ],
                [
                    f"the same over loopback at {CLIENTS} clients p50 <= 20 ms (queueing: see above)",
                    f"{http_goal:.1f} ms",
                    "yes" if http_goal <= 20 else "no",
                ],
                ["errors under load", str(errors), "yes" if errors == 0 else "no"],
            ],
        ),
        "",
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_api.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
