"""Independent reference implementations for the exactness tests: nothing here imports tnaas.

Every number is computed the slow, obvious way from plain dicts: markovify's own counts for
the unsmoothed chain, interpolated modified Kneser-Ney written out from its textbook
definition, enumeration of every token string up to a length, a regex matcher for patterns
and a dictionary forward pass for gap patterns too long to enumerate.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence

import markovify
from markovify.chain import BEGIN, END
from scipy import stats

END_KEY = "<end>"  # the library's name for "the item has ended" in a position's distribution
Dist = dict[str, float]  # next token (or END) -> probability

# Tiny corpora (items, token kind). Every one has singletons (n1 > 0) at every Kneser-Ney
# order, so the discounts do not depend on how the degenerate case n1 = 0 is read.
CORPORA = {
    "chars3": (["ab", "abc", "bca", "cab", "ca", "b", "acb", "aab"], "characters"),
    "chars4": (["abd", "bad", "dab", "cab", "abcd", "da", "dcb", "bb"], "characters"),
    "words5": (["the cat sat", "a cat sat", "the dog", "a dog sat", "the cat", "dog sat"], "words"),
    "notes3": (["C4 D4 E4", "E4 D4", "C4 E4", "D4 C4 E4", "C4", "E4 E4 C4"], "notes"),
    "escapes": (["a*b", "*%", "a\\b", "%b", "b\\*", "ab"], "characters"),
    # Letters only ever increase along an item, so no chain over it has a cycle: every
    # item has at most 4 tokens and enumerating up to 5 is complete.
    "acyclic": (["abd", "acd", "bcd", "ab", "cd", "ad", "b", "abcd"], "characters"),
}


# ------------------------------------------------------------------------- corpora
def runs_of(items: Iterable[str], kind: str) -> list[list[str]]:
    """Items as markovify runs: characters, or whitespace-separated words/notes."""
    return [list(item) if kind == "characters" else item.split() for item in items]


def join(tokens: Sequence[str], kind: str) -> str:
    """Tokens back into an item's text."""
    return ("" if kind == "characters" else " ").join(tokens)


def context_of(prefix: Sequence[str], k: int) -> tuple[str, ...]:
    """The chain state after `prefix`: its last k tokens, BEGIN-padded on the left."""
    return tuple(([BEGIN] * k + list(prefix))[len(prefix) :])


# -------------------------------------------------------------------- the models
class ChainRef:
    """markovify's unsmoothed chain: p(w | state) = count / state total."""

    def __init__(self, runs: list[list[str]], k: int):
        self.k = k
        self.model = markovify.Chain(runs, k).model
        self.vocabulary = sorted({t for run in runs for t in run})

    def dist(self, context: tuple[str, ...]) -> Dist:
        """Next-token distribution after a k-token state ({} for a state never seen)."""
        follow = self.model.get(tuple(context), {})
        total = sum(follow.values())
        return {w: c / total for w, c in follow.items()}


def discounts_ref(values: Iterable[int]) -> tuple[float, float, float]:
    """Chen & Goodman's D1, D2, D3+ from one order's counts: Y = n1 / (n1 + 2 n2),
    D_r = r - (r + 1) Y n_(r+1) / n_r; 0.5 / 1.0 / 1.5 where D_r <= 0 or a count-of-counts
    it needs is zero: n_r and n_(r+1), and n1 for Y (with no singletons Y = 0 would make
    D_r = r, throwing away all direct evidence of count-r n-grams)."""
    n = Counter(values)
    n1, n2, n3, n4 = n[1], n[2], n[3], n[4]
    fallback = (0.5, 1.0, 1.5)
    out = []
    for r, (nr, nr1) in enumerate([(n1, n2), (n2, n3), (n3, n4)], start=1):
        if n1 == 0 or n1 + n2 == 0 or nr == 0 or nr1 == 0:
            out.append(fallback[r - 1])
            continue
        y = n1 / (n1 + 2 * n2)
        d = r - (r + 1) * y * nr1 / nr
        out.append(d if d > 0 else fallback[r - 1])
    return tuple(out)


