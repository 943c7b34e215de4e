"""The command line: `python -m tnaas corpora | corpus | generate | complete | evaluate | compare | sounds-like`.

Exit status: 0 success; 1 nothing to report (no novel items enough, a pattern that cannot
match) after saying so; 2 bad input, with one line on stderr and no traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from tnaas.data.corpus import load_corpus, manifest
from tnaas.errors import NotEnoughNovelItems, TnaasError
from tnaas.models import MODELS, get_spec
from tnaas.tasks.evaluate import evaluate
from tnaas.tasks.generate import generate

MAX_TEXT_POSITIONS = 8  # the text view stays readable; --json has every position


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise TnaasError(message)


def _add_corpus_options(parser: argparse.ArgumentParser, flag: str = "--corpus", required: bool = True) -> None:
    parser.add_argument(flag, required=required, metavar="NAME|PATH", help="a bundled corpus name or a .txt/.csv file")
    parser.add_argument("--column", help="the CSV column holding the items")
    parser.add_argument("--tokens", choices=("characters", "words", "notes"), help="token kind (default: inferred)")


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="markov", help=f"one of: {', '.join(MODELS)} (default markov)")
    seen = set()
    for spec in MODELS.values():
        for h in spec.hyperparameters:
            if h.name in seen:
                continue
            seen.add(h.name)
            kind = {"int": int, "float": float}.get(h.kind, str)
            parser.add_argument(h.flag, dest=h.name, type=kind, default=None, help=f"{spec.name}: {h.help}")


def _add_length_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--length", type=int, help="exact length in tokens")
    group.add_argument("--length-dist", help="natural (default), corpus, or MIN-MAX")


def _build_parser() -> _Parser:
    parser = _Parser(
        prog="python -m tnaas",
        description="Tech Names as a Service: learn short sequences, generate and complete them.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    commands.add_parser("corpora", help="list the bundled corpora")

    corpus = commands.add_parser("corpus", help="print a corpus, one item per line")
    corpus.add_argument("name", metavar="NAME|PATH")
    corpus.add_argument("--json", action="store_true", help="a JSON list instead")

    gen = commands.add_parser("generate", help="generate new items")
    _add_corpus_options(gen)
    _add_model_options(gen)
    gen.add_argument("-n", type=int, default=10, help="how many items (default 10)")
    gen.add_argument("--seed", type=int, help="random seed (same seed, same output)")
    gen.add_argument("--temperature", type=float, default=1.0, help="below 1 sharper, above 1 wilder (default 1)")
    gen.add_argument("--include-existing", action="store_true", help="also accept items already in the corpus")
    _add_length_options(gen)
    gen.add_argument("--json", action="store_true", help="a JSON list of strings")

    comp = commands.add_parser("complete", help="exact posterior of a masked pattern like ***base or mo%%")
    comp.add_argument("pattern", help="`*` one unknown token, `%%` any run, `\\*` a literal star")
    _add_corpus_options(comp)
    _add_model_options(comp)
    comp.add_argument("--top", type=int, default=10, help="how many most probable completions (default 10)")
    comp.add_argument("--samples", type=int, default=0, help="exact samples from the posterior (default 0)")
    comp.add_argument("--seed", type=int, help="random seed")
    comp.add_argument("--temperature", type=float, default=1.0, help=argparse.SUPPRESS)
    _add_length_options(comp)
    comp.add_argument("--json", action="store_true", help="one JSON object")

    ev = commands.add_parser("evaluate", help="held-out negative log-likelihood per token")
    ev.add_argument("--train", required=True, metavar="NAME|PATH")
    ev.add_argument("--test", required=True, metavar="NAME|PATH")
    ev.add_argument("--column", help="the CSV column holding the items")
    ev.add_argument("--tokens", choices=("characters", "words", "notes"), help="token kind (default: inferred)")
    _add_model_options(ev)
    ev.add_argument("--seed", type=int, help="random seed for models that train stochastically")
    ev.add_argument("--json", action="store_true", help="one JSON object")
    cmp = commands.add_parser(
        "compare", help="compare models on one corpus: held-out NLL, novelty, diversity, fit time"
    )
    _add_corpus_options(cmp)
    cmp.add_argument(
        "--models",
        nargs="+",
        metavar="NAME[:param=value,...]",
        help="models to compare, e.g. markov:state_size=3 markov:state_size=5,smoothing=kneser-ney hmm (default: a standard line-up)",
    )
    cmp.add_argument("--test-size", type=float, default=0.1, help="held-out share (<1) or count (default 0.1)")
    cmp.add_argument(
        "--samples", type=int, default=500, help="samples per model for novelty and diversity (default 500)"
    )
    cmp.add_argument("--seed", type=int, default=0, help="seed of the split, the fits and the samples (default 0)")
    cmp.add_argument("--json", action="store_true", help="a JSON list of rows")

    like = commands.add_parser("sounds-like", help="which bundled corpus a name sounds like (Bayes over corpus models)")
    like.add_argument("name")
    like.add_argument("--json", action="store_true", help="one JSON object")
    return parser


def _fit(args, corpus):
    spec = get_spec(args.model)
    params = {h.name: getattr(args, h.name, None) for s in MODELS.values() for h in s.hyperparameters}
    params = {k: v for k, v in params.items() if v is not None}
    model = spec.build(params, random_state=getattr(args, "seed", None), corpus=corpus)
    return model.fit(corpus)


def _length(args):
    if getattr(args, "length", None) is not None:
        return str(args.length)
    return getattr(args, "length_dist", None)


def _print_table(rows: list[list[str]], out) -> None:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() + "\n")


def _cmd_corpora(args, out) -> int:
    rows = [["name", "title", "tokens", "items", "licence"]]
    rows += [[e["name"], e["title"], e["tokens"], f"{e['items']:,}", e["licence"]] for e in manifest()]
    _print_table(rows, out)
    return 0


def _cmd_corpus(args, out) -> int:
    corpus = load_corpus(args.name)
    if args.json:
        out.write(json.dumps(list(corpus.items), ensure_ascii=False) + "\n")
    else:
        out.write("\n".join(corpus.items) + "\n")
    return 0


def _cmd_generate(args, out) -> int:
    corpus = load_corpus(args.corpus, token_kind=args.tokens, column=args.column)
    model = _fit(args, corpus)
    status = 0
    try:
        items = generate(
            model,
            args.n,
            random_state=args.seed,
            temperature=args.temperature,
            length=_length(args),
            include_existing=args.include_existing,
        )
    except NotEnoughNovelItems as shortfall:
        items = shortfall.items
        sys.stderr.write(f"tnaas: {shortfall}\n")
        status = 1
    if args.json:
        out.write(json.dumps(items, ensure_ascii=False) + "\n")
    elif items:
        out.write("\n".join(items) + "\n")
    return status


def _cmd_complete(args, out) -> int:
    corpus = load_corpus(args.corpus, token_kind=args.tokens, column=args.column)
    model = _fit(args, corpus)
    result = model.complete(
        args.pattern,
        top=args.top,
        samples=args.samples,
        random_state=args.seed,
        length=_length(args),
        temperature=args.temperature,
    )
    if args.json:
        out.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
        return 0 if result.matches else 1
    if not result.matches:
        out.write(result.message + "\n")
        return 1
    out.write(f"p({result.pattern}) = {result.probability:.6g}  [{result.method}]\n")
    if result.truncated_mass > 1e-12:
        out.write(
            f"(items longer than {result.max_length} tokens left out: at most {result.truncated_mass:.2g} of probability)\n"
        )
    shown_positions = result.positions[:MAX_TEXT_POSITIONS]
    for position in shown_positions:
        best = list(position["distribution"].items())[:6]
        shown = "  ".join(f"{t!s}:{p:.3f}" for t, p in best)
        out.write(f"position {position['index']}: {shown}\n")
    if len(result.positions) > len(shown_positions):
        out.write(f"… {len(result.positions) - len(shown_positions)} more positions (see --json)\n")
    if result.top:
        out.write("most probable completions:\n")
        for entry in result.top:
            out.write(f"  {entry['probability']:.4f}  {entry['text']}\n")
    if result.samples:
        out.write("samples: " + ", ".join(result.samples) + "\n")
    return 0


def _cmd_evaluate(args, out) -> int:
    train = load_corpus(args.train, token_kind=args.tokens, column=args.column)
    test = load_corpus(args.test, token_kind=train.token_kind, column=args.column)
    model = _fit(args, train)
    result = evaluate(model, test.items)
    if args.json:
        data = result.to_dict()
        data = {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in data.items()}
        data["infinite"] = math.isinf(result.nll_per_token)
        data["explanation"] = result.explain_infinity(model.smoothed)
        out.write(json.dumps(data) + "\n")
        return 0
    if math.isinf(result.nll_per_token):
        out.write(f"nll_per_token: infinity — {result.explain_infinity(model.smoothed)}\n")
    else:
        out.write(f"nll_per_token: {result.nll_per_token:.4f} nats\nperplexity: {result.perplexity:.3f}\n")
    out.write(f"tokens: {result.tokens:,}\nitems: {result.items:,}\n")
    return 0


def _cmd_compare(args, out) -> int:
    from tnaas.tasks.compare import compare_models, default_lineup, parse_model_choice

    corpus = load_corpus(args.corpus, token_kind=args.tokens, column=args.column)
    choices = [parse_model_choice(text) for text in args.models] if args.models else default_lineup()
    test_size = args.test_size if args.test_size < 1 else int(args.test_size)
    rows = compare_models(corpus, choices, test_size=test_size, samples=args.samples, random_state=args.seed)
    if args.json:
        data = [
            {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.to_dict().items()}
            for r in rows
        ]
        out.write(json.dumps(data, ensure_ascii=False) + "\n")
        return 0
    table = [["model", "nll/token", "perplexity", "novelty", "diversity", "fit s", "completion"]]
    for r in rows:
        if r.note:
            table.append([r.model, "-", "-", "-", "-", "-", r.note])
            continue
        table.append(
            [
                r.model,
                f"inf ({r.impossible_items:,} impossible)" if r.impossible_items else f"{r.nll_per_token:.4f}",
                f"{r.perplexity:.3f}",
                f"{r.novelty:.0%}",
                f"{r.diversity:.0%}",
                f"{r.fit_seconds:.2f}",
                "exact" if r.exact else "approximate",
            ]
        )
    _print_table(table, out)
    out.write(f"held-out items: {rows[0].test_items:,} (items with tokens unseen in training are moved to training)\n")
    return 0


def _cmd_sounds_like(args, out) -> int:
    from tnaas.tasks.quiz import fit_corpus_models, posterior

    result = posterior(args.name, fit_corpus_models())
    if args.json:
        out.write(json.dumps({"name": args.name, "posterior": result}, ensure_ascii=False) + "\n")
    else:
        for label, p in result.items():
            out.write(f"{p:7.2%}  {label}\n")
    return 0


COMMANDS = {
    "corpora": _cmd_corpora,
    "corpus": _cmd_corpus,
    "generate": _cmd_generate,
    "complete": _cmd_complete,
    "evaluate": _cmd_evaluate,
    "compare": _cmd_compare,
    "sounds-like": _cmd_sounds_like,
}


def main(argv: list[str] | None = None, out=None) -> int:
    """Run the CLI with `argv` (default: sys.argv[1:]); returns the exit status."""
    out = out or sys.stdout
    try:
        args = _build_parser().parse_args(argv)
        return COMMANDS[args.command](args, out)
    except TnaasError as error:
        sys.stderr.write(f"tnaas: error: {error}\n")
        return 2
    except BrokenPipeError:  # e.g. `| head`: the reader is gone, nothing left to say
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("tnaas: interrupted\n")
        return 130
