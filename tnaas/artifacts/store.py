"""Which artifact serves a request: the service's lookup in the `TNAAS_ARTIFACTS` directory.

The key is the model cache's own, (corpus content hash, model name, resolved params), so an
artifact serves exactly the model a fit would have produced for that request. Without the
environment variable the directory is `DEFAULT_DIR`, inside the installed package, which
only a deployment bundle (`tnaas build-lambda`) fills; set TNAAS_ARTIFACTS to an empty
string to turn artifacts off.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from tnaas.artifacts.format import FORMAT_NAME, MAX_HEADER_BYTES

ENV_VAR = "TNAAS_ARTIFACTS"
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "_artifacts"  # tnaas/_artifacts

_lock = threading.Lock()
_indexes: dict[tuple[str, int], dict[tuple, Path]] = {}


def artifacts_dir() -> Path | None:
    """The directory artifacts are served from, or None when there is none."""
    value = os.environ.get(ENV_VAR)
    directory = DEFAULT_DIR if value is None else (Path(value) if value.strip() else None)
    return directory if directory is not None and directory.is_dir() else None


def _key(header: dict) -> tuple | None:
    try:
        params = tuple(sorted(header["params"].items()))
        return (header["corpus"]["content_hash"], header["model"], params)
    except (KeyError, TypeError, AttributeError):
        return None


def index(directory: Path) -> dict[tuple, Path]:
    """{cache key: header path} of every artifact header in `directory` (files that are not
    artifact headers are ignored). Rebuilt when the directory changes."""
    import json

    stamp = (str(directory), directory.stat().st_mtime_ns)
    with _lock:
        if stamp in _indexes:
            return _indexes[stamp]
    found = {}
    for path in sorted(directory.glob("*.json")):
        try:
            if path.stat().st_size > MAX_HEADER_BYTES:
                continue
            header = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(header, dict) and header.get("format") == FORMAT_NAME and (key := _key(header)):
            found[key] = path
    with _lock:
        _indexes[stamp] = found
    return found


def find(key: tuple) -> Path | None:
    """The header path of the artifact for cache `key`, or None."""
    directory = artifacts_dir()
    if directory is None:
        return None
    try:
        return index(directory).get(key)
    except TypeError:  # unhashable params: no artifact can match
        return None


def load_for(key: tuple):
    """The fitted model of the artifact for cache `key`, or None when there is none.

    A matching artifact that cannot be read is a `TnaasError`: a broken deployment should
    say so rather than quietly fit instead.
    """
    path = find(key)
    if path is None:
        return None
    from tnaas.artifacts import load_artifact

    return load_artifact(path)
