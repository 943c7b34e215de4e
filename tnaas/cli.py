"""The command line: `tnaas corpora | corpus | generate | complete | score | evaluate | compare | sounds-like | serve`.

Every command parses its flags as text and hands them to the service layer
(`tnaas.service`), which validates them once; `--json` prints the service's answer as it
is, field for field what the HTTP API returns. Exit status: 0 success; 1 nothing to report
(not enough novel items, a pattern that cannot match) after saying so; 2 bad input, with
one line on stderr and no traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from tnaas import service
from tnaas.data.corpus import manifest
from tnaas.errors import TnaasError
from tnaas.models import MODELS
from tnaas.service import LengthChoice, ModelRequest, names

MAX_TEXT_POSITIONS = 8  # the text view stays readable; --json has every position


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # noqa: D401 - argparse API
        raise TnaasError(message)


class _Help(argparse.HelpFormatter):
    """Help that shows every option's default (where it has one)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "default" not in text and action.option_strings:
            text += " (default: %(default)s)"
        return text


def _add_corpus_options(parser: argparse.ArgumentParser, flag: str = "--corpus") -> None:
    parser.add_argument(
        flag,
        required=True,
        metavar="NAME|PATH",
        help="a bundled corpus (see `tnaas corpora`) or a .txt/.csv/.tsv(.gz) file",
    )
    parser.add_argument("--column", help="the CSV/TSV column holding the items (needed when there are several)")
    parser.add_argument("--tokens", choices=("characters", "words", "notes"), help="token kind (default: inferred)")


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="markov", help=f"one of: {', '.join(MODELS)}")
    seen = set()
    for spec in MODELS.values():
        for h in spec.hyperparameters:
            if h.name in seen:
                continue
            seen.add(h.name)
            users = [s.name for s in MODELS.values() if any(x.name == h.name for x in s.hyperparameters)]
            default = f"the corpus's usual, else {h.default}" if h.corpus_default else h.default
            parser.add_argument(h.flag, dest=h.name, help=f"{', '.join(users)}: {h.help} (default: {default})")


def _add_length_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--length", help="exact length in tokens")
    group.add_argument("--length-dist", help="natural (default), corpus, MIN-MAX or MIN-MAX:peaked")


