"""The artifact file format: a `.npz` of plain numpy arrays beside a `.json` header.

Nothing in an artifact is executable: arrays load with ``allow_pickle=False`` (no object
arrays), strings are stored as UTF-8 bytes plus offsets, and the header is JSON. The
header names the format and its version, the model and its resolved parameters, the corpus
(name, content hash, token kind), the library version, every array's dtype and shape, and
the SHA-256 of the `.npz` bytes, which is checked before numpy reads a byte of it. Any
problem (corrupt, truncated, foreign, newer format, arrays not as announced) is one
`TnaasError`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from tnaas.errors import TnaasError

FORMAT_NAME = "tnaas-artifact"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 1 << 20  # a header lists arrays, never data: 1 MB is generous
MAX_NPZ_BYTES = 512 << 20  # the largest bundled artifact is a few MB
# dtypes an artifact may hold: numbers and bytes only (never objects).
ALLOWED_DTYPES = frozenset(
    np.dtype(t).str for t in (np.int8, np.int32, np.int64, np.uint8, np.float32, np.float64, np.bool_)
)


def header_path(path) -> Path:
    """The `.json` header of an artifact given either of its two files (or its stem)."""
    path = Path(path)
    return path.with_suffix(".json") if path.suffix in (".npz", ".json") else path.with_name(path.name + ".json")


def npz_path(path) -> Path:
    """The `.npz` arrays of an artifact given either of its two files (or its stem)."""
    return header_path(path).with_suffix(".npz")


def pack_strings(strings) -> tuple[np.ndarray, np.ndarray]:
    """Strings as (UTF-8 bytes joined by newlines, uint8 (total,), and their number, int64 ()).

    Items and tokens never hold a newline (items are lines), so one decode and one split
    read them all back, far faster than one decode per string.
    """
    strings = list(strings)
    if any("\n" in s for s in strings):
        raise TnaasError("cannot save strings that contain a newline in an artifact")
    blob = "\n".join(strings).encode("utf-8")
    return np.frombuffer(blob, dtype=np.uint8).copy(), np.array(len(strings), dtype=np.int64)


def unpack_strings(blob: np.ndarray, count: np.ndarray, what: str) -> list[str]:
    """The inverse of `pack_strings`; a malformed blob or count is a `TnaasError`."""
    if blob.ndim != 1 or count.shape != ():
        raise TnaasError(f"artifact is corrupt: the {what} strings are malformed")
    try:
        text = blob.tobytes().decode("utf-8")
    except UnicodeDecodeError:
        raise TnaasError(f"artifact is corrupt: the {what} strings are not UTF-8") from None
    strings = text.split("\n") if int(count) else []
    if len(strings) != int(count):
        raise TnaasError(f"artifact is corrupt: {len(strings)} {what} strings where {int(count)} were saved")
    return strings


def write_artifact(path, header: dict, arrays: dict[str, np.ndarray]) -> tuple[Path, Path]:
    """Write `arrays` (np.savez) and `header` completed with the format, arrays and hash.

    `path` is the stem (suffixes are added); returns (header path, npz path). Files are
    written under a temporary name and renamed, so a reader never sees half an artifact.
    """
    arrays = {name: np.asarray(a) for name, a in arrays.items()}  # (ascontiguousarray makes 0-d arrays 1-d)
    for name, array in arrays.items():
        if array.dtype.str not in ALLOWED_DTYPES:
            raise TnaasError(f"cannot save array {name!r} of dtype {array.dtype} in an artifact")
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    data = buffer.getvalue()
    full = {"format": FORMAT_NAME, "version": FORMAT_VERSION, **header}
    full["arrays"] = {name: {"dtype": a.dtype.str, "shape": list(a.shape)} for name, a in arrays.items()}
    full["npz_sha256"] = hashlib.sha256(data).hexdigest()
    json_file, npz_file = header_path(path), npz_path(path)
    json_file.parent.mkdir(parents=True, exist_ok=True)
    for target, payload in ((npz_file, data), (json_file, json.dumps(full, indent=1, sort_keys=True).encode())):
        temporary = target.with_name(target.name + f".tmp{os.getpid()}")
        temporary.write_bytes(payload)
        os.replace(temporary, target)
    return json_file, npz_file


def read_header(path) -> dict:
    """The checked JSON header of an artifact (either file or the stem may be given)."""
    json_file = header_path(path)
    try:
        with open(json_file, "rb") as stream:
            raw = stream.read(MAX_HEADER_BYTES + 1)
    except OSError as error:
        raise TnaasError(f"cannot read artifact header {json_file.name}: {error.strerror}") from None
    if len(raw) > MAX_HEADER_BYTES:
        raise TnaasError(f"{json_file.name} is not a tnaas artifact header (larger than 1 MB)")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise TnaasError(f"{json_file.name} is not a tnaas artifact header (not JSON)") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise TnaasError(f"{json_file.name} is not a tnaas artifact header (format is not {FORMAT_NAME!r})")
    version = header.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise TnaasError(f"{json_file.name} has no valid format version")
    if version > FORMAT_VERSION:
        raise TnaasError(
            f"{json_file.name} is format version {version}, newer than this tnaas reads ({FORMAT_VERSION}): "
            "upgrade tnaas or rebuild the artifact"
        )
    for field, kind in (
        ("model", str),
        ("params", dict),
        ("corpus", dict),
        ("token_kind", str),
        ("arrays", dict),
        ("npz_sha256", str),
        ("facts", dict),
    ):
        if not isinstance(header.get(field), kind):
            raise TnaasError(f"{json_file.name} is not a valid artifact header: {field!r} is missing or malformed")
    return header


def read_arrays(path, header: dict) -> dict[str, np.ndarray]:
    """The arrays of an artifact, after checking the npz's SHA-256 and that its arrays are
    exactly the ones the header announces (names, dtypes, shapes)."""
    npz_file = npz_path(path)
    try:
        if npz_file.stat().st_size > MAX_NPZ_BYTES:
            raise TnaasError(f"{npz_file.name} is larger than {MAX_NPZ_BYTES >> 20} MB: not a tnaas artifact")
        data = npz_file.read_bytes()
    except OSError as error:
        raise TnaasError(f"cannot read artifact arrays {npz_file.name}: {error.strerror}") from None
    if hashlib.sha256(data).hexdigest() != header["npz_sha256"]:
        raise TnaasError(f"{npz_file.name} is corrupt or truncated: its SHA-256 does not match the header")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as error:
        raise TnaasError(f"{npz_file.name} is not a readable npz file ({type(error).__name__})") from None
    announced = header["arrays"]
    if set(arrays) != set(announced):
        raise TnaasError(f"{npz_file.name} does not hold the arrays its header lists")
    for name, array in arrays.items():
        spec = announced[name]
        if not isinstance(spec, dict) or spec.get("dtype") != array.dtype.str or spec.get("shape") != list(array.shape):
            raise TnaasError(f"{npz_file.name}: array {name!r} is not the dtype and shape its header says")
        if array.dtype.str not in ALLOWED_DTYPES:
            raise TnaasError(f"{npz_file.name}: array {name!r} has a dtype artifacts never hold ({array.dtype})")
    return arrays
