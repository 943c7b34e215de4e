"""The backoff engines' work budget: over-large requests are refused early, by count.

Nothing here is timed: the budget is a count of work units (`backoff_budget`), so a test
checks what was counted and how far a refused request got (how many steps it built).
"""

from __future__ import annotations

import numpy as np
import pytest
from kn_models import kn_model as model

import tnaas.inference.backoff_lattice as blat
import tnaas.inference.backoff_lengths as blen
from tnaas.errors import TnaasError
from tnaas.inference.backoff import backoff_structure
from tnaas.inference.backoff_budget import BUILD_COST, MAX_BACKOFF_WORK, PASSES, estimate_lattice_work
from tnaas.inference.backoff_lattice import MAX_KEPT_POOL, BackoffLattice
from tnaas.inference.backoff_lengths import BackoffAllPaths
from tnaas.inference.patterns import compile_pattern, parse_pattern

LATTICE_MESSAGE = "units of work.*fewer unknown positions.*shorter pattern.*smaller state size"


def dfa_of(m, text):
    return compile_pattern(parse_pattern(text, m.token_kind_), m.vocabulary_)


@pytest.fixture
def built_steps(monkeypatch):
    """The steps (t) each lattice built, in order."""
    built = []
    original = BackoffLattice._step_of

    def counting(self, t, keys):
        built.append(t)
        return original(self, t, keys)

    monkeypatch.setattr(BackoffLattice, "_step_of", counting)
    return built


def test_a_fixed_pattern_of_64_unknown_words_is_refused_before_any_step(built_steps):
    m = model("ipsum", 6)  # estimated at 1.8e9 units (~20 CPU s)
    with pytest.raises(TnaasError, match=LATTICE_MESSAGE):
        m.complete(" ".join("*" * 64), top=10, samples=10, random_state=0)
    assert built_steps == []


def test_the_benchmark_patterns_are_under_the_budget(built_steps):
    for k in (5, 6):
        m = model("tech", k)
        S = backoff_structure(m.automaton_)
        for text in ("py%", "**********", "py*%*on", "%ab%"):
            pattern = parse_pattern(text, m.token_kind_)
            steps = pattern.fixed_length or m.max_length_
            assert estimate_lattice_work(S, dfa_of(m, text), steps, MAX_KEPT_POOL) < MAX_BACKOFF_WORK / 2
    answer = model("tech", 6).complete("py*%*on", top=10, samples=10, random_state=0)
    assert answer.probability > 0 and len(answer.samples) == 10 and len(built_steps) > 10


def test_the_running_count_refuses_at_the_limit_and_answers_below_it(monkeypatch, built_steps):
    monkeypatch.setattr(blat, "estimate_lattice_work", lambda *args: 0.0)  # (the running count alone)
    m = model("pokemon", 3)
    dfa = dfa_of(m, "*a*e*")  # a new frontier at every step: no saturation to project from
    full = BackoffLattice(m.automaton_, dfa, log_end_weight=np.zeros(6))
    assert full.budget.used > 0
    fits = BackoffLattice(m.automaton_, dfa, log_end_weight=np.zeros(6), max_work=full.budget.used)
    assert fits.log_z == full.log_z
    del built_steps[:]
    with pytest.raises(TnaasError, match=LATTICE_MESSAGE):
        BackoffLattice(m.automaton_, dfa, log_end_weight=np.zeros(6), max_work=full.budget.used - 1)
    assert len(built_steps) == 5  # (refused at the last step: its work is charged before it is done)


def test_a_saturated_frontier_is_refused_when_it_repeats(monkeypatch, built_steps):
    monkeypatch.setattr(blat, "estimate_lattice_work", lambda *args: 0.0)
    m = model("tech", 3)
    full = BackoffLattice(m.automaton_, dfa_of(m, "py%"), log_end_weight=np.zeros(31))
    first = next(t for t in range(1, 30) if full.frontier_ids[t] == full.frontier_ids[t - 1])
    del built_steps[:]
    with pytest.raises(TnaasError, match=LATTICE_MESSAGE):
        BackoffLattice(m.automaton_, dfa_of(m, "py%"), log_end_weight=np.zeros(31), max_work=full.budget.used - 1)
    assert max(built_steps) == first < 20  # the remaining steps' cost was known at once


def test_the_estimate_refuses_up_front(built_steps):
    m = model("tech", 3)
    dfa = dfa_of(m, "%ab%")
    estimate = estimate_lattice_work(backoff_structure(m.automaton_), dfa, 30, MAX_KEPT_POOL)
    full = BackoffLattice(m.automaton_, dfa, log_end_weight=np.zeros(31), max_work=int(estimate) + 1)
    assert 0.5 * estimate < full.budget.used <= estimate  # (an estimate: it errs high on tech)
    del built_steps[:]
    with pytest.raises(TnaasError, match=LATTICE_MESSAGE):
        BackoffLattice(m.automaton_, dfa, log_end_weight=np.zeros(31), max_work=int(estimate) - 1)
    assert built_steps == []


def test_length_control_is_refused_up_front_from_the_structure_sizes(monkeypatch):
    m = model("pokemon", 4)
    S = backoff_structure(m.automaton_)
    need = S.step_work() * (PASSES * 12 + BUILD_COST * (S.k + 2))
    answered = BackoffAllPaths(m.automaton_, 12, max_work=need)
    assert answered.length_probs().sum() > 0.5
    monkeypatch.setattr(blen, "Step", None)  # (refused before any step is built)
    with pytest.raises(TnaasError, match="units of work.*shorter lengths.*smaller state size"):
        BackoffAllPaths(m.automaton_, 12, max_work=need - 1)


def length_control_work(m, max_length: int) -> int:
    """The units `BackoffAllPaths` charges up front for lengths up to `max_length`."""
    S = backoff_structure(m.automaton_)
    return S.step_work() * (PASSES * max_length + BUILD_COST * (S.k + 2))


@pytest.mark.parametrize("name", ["notes", "ipsum", "tech", "sonnets"])
def test_corpus_length_control_fits_the_budget_at_state_size_6_and_twice_as_long_does_not(name, monkeypatch):
    # The goal: `%` with length control answered on every bundled corpus at k <= 6
    # (notes at k = 6 is the costliest: 1.03e9 units, ~7 CPU s). Counted, not run.
    m = model(name, 6)
    longest = m.length_distribution("corpus").max_length
    assert length_control_work(m, longest) <= MAX_BACKOFF_WORK
    if length_control_work(m, 2 * longest) > MAX_BACKOFF_WORK:
        monkeypatch.setattr(blen, "Step", None)  # (refused before any step is built)
        with pytest.raises(TnaasError, match="units of work"):
            BackoffAllPaths(m.automaton_, 2 * longest)


def test_length_control_on_the_costliest_corpus_is_answered_while_over_budget_requests_are_not():
    m = model("tech", 6)
    assert len(m.sample(10, random_state=0, length="corpus")) == 10
    longest = m.length_distribution("corpus").max_length
    with pytest.raises(TnaasError, match="units of work"):
        BackoffAllPaths(m.automaton_, longest, max_work=length_control_work(m, longest) - 1)