class KneserNeyRef:
    """Interpolated modified Kneser-Ney, straight from the definition.

    Order j has histories of j tokens. Raw counts c(h w) of every order come from the
    padded runs; an order below the top counts w after h by N1+(. h w), the number of
    distinct tokens x (BEGIN included) with c(x h w) > 0. p(w | h) = (c(h w) - D_j(c)) / c(h)
    + gamma(h) p(w | h without its first token), gamma(h) = sum of the discounts taken / c(h);
    an unseen h backs off to its suffix; below order 0 is the uniform distribution over
    tokens + END. After the all-BEGIN context END is impossible (left out) when no run is
    empty, and the other outcomes are divided by 1 - p(END).
    """

    def __init__(self, runs: list[list[str]], k: int):
        self.k = k
        self.vocabulary = sorted({t for run in runs for t in run})
        self.outcomes = [*self.vocabulary, END]
        raw: list[dict[tuple, Counter]] = [defaultdict(Counter) for _ in range(k + 1)]
        for run in runs:
            seq = [BEGIN] * k + run + [END]
            for i in range(k, len(seq)):
                for j in range(k + 1):
                    raw[j][tuple(seq[i - j : i])][seq[i]] += 1
        self.counts: list[dict[tuple, Counter]] = []
        for j in range(k + 1):
            if j == k:
                level = raw[j]
            else:
                level = defaultdict(Counter)
                for h, follow in raw[j].items():
                    for w in follow:
                        level[h][w] = sum(1 for xh, f in raw[j + 1].items() if xh[1:] == h and f[w] > 0)
            self.counts.append(level)
        self.discounts = [
            discounts_ref(c for follow in level.values() for c in follow.values()) for level in self.counts
        ]
        self._cache: dict[tuple, Dist] = {}

    def prob(self, h: tuple[str, ...], w: str) -> float:
        """p(w | h) for a history of at most k tokens."""
        j = len(h)
        lower = 1 / len(self.outcomes) if j == 0 else self.prob(h[1:], w)
        follow = self.counts[j].get(h)
        if not follow:
            return lower
        total = sum(follow.values())
        d = self.discounts[j]
        taken = sum(d[min(c, 3) - 1] for c in follow.values())
        c = follow.get(w, 0)
        own = (c - d[min(c, 3) - 1]) / total if c > 0 else 0.0
        return own + taken / total * lower

    def dist(self, context: tuple[str, ...]) -> Dist:
        """Next-token distribution (every token and END) after a k-token state."""
        context = tuple(context)
        if context not in self._cache:
            dist = {w: self.prob(context, w) for w in self.outcomes}
            if context == (BEGIN,) * self.k and END not in self.counts[self.k].get(context, {}):
                dist = {w: p / (1 - dist[END]) for w, p in dist.items() if w != END}
            self._cache[context] = dist
        return self._cache[context]


class TemperedRef:
    """A model whose every next-token distribution is p**(1/T), renormalised."""

    def __init__(self, base, temperature: float):
        self.base, self.k, self.vocabulary = base, base.k, base.vocabulary
        self.temperature = temperature

    def dist(self, context: tuple[str, ...]) -> Dist:
        """The tempered distribution after `context`."""
        weights = {w: p ** (1 / self.temperature) for w, p in self.base.dist(context).items() if p > 0}
        total = sum(weights.values())
        return {w: v / total for w, v in weights.items()}


def make_ref(items: Sequence[str], kind: str, k: int, smoothing: str):
    """The reference of a `MarkovModel(k, smoothing)` fitted on `items`."""
    runs = runs_of(items, kind)
    return KneserNeyRef(runs, k) if smoothing == "kneser-ney" else ChainRef(runs, k)


# ----------------------------------------------------------------- enumeration
def log_prob(ref, tokens: Sequence[str]) -> float:
    """Natural log of p(tokens, then END); -inf when impossible."""
    total = 0.0
    for i, w in enumerate([*tokens, END]):
        p = ref.dist(context_of(tokens[:i], ref.k)).get(w, 0.0)
        if p <= 0:
            return -math.inf
        total += math.log(p)
    return total


