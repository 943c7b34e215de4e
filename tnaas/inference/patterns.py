"""Masked patterns (`***base`, `mo%`, `hold me * please`) and their matching automaton.

Syntax, the same for every token kind:

- `*` is exactly one unknown token;
- `%` is a gap of any length, zero included (`mo%`: starts with "mo"; `%base`: ends
  with "base"; `%ab%`: contains "ab");
- `\\*`, `\\%` and `\\\\` are a literal `*`, `%` and backslash;
- anything else is a literal token.

For characters every character is a token. For words and notes the pattern is
space-separated tokens, and `*` / `%` must stand alone (`hold me * please`, `G4 % D5`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tnaas.errors import TnaasError

MAX_PATTERN_TOKENS = 64  # elements; keeps the completion lattice small enough to be fast
ONE, GAP, LITERAL = "one", "gap", "literal"
_ESCAPES = {"*": "*", "%": "%", "\\": "\\"}


@dataclass(frozen=True)
class Pattern:
    """A parsed pattern: `elements` is a tuple of (kind, token) with kind one of
    ``"one"``, ``"gap"``, ``"literal"`` (token is None for the first two)."""

    text: str
    token_kind: str
    elements: tuple[tuple[str, str | None], ...]

    @property
    def fixed_length(self) -> int | None:
        """The length in tokens of every match, or None when the pattern has a gap."""
        if any(kind == GAP for kind, _ in self.elements):
            return None
        return len(self.elements)

    @property
    def min_length(self) -> int:
        """The length in tokens of the shortest possible match."""
        return sum(kind != GAP for kind, _ in self.elements)

    @property
    def literals(self) -> tuple[str, ...]:
        """The distinct literal tokens, in order of first appearance."""
        return tuple(dict.fromkeys(t for kind, t in self.elements if kind == LITERAL))


def parse_pattern(text: str, token_kind: str) -> Pattern:
    """Parse `text` into a `Pattern` (see the module docstring for the syntax).

    Raises `TnaasError` for an empty pattern, a dangling backslash, or more than
    `MAX_PATTERN_TOKENS` elements.
    """
    text = text.strip() if token_kind != "characters" else text
    if not text.strip():
        raise TnaasError(
            "empty pattern: write e.g. `***base`, `mo%` or `*u*a` (`*` = one unknown token, `%` = any run)"
        )
    pieces = list(text) if token_kind == "characters" else text.split()
    elements: list[tuple[str, str | None]] = []
    i = 0
    while i < len(pieces):
        piece = pieces[i]
        if token_kind == "characters" and piece == "\\":
            if i + 1 == len(pieces):
                raise TnaasError("pattern ends with a lone backslash: write `\\\\` for a literal backslash")
            elements.append((LITERAL, _ESCAPES.get(pieces[i + 1], pieces[i + 1])))
            i += 2
            continue
        if piece == "*":
            elements.append((ONE, None))
        elif piece == "%":
            if not elements or elements[-1][0] != GAP:  # `%%` is the same as `%`
                elements.append((GAP, None))
        elif token_kind != "characters" and piece.startswith("\\") and len(piece) > 1:
            elements.append((LITERAL, piece[1:]))
        else:
            elements.append((LITERAL, piece))
        i += 1
    if len(elements) > MAX_PATTERN_TOKENS:
        raise TnaasError(f"pattern too long: {len(elements)} tokens, the limit is {MAX_PATTERN_TOKENS}")
    return Pattern(text, token_kind, tuple(elements))


@dataclass(frozen=True)
class PatternDFA:
    """A deterministic automaton accepting exactly the token sequences matching a pattern.

    `delta`: int64 (states, classes), -1 = no match possible; `token_class`: int64
    (vocabulary,) class of each token id (class 0 = "any other token", literal j = j + 1);
    `accepting`: bool (states,); state 0 is the start. `allows_any[q]` is True when some
    non-literal token can be read in state q; otherwise only `literal_ids` can.
    """

    delta: np.ndarray
    token_class: np.ndarray
    accepting: np.ndarray
    allows_any: np.ndarray
    literal_ids: np.ndarray

    def step(self, states: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """Next DFA state for each (state, token id) pair; -1 where the match fails."""
        return self.delta[states, self.token_class[tokens]]


def compile_pattern(pattern: Pattern, vocabulary: tuple[str, ...]) -> PatternDFA:
    """Build the matching DFA of `pattern` over token ids of `vocabulary`.

    Raises `TnaasError` naming any literal token the vocabulary does not contain.
    """
    index = {token: i for i, token in enumerate(vocabulary)}
    unknown = [t for t in pattern.literals if t not in index]
    if unknown:
        shown = ", ".join(repr(t) for t in unknown[:5])
        raise TnaasError(f"the pattern uses {shown}, which never appears in this corpus, so no item can match")
    literal_class = {token: j + 1 for j, token in enumerate(pattern.literals)}
    token_class = np.zeros(len(vocabulary), dtype=np.int64)
    for token, cls in literal_class.items():
        token_class[index[token]] = cls
    n_classes = len(literal_class) + 1
    elements = pattern.elements
    m = len(elements)

    def closure(states: frozenset[int]) -> frozenset[int]:
        out = set(states)
        stack = list(states)
        while stack:
            j = stack.pop()
            if j < m and elements[j][0] == GAP and j + 1 not in out:
                out.add(j + 1)
                stack.append(j + 1)
        return frozenset(out)

    def move(states: frozenset[int], cls: int) -> frozenset[int]:
        out = set()
        for j in states:
            if j == m:
                continue
            kind, token = elements[j]
            if kind == GAP:
                out.add(j)
            elif kind == ONE or literal_class[token] == cls:
                out.add(j + 1)
        return closure(frozenset(out))

    start = closure(frozenset({0}))
    ids = {start: 0}
    queue = [start]
    rows = []
    while queue:
        current = queue.pop(0)
        row = []
        for cls in range(n_classes):
            target = move(current, cls)
            if not target:
                row.append(-1)
                continue
            if target not in ids:
                ids[target] = len(ids)
                queue.append(target)
            row.append(ids[target])
        rows.append(row)
    delta = np.array(rows, dtype=np.int64)
    states = sorted(ids, key=ids.get)
    accepting = np.array([m in s for s in states])
    allows_any = delta[:, 0] >= 0
    literal_ids = np.array([index[t] for t in pattern.literals], dtype=np.int64)
    return PatternDFA(delta, token_class, accepting, allows_any, literal_ids)


def any_sequence_dfa(vocab_size: int) -> PatternDFA:
    """The DFA of the pattern `%`: every sequence matches (used for plain generation)."""
    return PatternDFA(
        np.zeros((1, 1), dtype=np.int64),
        np.zeros(vocab_size, dtype=np.int64),
        np.ones(1, dtype=bool),
        np.ones(1, dtype=bool),
        np.zeros(0, dtype=np.int64),
    )
