"""Corpora: the bundled ones listed in `corpora/manifest.json`, and users' own files.

A user's file is `.txt` (one item per line), `.csv`/`.tsv` (one column chosen), optionally
gzip-compressed (`.gz`). Every problem with it is a `TnaasError` with one clear message.

Decisions (README material; each is tested in tests/test_corpus.py and tests/test_reader.py):
- Files are read by `tnaas.data.reader.read_file`: regular files only (a directory, device,
  FIFO or socket is refused, through symlinks too), never more than `MAX_FILE_BYTES` + 1
  bytes, whatever the file claims; `.gz` is decompressed to at most `MAX_FILE_BYTES` + 1.
- The whole content is checked (`tnaas.data.text`): NUL anywhere -> "binary file"; any
  other control character (tab, newline, carriage return excepted) -> refused with its line.
- `.txt` lines end at \\n, \\r\\n or \\r. CSV/TSV parsing is strict (`tnaas.data.csvfile`):
  ragged rows, unclosed quotes, text after a closing quote, huge fields and duplicated
  column names are refused naming the line; blank lines are skipped.
- `column` is only for `.csv`/`.tsv`: given for a text file or a bundled corpus, it is refused.
- One item is one line: a line break inside an item (a quoted CSV field over several lines,
  or \\r, \\v, \\f, \\x85, U+2028, U+2029 in items given to `corpus_from_items`) becomes a
  space, on every path, since `corpus_from_items` is the common funnel.
- `Corpus.content_hash` is injective in (token kind, exact items): see `corpus_hash`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from tnaas.data import csvfile, text
from tnaas.data.reader import FileMissing, read_file
from tnaas.data.tokens import NOTE_PATTERN, Encoded, check_kind, encode, infer_kind, normalise_all, tokenize
from tnaas.errors import TnaasError

CORPORA_DIR = resources.files("tnaas.data") / "corpora"  # package data: found wherever tnaas is installed
MAX_FILE_BYTES = 25 * 1024 * 1024  # after decompression; the app's upload limit matches
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_LINE_CHARS = 2_000  # longer lines are almost surely not "one item per line"
MIN_ITEMS = 5  # fewer items cannot teach a model anything worth sampling
_HASH_VERSION = b"tnaas.corpus/2\0"  # changes whenever the encoding below changes


def corpus_hash(token_kind: str, items) -> str:
    """Hex SHA-256 of an unambiguous encoding of (token kind, items): the cache key.

    Encoding: a version tag; the kind's UTF-8 length (8 bytes, little-endian) and bytes;
    the number of items n (8 bytes); n item lengths in code points (n x 8 bytes); the
    UTF-8 bytes of the items concatenated. Decoding it back is unique (the lengths split
    the decoded concatenation), so different (kind, items) give different inputs: no two
    corpora share a key short of a SHA-256 collision, whatever characters items hold.
    """
    kind = token_kind.encode("utf-8")
    lengths = np.fromiter(map(len, items), dtype="<i8", count=len(items))
    try:
        content = "".join(items).encode("utf-8")
    except UnicodeEncodeError as error:
        raise TnaasError(f"an item holds an unpaired surrogate (U+{ord(error.object[error.start]):04X})") from None
    digest = hashlib.sha256(_HASH_VERSION)
    digest.update(len(kind).to_bytes(8, "little") + kind + len(items).to_bytes(8, "little"))
    digest.update(lengths.tobytes())
    digest.update(content)
    return digest.hexdigest()


@dataclass(frozen=True)
class Corpus:
    """A list of items (strings) with their token kind and provenance.

    Items are normalised (see `tnaas.data.tokens.normalise`) and non-empty. `encoded`,
    `lengths` (int64 (items,), tokens per item) and `content_hash` (`corpus_hash` of kind and
    items, the cache key of everything fitted on it; name, title and provenance do not
    change what is fitted and are not in it) are computed once at construction.
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
        content_hash = corpus_hash(self.token_kind, self.items)  # first: it refuses unencodable items
        encoded = encode(self.items, self.token_kind)
        object.__setattr__(self, "encoded", encoded)
        object.__setattr__(self, "lengths", np.diff(encoded.offsets))
        object.__setattr__(self, "content_hash", content_hash)

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
    line_numbers=None,
    **provenance,
) -> Corpus:
    """Build a validated `Corpus` from raw strings: the funnel every path goes through.

    Items are normalised (`tnaas.data.tokens.normalise`: stripped, and each run of line
    breaks inside an item becomes one space, so an item is always one line). Blank items
    are dropped; duplicates are kept (they are frequency information) unless `dedupe`.
    `token_kind` None means inferred. `line_numbers` (one int per item, default 1, 2, ...)
    is what error messages call the items' lines.
    """
    raw = [item if isinstance(item, str) else str(item) for item in items]
    kind = check_kind(token_kind) if token_kind else infer_kind(raw)
    normalised = normalise_all(raw, kind)

    def line_of(index: int) -> int:
        return index + 1 if line_numbers is None else line_numbers[index]

    if normalised and max(map(len, normalised)) > MAX_LINE_CHARS:
        index, item = next((i, x) for i, x in enumerate(normalised) if len(x) > MAX_LINE_CHARS)
        raise TnaasError(
            f"line {line_of(index)} has {len(item):,} characters; the limit is {MAX_LINE_CHARS:,} "
            "(is the file really one item per line?)"
        )
    if kind == "notes":
        for index, item in enumerate(normalised):
            bad = next((t for t in tokenize(item, kind) if not NOTE_PATTERN.match(t)), None)
            if bad is not None:
                raise TnaasError(f"line {line_of(index)}: {bad!r} is not a note like C4, F#5 or Bb3")
    cleaned = [item for item in normalised if item]
    if dedupe:
        cleaned = list(dict.fromkeys(cleaned))
    if not cleaned:
        raise TnaasError("the corpus is empty: no non-blank lines")
    if len(cleaned) < MIN_ITEMS:
        raise TnaasError(f"only {len(cleaned)} item(s); at least {MIN_ITEMS} are needed")
    return Corpus(name=name, title=title or name, token_kind=kind, items=tuple(cleaned), **provenance)