def enumerate_items(ref, max_len: int, min_len: int = 0) -> dict[tuple[str, ...], float]:
    """p(item) for every item of min_len..max_len tokens with positive probability.

    Depth-first over prefixes, so the cost is the number of possible prefixes.
    """
    out: dict[tuple[str, ...], float] = {}

    def walk(prefix: tuple[str, ...], p: float) -> None:
        dist = ref.dist(context_of(prefix, ref.k))
        if len(prefix) >= min_len and dist.get(END, 0.0) > 0:
            out[prefix] = p * dist[END]
        if len(prefix) < max_len:
            for w, q in dist.items():
                if w != END and q > 0:
                    walk((*prefix, w), p * q)

    walk((), 1.0)
    return out


def length_mass(items: dict[tuple, float]) -> dict[int, float]:
    """p(length = L) summed over the enumerated items."""
    out: dict[int, float] = defaultdict(float)
    for tokens, p in items.items():
        out[len(tokens)] += p
    return dict(out)


def length_conditioned(items: dict[tuple, float], target: dict[int, float]) -> dict[tuple, float]:
    """p(T) = p(λ) p(T | λ) with p(λ) = `target` renormalised over the lengths the model
    can produce, and p(T | λ) = p_model(T) / p_model(λ). `items` must hold every item of
    every length in `target`."""
    chain = length_mass(items)
    kept = sum(p for length, p in target.items() if chain.get(length, 0) > 0)
    return {
        tokens: target.get(len(tokens), 0.0) / kept * p / chain[len(tokens)]
        for tokens, p in items.items()
        if target.get(len(tokens), 0.0) > 0
    }


# --------------------------------------------------------------------- patterns
def parse_pattern_ref(text: str, kind: str) -> list[tuple[str, str | None]]:
    """Pattern elements ("one" | "gap" | "literal", token): `*` one token, `%` any run,
    backslash escapes the next character (characters) or the rest of a word (words, notes).
    Raises ValueError for a pattern ending in a lone backslash (characters)."""
    out: list[tuple[str, str | None]] = []
    if kind == "characters":
        chars = iter(text)
        for c in chars:
            if c == "\\":
                nxt = next(chars, None)
                if nxt is None:
                    raise ValueError("lone backslash")
                out.append(("literal", nxt))
            elif c in "*%":
                out.append(("one" if c == "*" else "gap", None))
            else:
                out.append(("literal", c))
        return out
    for word in text.split():
        if word in ("*", "%"):
            out.append(("one" if word == "*" else "gap", None))
        elif word.startswith("\\") and len(word) > 1:
            out.append(("literal", word[1:]))
        else:
            out.append(("literal", word))
    return out


def matcher(text: str, kind: str, vocabulary: Sequence[str]) -> Callable[[Sequence[str]], bool]:
    """A predicate on token sequences: does the sequence match the pattern? Built as a
    regular expression over one private-use character per vocabulary token."""
    code = {t: chr(0xE000 + i) for i, t in enumerate(vocabulary)}
    parts = []
    for element, token in parse_pattern_ref(text, kind):
        if element == "one":
            parts.append(".")
        elif element == "gap":
            parts.append(".*")
        else:
            parts.append(re.escape(code[token]) if token in code else "(?!)")
    regex = re.compile("".join(parts), re.DOTALL)
    return lambda tokens: regex.fullmatch("".join(code[t] for t in tokens)) is not None


def is_gap_pattern(text: str, kind: str) -> bool:
    """True when the pattern has a `%`."""
    return any(e == "gap" for e, _ in parse_pattern_ref(text, kind))


def conditional(items: dict[tuple, float], accepts: Callable) -> tuple[float, dict[tuple, float]]:
    """(p(pattern), p(item | pattern) for each matching item)."""
    matches = {t: p for t, p in items.items() if accepts(t)}
    total = sum(matches.values())
    return total, ({t: p / total for t, p in matches.items()} if total > 0 else {})


