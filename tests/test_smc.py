"""Sequential Monte Carlo completion (tnaas.inference.smc) on a tiny LSTM, against exact
enumeration of every item: the literal-suffix lookahead, the shared prefix rows, the
vectorised draws, the effective sample size, seeds and bad input."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest

from tnaas.data.corpus import corpus_from_items
from tnaas.errors import TnaasError
from tnaas.inference import smc
from tnaas.inference.completion import END_KEY
from tnaas.inference.patterns import any_sequence_dfa, compile_pattern, parse_pattern

pytest.importorskip("torch")
from tnaas.models.lstm import LSTMModel  # noqa: E402

TINY = corpus_from_items(["abc", "acb", "bca", "cab", "abca", "bb", "ca", "cba", "abcb", "ac"], "characters")
LONGEST = 9  # brute force scores every item of up to this many tokens


@pytest.fixture(scope="module")
def tiny():
    return LSTMModel(hidden_size=16, epochs=40, random_state=0).fit(TINY)


@pytest.fixture(scope="module")
def every_item(tiny):
    """p(item) for every item of 1..LONGEST tokens, and the probability of longer ones."""
    items = ["".join(t) for n in range(1, LONGEST + 1) for t in itertools.product(tiny.vocabulary_, repeat=n)]
    probs = dict(zip(items, np.exp(tiny.log_prob_many(items))))
    tail = 1 - sum(probs.values())
    assert tail < 0.01
    return probs, tail


def _ess(result) -> float:
    return float(re.search(r"effective sample size ([\d,]+)", result.method)[1].replace(",", ""))


def _truth(every_item, regex: str) -> tuple[float, dict]:
    probs, _ = every_item
    return {x: p for x, p in probs.items() if re.fullmatch(regex, x)}


@pytest.mark.parametrize(
    ("pattern", "regex"), [("%cb", ".*cb"), ("%a", ".*a"), ("b%ca", "b.*ca"), ("%b%ab", ".*b.*ab")]
)
def test_suffix_lookahead_agrees_with_enumeration(tiny, every_item, pattern, regex):
    """p(pattern), every position's marginal and the top items, within 5 standard errors
    (p(pattern) relative error ~ 1/sqrt(ESS), a marginal's ~ sqrt(p(1 - p)/ESS))."""
    truth = _truth(every_item, regex)
    tail = every_item[1]
    z = sum(truth.values())
    result = tiny.complete(pattern, top=3, samples=50, random_state=3, particles=2000)
    ess = _ess(result)
    assert result.method.startswith("approximate: SMC") and ess > 500
    assert z - 5 * z / math.sqrt(ess) < result.probability < z + tail + 5 * z / math.sqrt(ess)
    slack = tail / z  # the items longer than LONGEST that brute force leaves out
    for position in result.positions:
        i = position["index"]
        exact = {}
        for x, p in truth.items():
            key = x[i] if i < len(x) else END_KEY
            exact[key] = exact.get(key, 0.0) + p / z
        for token in set(exact) | set(position["distribution"]):
            p, got = exact.get(token, 0.0), position["distribution"].get(token, 0.0)
            assert abs(got - p) < 5 * math.sqrt(max(p * (1 - p), 0) / ess) + slack + 1e-9, (i, token)
    best = sorted(truth, key=lambda x: -truth[x])[:3]
    assert [t["text"] for t in result.top] == best  # ranked by exact log_prob
    assert np.allclose([t["probability"] for t in result.top], [truth[x] / result.probability for x in best])
    assert all(re.fullmatch(regex, s) for s in result.samples) and len(result.samples) == 50


def test_lookahead_and_plain_runs_estimate_the_same_and_lookahead_has_less_variance(tiny, every_item):
    """One pattern two ways: the particles reading the suffix exactly, and the particles
    left to draw it. Both are unbiased; the lookahead's spread over seeds is smaller."""
    z = sum(_truth(every_item, ".*cb").values())
    vocab = tiny.vocabulary_
    head, suffix = smc.split_suffix(parse_pattern("%cb", "characters"))
    assert suffix == ("c", "b") and head.elements == (("gap", None),)
    plain_dfa = compile_pattern(parse_pattern("%cb", "characters"), vocab)
    cap = np.ones(LONGEST + 1)
    ahead, plain = [], []
    for seed in range(30):
        ahead.append(
            math.exp(smc.run_smc(tiny, any_sequence_dfa(3), 200, np.random.default_rng(seed), 1.0, cap, [2, 1]).log_z)
        )
        plain.append(math.exp(smc.run_smc(tiny, plain_dfa, 200, np.random.default_rng(seed), 1.0, cap).log_z))
    ahead, plain = np.array(ahead), np.array(plain)
    truth = z - sum(p for x, p in _truth(every_item, ".*cb").items() if len(x) > LONGEST)
    for runs in (ahead, plain):  # the mean of 30 runs, within 5 of its standard errors
        assert abs(runs.mean() - truth) < 5 * runs.std(ddof=1) / math.sqrt(len(runs)) + 1e-12
    assert ahead.std() < 0.5 * plain.std()


def test_the_effective_sample_size_counts_one_particle_run_once():
    """Items one particle records between two resamplings are one draw, not several."""
    ends = np.array([[0.25, 0.0], [0.25, 0.0], [0.0, 0.5]])  # particle 0 ends twice, particle 1 once
    tree = np.zeros((2, 2), dtype=np.int64)
    together = smc.Weighted(tree, tree, ends, 0.0, np.zeros(3), particles=10, segments=np.zeros(3, dtype=np.int64))
    assert together.ess == pytest.approx(2.0)  # weights (0.5, 0.5)
    apart = smc.Weighted(tree, tree, ends, 0.0, np.zeros(3), particles=10, segments=np.array([0, 1, 1]))
    assert apart.ess == pytest.approx(1 / (0.25**2 + 0.25**2 + 0.5**2))  # a resampling in between
    flat = smc.Weighted(tree, tree, ends, 0.0, np.zeros(3), particles=10)
    assert flat.ess == pytest.approx(1 / (0.25**2 + 0.25**2 + 0.5**2))  # enumerated: items are draws


def test_the_reported_ess_does_not_overstate_the_spread_of_p_pattern(tiny):
    """Over 40 seeds, relative variance of p(pattern) <= 2 / (mean ESS): the ESS is a
    conservative figure, so 1/sqrt(ESS) does not understate the error."""
    for pattern in ("%cb", "%a%", "%b%a"):
        runs = [tiny.complete(pattern, top=0, random_state=s, particles=300) for s in range(40)]
        p = np.array([r.probability for r in runs])
        ess = np.array([_ess(r) for r in runs])
        assert p.var(ddof=1) / p.mean() ** 2 < 2 / ess.mean(), pattern


def test_marginals_with_a_suffix_match_the_items(tiny):
    """`Weighted.marginals` against the distinct items' own tokens and weights."""
    found = smc.run_smc(tiny, any_sequence_dfa(3), 300, np.random.default_rng(0), 1.0, np.ones(8), [0, 2])
    levels, slots, weights = found.distinct()
    items = found.sequences(levels, slots)
    assert all(list(x[-2:]) == [0, 2] for x in items) and np.isclose(weights.sum(), 1.0)
    marginals = found.marginals(3)
    assert len(marginals) == max(len(x) for x in items)
    for p, (mass, ended) in enumerate(marginals):
        expected = np.zeros(3)
        for x, w in zip(items, weights):
            if len(x) > p:
                expected[x[p]] += w
        assert np.allclose(mass, expected, atol=1e-12)
        assert ended == pytest.approx(sum(w for x, w in zip(items, weights) if len(x) <= p), abs=1e-12)


def test_draws_follow_the_masked_rows():
    """`_draw_rows` draws each row's allowed tokens in proportion (chi-square-free check:
    frequencies within 5 standard errors), never a forbidden or zero-probability one."""
    rng = np.random.default_rng(0)
    probs = rng.random((3, 70)).astype(np.float32)
    probs[:, 5] = 0
    allowed = rng.random((3, 70)) < 0.6
    allowed[2] = False
    allowed[2, [0, 69]] = True  # the first and last token only
    masked, sums = smc._masked_blocks(probs, allowed)
    rows = np.repeat([0, 1, 2], 20_000)
    drawn = smc._draw_rows(masked, sums, rows, rng)
    for r in range(3):
        target = np.where(allowed[r], probs[r], 0) / np.where(allowed[r], probs[r], 0).sum()
        freq = np.bincount(drawn[rows == r], minlength=70) / 20_000
        assert np.all(freq[target == 0] == 0)
        assert np.all(np.abs(freq - target) < 5 * np.sqrt(target * (1 - target) / 20_000) + 1e-12)


def test_seeded_and_reproducible(tiny):
    first = tiny.complete("%cb", top=3, samples=10, random_state=4, particles=500)
    again = tiny.complete("%cb", top=3, samples=10, random_state=4, particles=500)
    other = tiny.complete("%cb", top=3, samples=10, random_state=5, particles=500)
    assert first == again
    assert first.probability != other.probability


def test_bad_input_is_one_clear_error(tiny):
    for call, words in [
        (lambda: tiny.complete("%zb"), "never appears"),
        (lambda: tiny.complete("%cb", particles=0), "particles"),
        (lambda: tiny.complete("%cb", particles=10**9), "particles"),
        (lambda: tiny.complete(""), "empty pattern"),
    ]:
        with pytest.raises(TnaasError, match=words) as error:
            call()
        assert "\n" not in str(error.value)


def test_a_suffix_longer_than_the_cap_is_impossible_not_an_error(tiny):
    result = tiny.complete("%" + "ab" * 8, random_state=0, particles=100)  # 16 tokens > cap 14
    assert result.probability == 0 and result.message


def test_particles_are_bounded_by_the_memory_their_tables_need(tiny, monkeypatch):
    # sonnets' 4,679 words: the default 2,000 particles fit, 100,000 (MAX_PARTICLES) do not
    assert smc.PARTICLES <= smc.particle_budget(4679) < smc.AUTO_PARTICLES
    monkeypatch.setattr(smc, "TABLE_BUDGET_BYTES", 300 * smc.BYTES_PER_CELL * (len(tiny.vocabulary_) + 1))
    assert smc.particle_budget(len(tiny.vocabulary_)) == 300
    with pytest.raises(TnaasError, match="use at most 300 particles"):
        tiny.complete("%cb", particles=301)
    answer = tiny.complete("%cb", top=3, random_state=0)  # automatic: capped, not refused
    assert "SMC, 300 particles" in answer.method


class _RowCounter:
    """A model that counts the network rows its `step` computes."""

    def __init__(self, model):
        self._model, self.rows = model, 0

    def __getattr__(self, name):
        return getattr(self._model, name)

    def step(self, tokens, state, temperature=1.0):
        self.rows += len(tokens)
        return self._model.step(tokens, state, temperature)


def test_thinning_computes_fewer_rows_and_keeps_p_pattern_unbiased(tiny, every_item, monkeypatch):
    """Thinning the particles (made aggressive here: down to 8 as soon as the forecast
    allows) cuts the rows the network computes, and the mean p(pattern) of 40 runs stays
    within 5 standard errors of the exact value: resampling to fewer particles is unbiased."""
    truth = sum(_truth(every_item, ".*a").values())
    cap = np.ones(LONGEST + 1)
    dfa = any_sequence_dfa(len(tiny.vocabulary_))
    suffix = [tiny.vocabulary_.index("a")]

    def runs(thin_variance):
        monkeypatch.setattr(smc, "THIN_VARIANCE", thin_variance)
        counter, estimates = _RowCounter(tiny), []
        for seed in range(40):
            found = smc.run_smc(counter, dfa, 300, np.random.default_rng(seed), 1.0, cap, suffix)
            estimates.append(math.exp(found.log_z))
        return counter.rows, np.array(estimates)

    monkeypatch.setattr(smc, "THIN_FLOOR", 8)
    plain_rows, plain = runs(1e-300)  # never thins
    thin_rows, thin = runs(1e6)
    assert thin_rows < 0.7 * plain_rows
    for estimates in (plain, thin):
        assert abs(estimates.mean() - truth) < 5 * estimates.std(ddof=1) / math.sqrt(len(estimates))


def test_thinned_size_and_tail_forecast():
    assert smc.thinned_size(1000, 1000, 1.0) == 1000  # everything still to find: keep all
    share = math.sqrt(0.3 * smc.THIN_VARIANCE)  # thin to about 300
    assert smc.thinned_size(1000, 1000, share) == math.ceil(share**2 * 1000 / smc.THIN_VARIANCE)
    assert smc.thinned_size(1000, 1000, 1e-6) == smc.THIN_FLOOR
    assert smc.thinned_size(1000, 40, 1e-6) == 40  # not cut by half or more: unchanged
    assert smc.thinned_size(1000, 20, 1e-6) == 20  # below the floor: unchanged
    levels = np.log([0.5, 0.25, 0.125])  # a geometric tail 1/16 + 1/32 + ... = 1/8 follows
    assert math.exp(smc._tail_forecast(levels)) == pytest.approx(0.125)
    assert math.exp(smc._tail_forecast(np.log([0.4, 0.3, 0.2]))) == pytest.approx(0.2 * 3)  # ratio 3/4
    assert smc._tail_forecast(np.log([0.2, 0.1, 0.3])) == np.inf  # rising: no forecast
    assert smc._tail_forecast(np.array([-np.inf, -1.0, -2.0])) == np.inf


def test_no_rerun_when_the_budget_allows_no_more_particles(tiny, monkeypatch):
    """A first run below `MIN_ESS` is rerun with more particles, never with as many again."""
    monkeypatch.setattr(smc, "TABLE_BUDGET_BYTES", 300 * smc.BYTES_PER_CELL * (len(tiny.vocabulary_) + 1))
    calls = []
    run_smc = smc.run_smc
    monkeypatch.setattr(smc, "run_smc", lambda *args, **kwargs: calls.append(args[2]) or run_smc(*args, **kwargs))
    answer = tiny.complete("%cb", top=3, random_state=0)  # ESS <= 300 < MIN_ESS, and 300 is the cap
    assert calls == [300] and "SMC, 300 particles" in answer.method