def _read_package_file(name: str, limit: int) -> str:
    """A file of the bundled corpora, through the same bounded reader and checks as users' files."""
    with resources.as_file(CORPORA_DIR / name) as path:
        return text.decode(read_file(path, limit, label=name), name, limit)


@lru_cache(maxsize=1)
def _manifest_entries() -> tuple[dict, ...]:
    data = json.loads(_read_package_file("manifest.json", MAX_MANIFEST_BYTES))
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
    lines = text.split_lines(_read_package_file(entry["file"], MAX_FILE_BYTES))
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


def _no_column(column: str | None, what: str) -> None:
    if column is not None:
        raise TnaasError(f"column {column!r} given, but {what}; a column is only for .csv and .tsv files")


def load_corpus(spec: str, token_kind: str | None = None, column: str | None = None, dedupe: bool = False) -> Corpus:
    """A bundled corpus by name, or a user's file by path (read by `read_file`, see `read_upload`).

    Raises `TnaasError` for a path that is neither a bundled name nor a regular file, for a
    file over `MAX_FILE_BYTES`, or for anything `read_upload` refuses.
    """
    if spec in bundled_names():
        _no_column(column, f"{spec!r} is a bundled corpus")
        corpus = load_bundled(spec)
        if token_kind and token_kind != corpus.token_kind:
            return corpus_from_items(corpus.items, token_kind, name=corpus.name, title=corpus.title, dedupe=dedupe)
        if dedupe:
            return corpus_from_items(corpus.items, corpus.token_kind, name=corpus.name, title=corpus.title, dedupe=True)
        return corpus
    try:
        data = read_file(spec, MAX_FILE_BYTES)
    except FileMissing:
        raise TnaasError(
            f"unknown corpus {spec!r}: not a bundled corpus ({', '.join(bundled_names())}) and no such file"
        ) from None
    return read_upload(data, os.path.basename(spec) or spec, token_kind=token_kind, column=column, dedupe=dedupe)


def decode_text(data: bytes, filename: str = "file") -> str:
    """Decompress (`.gz`, bounded) and decode UTF-8 bytes, checking the whole content.

    Refuses more than `MAX_FILE_BYTES` (before or after decompression), an empty file, NUL
    bytes (binary), other encodings and control characters (see `tnaas.data.text`).
    """
    return text.decode(data, filename, MAX_FILE_BYTES)


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
    return csvfile.header(decode_text(data, filename), filename, delimiter)


def read_upload(
    data: bytes,
    filename: str,
    token_kind: str | None = None,
    column: str | None = None,
    dedupe: bool = False,
) -> Corpus:
    """A user's corpus from file bytes: `.txt` one item per line, or a `.csv`/`.tsv` column.

    `column` picks the CSV column by header name (optional when there is only one; refused
    for a text file). Raises `TnaasError` for binary or non-UTF-8 content, control
    characters, an empty file, malformed CSV (see `tnaas.data.csvfile`), too few items, too
    large a file or too long lines.
    """
    delimiter = _delimiter(filename)
    if delimiter is None:
        _no_column(column, f"{filename} is a text file (one item per line)")
    content = decode_text(data, filename)
    stem = Path(filename).name.split(".")[0] or "upload"
    if delimiter is None:
        lines, numbers = text.split_lines(content), None
    else:
        lines, numbers = csvfile.column(content, filename, delimiter, column)
    return corpus_from_items(lines, token_kind, name=stem, title=filename, dedupe=dedupe, line_numbers=numbers)
