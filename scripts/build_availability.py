"""Build the offline name-availability indexes in ``tnaas/data/index/`` from the raw listings.

Usage::

    python scripts/build_availability.py [SOURCE_DIR] [--out DIR]

``SOURCE_DIR`` defaults to the first ``shared/corpora-sources`` found beside the repository
or above it (its ``SOURCES.md`` says where each listing comes from). The product never reads
``SOURCE_DIR``: it reads only what this script writes, which the repository carries.

Output (each name list: registry-normalised names, sorted by their UTF-8 bytes, one per
line, trailing newline, gzip level 9 without a timestamp, so rebuilding gives identical bytes):

- ``pypi.txt.gz``: every PyPI project name, PEP 503 normalised (``Num_Py`` -> ``num-py``).
- ``npm.txt.gz``: the popular npm packages (>= ~500 downloads a month), lower-cased; scoped
  names (``@scope/x``) are entries of their own.
- ``cran.txt.gz``: the CRAN names Debian packages (a partial list), lower-cased.
- ``popular.tsv``: ``registry<TAB>rank<TAB>name`` for the most popular names (top PyPI by
  download rank, top npm by monthly downloads) that near misses are measured against.
- ``manifest.json``: per index the snapshot, the source file, how many names, how complete.

Standard library only; deterministic (no clock, locale or hash order).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "tnaas" / "data" / "index"

# SOURCES.md dates both the PyPI and the npm listings "late 2026"; the CRAN list is Debian's.
SNAPSHOT = "late 2026"
POPULAR_TOP = 5000  # per registry: the names a near miss is worth flagging against


def find_sources(start: Path = ROOT) -> Path | None:
    """The nearest ``shared/corpora-sources`` directory beside `start` or above it, else None."""
    for parent in (start, *start.parents):
        candidate = parent / "shared" / "corpora-sources"
        if candidate.is_dir():
            return candidate
    return None


def pep503(name: str) -> str:
    """PyPI's comparison form of a project name (PEP 503): lower case, runs of -_. as one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle]


def _tsv(path: Path) -> list[dict[str, str]]:
    """Rows of a TSV file with a header line, as dicts."""
    lines = _lines(path)
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:] if line.strip()]


def name_list(names) -> bytes:
    """Distinct non-empty names, sorted by UTF-8 bytes, newline-joined with a trailing newline."""
    encoded = sorted({name.encode("utf-8") for name in names if name})
    for name in encoded:
        if b"\n" in name or b"\r" in name:  # one name per line is what the lookup relies on
            raise ValueError(f"a name with a line break: {name!r}")
    return b"".join(name + b"\n" for name in encoded)


def build(sources: Path) -> dict[str, bytes]:
    """Every output file's bytes, keyed by file name (nothing is written)."""
    pypi = [pep503(name.strip()) for name in _lines(sources / "pypi_names_all.txt.gz")]
    npm_rows = _tsv(sources / "npm_names_downloads.tsv.gz")
    npm = [row["name"].strip().lower() for row in npm_rows]
    cran = [name.strip().lower() for name in _lines(sources / "tech_cran_debian.txt")]
    lists = {"pypi": name_list(pypi), "npm": name_list(npm), "cran": name_list(cran)}

    top_pypi = sorted(_tsv(sources / "tech_pypi_top_ranked.tsv"), key=lambda r: int(r["rank"]))
    popular, seen = [], set()
    for row in top_pypi:
        name = pep503(row["name"].strip())
        if name and name not in seen and len(seen) < POPULAR_TOP:
            seen.add(name)
            popular.append(("pypi", len(seen), name))
    # Most downloads first; equal counts in name order, so the ranks are reproducible. A few
    # rows (21) have no count: they are taken all the same, but never ranked as popular.
    by_downloads = sorted(npm_rows, key=lambda r: (-int(r["downloads_a_month"] or 0), r["name"].lower()))
    seen = set()
    for row in by_downloads:
        name = row["name"].strip().lower()
        if name and name not in seen and len(seen) < POPULAR_TOP:
            seen.add(name)
            popular.append(("npm", len(seen), name))
    popular_tsv = "".join(f"{reg}\t{rank}\t{name}\n" for reg, rank, name in popular).encode("utf-8")

    counts = {key: data.count(b"\n") for key, data in lists.items()}
    manifest = {
        "about": "Offline name-availability indexes for tnaas.tasks.availability; built by scripts/build_availability.py.",
        "indexes": {
            "pypi": {
                "file": "pypi.txt.gz",
                "source": "pypi_names_all.txt.gz: every PyPI project name in a PyPI package index listing",
                "snapshot": SNAPSHOT,
                "names": counts["pypi"],
                "normalisation": "PEP 503: re.sub(r'[-_.]+', '-', name).lower()",
                "completeness": "every project name PyPI listed at the snapshot",
            },
            "npm": {
                "file": "npm.txt.gz",
                "source": "npm_names_downloads.tsv.gz: npm packages with at least about 500 downloads a month",
                "snapshot": SNAPSHOT,
                "names": counts["npm"],
                "normalisation": "lower case; scoped names (@scope/name) are separate entries",
                "completeness": "popular packages only, not the whole registry (about 3 million)",
            },
            "cran": {
                "file": "cran.txt.gz",
                "source": "tech_cran_debian.txt: R packages Debian ships as r-cran-NAME",
                "snapshot": "Debian package list",
                "names": counts["cran"],
                "normalisation": "lower case (CRAN refuses a name differing only in case from an existing one)",
                "completeness": "partial: Debian's packaged subset of CRAN",
            },
        },
        "popular": {
            "file": "popular.tsv",
            "per_registry": POPULAR_TOP,
            "pypi": "tech_pypi_top_ranked.tsv by rank, PEP 503 normalised",
            "npm": "npm_names_downloads.tsv.gz by monthly downloads, lower-cased",
        },
        "sha256": {
            f"{key}.txt": hashlib.sha256(data).hexdigest() for key, data in lists.items()
        },  # of the uncompressed lists
    }
    files = {f"{key}.txt.gz": gzip.compress(data, 9, mtime=0) for key, data in lists.items()}
    files["popular.tsv"] = popular_tsv
    files["manifest.json"] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
    return files


def main(argv=None) -> None:
    """Build the indexes and write them (default: into the package's ``data/index``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="?", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    sources = args.sources or find_sources()
    if sources is None or not sources.is_dir():
        parser.error("no shared/corpora-sources directory found: pass SOURCE_DIR")
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in build(sources).items():
        (args.out / name).write_bytes(data)
        print(f"{args.out / name}: {len(data):,} bytes")


if __name__ == "__main__":
    main()
