"""Corpora: the bundled ones listed in `corpora/manifest.json`, and users' own files.

A user's file is `.txt` (one item per line), `.csv`/`.tsv` (one column chosen), optionally
gzip-compressed (`.gz`). Every problem with it is a `TnaasError` with one clear message.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from tnaas.data.tokens import NOTE_PATTERN, Encoded, check_kind, encode, infer_kind, normalise, tokenize
from tnaas.errors import TnaasError

CORPORA_DIR = resources.files("tnaas.data") / "corpora"  # package data: found wherever tnaas is installed
MAX_FILE_BYTES = 25 * 1024 * 1024  # after decompression; the app's upload limit matches
MAX_LINE_CHARS = 2_000  # longer lines are almost surely not "one item per line"
MIN_ITEMS = 5  # fewer items cannot teach a model anything worth sampling


@dataclass(frozen=True)
class Corpus:
    """A list of items (strings) with their token kind and provenance.

    Items are normalised (see `tnaas.data.tokens.normalise`) and non-empty. `encoded`,
    `lengths` (int64 (items,), tokens per item) and `content_hash` (hex SHA-256 of kind and
    items, the cache key of everything fitted on it) are computed once at construction.
    """

    name: str
    title: str
    token_kind: str
    items: tuple[str, ...]
    description: str = ""
    source: str = ""
    licence: str = ""
    credit: str = ""
    default_state_size: int = 3
    encoded: Encoded = field(init=False, repr=False, compare=False)
    lengths: np.ndarray = field(init=False, repr=False, compare=False)
    content_hash: str = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        check_kind(self.token_kind)
        encoded = encode(self.items, self.token_kind)
        digest = hashlib.sha256(self.token_kind.encode())
        digest.update("".join("\n" + item for item in self.items).encode("utf-8"))
        object.__setattr__(self, "encoded", encoded)
        object.__setattr__(self, "lengths", np.diff(encoded.offsets))
        object.__setattr__(self, "content_hash", digest.hexdigest())

    @property
    def vocabulary(self) -> tuple[str, ...]:
        """The distinct tokens of the corpus, sorted."""
        return self.encoded.vocabulary


def corpus_from_items(
    items,
    token_kind: str | None = None,
    name: str = "custom",
    title: str | None = None,
    dedupe: bool = False,
    **provenance,
) -> Corpus:
    """Build a validated `Corpus` from raw strings.

    Blank lines and surrounding whitespace are dropped; duplicates are kept (they are
    frequency information) unless `dedupe`. `token_kind` None means inferred.
    """
    raw = [item if isinstance(item, str) else str(item) for item in items]
    kind = check_kind(token_kind) if token_kind else infer_kind(raw)
    normalised = [normalise(item, kind) for item in raw]  # one pass in C-speed comprehensions
    if normalised and max(map(len, normalised)) > MAX_LINE_CHARS:
        line_number, item = next((i, x) for i, x in enumerate(normalised, start=1) if len(x) > MAX_LINE_CHARS)
        raise TnaasError(
            f"line {line_number} has {len(item):,} characters; the limit is {MAX_LINE_CHARS:,} "
            "(is the file really one item per line?)"
        )
    if kind == "notes":
        for line_number, item in enumerate(normalised, start=1):
            bad = next((t for t in tokenize(item, kind) if not NOTE_PATTERN.match(t)), None)
            if bad is not None:
                raise TnaasError(f"line {line_number}: {bad!r} is not a note like C4, F#5 or Bb3")
    cleaned = [item for item in normalised if item]
    if dedupe:
        cleaned = list(dict.fromkeys(cleaned))
    if not cleaned:
        raise TnaasError("the corpus is empty: no non-blank lines")
    if len(cleaned) < MIN_ITEMS:
        raise TnaasError(f"only {len(cleaned)} item(s); at least {MIN_ITEMS} are needed")
    return Corpus(name=name, title=title or name, token_kind=kind, items=tuple(cleaned), **provenance)


@lru_cache(maxsize=1)
def _manifest_entries() -> tuple[dict, ...]:
    data = json.loads((CORPORA_DIR / "manifest.json").read_text(encoding="utf-8"))
    return tuple(data["corpora"])


def manifest() -> list[dict]:
    """The bundled corpora's manifest entries (name, title, file, tokens, items, source, …)."""
    return [dict(entry) for entry in _manifest_entries()]


def bundled_names() -> list[str]:
    """Names of the bundled corpora, in manifest order."""
    return [entry["name"] for entry in _manifest_entries()]


