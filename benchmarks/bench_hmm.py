"""HMM fit time and held-out NLL: hmmlearn's EM vs tnaas's vectorised Baum–Welch, side by side.

For every bundled corpus except rhcp (110 lines), 10% of the items are held out
(`train_test_split(corpus, 0.1, random_state=0)`) and a 16-state HMM is fitted on the rest
twice, in the same process, alternating which goes first:

- hmmlearn: the previous `HMMModel.fit`, i.e. `CategoricalHMM(implementation="scaling")`
  with hmmlearn's own initialisation from the same derived seed and the same per-token
  tolerance, its parameters then tidied into the same automaton;
- tnaas: `HMMModel.fit` (`tnaas.models.hmm_em.baum_welch`).

Both are scored with `tnaas.tasks.evaluate.evaluate` (nats per held-out token, END
included). Times are wall clock and process CPU time of the fit alone (corpus building
excluded); the table also gives the EM iterations and the largest parameter difference.

    python benchmarks/bench_hmm.py [--corpora tech notes ...] [--states 16] [--reps 1]
"""

from __future__ import annotations

import argparse
import time

import _common
import numpy as np

from tnaas.data.corpus import load_bundled
from tnaas.models.hmm import DEFAULT_SEED, TOL_PER_TOKEN, HMMAutomaton, HMMModel, _tidy, _with_end
from tnaas.tasks.evaluate import evaluate, train_test_split
from tnaas.validation import rng_from

CORPORA = ("pokemon", "ikea", "ipsum", "notes", "sonnets", "tech")


def fit_with_hmmlearn(corpus, hidden_states: int, iterations: int = 100, seed: int = DEFAULT_SEED) -> HMMModel:
    """The previous `HMMModel.fit`: hmmlearn's CategoricalHMM, END appended, same seed and tolerance."""
    import logging

    from hmmlearn.hmm import CategoricalHMM

    logging.getLogger("hmmlearn").setLevel(logging.ERROR)
    model = HMMModel(hidden_states=hidden_states, iterations=iterations, random_state=seed)
    model._check_params()
    model._remember_corpus(corpus)
    symbols, lengths = _with_end(corpus.encoded.ids, corpus.encoded.offsets, len(corpus.vocabulary))
    hmm = CategoricalHMM(
        n_components=hidden_states,
        n_features=len(corpus.vocabulary) + 1,
        n_iter=iterations,
        tol=TOL_PER_TOKEN * len(symbols),
        random_state=np.random.RandomState(int(rng_from(seed).integers(2**32))),
        implementation="scaling",
    ).fit(symbols[:, None], lengths)
    start, trans, emit = _tidy(hmm.startprob_, hmm.transmat_, hmm.emissionprob_)
    model.startprob_, model.transmat_, model.emissionprob_ = start, trans, emit
    model.n_iter_ = int(hmm.monitor_.iter)
    model.train_nll_ = -float(hmm.monitor_.history[-1]) / len(symbols)
    model.automaton_ = HMMAutomaton(start, trans, emit, model.vocabulary_)
    return model


def timed(fit) -> tuple[HMMModel, float, float]:
    """(model, wall seconds, CPU seconds) of one fit."""
    wall, cpu = _common.clock(), time.process_time()
    model = fit()
    return model, _common.clock() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", nargs="+", default=list(CORPORA))
    parser.add_argument("--states", type=int, default=16)
    parser.add_argument("--reps", type=int, default=1)
    args = parser.parse_args()

    rows = []
    for index, name in enumerate(args.corpora):
        train, test = train_test_split(load_bundled(name), 0.1, random_state=0)
        runs = {"hmmlearn": [], "tnaas": []}
        fits = {
            "hmmlearn": lambda train=train: fit_with_hmmlearn(train, args.states),
            "tnaas": lambda train=train: HMMModel(hidden_states=args.states, random_state=DEFAULT_SEED).fit(train),
        }
        for rep in range(args.reps):
            order = ["hmmlearn", "tnaas"] if (index + rep) % 2 == 0 else ["tnaas", "hmmlearn"]
            for which in order:
                runs[which].append(timed(fits[which]))
        old, new = runs["hmmlearn"][0][0], runs["tnaas"][0][0]
        scores = {which: evaluate(model, test).nll_per_token for which, model in (("hmmlearn", old), ("tnaas", new))}
        diff = max(
            np.abs(a - b).max()
            for a, b in (
                (old.startprob_, new.startprob_),
                (old.transmat_, new.transmat_),
                (old.emissionprob_, new.emissionprob_),
            )
        )
        wall = {w: _common.median([r[1] for r in runs[w]]) for w in runs}
        cpu = {w: _common.median([r[2] for r in runs[w]]) for w in runs}
        rows.append(
            [
                name,
                f"{train.encoded.ids.size + len(train.items):,} / {len(test):,}",
                f"{old.n_iter_} / {new.n_iter_}",
                f"{wall['hmmlearn']:.2f} / {cpu['hmmlearn']:.2f}",
                f"{wall['tnaas']:.2f} / {cpu['tnaas']:.2f}",
                f"{_common.ratio(cpu['hmmlearn'], cpu['tnaas']):.1f}×",
                f"{scores['hmmlearn']:.6f}",
                f"{scores['tnaas']:.6f}",
                f"{diff:.1e}",
            ]
        )
        print(" | ".join(rows[-1]), flush=True)

    headers = [
        "corpus",
        "train tokens (END incl.) / test items",
        "EM iterations (hmmlearn / tnaas)",
        "hmmlearn fit s (wall / CPU)",
        "tnaas fit s (wall / CPU)",
        "speed-up (CPU)",
        "held-out NLL/token, hmmlearn",
        "held-out NLL/token, tnaas",
        "max Δ parameter",
    ]
    body = (
        f"{args.states} hidden states, at most 100 EM iterations, tolerance {TOL_PER_TOKEN} nats per token, "
        f"train seed {DEFAULT_SEED}; 10% held out with seed 0. Wall and CPU time of each fit "
        f"(median of {args.reps}), both in the same process, alternating which runs first. "
        "On a machine whose cores are shared with other jobs, CPU time is the steadier figure.\n\n"
        + _common.table(headers, rows)
    )
    command = "python benchmarks/bench_hmm.py" + (f" --reps {args.reps}" if args.reps != 1 else "")
    _common.write_result("bench_hmm", "HMM fitting: hmmlearn vs tnaas's vectorised Baum–Welch", body, command)


if __name__ == "__main__":
    main()
