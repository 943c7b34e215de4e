"""Length control over the KN backoff operator equals `AllPaths` and brute force."""

from __future__ import annotations

import bruteforce as bf
import numpy as np
import pytest
from kn_models import WORDS
from kn_models import kn_model as fitted

from tnaas.inference.any_length import AllPaths
from tnaas.inference.backoff_flow import read_logs
from tnaas.inference.backoff_lengths import BackoffAllPaths
from tnaas.inference.lengths import custom_length, log_end_weights


@pytest.mark.parametrize("name, k, cap", [("chars3", 2, 9), ("words", 3, 12), ("pokemon", 3, 14), ("rhcp", 2, 10)])
def test_length_probabilities_equal_all_paths(name, k, cap):
    auto = fitted(name, k).automaton_
    np.testing.assert_allclose(
        BackoffAllPaths(auto, cap).length_log_probs(), AllPaths(auto, cap).length_log_probs(), rtol=1e-12
    )


@pytest.mark.parametrize("name, k", [("chars3", 2), ("words5", 1), ("words", 2)])
def test_length_controlled_samples_follow_brute_force(name, k):
    model = fitted(name, k)
    items, kind = bf.CORPORA[name] if name in bf.CORPORA else (WORDS, "words")
    lengths = custom_length(2, 4)
    paths = BackoffAllPaths(model.automaton_, 4)
    log_w = log_end_weights(model.automaton_, lengths, 4, paths)
    drawn = paths.sample(None, 4000, np.random.default_rng(5), log_w)
    enumerated = bf.enumerate_items(bf.make_ref(items, kind, k, "kneser-ney"), 4)
    target = {length: 1 / 3 for length in (2, 3, 4)}
    expected = {bf.join(t, kind): p for t, p in bf.length_conditioned(enumerated, target).items()}
    texts = [bf.join([model.vocabulary_[t] for t in ids], kind) for ids in drawn]
    assert bf.chi_square_p(texts, expected) > 1e-3


def test_checkpointed_messages_equal_stored_ones():
    auto = fitted("pokemon", 2).automaton_
    paths = BackoffAllPaths(auto, 20)
    log_w = np.zeros(21)
    from tnaas.inference.backoff_lengths import _Messages

    messages = _Messages(paths, log_w)
    assert messages.stride > 1
    later = messages._message(20)
    for t in range(19, -1, -1):  # every message recomputed from the one after it
        later = messages._step(t, later)
        np.testing.assert_allclose(messages.log_beta[t], read_logs(later, sentinel=True), rtol=1e-12)
    assert messages.log_z == pytest.approx(0.0, abs=1e-9) or messages.log_z < 0
    np.testing.assert_allclose(np.exp(messages.log_z), paths.length_probs().sum(), rtol=1e-12)


def test_a_query_leaves_no_reference_cycles():
    # A cycle (once: `_Messages.log_beta = self`) kept each call's compiled step and
    # checkpoints alive until the cyclic collector ran: +330 MB of RSS per call on ipsum k=6.
    import gc

    model = fitted("words", 2)
    model.sample(3, random_state=0, length="corpus")  # warm: the structure is cached per model
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        model.sample(5, random_state=0, length="corpus")
        model.complete("% sat", top=2, samples=2, random_state=0)
        gc.collect()
        garbage = sorted({type(o).__name__ for o in gc.garbage})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert garbage == []


def test_narrow_bands_give_the_same_lengths_and_messages():
    # (the log, band-by-band path instead of one linear band: every step falls back to it)
    from tnaas.inference.backoff_lengths import _Messages

    auto = fitted("pokemon", 3).automaton_
    wide, narrow = BackoffAllPaths(auto, 14), BackoffAllPaths(auto, 14)
    narrow.width = 0.3
    np.testing.assert_allclose(narrow.length_log_probs(), wide.length_log_probs(), rtol=1e-12)
    log_w = np.log(np.linspace(0.5, 2.0, 15))
    a, b = _Messages(wide, log_w), _Messages(narrow, log_w)
    assert isinstance(a._message(3), tuple) and not isinstance(b._message(3), tuple)
    for t in range(15):
        np.testing.assert_allclose(b.log_beta[t], a.log_beta[t], rtol=1e-12, atol=1e-12)  # (logs: 1e-12 relative in p)