@lru_cache(maxsize=16)
def load_bundled(name: str) -> Corpus:
    """A bundled corpus by name (cached: corpora are immutable)."""
    entry = next((e for e in _manifest_entries() if e["name"] == name), None)
    if entry is None:
        raise TnaasError(f"unknown corpus {name!r}: bundled corpora are {', '.join(bundled_names())}")
    lines = (CORPORA_DIR / entry["file"]).read_text(encoding="utf-8").splitlines()
    return corpus_from_items(
        lines,
        entry["tokens"],
        name=name,
        title=entry["title"],
        description=entry["description"],
        source=entry["source"],
        licence=entry["licence"],
        credit=entry["credit"],
        default_state_size=entry["default_state_size"],
    )


def load_corpus(spec: str, token_kind: str | None = None, column: str | None = None, dedupe: bool = False) -> Corpus:
    """A bundled corpus by name, or a user's file by path (see `read_upload`)."""
    if spec in bundled_names():
        corpus = load_bundled(spec)
        if token_kind and token_kind != corpus.token_kind:
            return corpus_from_items(corpus.items, token_kind, name=corpus.name, title=corpus.title, dedupe=dedupe)
        if dedupe:
            return corpus_from_items(corpus.items, corpus.token_kind, name=corpus.name, title=corpus.title, dedupe=True)
        return corpus
    path = Path(spec)
    if not path.exists():
        raise TnaasError(
            f"unknown corpus {spec!r}: not a bundled corpus ({', '.join(bundled_names())}) and no such file"
        )
    if path.is_dir():
        raise TnaasError(f"{spec!r} is a directory; give a .txt or .csv file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise TnaasError(
            f"{path.name} is {path.stat().st_size / 1e6:.1f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB"
        )
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TnaasError(f"cannot read {spec!r}: {error.strerror}") from None
    return read_upload(data, path.name, token_kind=token_kind, column=column, dedupe=dedupe)


def decode_text(data: bytes, filename: str = "file") -> str:
    """Decompress (`.gz`) and decode UTF-8 bytes, refusing binary content and other encodings."""
    if filename.lower().endswith(".gz"):
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
                data = stream.read(MAX_FILE_BYTES + 1)
        except (OSError, EOFError):
            raise TnaasError(f"{filename} is not a valid gzip file") from None
    if len(data) > MAX_FILE_BYTES:
        raise TnaasError(f"{filename} is larger than the {MAX_FILE_BYTES / 1e6:.0f} MB limit")
    if not data.strip():
        raise TnaasError(f"{filename} is empty")
    if b"\x00" in data[:65536]:
        raise TnaasError(f"{filename} looks like a binary file, not text with one item per line")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise TnaasError(
            f"{filename} is not UTF-8 (byte 0x{data[error.start]:02x} at position {error.start}); re-save it as UTF-8"
        ) from None
    controls = sum(1 for ch in text[:65536] if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r")
    if controls:
        raise TnaasError(f"{filename} contains {controls} control character(s): is it a binary file?")
    return text


def _delimiter(filename: str) -> str | None:
    name = filename.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return ","
    if name.endswith(".tsv"):
        return "\t"
    return None


def csv_columns(data: bytes, filename: str) -> list[str]:
    """The header of a `.csv`/`.tsv` file (empty list for plain text files)."""
    delimiter = _delimiter(filename)
    if delimiter is None:
        return []
    rows = csv.reader(io.StringIO(decode_text(data, filename)), delimiter=delimiter)
    return [name.strip() for name in next(rows, [])]


def read_upload(
    data: bytes,
    filename: str,
    token_kind: str | None = None,
    column: str | None = None,
    dedupe: bool = False,
) -> Corpus:
    """A user's corpus from file bytes: `.txt` one item per line, or a `.csv`/`.tsv` column.

    `column` picks the CSV column by header name (optional when there is only one).
    Raises `TnaasError` for binary or non-UTF-8 content, an empty file, too few items,
    too large a file or too long lines.
    """
    text = decode_text(data, filename)
    stem = Path(filename).name.split(".")[0] or "upload"
    delimiter = _delimiter(filename)
    if delimiter is None:
        lines = text.splitlines()
    else:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        header = [name.strip() for name in rows[0]]
        if column is None:
            if len(header) != 1:
                raise TnaasError(f"{filename} has {len(header)} columns ({', '.join(header)}): choose one")
            column = header[0]
        if column not in header:
            raise TnaasError(f"{filename} has no column {column!r}; its columns are {', '.join(header)}")
        at = header.index(column)
        lines = [row[at] if at < len(row) else "" for row in rows[1:]]
    return corpus_from_items(lines, token_kind, name=stem, title=filename, dedupe=dedupe)
