"""Token kinds: how an item is split into tokens and joined back, and integer encoding."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from tnaas.errors import TnaasError

TOKEN_KINDS = ("characters", "words", "notes")

# Scientific pitch notation as used by the bundled folk tunes: C4, F#5, Bb3, E-1.
NOTE_PATTERN = re.compile(r"^[A-G](#|b)?-?[0-9]$")
_WHITESPACE = re.compile(r"\s+")
# Everything str.splitlines breaks at. An item is one line: inside an item, a run of these
# becomes one space for every token kind (words and notes collapse all whitespace anyway).
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_LINE_BREAK_RUN = re.compile(f"[{LINE_BREAKS}]+")


def check_kind(kind: str) -> str:
    """Return `kind` if it is a known token kind, else raise `TnaasError`."""
    if kind not in TOKEN_KINDS:
        raise TnaasError(f"unknown token kind {kind!r}: choose one of {', '.join(TOKEN_KINDS)}")
    return kind


def normalise(item: str, kind: str) -> str:
    """Strip `item` and make it one line; for word and note items collapse inner whitespace.

    Characters: each run of line breaks (`LINE_BREAKS`: \\n, \\r, \\v, \\f, \\x1c-\\x1e,
    \\x85, U+2028, U+2029) inside the item becomes one space; other whitespace is kept.
    Words and notes: each run of whitespace (line breaks included) becomes one space.
    Normalising first is what makes `detokenize(tokenize(x)) == x` hold for every item,
    and what keeps the one-item-per-line contract: a normalised item holds no line break.
    """
    item = item.strip()
    if kind == "characters":
        return _LINE_BREAK_RUN.sub(" ", item)
    return _WHITESPACE.sub(" ", item)


def normalise_all(items: Sequence[str], kind: str) -> list[str]:
    """`[normalise(item, kind) for item in items]`, faster for characters (the usual case:
    no item holds a line break, found by a few C-speed scans of the joined text)."""
    if kind != "characters":
        return [normalise(item, kind) for item in items]
    stripped = [item.strip() for item in items]
    joined = "".join(stripped)
    if not any(ch in joined for ch in LINE_BREAKS):
        return stripped
    return [_LINE_BREAK_RUN.sub(" ", item) for item in stripped]


def tokenize(item: str, kind: str) -> tuple[str, ...]:
    """Split a normalised item into tokens: characters, or space-separated words/notes."""
    if kind == "characters":
        return tuple(item)
    return tuple(item.split(" ")) if item else ()


def detokenize(tokens: Iterable[str], kind: str) -> str:
    """Join tokens back into an item; the inverse of `tokenize`."""
    return ("" if kind == "characters" else " ").join(tokens)


def infer_kind(items: Sequence[str]) -> str:
    """Guess the token kind of raw items.

    notes when every space-separated token looks like a note (C4, F#5, Bb3); words when
    items average at least four words (sentences, verse lines); characters otherwise
    (names, titles of a word or two).
    """
    # Streamed, one item's words at a time: splitting every item at once would hold all
    # the words of a 25 MB file (hundreds of MB of small strings) just to count them.
    count = total = 0
    notes = True
    for item in items:
        tokens = item.split()
        if not tokens:
            continue
        count, total = count + 1, total + len(tokens)
        notes = notes and all(NOTE_PATTERN.match(token) for token in tokens)
    if not count:
        return "characters"
    if notes:
        return "notes"
    return "words" if total / count >= 4 else "characters"


@dataclass(frozen=True)
class Encoded:
    """Items as integer token ids.

    `vocabulary[i]` is the token with id i, sorted; `ids` is every item's ids concatenated
    (int32, shape (total tokens,)); item j is `ids[offsets[j]:offsets[j + 1]]`
    (`offsets`: int64, shape (items + 1,)).
    """

    vocabulary: tuple[str, ...]
    ids: np.ndarray
    offsets: np.ndarray

    def item_ids(self, j: int) -> np.ndarray:
        """The token ids of item j, shape (length,)."""
        return self.ids[self.offsets[j] : self.offsets[j + 1]]


ENCODE_CHUNK_ITEMS = 20_000


def encode(items: Sequence[str], kind: str) -> Encoded:
    """Encode normalised items as token ids over their sorted vocabulary."""
    if kind == "characters":
        # Through C in chunks of items: UTF-32 gives one code point per character; a lookup
        # table over the code points present maps them to ids without sorting millions of
        # them. Chunks keep the transient UTF-32 copy small (a 25 MB file would need ~100 MB).
        lengths = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
        chunks = range(0, len(items), ENCODE_CHUNK_ITEMS * 10)

        def points(start: int) -> np.ndarray:
            text = "".join(items[start : start + ENCODE_CHUNK_ITEMS * 10])
            return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)

        seen = np.zeros(0x110000, dtype=bool)
        for start in chunks:
            seen[points(start)] = True
        present = np.flatnonzero(seen)
        table = np.zeros(len(seen), dtype=np.int32)
        table[present] = np.arange(len(present), dtype=np.int32)
        ids = np.empty(int(lengths.sum()), dtype=np.int32)
        at = 0
        for start in chunks:
            chunk = table[points(start)]
            ids[at : at + len(chunk)] = chunk
            at += len(chunk)
        vocabulary = tuple(chr(c) for c in present)
    else:
        # In chunks: the token strings of all items at once (7 million for a 25 MB tune
        # file) would take ~450 MB; a chunk's take a few MB. Ids are first given in order of
        # appearance, then renumbered to the sorted vocabulary.
        index: dict[str, int] = {}
        id_parts, length_parts = [], []
        for start in range(0, len(items), ENCODE_CHUNK_ITEMS):
            sequences = [tokenize(item, kind) for item in items[start : start + ENCODE_CHUNK_ITEMS]]
            seen = (index.setdefault(token, len(index)) for tokens in sequences for token in tokens)
            id_parts.append(np.fromiter(seen, dtype=np.int32))
            length_parts.append(np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences)))
        vocabulary = tuple(sorted(index))
        renumber = np.empty(len(index), dtype=np.int32)
        renumber[np.fromiter((index[token] for token in vocabulary), dtype=np.int64, count=len(index))] = np.arange(
            len(index), dtype=np.int32
        )
        ids = renumber[np.concatenate(id_parts)] if id_parts else np.zeros(0, dtype=np.int32)
        lengths = np.concatenate(length_parts) if length_parts else np.zeros(0, dtype=np.int64)
    offsets = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return Encoded(vocabulary, ids.astype(np.int32, copy=False), offsets)


def decode(vocabulary: Sequence[str], kind: str, sequences: Sequence[np.ndarray]) -> list[str]:
    """Token-id sequences back to items, all at once (faster than one join per item)."""
    if not sequences:
        return []
    lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
    ends = np.cumsum(lengths).tolist()
    starts = [0, *ends[:-1]]
    tokens = np.asarray(vocabulary, dtype=object)[np.concatenate(sequences).astype(np.int64)].tolist()
    if kind == "characters":
        text = "".join(tokens)
        return [text[a:b] for a, b in zip(starts, ends)]
    return [" ".join(tokens[a:b]) for a, b in zip(starts, ends)]
