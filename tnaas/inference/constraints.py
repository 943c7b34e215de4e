"""Constraints on a whole item (starts with, ends with, contains, does not contain, banned
tokens, a length range), answered exactly from p(item | constraints).

A constraint set compiles to one deterministic automaton over token ids, built as a
product: a counter for the required prefix, an Aho-Corasick automaton over every
substring that matters (required, forbidden, the required suffix) and a bit mask of the
required substrings seen so far. It is then minimised, so that states that can no longer
reach acceptance disappear (the lattice never expands a hopeless prefix). The result is a
`PatternDFA`, fed to the same lattice as masked patterns: p(constraints) is its forward
mass, samples are exact draws from p(item | constraints), the top list is an exact k-best.
Nothing is generated and thrown away.

The length range is not part of the automaton (a counter would multiply its states by
the length): the lattice's end weights are 1 on lengths min..max and 0 elsewhere, and its
cap is the maximum (without a maximum: the model's own cap, with the left-out mass bounded).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from tnaas.data.tokens import detokenize
from tnaas.errors import TnaasError
from tnaas.inference.automaton import temper
from tnaas.inference.exact_paths import make_lattice
from tnaas.inference.lengths import MAX_ITEM_TOKENS
from tnaas.inference.patterns import PatternDFA
from tnaas.validation import check_count, check_temperature, rng_from

MAX_CONSTRAINT_STATES = 5_000  # product automaton states before minimisation (~5 MB delta table)
MAX_CONSTRAINT_STRINGS = 16  # required + forbidden substrings together
MAX_STRING_TOKENS = 64  # tokens in any one constraint string (as for patterns)


def _strings(value, what: str) -> tuple[str, ...]:
    """A tuple of non-empty strings from a string, a list/tuple of strings, or None."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not all(isinstance(v, str) for v in value):
        raise TnaasError(f"{what} must be text or a list of texts, not {value!r}")
    return tuple(dict.fromkeys(v for v in value if v != ""))  # empty fields mean "no constraint"