def positions(posterior: dict[tuple, float], text: str, kind: str) -> dict[int, Dist]:
    """Per-position posteriors as the library reports them.

    Fixed-length patterns: every `*` position, a distribution over tokens. Gap patterns:
    every position from the first non-literal on, over tokens plus END_KEY (the item
    ended before it), kept only when more than one outcome is possible.
    """
    elements = parse_pattern_ref(text, kind)
    if not any(e == "gap" for e, _ in elements):
        wanted = [i for i, (e, _) in enumerate(elements) if e == "one"]
        gap = False
    else:
        lead = next(i for i, (e, _) in enumerate(elements) if e != "literal")
        wanted = range(lead, max(len(t) for t in posterior))
        gap = True
    out = {}
    for i in wanted:
        dist: dict[str, float] = defaultdict(float)
        for tokens, p in posterior.items():
            dist[tokens[i] if i < len(tokens) else END_KEY] += p
        if not gap or len(dist) > 1:
            out[i] = dict(dist)
    return out


class _NFA:
    """The pattern as a set-of-positions automaton (position j: elements[:j] matched)."""

    def __init__(self, text: str, kind: str):
        self.elements = parse_pattern_ref(text, kind)

    def closure(self, states: Iterable[int]) -> frozenset[int]:
        out, stack = set(states), list(states)
        while stack:
            j = stack.pop()
            if j < len(self.elements) and self.elements[j][0] == "gap" and j + 1 not in out:
                out.add(j + 1)
                stack.append(j + 1)
        return frozenset(out)

    def step(self, states: frozenset[int], token: str) -> frozenset[int]:
        out = set()
        for j in states:
            if j < len(self.elements):
                kind, literal = self.elements[j]
                if kind == "gap":
                    out.add(j)
                elif kind == "one" or literal == token:
                    out.add(j + 1)
        return self.closure(out)

    def accepting(self, states: frozenset[int]) -> bool:
        return len(self.elements) in states


def pattern_mass_dp(ref, text: str, kind: str, max_len: int) -> tuple[float, float]:
    """(p(item matches and has <= max_len tokens), p(a matching-so-far prefix of max_len
    tokens goes on)), by a forward pass over (chain state, pattern NFA state) dicts."""
    nfa = _NFA(text, kind)
    frontier = {(context_of((), ref.k), nfa.closure([0])): 1.0}
    matched = 0.0
    for t in range(max_len + 1):
        nxt: dict[tuple, float] = defaultdict(float)
        for (context, states), p in frontier.items():
            dist = ref.dist(context)
            if nfa.accepting(states):
                matched += p * dist.get(END, 0.0)
            if t == max_len:
                continue
            for w, q in dist.items():
                if w == END or q <= 0:
                    continue
                after = nfa.step(states, w)
                if after:
                    nxt[((*context, w)[1:], after)] += p * q
        if t == max_len:
            running = sum(p * (1 - ref.dist(context).get(END, 0.0)) for (context, _), p in frontier.items())
            return matched, running
        frontier = nxt
    raise AssertionError("unreachable")


# --------------------------------------------------------------------- statistics
def chi_square_p(observed: Iterable[str], expected: dict[str, float]) -> float:
    """p-value of a chi-square goodness-of-fit test of draws against a distribution.

    Outcomes expected fewer than 5 times are pooled into one bin; a draw outside the
    distribution's support gives 0.
    """
    counts = Counter(observed)
    n = sum(counts.values())
    if any(expected.get(x, 0.0) <= 0 for x in counts):
        return 0.0
    big = [x for x, p in expected.items() if p * n >= 5]
    f_obs = [counts.get(x, 0) for x in big]
    f_exp = [expected[x] * n for x in big]
    rest_exp = n - sum(f_exp)
    if rest_exp > 1e-9 * n:
        f_obs.append(n - sum(f_obs))
        f_exp.append(rest_exp)
    if len(f_obs) < 2:
        return 1.0
    f_exp = [f * n / sum(f_exp) for f in f_exp]  # absorb rounding so the totals agree exactly
    return float(stats.chisquare(f_obs, f_exp).pvalue)
