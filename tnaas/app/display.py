"""Text and numbers as the pages show them: Markdown escaping, percentages, NLL, notes."""

from __future__ import annotations

import math

from tnaas.data.corpus import Corpus

INFINITY = "∞"


def escape_markdown(text: str) -> str:
    """`text` shown literally where Streamlit renders Markdown (pattern stars, underscores)."""
    return "".join("\\" + ch if ch in "\\*_`[]<>#%" else ch for ch in text)


def percent(p: float, most_digits: int = 4) -> str:
    """A probability as a percentage with as few decimals as keep it honest: never "100.0%"
    for a probability below 1, never "0.0%" above 0 (0.99996 -> "99.996%"); past
    `most_digits` decimals, a bound ("< 0.0001%", "> 99.9999%")."""
    if p in (0.0, 1.0) or not math.isfinite(p):
        return f"{p:.0%}"
    for digits in range(1, most_digits + 1):
        text = f"{p:.{digits}%}"
        if 0 < float(text[:-1]) < 100:
            return text
    smallest = f"{10.0**-most_digits:.{most_digits}f}"
    return f"< {smallest}%" if p < 0.5 else f"> {100 - 10.0**-most_digits:.{most_digits}f}%"


def nats(value: float, digits: int = 3) -> str:
    """A negative log-likelihood (nats) or perplexity: ∞ when infinite, blank when missing (NaN)."""
    if math.isnan(value):
        return ""
    return INFINITY if math.isinf(value) else f"{value:.{digits}f}"


def completion_note(result) -> str:
    """How a `Completion` was computed, in one line (method, length cap, truncation)."""
    note = "Exact: forward-backward over the model and the pattern." if result.method == "exact" else result.method
    if result.truncated_mass > 0:
        note += f" Items longer than {result.max_length} tokens are left out (at most {result.truncated_mass:.2g})."
    if not result.top_complete:
        note += " The top list stopped early: it may miss some completions."
    return note


def corpus_stats(corpus: Corpus) -> dict[str, str]:
    """Headline numbers of a corpus, formatted for `st.metric` (label -> text)."""
    lengths = corpus.lengths
    return {
        "items": f"{len(corpus.items):,}",
        "distinct items": f"{len(set(corpus.items)):,}",
        "tokens": f"{int(lengths.sum()):,}",
        "distinct tokens": f"{len(corpus.vocabulary):,}",
        "mean length": f"{lengths.mean():.1f}",
        "longest": f"{int(lengths.max()):,}",
    }
