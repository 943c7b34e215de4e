"""The vectorised Baum–Welch (`tnaas.models.hmm_em`) against hmmlearn's own EM.

hmmlearn's `CategoricalHMM(implementation="scaling")` is the reference: from the same
initial parameters, after the same number of iterations, the parameters agree to 1e-8 and
the log-likelihood trace to 1e-9 nats, on random small corpora with sequences of length 1
(no transitions), unused symbols and zero start/transition entries; the initialisation
is hmmlearn's draw for draw; stopping by tolerance happens at the same iteration.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tnaas.data.corpus import corpus_from_items, load_bundled
from tnaas.errors import TnaasError
from tnaas.models import hmm_em
from tnaas.models.hmm import HMMModel, _with_end

hmmlearn_hmm = pytest.importorskip("hmmlearn.hmm")
ROOT = Path(__file__).resolve().parent.parent


def reference(symbols, lengths, start, trans, emit, n_iter, tol=-np.inf):
    """hmmlearn's EM from the given parameters (no initialisation of its own)."""
    model = hmmlearn_hmm.CategoricalHMM(
        n_components=len(start),
        n_features=emit.shape[1],
        n_iter=n_iter,
        tol=tol,
        init_params="",
        implementation="scaling",
    )
    model.startprob_, model.transmat_, model.emissionprob_ = start.copy(), trans.copy(), emit.copy()
    model.fit(np.asarray(symbols)[:, None], lengths)
    return model


def assert_same_fit(ours: hmm_em.EMResult, ref) -> None:
    np.testing.assert_allclose(ours.start, ref.startprob_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.trans, ref.transmat_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.emit, ref.emissionprob_, rtol=0, atol=1e-8)
    assert len(ours.history) == len(ref.monitor_.history)
    np.testing.assert_allclose(ours.history, ref.monitor_.history, rtol=1e-12, atol=1e-9)


@st.composite
def small_problems(draw):
    n_states = draw(st.integers(2, 5))
    n_symbols = draw(st.integers(2, 7))
    lengths = draw(st.lists(st.integers(1, 9), min_size=1, max_size=12))
    symbols = draw(st.lists(st.integers(0, n_symbols - 1), min_size=sum(lengths), max_size=sum(lengths)))
    seed = draw(st.integers(0, 2**32 - 1))
    return np.array(symbols), np.array(lengths), n_states, n_symbols, seed


@settings(max_examples=60, deadline=None)
@given(small_problems(), st.integers(1, 25))
def test_em_equals_hmmlearn_on_random_small_problems(problem, n_iter):
    symbols, lengths, n_states, n_symbols, seed = problem
    start, trans, emit = hmm_em.initial_parameters(n_states, n_symbols, seed)
    ours = hmm_em.baum_welch(symbols, lengths, start, trans, emit, n_iter, -np.inf)
    assert_same_fit(ours, reference(symbols, lengths, start, trans, emit, n_iter))
    assert len(ours.history) == n_iter and not ours.converged_by_tol


def test_zero_start_and_transition_entries_stay_zero_as_in_hmmlearn():
    rng = np.random.default_rng(0)
    lengths = np.array([5, 1, 3, 7, 2, 4])
    symbols = rng.integers(0, 4, lengths.sum())
    start, trans, emit = hmm_em.initial_parameters(4, 4, 7)
    start[1] = 0.0
    trans[0, 2] = trans[3, 3] = 0.0
    start, trans = start / start.sum(), trans / trans.sum(axis=1, keepdims=True)
    ours = hmm_em.baum_welch(symbols, lengths, start, trans, emit, 15, -np.inf)
    assert ours.start[1] == 0 and ours.trans[0, 2] == 0 and ours.trans[3, 3] == 0
    assert_same_fit(ours, reference(symbols, lengths, start, trans, emit, 15))


def test_initialisation_is_hmmlearns_draw_for_draw():
    symbols, lengths = np.array([0, 1, 2, 3, 4, 0]), np.array([2, 4])
    for seed in (0, 1, 2**32 - 1):
        model = hmmlearn_hmm.CategoricalHMM(n_components=6, n_features=5, random_state=np.random.RandomState(seed))
        model._init(symbols[:, None], lengths)
        start, trans, emit = hmm_em.initial_parameters(6, 5, seed)
        assert np.array_equal(start, model.startprob_)
        assert np.array_equal(trans, model.transmat_)
        assert np.array_equal(emit, model.emissionprob_)


