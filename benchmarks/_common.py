"""Helpers shared by the benchmark scripts: timing, medians, markdown tables, result files.

Importing this module also puts the repository root on `sys.path`, so that
`python benchmarks/NAME.py` run from the root imports the working tree's `tnaas`.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PYPI_NAMES = ROOT / "benchmarks" / "data" / "pypi_names_all.txt.gz"  # bundled: no ../shared needed

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def clock() -> float:
    """A monotonic wall clock in seconds (what a user waits for)."""
    return time.perf_counter()


def median(values) -> float:
    """The median of a non-empty sequence of numbers."""
    return float(statistics.median(values))


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, inf when the denominator is 0."""
    return numerator / denominator if denominator else float("inf")


def fmt(value: float, digits: int = 3) -> str:
    """A number with `digits` significant digits, thousands separated when large."""
    if value != value:  # NaN
        return "n/a"
    if value in (float("inf"), float("-inf")):
        return "∞" if value > 0 else "-∞"
    if abs(value) >= 10**digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def table(headers: list[str], rows: list[list]) -> str:
    """A GitHub markdown table; cells are formatted with `fmt` unless already strings."""
    cells = [[c if isinstance(c, str) else fmt(c) for c in row] for row in rows]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def environment(timing: bool = True) -> str:
    """One line naming the interpreter, library versions and machine the numbers come from."""
    import markovify
    import numpy

    version = getattr(markovify, "__version__", "?")
    line = (
        f"Python {platform.python_version()}, numpy {numpy.__version__}, markovify {version}, "
        f"{os.cpu_count()} CPUs ({platform.machine()})"
    )
    if timing:
        line += ", shared with other jobs: absolute times are noisy, ratios (measured in the same run, interleaved) are what to compare"
    return line + "."


def write_result(name: str, title: str, body: str, command: str, timing: bool = True) -> Path:
    """Print `body` and write it, with a title and how it was produced, to results/NAME.md.

    `timing` False leaves out the note on noisy times (for results that are not times).
    """
    RESULTS.mkdir(parents=True, exist_ok=True)
    header = f"Produced by `{command}` on {time.strftime('%Y-%m-%d')}.\n{environment(timing)}"
    text = f"# {title}\n\n{header}\n\n{body.strip()}\n"
    path = RESULTS / f"{name}.md"
    path.write_text(text, encoding="utf-8")
    print(text)
    return path


def load_pypi_names(path: Path = PYPI_NAMES) -> list[str]:
    """The PyPI project names, one per line of a gzip file, blank lines dropped.

    Read line by line so that the peak memory of loading is the memory of the result
    (the fit benchmark measures peaks relative to this baseline).
    """
    import gzip

    if not path.exists():
        sys.exit(f"missing {path}: the fit benchmark needs the PyPI name list there")
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [name for name in (line.strip() for line in lines) if name]


def pattern_regex(pattern: str):
    """A compiled regex matching exactly the items a character pattern matches.

    `*` is one character, `%` any run, `\\x` a literal x (see `tnaas.inference.patterns`).
    """
    import re

    parts, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append("." if ch == "*" else ".*" if ch == "%" else re.escape(ch))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


def load_old_module(relative_path: str, commit: str):
    """The file `relative_path` (e.g. "tnaas/inference/smc.py") as it was at `commit`, read with
    `git show` and imported from a temporary file as a module of its own: an old implementation
    to time against today's in the same run, without a copy of it in the repository."""
    import importlib.util
    import subprocess
    import tempfile

    source = subprocess.run(
        ["git", "show", f"{commit}:{relative_path}"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    path = Path(tempfile.mkdtemp()) / f"{Path(relative_path).stem}_{commit}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module