def _build_parser() -> _Parser:
    parser = _Parser(
        prog="tnaas",
        description="Tech Names as a Service: learn short sequences, generate and complete them.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="command")

    commands.add_parser("corpora", help="list the bundled corpora")

    corpus = commands.add_parser("corpus", help="print a corpus, one item per line")
    corpus.add_argument("name", metavar="NAME|PATH", help="a bundled corpus or a file")
    corpus.add_argument("--json", action="store_true", help="a JSON list instead")

    gen = commands.add_parser("generate", help="generate new items")
    _add_corpus_options(gen)
    _add_model_options(gen)
    gen.add_argument("-n", default="10", help="how many items")
    gen.add_argument("--seed", help="random seed (same seed, same output; default: a fresh one, named in --json)")
    gen.add_argument("--temperature", default="1", help="below 1 sharper, above 1 wilder")
    gen.add_argument("--include-existing", action="store_true", help="also accept items already in the corpus")
    _add_length_options(gen)
    hunt = gen.add_argument_group("name hunt (exact constraints, availability, ranking)")
    hunt.add_argument("--starts-with", help="every item starts with this")
    hunt.add_argument("--ends-with", help="every item ends with this")
    hunt.add_argument("--contains", action="append", help="every item contains this (repeat for several)")
    hunt.add_argument("--not-contains", action="append", help="no item contains this (repeat for several)")
    hunt.add_argument("--excludes", action="append", help="tokens never wanted, e.g. xq bans x and q")
    hunt.add_argument("--free-on", help="only names free in these offline indexes, e.g. pypi,npm")
    hunt.add_argument("--like", action="append", help="a reference word for --sort similarity (repeatable)")
    hunt.add_argument(
        "--sort", choices=("random", "score", "similarity"), help="order: as drawn, most typical, most similar"
    )
    hunt.add_argument(
        "--blend", metavar="CORPUS[:W]", help="blend with another corpus, weight W on --corpus (default 0.5)"
    )
    hunt.add_argument("--blend-mode", choices=("mixture", "product"), default="mixture", help="how to blend")
    gen.add_argument("--json", action="store_true", help="one JSON object")

    check = commands.add_parser("check", help="is a name taken on PyPI, npm or CRAN (offline snapshots)")
    check.add_argument("names", nargs="+", metavar="NAME", help="names to check")
    check.add_argument("--json", action="store_true", help="a JSON list, one object per name")

    comp = commands.add_parser("complete", help="exact posterior of a masked pattern like ***base or mo%%")
    comp.add_argument("pattern", help="the pattern: `*` one unknown token, `%%` any run, `\\*` a literal star")
    _add_corpus_options(comp)
    _add_model_options(comp)
    comp.add_argument("--top", default="10", help="how many most probable completions")
    comp.add_argument("--samples", default="0", help="exact samples from the posterior")
    comp.add_argument("--seed", help="random seed of the samples (default: a fresh one, named in --json)")
    comp.add_argument("--temperature", default="1", help="below 1 sharper, above 1 wilder")
    _add_length_options(comp)
    comp.add_argument("--json", action="store_true", help="one JSON object")

    score = commands.add_parser("score", help="log-probability and NLL per token of one item")
    score.add_argument("item", help="the item to score, in the corpus's token kind")
    _add_corpus_options(score)
    _add_model_options(score)
    score.add_argument("--json", action="store_true", help="one JSON object")

    ev = commands.add_parser("evaluate", help="held-out negative log-likelihood per token")
    ev.add_argument("--train", required=True, metavar="NAME|PATH", help="the corpus to fit on")
    ev.add_argument("--test", required=True, metavar="NAME|PATH", help="the corpus to score")
    ev.add_argument("--column", help="the CSV column holding the items")
    ev.add_argument("--tokens", choices=("characters", "words", "notes"), help="token kind (default: inferred)")
    _add_model_options(ev)
    ev.add_argument("--json", action="store_true", help="one JSON object")

    cmp = commands.add_parser(
        "compare", help="compare models on one corpus: held-out NLL, novelty, diversity, fit time"
    )
    _add_corpus_options(cmp)
    cmp.add_argument(
        "--models",
        nargs="+",
        metavar="NAME[:param=value,...]",
        help="models to compare, e.g. markov:state_size=3 markov:state_size=5,smoothing=kneser-ney hmm "
        "(default: a standard line-up)",
    )
    cmp.add_argument("--test-size", default="0.1", help="held-out share (<1) or count")
    cmp.add_argument("--samples", default="500", help="samples per model for novelty and diversity")
    cmp.add_argument("--seed", default="0", help="seed of the split, the fits and the samples")
    cmp.add_argument("--json", action="store_true", help="one JSON object")

    like = commands.add_parser("sounds-like", help="which bundled corpus a name sounds like (Bayes over corpus models)")
    like.add_argument("name", help="the name to classify")
    like.add_argument("--json", action="store_true", help="one JSON object")
    arts = commands.add_parser("build-artifacts", help="fit the default line-up and save each model as an artifact")
    arts.add_argument("outdir", metavar="OUTDIR", help="the directory to write the .json/.npz pairs into")
    arts.add_argument("--corpora", nargs="+", metavar="NAME", help="bundled corpora (default: all)")
    arts.add_argument(
        "--models",
        nargs="+",
        metavar="NAME",
        help="markov, hmm, lstm (default: all; the LSTM where torch is installed)",
    )

    lam = commands.add_parser("build-lambda", help="build the AWS Lambda deployment zip (see deploy/README.md)")
    lam.add_argument("outdir", metavar="OUTDIR", help="where tnaas-lambda.zip goes (wheels are cached in ~/.cache)")
    lam.add_argument(
        "--artifacts", metavar="DIR", help="artifacts to ship (default: the Markov line-up of every corpus, built now)"
    )

    serve = commands.add_parser("serve", help="serve the HTTP API (uvicorn; OpenAPI at /openapi.json, docs at /docs)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", default="8000", help="TCP port")
    serve.add_argument("--workers", default="1", help="worker processes (each holds its own model cache)")
    return parser


def _model_request(args, corpus) -> ModelRequest:
    flags = {h.name: h.flag for s in MODELS.values() for h in s.hyperparameters}
    given = {name: getattr(args, name) for name in flags if getattr(args, name, None) is not None}
    spec = MODELS.get(args.model)
    foreign = sorted(flags[n] for n in given if spec and n not in {h.name for h in spec.hyperparameters})
    if foreign:  # flags are the CLI's own words, so the CLI phrases this one
        raise TnaasError(f"{', '.join(foreign)} does not apply to the {spec.name} model")
    return ModelRequest.parse(args.model, given, corpus)


def _length(args) -> LengthChoice:
    return LengthChoice.parse(args.length if args.length is not None else args.length_dist)


def _print_table(rows: list[list[str]], out) -> None:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() + "\n")


def _write_json(answer, out) -> None:
    out.write(json.dumps(service.jsonable(answer), ensure_ascii=False) + "\n")


