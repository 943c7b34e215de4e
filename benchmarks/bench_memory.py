"""Peak memory of serving a 25 MB upload of each token kind, through the service layer.

Each case runs in a fresh process: read the upload (the one bounded reader and the corpus
checks), fit the model the app would fit at its default settings (Markov chain, state size
3, no smoothing) and with Kneser-Ney, then generate 20 items and complete a pattern, as the
Generate and Complete pages do. Reported: peak RSS of the process (MB) after reading and at
the end, and what the memory budget (`TNAAS_FIT_BUDGET_MB`, default 500) refused. The
uploads are synthetic and seeded: package names sampled from the bundled PyPI list
(characters), random 3-12 word lines over tinyshakespeare's vocabulary-sized word list
(words), random tunes of 8-40 notes (notes).

    python benchmarks/bench_memory.py [--mb 25]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import _common
import numpy as np

PROBE = r"""
import json, resource, sys
def peak(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
from tnaas import service
from tnaas.data.corpus import read_upload
from tnaas.errors import TnaasError
path, smoothing = sys.argv[1], sys.argv[2]
start = peak()
corpus = read_upload(open(path, 'rb').read(), path.rsplit('/', 1)[-1])
read = peak()
request = service.ModelRequest.parse('markov', {'state_size': 3, 'smoothing': smoothing}, corpus)
outcome = 'served'
try:
    service.generate_answer(corpus, request, n=20, seed=0)
    pattern = '***' if corpus.token_kind == 'characters' else '* *'
    service.complete_answer(corpus, request, pattern, top=10, samples=10, seed=0)
except TnaasError as error:
    outcome = 'refused: ' + str(error)
print(json.dumps({'start': start, 'read': read, 'peak': peak(), 'items': len(corpus.items),
                  'tokens': int(corpus.lengths.sum()), 'outcome': outcome}))
"""


def synthetic(kind: str, megabytes: float, folder: Path) -> Path:
    """A seeded synthetic upload of about `megabytes` MB of one token kind."""
    rng = np.random.default_rng(0)
    if kind == "characters":
        names = _common.load_pypi_names()
        make = lambda: names[rng.integers(len(names))]  # noqa: E731
    elif kind == "words":
        vocabulary = [f"{a}{b}" for a in ("ab", "co", "de", "el", "fa", "gi", "ho", "ix") for b in range(3_000)]
        make = lambda: " ".join(vocabulary[i] for i in rng.integers(len(vocabulary), size=rng.integers(3, 13)))  # noqa: E731
    else:
        notes = [f"{n}{o}" for n in ("A", "B", "C", "D", "E", "F", "G", "Bb", "F#", "C#") for o in (3, 4, 5)]
        make = lambda: " ".join(notes[i] for i in rng.integers(len(notes), size=rng.integers(8, 41)))  # noqa: E731
    lines, size, limit = [], 0, int(megabytes * 2**20) - 4096
    while size < limit:
        line = make()
        lines.append(line)
        size += len(line.encode()) + 1
    path = folder / f"{kind}.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=24.9, help="upload size in MB (the limit is 25)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for kind in ("characters", "words", "notes"):
            path = synthetic(kind, args.mb, Path(folder))
            for smoothing in ("none", "kneser-ney"):
                done = subprocess.run(
                    [sys.executable, "-c", PROBE, str(path), smoothing],
                    capture_output=True,
                    text=True,
                    cwd=_common.ROOT,
                    check=True,
                )
                r = json.loads(done.stdout.splitlines()[-1])
                rows.append(
                    [
                        kind,
                        smoothing,
                        f"{path.stat().st_size / 2**20:.1f}",
                        f"{r['items']:,}",
                        f"{r['tokens']:,}",
                        f"{r['read'] - r['start']:.0f}",
                        f"{r['peak']:.0f}",
                        r["outcome"][:110],
                    ]
                )
    body = _common.table(
        ["tokens", "smoothing", "MB", "items", "tokens", "read MB", "peak RSS MB", "state size 3: generate + complete"], rows
    )
    _common.write_result(
        "bench_memory", "Peak memory of a 25 MB upload", body, "python benchmarks/bench_memory.py", timing=False
    )


if __name__ == "__main__":
    main()
