"""markovify's JSON: read a `Chain.to_json()` / `Text.to_json()` file into n-gram counts,
validating all of it first, and write counts back in markovify's format.

Reading accepts markovify's list of [state, next-token counts] pairs, its dict form (each
state a JSON-encoded list), compiled chains ([next tokens, cumulative counts]) and
`Text.to_json()` (whose "chain" holds one of those). Everything is checked before any array
is built, and the first problem found is reported as one `TnaasError`:

- at most `MAX_JSON_CHARS` characters, nested at most `MAX_JSON_DEPTH` deep (markovify's
  deepest, a compiled chain, is 4);
- tokens are non-empty strings of valid Unicode; in a character model exactly one
  character, in a word model no whitespace, in a note model a note (C4, F#5); BEGIN only
  pads a state on the left, END only ends one (never inside a state), and neither is a
  token of the vocabulary;
- counts are whole numbers from 1 to `MAX_COUNT`, at most `MAX_TOTAL_COUNT` in all (so every
  sum is exact in float64); compiled cumulative counts strictly increase;
- every state has the same size (1-6) and at least one next token, and appears once.

Writing refuses a vocabulary that contains markovify's own markers (`___BEGIN__`,
`___END__`): markovify would read such a token as the start or end of an item, so the file
would load as a different model. Escaping them would not help: markovify itself would
still see an escaped token, and a genuine token equal to the escape would collide.
"""

from __future__ import annotations

import json
import re

import numpy as np

from tnaas.data.tokens import NOTE_PATTERN, check_kind
from tnaas.errors import TnaasError
from tnaas.models.markov.ngram import BEGIN, END, MAX_STATE_SIZE, MIN_STATE_SIZE, NgramCounts

# Characters. The file of all 886k PyPI names at state size 5 is 53 MB (loads in ~70 s, ~2 GB peak).
MAX_JSON_CHARS = 64 * 1024 * 1024
MAX_JSON_DEPTH = 8  # nesting of lists/objects; markovify writes at most 4
MAX_COUNT = 10**15  # one transition seen more often than this is no corpus anyone fitted
MAX_TOTAL_COUNT = 2**53  # every sum of counts stays exact in float64 (and int64)

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_SPACE = re.compile(r"\s")


def _fail(problem: str) -> TnaasError:
    return TnaasError(f"not a usable markovify model: {problem}")


def _shown(value) -> str:
    """A short repr of a JSON value for an error message."""
    text = json.dumps(value, ensure_ascii=False).encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= 40 else text[:37] + "..."


def _load(text) -> object:
    """json.loads with the size and depth checked first (json recurses per level)."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise _fail("the file is not UTF-8 text") from None
    if not isinstance(text, str):
        raise _fail(f"expected JSON text, not {type(text).__name__}")
    if len(text) > MAX_JSON_CHARS:
        raise _fail(f"{len(text):,} characters of JSON; the limit is {MAX_JSON_CHARS:,}")
    depth = _max_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise _fail(f"JSON nested {depth} deep; markovify's is at most 4 (limit {MAX_JSON_DEPTH})")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise _fail(f"not JSON ({error})") from None


def _max_depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings (a linear scan, no recursion)."""
    data = text.encode("utf-8", "surrogatepass")
    bare = np.frombuffer(_STRING.sub(b'""', data), dtype=np.uint8)
    opens = (bare == ord("[")) | (bare == ord("{"))
    closes = (bare == ord("]")) | (bare == ord("}"))
    step = opens.astype(np.int64)[opens | closes] - closes.astype(np.int64)[opens | closes]
    return int(np.cumsum(step).max()) if len(step) else 0


def _count(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(f"{where}: counts must be positive whole numbers, not {_shown(value)}")
    if isinstance(value, float) and not (np.isfinite(value) and value.is_integer()):
        raise _fail(f"{where}: counts must be positive whole numbers, not {_shown(value)}")
    if not 1 <= value <= MAX_COUNT:
        raise _fail(f"{where}: counts must be positive whole numbers up to {MAX_COUNT:.0e}, not {_shown(value)}")
    return int(value)


def _state(value, where: str) -> tuple[str, ...]:
    if isinstance(value, str):  # the dict form: each key a JSON-encoded list
        value = _load(value)
    if not isinstance(value, list):
        raise _fail(f"{where}: a state must be a list of tokens, not {_shown(value)}")
    if not MIN_STATE_SIZE <= len(value) <= MAX_STATE_SIZE:
        raise _fail(f"state size {len(value)} (tnaas supports {MIN_STATE_SIZE} to {MAX_STATE_SIZE})")
    for token in value:
        if not isinstance(token, str) or not token:
            raise _fail(f"{where}: tokens must be non-empty strings, not {_shown(token)}")
    padding = next((i for i, t in enumerate(value) if t != BEGIN), len(value))
    if END in value:
        raise _fail(f"{where}: {END} (the end of an item) inside the state {_shown(value)}")
    if BEGIN in value[padding:]:
        raise _fail(f"{where}: {BEGIN} may only pad a state on the left, not as in {_shown(value)}")
    return tuple(value)


def _follow(value, where: str) -> list[tuple[str, int]]:
    """(next token, count) pairs of one state: a dict of counts, or compiled
    [tokens, cumulative counts]."""
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list) and len(value) == 2 and all(isinstance(v, list) for v in value):
        choices, cumulative = value
        if len(choices) != len(cumulative):
            raise _fail(f"{where}: {len(choices)} next tokens but {len(cumulative)} cumulative counts")
        totals = [_count(c, where) for c in cumulative]
        if any(b <= a for a, b in zip(totals, totals[1:])):
            raise _fail(f"{where}: compiled cumulative counts must increase, not {_shown(cumulative)}")
        pairs = list(zip(choices, np.diff([0, *totals]).tolist()))
    else:
        raise _fail(f"{where}: next-token counts must be an object or [tokens, cumulative counts]")
    if not pairs:
        raise _fail(f"{where}: a state with no next token")
    out, seen = [], set()
    for token, count in pairs:
        if not isinstance(token, str) or not token:
            raise _fail(f"{where}: tokens must be non-empty strings, not {_shown(token)}")
        if token == BEGIN:
            raise _fail(f"{where}: {BEGIN} (the start of an item) as a next token")
        if token in seen:
            raise _fail(f"{where}: the next token {_shown(token)} appears twice")
        seen.add(token)
        out.append((token, _count(count, where)))
    return out