def _length(value, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= MAX_ITEM_TOKENS:
        raise TnaasError(f"{what} must be a whole number from 0 to {MAX_ITEM_TOKENS} tokens, not {value!r}")
    return int(value)


@dataclass(frozen=True)
class Constraints:
    """What every wanted item must satisfy; hashable, so answers can be cached on it.

    All texts are in the model's token kind: for characters every character is a token
    (taken literally, spaces included); for words and notes, space-separated tokens.
    `contains`: every one must occur (overlaps allowed); `excludes`: none may occur;
    `excluded_tokens`: each text's tokens are banned everywhere (`"xq"` bans x and q);
    lengths in tokens, inclusive (`max_length` None: no maximum). Empty texts are
    ignored; lists become tuples.
    """

    starts_with: str = ""
    ends_with: str = ""
    contains: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    excluded_tokens: tuple[str, ...] = ()
    min_length: int = 0
    max_length: int | None = None

    def __post_init__(self):
        for name in ("starts_with", "ends_with"):
            value = getattr(self, name)
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise TnaasError(f"{name.replace('_', ' ')} must be text, not {value!r}")
            object.__setattr__(self, name, value)
        for name in ("contains", "excludes", "excluded_tokens"):
            object.__setattr__(self, name, _strings(getattr(self, name), name.replace("_", " ")))
        low = _length(self.min_length if self.min_length is not None else 0, "the minimum length")
        high = _length(self.max_length, "the maximum length")
        if high is not None and low > high:
            raise TnaasError(f"the length range {low}-{high} is empty: the minimum is above the maximum")
        object.__setattr__(self, "min_length", low)
        object.__setattr__(self, "max_length", high)
        if len(self.contains) + len(self.excludes) > MAX_CONSTRAINT_STRINGS:
            raise TnaasError(
                f"too many substrings: {len(self.contains) + len(self.excludes)} required or forbidden, "
                f"the limit is {MAX_CONSTRAINT_STRINGS}"
            )

    @property
    def is_empty(self) -> bool:
        """True when nothing is constrained (every item qualifies)."""
        return self == Constraints()


def _tokens(text: str, kind: str) -> tuple[str, ...]:
    tokens = tuple(text) if kind == "characters" else tuple(text.split())
    if len(tokens) > MAX_STRING_TOKENS:
        raise TnaasError(
            f"constraint {text[:20]!r}… is too long: {len(tokens)} tokens, the limit is {MAX_STRING_TOKENS}"
        )
    return tokens


def _aho_corasick(patterns: list[tuple[int, ...]], n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """The Aho-Corasick automaton of `patterns` (tuples of class ids 0..n_classes-1).

    Returns (goto int64 (nodes, n_classes), out int64 (nodes,)): the complete transition
    table (failure links folded in) and, per node, the bit mask of the patterns that end
    at the current position (bit i: `patterns[i]` is a suffix of the text read so far).
    """
    children: list[dict[int, int]] = [{}]
    own = [0]
    for i, pattern in enumerate(patterns):
        node = 0
        for c in pattern:
            if c not in children[node]:
                children[node][c] = len(children)
                children.append({})
                own.append(0)
            node = children[node][c]
        own[node] |= 1 << i
    n = len(children)
    goto = np.zeros((n, n_classes), dtype=np.int64)
    out = np.array(own, dtype=object)  # Python ints: more than 63 patterns never happen, but stay exact
    fail = [0] * n
    queue = deque()
    for c, child in children[0].items():
        goto[0, c] = child
        queue.append(child)
    while queue:  # breadth first: a node's failure target is done before the node
        node = queue.popleft()
        out[node] |= out[fail[node]]
        goto[node] = goto[fail[node]]
        for c, child in children[node].items():
            fail[child] = int(goto[fail[node], c]) if node else 0
            goto[node, c] = child
            queue.append(child)
    return goto, out


def _minimise(delta: np.ndarray, accepting: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Moore's partition refinement: the minimal DFA of (delta, accepting), start state 0.

    `delta` int64 (n, classes), -1 = reject. States that cannot reach acceptance merge
    with the reject sink and become -1. Returns (delta, accepting) with states numbered
    in breadth-first order from the start; a start that cannot reach acceptance gives a
    single rejecting state with no transitions.
    """
    n, n_classes = delta.shape
    sink = n
    full = np.vstack([np.where(delta < 0, sink, delta), np.full((1, n_classes), sink)])
    block = np.r_[accepting, False].astype(np.int64)
    n_blocks = len(np.unique(block))
    while True:
        signature = np.column_stack([block, block[full]])
        _, block = np.unique(signature, axis=0, return_inverse=True)
        block = block.reshape(-1)
        if len(np.unique(block)) == n_blocks:
            break
        n_blocks = len(np.unique(block))
    dead = block[sink]
    if block[0] == dead:
        return np.full((1, n_classes), -1, dtype=np.int64), np.zeros(1, dtype=bool)
    ids = {int(block[0]): 0}
    representative = [0]
    queue = deque([0])
    rows = []
    while queue:
        state = queue.popleft()
        row = []
        for c in range(n_classes):
            target = int(full[state, c])
            b = int(block[target])
            if b == dead:
                row.append(-1)
                continue
            if b not in ids:
                ids[b] = len(ids)
                representative.append(target)
                queue.append(target)
            row.append(ids[b])
        rows.append(row)
    return np.array(rows, dtype=np.int64).reshape(-1, n_classes), np.array([bool(accepting[s]) for s in representative])


def constraints_dfa(constraints: Constraints, vocabulary: tuple[str, ...], token_kind: str) -> PatternDFA:
    """The minimal DFA over token ids of `vocabulary` accepting exactly the token sequences
    that satisfy every constraint except the length range (see the module docstring).

    Token classes: 0 = any token no constraint mentions, 1..m = each mentioned token, m + 1
    = banned tokens (never readable). Raises `TnaasError` when a required text uses a token
    the vocabulary lacks (no item can satisfy it), or when the product automaton would
    exceed `MAX_CONSTRAINT_STATES` states. A forbidden text with an unknown token can
    never occur, so it is dropped.
    """
    if not isinstance(constraints, Constraints):
        raise TnaasError(f"constraints must be a Constraints object, not {type(constraints).__name__}")
    index = {token: i for i, token in enumerate(vocabulary)}
    start = _tokens(constraints.starts_with, token_kind)
    end = _tokens(constraints.ends_with, token_kind)
    contains = [_tokens(t, token_kind) for t in constraints.contains]
    excludes = [_tokens(t, token_kind) for t in constraints.excludes]
    required = [start, end, *contains]
    unknown = list(dict.fromkeys(t for text in required for t in text if t not in index))
    if unknown:
        shown = ", ".join(repr(t) for t in unknown[:5])
        raise TnaasError(f"the constraints require {shown}, which never appears in this corpus, so no item can match")
    excludes = [text for text in excludes if all(t in index for t in text)]
    banned = {t for text in constraints.excluded_tokens for t in _tokens(text, token_kind) if t in index}

    mentioned = [t for text in (*required, *excludes) for t in text if t not in banned]
    literal_class = {token: j + 1 for j, token in enumerate(dict.fromkeys(mentioned))}
    m = len(literal_class)
    dead_class = m + 1
    n_classes = m + 2
    token_class = np.zeros(len(vocabulary), dtype=np.int64)
    for token, cls in literal_class.items():
        token_class[index[token]] = cls
    for token in banned:
        token_class[index[token]] = dead_class

    def classes(text: tuple[str, ...]) -> tuple[int, ...]:
        return tuple(dead_class if t in banned else literal_class[t] for t in text)

    start_c = classes(start)
    # Aho-Corasick patterns: required substrings (bits 0..c-1), forbidden ones, the suffix.
    patterns = [classes(t) for t in contains] + [classes(t) for t in excludes]
    n_contains, n_excludes = len(contains), len(excludes)
    if end:
        patterns.append(classes(end))
    goto, out = _aho_corasick(patterns, n_classes)
    want_all = (1 << n_contains) - 1
    forbidden = ((1 << n_excludes) - 1) << n_contains
    suffix_bit = (1 << (len(patterns) - 1)) if end else 0

    # Breadth-first product over (prefix progress, Aho-Corasick node, required-seen mask).
    begin = (0, 0, 0)
    ids = {begin: 0}
    queue = deque([begin])
    rows, accepting = [], []
    while queue:
        pos, node, mask = queue.popleft()
        accepting.append(pos == len(start_c) and mask == want_all and (not suffix_bit or bool(out[node] & suffix_bit)))
        row = []
        for c in range(n_classes):
            if c == dead_class or (pos < len(start_c) and c != start_c[pos]):
                row.append(-1)
                continue
            nxt = int(goto[node, c])
            if out[nxt] & forbidden:
                row.append(-1)
                continue
            state = (min(pos + 1, len(start_c)), nxt, mask | (int(out[nxt]) & want_all))
            if state not in ids:
                if len(ids) >= MAX_CONSTRAINT_STATES:
                    raise TnaasError(
                        f"these constraints need an automaton of more than {MAX_CONSTRAINT_STATES:,} states; "
                        "use fewer or shorter required and forbidden substrings"
                    )
                ids[state] = len(ids)
                queue.append(state)
            row.append(ids[state])
        rows.append(row)
    delta, accept = _minimise(np.array(rows, dtype=np.int64).reshape(-1, n_classes), np.array(accepting))
    literal_ids = np.array([index[t] for t in literal_class], dtype=np.int64)
    return PatternDFA(delta, token_class, accept, delta[:, 0] >= 0, literal_ids)


def satisfiable(dfa: PatternDFA) -> bool:
    """False when no token sequence at all meets the constraints (they contradict)."""
    return bool(dfa.accepting.any())


@dataclass(frozen=True)
class ConstrainedSample:
    """The exact answer to a set of constraints on an automaton model.

    `probability`: p(a generated item satisfies the constraints), float. `samples`: exact
    draws from p(item | constraints) (texts). `top`: [{"text", "probability"}] the most
    probable satisfying items, p(item | constraints), descending. `truncated_mass`: upper
    bound on the probability of satisfying items longer than `max_length` that were left
    out (0 when the constraints set a maximum length). `dfa_states`: size of the minimal
    constraint automaton. Unpacks as `probability, samples, top = result`.
    """

    probability: float
    samples: list[str] = field(default_factory=list)
    top: list[dict] = field(default_factory=list)
    truncated_mass: float = 0.0
    max_length: int = 0
    dfa_states: int = 0
    top_complete: bool = True
    message: str = ""

    def __iter__(self):
        return iter((self.probability, self.samples, self.top))


def sample_constrained(
    model,
    constraints: Constraints,
    n: int = 10,
    random_state=None,
    temperature: float = 1.0,
    top: int = 10,
) -> ConstrainedSample:
    """`n` exact draws from p(item | constraints) of a fitted automaton model, with
    p(constraints) and the `top` most probable satisfying items (see `ConstrainedSample`).

    `temperature` tempers the model first (as in `sample`). Models without an automaton
    (the LSTM) cannot be answered exactly: a `TnaasError` says so.
    """
    check = getattr(model, "_check_fitted", None)
    if check is not None:
        check()
    automaton = getattr(model, "automaton_", None)
    if automaton is None:
        name = getattr(model, "name", type(model).__name__)
        raise TnaasError(
            f"the {name} model has no automaton, so constraints cannot be answered exactly: "
            "use a Markov chain or an HMM"
        )
    n = check_count(n)
    top = check_count(top, "top", 1000)
    rng = rng_from(random_state)
    automaton = temper(automaton, check_temperature(temperature))
    dfa = constraints_dfa(constraints, model.vocabulary_, model.token_kind_)
    bounded = constraints.max_length is not None
    cap = constraints.max_length if bounded else max(int(model.max_length_), constraints.min_length)
    if not satisfiable(dfa):
        return ConstrainedSample(
            0.0, max_length=cap, dfa_states=len(dfa.delta), message="These constraints contradict each other."
        )
    weights = np.zeros(cap + 1)
    weights[constraints.min_length :] = 1.0
    lattice = make_lattice(automaton, dfa, weights)
    if lattice.log_z == -np.inf:
        return ConstrainedSample(
            0.0,
            max_length=cap,
            dfa_states=len(dfa.delta),
            message="No item this model can generate meets these constraints: their probability is 0.",
        )
    vocab, kind = model.vocabulary_, model.token_kind_
    best, complete = lattice.top(top)
    drawn = lattice.sample(n, rng) if n else []
    return ConstrainedSample(
        lattice.probability,
        [detokenize((vocab[t] for t in ids), kind) for ids in drawn],
        [{"text": detokenize((vocab[t] for t in ids), kind), "probability": p} for ids, p in best],
        truncated_mass=0.0 if bounded else lattice.running_mass,
        max_length=cap,
        dfa_states=len(dfa.delta),
        top_complete=complete,
    )