def _cmd_corpora(args, out) -> int:
    rows = [["name", "title", "tokens", "items", "licence"]]
    rows += [[e["name"], e["title"], e["tokens"], f"{e['items']:,}", e["licence"]] for e in manifest()]
    _print_table(rows, out)
    return 0


def _cmd_corpus(args, out) -> int:
    corpus = service.resolve_corpus(args.name)
    if args.json:
        out.write(json.dumps(list(corpus.items), ensure_ascii=False) + "\n")
    else:
        out.write("\n".join(corpus.items) + "\n")
    return 0


def _cmd_generate(args, out) -> int:
    corpus = service.resolve_corpus(args.corpus, token_kind=args.tokens, column=args.column)
    if args.blend:
        other, _, weight = args.blend.partition(":")
        answer = names.blend_answer(
            corpus,
            service.resolve_corpus(other),
            weight or "0.5",
            args.state_size or 3,
            args.blend_mode,
            n=args.n,
            seed=args.seed,
            include_existing=args.include_existing,
        )
    else:
        hunt = {
            "constraints": names.parse_constraints(
                args.starts_with, args.ends_with, args.contains, args.not_contains, args.excludes
            )
            if any((args.starts_with, args.ends_with, args.contains, args.not_contains, args.excludes))
            else None,
            "free_on": args.free_on,
            "like": args.like,
            "sort": args.sort,
        }
        answer = service.generate_answer(
            corpus,
            _model_request(args, corpus),
            n=args.n,
            seed=args.seed,
            temperature=args.temperature,
            length=_length(args),
            include_existing=args.include_existing,
            **hunt,
        )
    if answer["shortfall"]:
        sys.stderr.write(f"tnaas: {answer['shortfall']}\n")
    constrained = any(v not in ("", [], 0, None) for v in answer.get("constraints", {}).values())
    if constrained and not args.json:  # stdout stays one item per line
        sys.stderr.write(f"tnaas: p(constraints) = {answer['probability']:.6g} [exact]\n")
    if args.json:
        _write_json(answer, out)
    elif answer["items"]:
        out.write("\n".join(answer["items"]) + "\n")
    return 1 if answer["shortfall"] else 0


def _cmd_complete(args, out) -> int:
    corpus = service.resolve_corpus(args.corpus, token_kind=args.tokens, column=args.column)
    result = service.complete_answer(
        corpus,
        _model_request(args, corpus),
        args.pattern,
        top=args.top,
        samples=args.samples,
        seed=args.seed,
        length=_length(args),
        temperature=args.temperature,
    )
    matches = result["log_probability"] > -math.inf  # a tiny p may underflow to 0.0: its log does not
    if args.json:
        _write_json(result, out)
        return 0 if matches else 1
    if not matches:
        out.write(result["message"] + "\n")
        return 1
    shown = f"{result['probability']:.6g}" if result["probability"] > 0 else f"e^{result['log_probability']:.6g}"
    out.write(f"p({result['pattern']}) = {shown}  [{result['method']}]\n")
    if result["truncated_mass"] > 1e-12:
        out.write(
            f"(items longer than {result['max_length']} tokens left out: "
            f"at most {result['truncated_mass']:.2g} of probability)\n"
        )
    shown_positions = result["positions"][:MAX_TEXT_POSITIONS]
    for position in shown_positions:
        best = list(position["distribution"].items())[:6]
        shown = "  ".join(f"{t!s}:{p:.3f}" for t, p in best)
        out.write(f"position {position['index']}: {shown}\n")
    if len(result["positions"]) > len(shown_positions):
        out.write(f"… {len(result['positions']) - len(shown_positions)} more positions (see --json)\n")
    if result["top"]:
        out.write("most probable completions:\n")
        for entry in result["top"]:
            out.write(f"  {entry['probability']:.4f}  {entry['text']}\n")
    if result["samples"]:
        out.write("samples: " + ", ".join(result["samples"]) + "\n")
    return 0


def _cmd_score(args, out) -> int:
    corpus = service.resolve_corpus(args.corpus, token_kind=args.tokens, column=args.column)
    answer = service.score_answer(corpus, _model_request(args, corpus), args.item)
    if args.json:
        _write_json(answer, out)
    elif answer["possible"]:
        out.write(
            f"log_prob: {answer['log_prob']:.4f} nats\nnll_per_token: {answer['nll_per_token']:.4f} nats\n"
            f"tokens: {answer['tokens']:,}\n"
        )
    else:
        out.write(f"log_prob: -infinity — {answer['explanation']}\n")
    return 0 if answer["possible"] else 1