def _pairs(data) -> list:
    """The [state, follow] pairs of a chain, a compiled chain or a Text's JSON."""
    if isinstance(data, dict) and "chain" in data:  # markovify.Text
        data = data["chain"]
        if isinstance(data, str):
            data = _load(data)
        if isinstance(data, dict) and "chain" in data:
            raise _fail("a Text inside a Text")
    if isinstance(data, dict):
        return list(data.items())
    if not isinstance(data, list):
        raise _fail(f"expected a list of [state, next-token counts] pairs, not {_shown(data)}")
    for i, pair in enumerate(data):
        if not isinstance(pair, list) or len(pair) != 2:
            raise _fail(f"row {i + 1}: expected a [state, next-token counts] pair, not {_shown(pair)}")
    return data


def _check_token(token: str, kind: str) -> None:
    try:
        token.encode("utf-8")
    except UnicodeEncodeError:
        raise _fail(f"the token {_shown(token)} is not valid Unicode text (a lone surrogate)") from None
    if kind == "characters" and len(token) != 1:
        raise _fail(f"the token {_shown(token)} is not one character, so this is not a character model")
    if kind != "characters" and _SPACE.search(token):
        raise _fail(f"the token {_shown(token)} contains whitespace, so no {kind[:-1]} item can hold it")
    if kind == "notes" and not NOTE_PATTERN.match(token):
        raise _fail(f"the token {_shown(token)} is not a note like C4, F#5 or Bb3")


def parse_chain(text, token_kind: str | None = None) -> tuple[str, NgramCounts]:
    """(token kind, counts) of markovify JSON text, every part validated (see the module).

    `token_kind` None means characters when every token is one character, else words.
    """
    if token_kind is not None:
        check_kind(token_kind)
    rows: list[tuple[tuple[str, ...], str, int]] = []
    states: set[tuple[str, ...]] = set()
    total = 0
    state_size = None
    for i, (raw_state, raw_follow) in enumerate(_pairs(_load(text))):
        where = f"row {i + 1}"
        state = _state(raw_state, where)
        if state_size is None:
            state_size = len(state)
        elif len(state) != state_size:
            raise _fail(f"{where}: states of different sizes ({state_size} and {len(state)})")
        if state in states:
            raise _fail(f"{where}: the state {_shown(list(state))} appears twice")
        states.add(state)
        for token, count in _follow(raw_follow, where):
            total += count
            if total > MAX_TOTAL_COUNT:
                raise _fail(f"more than {MAX_TOTAL_COUNT:,} transitions counted in all")
            rows.append((state, token, count))
    if not rows:
        raise TnaasError("the markovify model is empty")
    tokens = sorted({t for state, nxt, _ in rows for t in (*state, nxt)} - {BEGIN, END})
    kind = token_kind or ("characters" if all(len(t) == 1 for t in tokens) else "words")
    for token in tokens:
        _check_token(token, kind)
    index = {t: i for i, t in enumerate(tokens)}
    index[END], index[BEGIN] = len(tokens), len(tokens) + 1
    counts = NgramCounts(
        tuple(tokens),
        state_size,
        np.array([[index[t] for t in state] for state, _, _ in rows], dtype=np.int32).reshape(-1, state_size),
        np.array([index[nxt] for _, nxt, _ in rows], dtype=np.int32),
        np.array([count for _, _, count in rows], dtype=np.int64),
    )
    return kind, counts


def chain_json(counts: NgramCounts) -> str:
    """The counts as markovify's `Chain.to_json()` text; refuses markovify's markers as tokens."""
    clash = sorted({BEGIN, END} & set(counts.vocabulary))
    if clash:
        raise TnaasError(
            f"cannot write markovify JSON: the corpus has the token {clash[0]!r}, which markovify "
            "reads as the start or end of an item (the file would load as a different model)"
        )
    names = list(counts.vocabulary) + [END, BEGIN]
    model: dict[tuple, dict] = {}
    for context, nxt, count in zip(counts.contexts.tolist(), counts.next_ids.tolist(), counts.counts.tolist()):
        model.setdefault(tuple(names[t] for t in context), {})[names[nxt]] = count
    return json.dumps([[list(state), follow] for state, follow in model.items()])
