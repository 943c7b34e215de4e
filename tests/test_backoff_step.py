"""The compiled lattice step (`backoff_step.Step`) is the step of `backoff_flow`, and the
bookkeeping built on it (shared frontiers, early refusal, completion tables) changes no answer.

`forward_band` / `backward_band` regroup the pooled entries on every call; `Step` lays them
out once. Both are compared here on every frontier of lattices over tiny and bundled KN
models, with several DFA states, magnitude bands and the exact fallback forced on.
"""

from __future__ import annotations

import numpy as np
import pytest
from kn_models import kn_model as model

import tnaas.inference.backoff_flow as flow
from tnaas.errors import TnaasError
from tnaas.inference.backoff_flow import backward_band, forward_band
from tnaas.inference.backoff_lattice import BackoffLattice
from tnaas.inference.backoff_step import Step
from tnaas.inference.completion import END_KEY, _distribution
from tnaas.inference.patterns import compile_pattern, parse_pattern
from tnaas.models.markov import MarkovModel


def lattice(m: MarkovModel, text: str, cap: int = 7, **kwargs) -> BackoffLattice:
    pattern = parse_pattern(text, m.token_kind_)
    dfa = compile_pattern(pattern, m.vocabulary_)
    length = pattern.fixed_length if pattern.fixed_length is not None else cap
    return BackoffLattice(m.automaton_, dfa, log_end_weight=np.zeros(length + 1), **kwargs)


CASES = [
    ("chars3", 2, "%ab%"),
    ("chars3", 3, "*%c"),
    ("words5", 2, "the %"),
    ("pokemon", 3, "%a%"),
    ("tech", 4, "py*%"),
]


@pytest.mark.parametrize("guard", [None, 1.0])
@pytest.mark.parametrize("name, k, text", CASES)
def test_step_is_the_flow_step(monkeypatch, name, k, text, guard):
    if guard is not None:
        monkeypatch.setattr(flow, "GUARD", guard)  # every touched cell / message recomputed exactly
    m = model(name, k)
    lat = lattice(m, text)
    S, dfa = lat.structure, lat.dfa
    rng = np.random.default_rng(0)
    for t in range(len(lat.cells)):
        q, s = lat.node_q_s(t)
        step = Step(S, dfa, q, s)
        a = rng.random(len(q)) * (rng.random(len(q)) < 0.8)  # some nodes at mass 0, as in a band
        cells, value = forward_band(S, dfa, q, s, a)
        kept, got = step.forward(S, dfa, a)
        np.testing.assert_array_equal(step.cells[kept], cells)
        np.testing.assert_allclose(got, value, rtol=1e-12, atol=0)
        next_keys = lat.keys[t + 1]
        b = rng.random(len(next_keys))
        want, want_bad = backward_band(S, dfa, q, s, next_keys, b)
        lookup = lat.key_index(t + 1).find(step.cell_next)
        out, bad = step.backward(np.r_[b, 0.0][lookup])
        np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-300)
        np.testing.assert_array_equal(bad, want_bad)


def test_a_saturated_frontier_is_one_array_and_one_step():
    lat = lattice(model("tech", 4), "py%", cap=20)
    same = [t for t in range(1, len(lat.keys)) if lat.frontier_ids[t - 1 : t + 1] == [lat.frontier_ids[t - 1]] * 2]
    assert len(same) > 5  # (the frontier of a long `%` stops changing)
    for t in same:
        assert lat.keys[t] is lat.keys[t - 1]
        assert lat.step(t) is lat.step(t - 1)


def test_a_saturated_query_over_budget_is_refused_at_saturation():
    m = model("tech", 4)
    full = lattice(m, "py%", cap=30, backward=False)
    first = next(t for t in range(1, len(full.frontier_ids)) if full.frontier_ids[t] == full.frontier_ids[t - 1])
    built = []

    class Counting(BackoffLattice):
        def _step_of(self, t, keys):
            built.append(t)
            return super()._step_of(t, keys)

    pattern = parse_pattern("py%", m.token_kind_)
    dfa = compile_pattern(pattern, m.vocabulary_)
    with pytest.raises(TnaasError, match="lattice entries"):
        Counting(m.automaton_, dfa, log_end_weight=np.zeros(31), max_entries=int(full.entries) - 1)
    assert max(built) <= first + 1 < 30  # not after building all 30 steps
    fits = lattice(m, "py%", cap=30, max_entries=int(np.ceil(full.entries)))
    assert fits.log_z == pytest.approx(full.log_z, rel=1e-12)


def test_distribution_is_the_sorted_table():
    rng = np.random.default_rng(1)
    vocab = [f"t{i}" for i in range(40)]
    names = np.fromiter(vocab, dtype=object, count=len(vocab))
    for _ in range(500):
        ids = np.sort(rng.choice(40, rng.integers(0, 15), replace=False))
        probs = rng.choice([0.05, 0.1, 0.2, 0.3], len(ids))  # ties on purpose
        ended = float(rng.choice([0.0, 0.05, 0.1, 0.15, 0.3]))
        table = {vocab[t]: float(p) for t, p in zip(ids, probs)}
        if ended > 0:
            table[END_KEY] = ended
        want = list(sorted(table.items(), key=lambda kv: -kv[1]))
        assert list(_distribution(names, ids, probs, ended).items()) == want