def _cmd_evaluate(args, out) -> int:
    train = service.resolve_corpus(args.train, token_kind=args.tokens, column=args.column)
    test = service.resolve_corpus(args.test, token_kind=train.token_kind, column=args.column)
    answer = service.evaluate_answer(train, test, _model_request(args, train))
    if args.json:
        _write_json(answer, out)
        return 0
    if answer["infinite"]:
        out.write(f"nll_per_token: infinity — {answer['explanation']}\n")
    else:
        out.write(f"nll_per_token: {answer['nll_per_token']:.4f} nats\nperplexity: {answer['perplexity']:.3f}\n")
    out.write(f"tokens: {answer['tokens']:,}\nitems: {answer['items']:,}\n")
    return 0


def _cmd_compare(args, out) -> int:
    from tnaas.tasks.compare import default_lineup, parse_model_choice

    corpus = service.resolve_corpus(args.corpus, token_kind=args.tokens, column=args.column)
    choices = [parse_model_choice(text) for text in args.models] if args.models else default_lineup()
    answer = service.compare_answer(corpus, choices, args.test_size, args.samples, args.seed)
    if args.json:
        _write_json(answer, out)
        return 0
    table = [["model", "nll/token", "perplexity", "novelty", "diversity", "fit s", "completion"]]
    for r in answer["rows"]:
        if r["note"]:
            table.append([r["model"], "-", "-", "-", "-", "-", r["note"]])
            continue
        infinite = not math.isfinite(r["nll_per_token"])
        table.append(
            [
                r["model"],
                f"inf ({r['impossible_items']:,} impossible)" if infinite else f"{r['nll_per_token']:.4f}",
                f"{r['perplexity']:.3f}",
                f"{r['novelty']:.0%}",
                f"{r['diversity']:.0%}",
                f"{r['fit_seconds']:.2f}",
                "exact" if r["exact"] else "approximate",
            ]
        )
    _print_table(table, out)
    out.write(
        f"held-out items: {answer['test_items']:,} (items with tokens unseen in training are moved to training)\n"
    )
    return 0


def _cmd_check(args, out) -> int:
    answer = names.check_answer(args.names)["names"]
    if args.json:
        _write_json(answer, out)
        return 0
    rows = [["name", "pypi", "npm", "cran", "resembles"]]
    for entry in answer:
        similar = ", ".join(f"{s['name']} ({s['registry']})" for s in entry["similar_to"][:3])
        rows.append([entry["name"], entry["pypi"], entry["npm"], entry["cran"], similar or "-"])
    _print_table(rows, out)
    out.write(answer[0]["advice"].split(": PyPI for")[0] + ".\n")
    return 0


def _cmd_sounds_like(args, out) -> int:
    answer = service.sounds_like_answer(args.name)
    if args.json:
        _write_json(answer, out)
    else:
        for label, p in answer["posterior"].items():
            out.write(f"{p:7.2%}  {label}\n")
    return 0


def _cmd_build_artifacts(args, out) -> int:
    from tnaas.artifacts.build import build_artifacts

    written = build_artifacts(args.outdir, args.corpora, args.models, report=lambda line: out.write(line + "\n"))
    out.write(f"{len(written)} artifacts in {args.outdir}\n")
    return 0


def _cmd_build_lambda(args, out) -> int:
    from tnaas.deploy.lambda_zip import build_lambda

    build_lambda(args.outdir, args.artifacts, report=lambda line: out.write(line + "\n"))
    return 0


MAX_WORKERS = 64


def _cmd_serve(args, out) -> int:
    from tnaas.validation import check_int

    port = check_int(args.port, "--port", 1, 65_535)
    workers = check_int(args.workers, "--workers", 1, MAX_WORKERS)
    try:  # lazily: `import tnaas` (and every other command) never imports the web stack
        import uvicorn

        import tnaas.api  # noqa: F401 - fail here, with one line, if fastapi is missing
    except ImportError as error:
        raise TnaasError(f"serve needs the API extras ({error.name} is missing): pip install fastapi uvicorn") from None
    uvicorn.run("tnaas.api:app", host=args.host, port=port, workers=workers)
    return 0


COMMANDS = {
    "corpora": _cmd_corpora,
    "corpus": _cmd_corpus,
    "generate": _cmd_generate,
    "complete": _cmd_complete,
    "score": _cmd_score,
    "check": _cmd_check,
    "evaluate": _cmd_evaluate,
    "compare": _cmd_compare,
    "sounds-like": _cmd_sounds_like,
    "build-artifacts": _cmd_build_artifacts,
    "build-lambda": _cmd_build_lambda,
    "serve": _cmd_serve,
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
