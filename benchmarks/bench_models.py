"""Every model on the same held-out split of each bundled corpus: NLL, novelty, fit time.

Runs `tnaas.tasks.compare.compare_models` (the Compare page and `python -m tnaas compare`) with the
default line-up — Markov k = 2-4 unsmoothed, Kneser-Ney at k = 3 and 5, an HMM with 16 hidden
states and the LSTM when torch is installed — on a seeded 10% split of every bundled corpus
that can be split (the `rhcp` titles cannot: each has a word no other title has). Fit time
is wall-clock on this shared machine. `--names PATH` adds an external list of names with
1,000 held out, plus an HMM with 32 hidden states.

    python benchmarks/bench_models.py [--corpora pokemon ikea tech ...] [--names PATH] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _common

from tnaas.data.corpus import bundled_names, corpus_from_items, load_bundled
from tnaas.errors import TnaasError
from tnaas.tasks.compare import compare_models, default_lineup, parse_model_choice

HEADERS = ["model", "NLL / token", "impossible held-out items", "novelty", "diversity", "fit s", "completion"]


def rows_for(corpus, choices, test_size, seed) -> tuple[str, int]:
    """The markdown table of one corpus, and its held-out count."""
    rows = compare_models(corpus, choices, test_size=test_size, samples=200, random_state=seed)
    body = [
        [
            row.model,
            row.nll_per_token,
            f"{row.impossible_items:,}" if not row.note else "n/a",
            row.novelty,
            row.diversity,
            row.fit_seconds,
            row.note or ("exact" if row.exact else "approximate"),
        ]
        for row in rows
    ]
    return _common.table(HEADERS, body), rows[0].test_items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", nargs="+", default=[n for n in bundled_names() if n != "rhcp"])
    parser.add_argument("--names", type=Path, help="an external name list, one per line")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    choices = default_lineup()
    sections = []
    for name in args.corpora:
        corpus = load_bundled(name)
        try:
            text, held_out = rows_for(corpus, choices, 0.1, args.seed)
        except TnaasError as error:
            sections.append(f"## `{name}`\n\n{error}")
            continue
        sections.append(f"## `{name}` ({len(corpus.items):,} items, {held_out:,} held out)\n\n{text}")
        print(sections[-1], flush=True)
    if args.names:
        names = corpus_from_items(args.names.read_text(encoding="utf-8").split(), "characters", name="names")
        lineup = choices + [parse_model_choice("hmm:hidden_states=32")]
        text, held_out = rows_for(names, lineup, 1000, args.seed)
        sections.append(f"## `{args.names.name}` ({len(names.items):,} items, {held_out:,} held out)\n\n{text}")
        print(sections[-1], flush=True)
    intro = (
        "Held-out negative log-likelihood in nats per token (END included; ∞ when the model gives "
        "some held-out item probability 0), share of distinct samples not in training (novelty), "
        f"distinct / all of 200 samples (diversity), wall-clock fit seconds. Split seed {args.seed}."
    )
    command = "python benchmarks/bench_models.py" + (f" --names {args.names.name}" if args.names else "")
    _common.write_result(
        "bench_models", "Every model on the same held-out split", intro + "\n\n" + "\n\n".join(sections), command
    )


if __name__ == "__main__":
    main()
