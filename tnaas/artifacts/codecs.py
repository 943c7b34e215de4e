"""Per-model save and load functions, in one registry (`CODECS`) keyed by model name.

A codec turns a fitted model into (arrays, JSON facts) and back. Loading builds the model
from numbers alone: the Markov chain from its n-gram counts (`MarkovModel._compile`), the
HMM from π, A and B (its automaton needs numpy only, never hmmlearn), the LSTM from its
weights (`LSTMModel.from_weights`, numpy forward pass, never torch). Every model also
keeps the corpus facts of `SequenceModel._remember_corpus`, saved by `_save_facts`.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tnaas.artifacts.format import pack_strings, unpack_strings
from tnaas.errors import TnaasError
from tnaas.models import get_spec


@dataclass(frozen=True)
class Codec:
    """How one model is saved (`save(model) -> (arrays, facts)`) and rebuilt
    (`load(params, facts, arrays) -> fitted model`)."""

    save: Callable
    load: Callable


def _model_class(name: str) -> type:
    """The model class without the registry's availability check (which asks for the
    fit-time library: hmmlearn or torch, which a loaded model never needs)."""
    spec = get_spec(name)
    return getattr(importlib.import_module(spec.module), spec.class_name)


def _constructor_args(name: str, params: dict) -> dict:
    """Registry parameters as the constructor takes them (`train_seed` -> `random_state`)."""
    args = dict(params)
    if get_spec(name).seeded and "train_seed" in args:
        args["random_state"] = args.pop("train_seed")
    return args


def _array(arrays: dict, name: str, dtype, ndim: int) -> np.ndarray:
    array = arrays.get(name)
    if array is None or array.dtype != np.dtype(dtype) or array.ndim != ndim:
        raise TnaasError(f"artifact is corrupt: array {name!r} is missing or not {np.dtype(dtype)} of {ndim} dims")
    return array


# ------------------------------------------------------------------ facts every model keeps
def _save_facts(model) -> tuple[dict, dict]:
    vocab_blob, vocab_count = pack_strings(model.vocabulary_)
    items_blob, items_count = pack_strings(sorted(model.training_items_))
    arrays = {
        "vocabulary_blob": vocab_blob,
        "vocabulary_count": vocab_count,
        "training_items_blob": items_blob,
        "training_items_count": items_count,
        "training_lengths": np.asarray(model.training_lengths_, dtype=np.int64),
    }
    return arrays, {"token_kind": model.token_kind_, "max_length": int(model.max_length_)}


def _load_facts(model, facts: dict, arrays: dict) -> None:
    from tnaas.data.tokens import check_kind

    try:
        model.token_kind_ = check_kind(facts.get("token_kind"))
    except TnaasError:
        raise TnaasError("artifact is corrupt: unknown token kind") from None
    model.vocabulary_ = tuple(
        unpack_strings(
            _array(arrays, "vocabulary_blob", np.uint8, 1),
            _array(arrays, "vocabulary_count", np.int64, 0),
            "vocabulary",
        )
    )
    model.training_items_ = frozenset(
        unpack_strings(
            _array(arrays, "training_items_blob", np.uint8, 1),
            _array(arrays, "training_items_count", np.int64, 0),
            "training item",
        )
    )
    model.training_lengths_ = _array(arrays, "training_lengths", np.int64, 1)
    max_length = facts.get("max_length")
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise TnaasError("artifact is corrupt: max_length is not a positive whole number")
    model.max_length_ = max_length


# ------------------------------------------------------------------ Markov chain
_TRIE, _AUTOMATON = "trie:", "automaton:"


def _save_markov(model) -> tuple[dict, dict]:
    """The n-gram counts (the model itself), plus a snapshot of the compiled trie and
    automaton: rebuilding them from the counts (`MarkovModel._compile`) takes 20-100 ms on
    the larger bundled corpora, reading the snapshot a few. The snapshot is only used by
    the library version that wrote it (see `_load_markov`)."""
    from tnaas import __version__

    arrays, facts = _save_facts(model)
    counts = model.counts_
    arrays |= {"contexts": counts.contexts, "next_ids": counts.next_ids, "counts": counts.counts}
    if getattr(model, "kn_discounts_", None) is not None:  # tuned: not recomputable from the counts
        arrays["kn_discounts"] = np.asarray(model.kn_discounts_, dtype=np.float64)
    if getattr(model, "kn_strengths_", None) is not None:
        arrays["kn_strengths"] = np.asarray(model.kn_strengths_, dtype=np.float64)
    trie = model.trie_
    for field in dataclasses.fields(trie):
        value = getattr(trie, field.name)
        if isinstance(value, np.ndarray):
            arrays[_TRIE + field.name] = value
    scalars, tuples = {}, {}
    for name, value in vars(model.automaton_).items():
        if isinstance(value, np.ndarray):
            arrays[_AUTOMATON + name] = value
        elif isinstance(value, tuple) and value and all(isinstance(v, np.ndarray) for v in value):
            tuples[name] = len(value)
            arrays |= {f"{_AUTOMATON}{name}.{i}": v for i, v in enumerate(value)}
        elif isinstance(value, (int, np.integer, type(None))) and not isinstance(value, bool):
            scalars[name] = None if value is None else int(value)
        elif isinstance(value, (float, np.floating)):  # e.g. Kneser-Ney's `_begin_scale`
            scalars[name] = float(value)
    facts["compiled"] = {
        "library_version": __version__,
        "automaton": type(model.automaton_).__name__,
        "begin_state": int(trie.begin_state),
        "scalars": scalars,
        "tuples": tuples,
    }
    return arrays, facts


def _restore_compiled(model, counts, facts: dict, arrays: dict) -> bool:
    """Set `trie_` and `automaton_` from the saved snapshot; False (nothing set) when there
    is none or it was written by another library version (its internals may differ)."""
    from tnaas import __version__
    from tnaas.models.markov.model import SMOOTHINGS
    from tnaas.models.markov.ngram import HistoryTrie

    compiled = facts.get("compiled")
    automaton_class = SMOOTHINGS[model.smoothing]
    if (
        not isinstance(compiled, dict)
        or compiled.get("library_version") != __version__
        or compiled.get("automaton") != automaton_class.__name__
    ):
        return False
    fields = [f.name for f in dataclasses.fields(HistoryTrie) if f.name not in ("counts", "begin_state")]
    if any(_TRIE + name not in arrays for name in fields):
        return False
    trie = HistoryTrie(counts, **{name: arrays[_TRIE + name] for name in fields}, begin_state=compiled["begin_state"])
    automaton = object.__new__(automaton_class)
    automaton.trie, automaton.vocabulary = trie, counts.vocabulary
    for name, value in compiled.get("scalars", {}).items():
        setattr(automaton, name, value)
    for name, size in compiled.get("tuples", {}).items():
        setattr(automaton, name, tuple(arrays[f"{_AUTOMATON}{name}.{i}"] for i in range(size)))
    for key, value in arrays.items():
        if key.startswith(_AUTOMATON) and "." not in key[len(_AUTOMATON) :]:
            setattr(automaton, key[len(_AUTOMATON) :], value)
    model.counts_, model.trie_, model.automaton_ = counts, trie, automaton
    return True


def _load_markov(params: dict, facts: dict, arrays: dict):
    from tnaas.models.markov.ngram import NgramCounts

    model = _model_class("markov")(**_constructor_args("markov", params))
    model._check_params()
    _load_facts(model, facts, arrays)
    contexts = _array(arrays, "contexts", np.int32, 2)
    next_ids = _array(arrays, "next_ids", np.int32, 1)
    counts = _array(arrays, "counts", np.int64, 1)
    vocab_size = len(model.vocabulary_)
    rows = len(counts)
    if (
        contexts.shape != (rows, model.state_size)
        or next_ids.shape != (rows,)
        or rows == 0
        or (counts <= 0).any()
        or contexts.min() < 0
        or contexts.max() > vocab_size + 1
        or next_ids.min() < 0
        or next_ids.max() > vocab_size  # END at most: BEGIN is never predicted
    ):
        raise TnaasError("artifact is corrupt: the Markov counts do not fit its vocabulary and state size")
    counts = NgramCounts(model.vocabulary_, int(model.state_size), contexts, next_ids, counts)
    model.kn_discounts_ = model.kn_strengths_ = None
    if "kn_discounts" in arrays:
        from tnaas.models.markov.kn_tuning import check_discounts, check_strengths

        try:
            model.kn_discounts_ = check_discounts(_array(arrays, "kn_discounts", np.float64, 2), model.state_size)
            if "kn_strengths" in arrays:
                model.kn_strengths_ = check_strengths(
                    _array(arrays, "kn_strengths", np.float64, 1), model.kn_discounts_
                )
        except TnaasError:
            raise TnaasError("artifact is corrupt: the Kneser-Ney discounts are not a valid table") from None
        model.discounts = "tuned"
    if not _restore_compiled(model, counts, facts, arrays):
        model._compile(counts)
    return model


# ------------------------------------------------------------------ HMM
def _save_hmm(model) -> tuple[dict, dict]:
    arrays, facts = _save_facts(model)
    arrays |= {"startprob": model.startprob_, "transmat": model.transmat_, "emissionprob": model.emissionprob_}
    facts |= {"n_iter": int(model.n_iter_), "converged": bool(model.converged_), "train_nll": float(model.train_nll_)}
    return arrays, facts


def _load_hmm(params: dict, facts: dict, arrays: dict):
    from tnaas.models.hmm import HMMAutomaton

    model = _model_class("hmm")(**_constructor_args("hmm", params))
    model._check_params()
    _load_facts(model, facts, arrays)
    start = _array(arrays, "startprob", np.float64, 1)
    trans = _array(arrays, "transmat", np.float64, 2)
    emit = _array(arrays, "emissionprob", np.float64, 2)
    n = len(start)
    if trans.shape != (n, n) or emit.shape != (n, len(model.vocabulary_) + 1) or n != model.hidden_states:
        raise TnaasError("artifact is corrupt: the HMM matrices do not fit its hidden states and vocabulary")
    for matrix in (start[None, :], trans, emit):
        if not np.isfinite(matrix).all() or (matrix < 0).any() or not np.allclose(matrix.sum(axis=1), 1.0):
            raise TnaasError("artifact is corrupt: an HMM matrix is not a probability table")
    model.startprob_, model.transmat_, model.emissionprob_ = start, trans, emit
    model.n_iter_ = int(facts.get("n_iter", 0))
    model.converged_ = bool(facts.get("converged", False))
    model.train_nll_ = float(facts.get("train_nll", math.nan))
    model.automaton_ = HMMAutomaton(start, trans, emit, model.vocabulary_)
    return model


# ------------------------------------------------------------------ LSTM
_WEIGHT_PREFIX = "weight:"


def _save_lstm(model) -> tuple[dict, dict]:
    arrays, facts = _save_facts(model)
    arrays |= {_WEIGHT_PREFIX + name: value for name, value in model.weights_.items()}
    arrays["token_counts"] = np.asarray(model.token_counts_, dtype=np.int64)
    arrays["history"] = np.asarray(model.history_, dtype=np.float64).reshape(-1, 2)
    nll = float(model.validation_nll_)
    facts |= {"epochs_run": int(model.epochs_run_), "validation_nll": nll if math.isfinite(nll) else None}
    return arrays, facts


def _load_lstm(params: dict, facts: dict, arrays: dict):
    shell = type("Facts", (), {})()
    _load_facts(shell, facts, arrays)
    nll = facts.get("validation_nll")
    history = _array(arrays, "history", np.float64, 2)
    saved = {
        "token_kind_": shell.token_kind_,
        "vocabulary_": shell.vocabulary_,
        "training_items_": shell.training_items_,
        "training_lengths_": shell.training_lengths_,
        "max_length_": shell.max_length_,
        "token_counts_": _array(arrays, "token_counts", np.int64, 1),
        "history_": [tuple(row) for row in history.tolist()],
        "epochs_run_": int(facts.get("epochs_run", len(history))),
        "validation_nll_": math.nan if nll is None else float(nll),
    }
    weights = {name[len(_WEIGHT_PREFIX) :]: a for name, a in arrays.items() if name.startswith(_WEIGHT_PREFIX)}
    return _model_class("lstm").from_weights(_constructor_args("lstm", params), saved, weights)


CODECS: dict[str, Codec] = {
    "markov": Codec(_save_markov, _load_markov),
    "hmm": Codec(_save_hmm, _load_hmm),
    "lstm": Codec(_save_lstm, _load_lstm),
}


def codec_for(name: str) -> Codec:
    """The codec of model `name`, or a `TnaasError` naming the models that have one."""
    if name not in CODECS:
        raise TnaasError(f"no artifact format for the {name!r} model: artifacts exist for {', '.join(CODECS)}")
    return CODECS[name]
