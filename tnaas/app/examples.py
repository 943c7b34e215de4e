"""What the pages show as examples of a corpus: sample items, and patterns worth completing."""

from __future__ import annotations

import numpy as np

from tnaas.data.corpus import Corpus
from tnaas.inference.patterns import parse_pattern

PATTERN_EXAMPLES = {
    "characters": ("***base", "mo***", "***ly", "*u*a", "mo%", "*A*A", "S%"),
    # The short ones last: a smoothed chain over thousands of words cannot answer `* * *`
    # within the lattice budget, but can answer a pattern with one unknown word.
    "words": ("% love %", "The * of %", "* * *", "Quae * * *", "My love is *", "Thou art *", "Quae *", "* est"),
    "notes": ("D5 * * D5", "G4 A4 B4 * *", "* * * G4", "D4 * * * * D4"),
}


def pattern_examples(corpus: Corpus) -> list[str]:
    """The example patterns whose literal tokens all occur in `corpus` (the talk's first).

    A pattern with a token the corpus never has is an error, not an example; when none is
    left, three unknown tokens.
    """
    vocabulary = set(corpus.vocabulary)
    examples = [
        e
        for e in PATTERN_EXAMPLES[corpus.token_kind]
        if set(parse_pattern(e, corpus.token_kind).literals) <= vocabulary
    ]
    return examples or ["* * *" if corpus.token_kind != "characters" else "***"]


def sample_items(corpus: Corpus, k: int, seed: int = 0) -> list[str]:
    """`k` items of `corpus` drawn without replacement (seeded), in corpus order."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(corpus.items), size=min(k, len(corpus.items)), replace=False)
    return [corpus.items[i] for i in sorted(chosen)]
