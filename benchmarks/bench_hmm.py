"""HMM fit time and held-out NLL: hmmlearn's EM, tnaas's Baum–Welch before and now, side by side.

For every bundled corpus except rhcp (110 lines), 10% of the items are held out
(`train_test_split(corpus, 0.1, random_state=0)`) and a 16-state HMM is fitted on the rest
by each of these, in the same process, rotating which goes first:

- hmmlearn (unless --no-hmmlearn): the first `HMMModel.fit`, i.e.
  `CategoricalHMM(implementation="scaling")` with hmmlearn's own initialisation from the
  same derived seed and the same per-token tolerance, its parameters then tidied into the
  same automaton;
- before: `HMMModel.fit` with the E-step of commit `OLD_COMMIT` (tnaas/models/hmm_em.py as
  it was there, read with `git show` and loaded by path, so it lives only in this script);
- now: `HMMModel.fit` (`tnaas.models.hmm_em.baum_welch`).

All are scored with `tnaas.tasks.evaluate.evaluate` (nats per held-out token, END
included). Times are wall clock and process CPU time of the fit alone (corpus building
excluded); the table also gives the EM iterations and the largest parameter difference
from the current fit.

    python benchmarks/bench_hmm.py [--corpora tech notes ...] [--states 16] [--reps 1] [--no-hmmlearn]
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
OLD_COMMIT = "3d7acab"  # the E-step before issue 13 part 3's speed-ups


def load_old_em(commit: str = OLD_COMMIT):
    """tnaas/models/hmm_em.py as it was at `commit`, imported as its own module."""
    return _common.load_old_module("tnaas/models/hmm_em.py", commit)


def fit_with_em(em, corpus, hidden_states: int, iterations: int = 100, seed: int = DEFAULT_SEED) -> HMMModel:
    """`HMMModel.fit` step for step, with the EM module `em` (`baum_welch`, `initial_parameters`)."""
    model = HMMModel(hidden_states=hidden_states, iterations=iterations, random_state=seed)
    model._check_params()
    model._remember_corpus(corpus)
    vocab_size = len(corpus.vocabulary)
    symbols, lengths = _with_end(corpus.encoded.ids, corpus.encoded.offsets, vocab_size)
    start, trans, emit = em.initial_parameters(hidden_states, vocab_size + 1, int(rng_from(seed).integers(2**32)))
    result = em.baum_welch(symbols, lengths, start, trans, emit, iterations, TOL_PER_TOKEN * len(symbols))
    start, trans, emit = _tidy(result.start, result.trans, result.emit)
    model.startprob_, model.transmat_, model.emissionprob_ = start, trans, emit
    model.n_iter_ = len(result.history)
    model.train_nll_ = -float(result.history[-1]) / len(symbols)
    model.automaton_ = HMMAutomaton(start, trans, emit, model.vocabulary_)
    return model


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
    parser.add_argument("--no-hmmlearn", action="store_true", help="skip hmmlearn (5-30x slower than the others)")
    args = parser.parse_args()

    old_em = load_old_em()
    fits = {
        "hmmlearn": lambda train: fit_with_hmmlearn(train, args.states),
        "before": lambda train: fit_with_em(old_em, train, args.states),
        "now": lambda train: HMMModel(hidden_states=args.states, random_state=DEFAULT_SEED).fit(train),
    }
    if args.no_hmmlearn:
        del fits["hmmlearn"]
    names = list(fits)
    rows = []
    for index, name in enumerate(args.corpora):
        train, test = train_test_split(load_bundled(name), 0.1, random_state=0)
        runs = {which: [] for which in names}
        for rep in range(args.reps):
            shift = (index + rep) % len(names)
            for which in names[shift:] + names[:shift]:
                runs[which].append(timed(lambda which=which, train=train: fits[which](train)))
        models = {which: runs[which][0][0] for which in names}
        now = models["now"]
        wall = {w: _common.median([r[1] for r in runs[w]]) for w in names}
        cpu = {w: _common.median([r[2] for r in runs[w]]) for w in names}
        row = [name, f"{train.encoded.ids.size + len(train.items):,} / {len(test):,}"]
        row.append(" / ".join(str(models[w].n_iter_) for w in names))
        row += [f"{wall[w]:.2f} / {cpu[w]:.2f}" for w in names]
        row.append(f"{_common.ratio(cpu['before'], cpu['now']):.2f}×")
        row += [f"{evaluate(models[w], test).nll_per_token:.6f}" for w in names]
        diff = max(
            np.abs(getattr(models[w], p) - getattr(now, p)).max()
            for w in names
            for p in ("startprob_", "transmat_", "emissionprob_")
        )
        row.append(f"{diff:.1e}")
        rows.append(row)
        print(" | ".join(row), flush=True)

    headers = [
        "corpus",
        "train tokens (END incl.) / test items",
        f"EM iterations ({' / '.join(names)})",
        *[f"{w} fit s (wall / CPU)" for w in names],
        "speed-up now vs before (CPU)",
        *[f"held-out NLL/token, {w}" for w in names],
        "max Δ parameter vs now",
    ]
    body = (
        f"{args.states} hidden states, at most 100 EM iterations, tolerance {TOL_PER_TOKEN} nats per token, "
        f"train seed {DEFAULT_SEED}; 10% held out with seed 0. Wall and CPU time of each fit "
        f"(median of {args.reps}), all in the same process, rotating which runs first. "
        f"`before` is tnaas/models/hmm_em.py at commit {OLD_COMMIT}, `now` the working tree. "
        "On a machine whose cores are shared with other jobs, CPU time is the steadier figure.\n\n"
        + _common.table(headers, rows)
    )
    flags = (f" --reps {args.reps}" if args.reps != 1 else "") + (" --no-hmmlearn" if args.no_hmmlearn else "")
    command = "python benchmarks/bench_hmm.py" + flags
    _common.write_result(
        "bench_hmm", "HMM fitting: hmmlearn vs tnaas's vectorised Baum–Welch, before and now", body, command
    )


if __name__ == "__main__":
    main()