def test_stopping_by_tolerance_happens_at_hmmlearns_iteration():
    corpus = load_bundled("pokemon")
    symbols, lengths = _with_end(corpus.encoded.ids, corpus.encoded.offsets, len(corpus.vocabulary))
    start, trans, emit = hmm_em.initial_parameters(5, len(corpus.vocabulary) + 1, 3)
    tol = 1e-3 * len(symbols)
    ours = hmm_em.baum_welch(symbols, lengths, start, trans, emit, 200, tol)
    ref = reference(symbols, lengths, start, trans, emit, 200, tol)
    assert ours.converged_by_tol and 1 < len(ours.history) < 200
    assert_same_fit(ours, ref)


def test_hmm_model_fit_is_what_hmmlearn_fits_from_the_same_seed():
    # The old fit path: hmmlearn's CategoricalHMM with its own initialisation from the
    # RandomState HMMModel derives from its seed; the items followed by END.
    corpus = corpus_from_items(["pikachu", "bulbasaur", "eevee", "mew", "charmander", "psyduck", "ditto"], "characters")
    model = HMMModel(hidden_states=4, iterations=12, random_state=5).fit(corpus)
    symbols, lengths = _with_end(corpus.encoded.ids, corpus.encoded.offsets, len(corpus.vocabulary))
    seed = int(np.random.default_rng(5).integers(2**32))
    ref = hmmlearn_hmm.CategoricalHMM(
        n_components=4,
        n_features=len(corpus.vocabulary) + 1,
        n_iter=12,
        tol=1e-4 * len(symbols),
        random_state=np.random.RandomState(seed),
        implementation="scaling",
    ).fit(symbols[:, None], lengths)
    np.testing.assert_allclose(model.startprob_, ref.startprob_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(model.transmat_, ref.transmat_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(model.emissionprob_, ref.emissionprob_, rtol=0, atol=1e-8)
    assert model.n_iter_ == ref.monitor_.iter
    assert model.train_nll_ == pytest.approx(-ref.monitor_.history[-1] / len(symbols), abs=1e-12)


def test_an_underflow_is_a_breakdown_like_hmmlearns():
    # State 0 is certain at the start and can only emit symbol 0: sequence [1] is impossible.
    start, trans = np.array([1.0, 0.0]), np.eye(2)
    emit = np.array([[1.0, 0.0], [0.5, 0.5]])
    symbols, lengths = np.array([0, 1]), np.array([1, 1])
    with pytest.raises(ValueError, match="underflow"):
        reference(symbols, lengths, start, trans, emit, 3)
    with pytest.raises(hmm_em.EMBreakdown, match="underflow"):
        hmm_em.baum_welch(symbols, lengths, start, trans, emit, 3, -np.inf)


def test_a_breakdown_in_hmm_fit_is_one_clear_error(monkeypatch):
    def broken(*args, **kwargs):
        raise hmm_em.EMBreakdown("the forward pass underflowed")

    monkeypatch.setattr(hmm_em, "baum_welch", broken)
    corpus = corpus_from_items(["ab", "ba", "abc", "cab", "bca"], "characters")
    with pytest.raises(TnaasError, match="HMM fitting failed"):
        HMMModel(hidden_states=2, iterations=2, random_state=0).fit(corpus)


def test_bad_sequences_are_refused():
    start, trans, emit = hmm_em.initial_parameters(2, 3, 0)
    with pytest.raises(ValueError, match="lengths"):
        hmm_em.baum_welch(np.array([0, 1]), np.array([3]), start, trans, emit, 1, 0.0)
    with pytest.raises(ValueError, match="lengths"):
        hmm_em.baum_welch(np.array([0, 1]), np.array([2, 0]), start, trans, emit, 1, 0.0)
    with pytest.raises(ValueError, match="symbols"):
        hmm_em.baum_welch(np.array([0, 3]), np.array([2]), start, trans, emit, 1, 0.0)


def test_fitting_an_hmm_does_not_import_hmmlearn():
    code = (
        "import sys\n"
        "sys.modules['hmmlearn'] = None  # any import of hmmlearn now fails\n"
        "from tnaas.data.corpus import load_bundled\n"
        "from tnaas.models.hmm import HMMModel\n"
        "m = HMMModel(hidden_states=4, iterations=3, random_state=0).fit(load_bundled('pokemon'))\n"
        "print(m.n_iter_)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "3"
