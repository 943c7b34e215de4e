"""The LSTM model: seeded training, exact scores, and completion (exact enumeration vs SMC)."""

from __future__ import annotations

import importlib.util
import io
import itertools
import math
import re
import subprocess
import sys

import numpy as np
import pytest

from tnaas.data.corpus import corpus_from_items
from tnaas.errors import TnaasError
from tnaas.inference.completion import END_KEY
from tnaas.models import MODELS

TINY = corpus_from_items(["abc", "acb", "bca", "cab", "abca", "bb", "ca", "cba", "abcb", "ac"], "characters")
FEW = corpus_from_items(["ab", "ba", "ab", "abb", "ab", "ba", "abb", "ab"], "characters")


def test_unavailable_without_torch(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    ok, why = MODELS["lstm"].available()
    assert not ok and "pip install" in why and "torch" in why
    with pytest.raises(TnaasError, match="pip install"):
        MODELS["lstm"].build({}, random_state=0)


def test_importing_the_library_does_not_import_torch():
    code = "import sys, tnaas, tnaas.models, tnaas.cli, tnaas.models.lstm; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


torch = pytest.importorskip("torch")
from tnaas.models.lstm import LSTMModel  # noqa: E402  (needs torch to be worth importing)


@pytest.fixture(scope="module")
def tiny():
    return LSTMModel(hidden_size=16, epochs=40, random_state=0).fit(TINY)


def test_seeded_training_is_reproducible_and_leaves_the_global_rng_alone():
    before = torch.random.get_rng_state()
    first = LSTMModel(hidden_size=8, epochs=2, random_state=5).fit(TINY)
    assert torch.equal(before, torch.random.get_rng_state())
    second = LSTMModel(hidden_size=8, epochs=2, random_state=5).fit(TINY)
    other = LSTMModel(hidden_size=8, epochs=2, random_state=6).fit(TINY)
    for name, value in first.weights_.items():
        assert np.array_equal(value, second.weights_[name])
    assert not all(np.array_equal(v, other.weights_[k]) for k, v in first.weights_.items())
    assert first.sample(20, random_state=1) == second.sample(20, random_state=1)


def test_progress_is_reported_per_epoch():
    calls = []
    LSTMModel(hidden_size=8, epochs=3, random_state=0).fit(TINY, progress=lambda f, m: calls.append((f, m)))
    assert [f for f, _ in calls] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert all("epoch" in m for _, m in calls)


def test_bad_hyperparameters_are_one_clear_error():
    with pytest.raises(TnaasError, match="hidden_size"):
        LSTMModel(hidden_size=0).fit(TINY)
    with pytest.raises(TnaasError, match="epochs"):
        LSTMModel(epochs=2.5).fit(TINY)


def test_log_prob_many_matches_log_prob_and_unknowns_are_impossible(tiny):
    items = ["abc", "a", "cabba", "b", "ca"]
    assert np.allclose(tiny.log_prob_many(items), [tiny.log_prob(x) for x in items], atol=1e-9, rtol=0)
    assert tiny.log_prob("abz") == -math.inf
    assert tiny.log_prob("") == -math.inf  # corpora hold no empty items, so the model makes none


def test_next_token_distribution_sums_to_one_and_chains_to_log_prob(tiny):
    total = 0.0
    for i, token in enumerate([*"cab", END_KEY]):
        dist = tiny.next_token_distribution("cab"[:i])
        assert set(dist) == {"a", "b", "c", END_KEY} - ({END_KEY} if i == 0 else set())
        assert math.isclose(sum(dist.values()), 1.0, abs_tol=1e-9)
        total += math.log(dist[token])
    assert math.isclose(total, tiny.log_prob("cab"), abs_tol=1e-9)
    assert tiny.next_token_distribution("az") == {}


def test_sampling_frequencies_match_log_prob():
    from scipy.stats import chisquare

    model = LSTMModel(hidden_size=16, epochs=30, random_state=0).fit(FEW)
    n = 4000
    drawn = model.sample(n, random_state=2)
    counts = {item: drawn.count(item) for item in set(drawn)}
    candidates = sorted({*counts, *FEW.items})
    expected = n * np.exp(model.log_prob_many(candidates))
    big = [i for i, e in enumerate(expected) if e >= 5]
    observed = [counts.get(candidates[i], 0) for i in big]
    observed.append(n - sum(observed))
    wanted = [expected[i] for i in big]
    wanted.append(n - sum(wanted))
    assert len(big) >= 3
    assert chisquare(observed, wanted).pvalue > 1e-3


def _brute_force(model, length: int, matches) -> dict:
    """p(item) for every item of `length` tokens that `matches`, by exact scoring."""
    items = ["".join(t) for t in itertools.product(model.vocabulary_, repeat=length)]
    items = [x for x in items if matches(x)]
    return dict(zip(items, np.exp(model.log_prob_many(items))))


def test_enumeration_is_exact_against_brute_force(tiny):
    result = tiny.complete("*b*", top=4, samples=50, random_state=0)
    truth = _brute_force(tiny, 3, lambda x: x[1] == "b")
    z = sum(truth.values())
    assert result.method.startswith("exact")
    assert math.isclose(result.probability, z, rel_tol=1e-9)
    for position in result.positions:
        i = position["index"]
        for token, p in position["distribution"].items():
            assert math.isclose(p, sum(v for x, v in truth.items() if x[i] == token) / z, abs_tol=1e-9)
    best = sorted(truth.items(), key=lambda kv: -kv[1])[:4]
    assert [t["text"] for t in result.top] == [x for x, _ in best]
    assert np.allclose([t["probability"] for t in result.top], [p / z for _, p in best], atol=1e-9)
    assert all(re.fullmatch(".b.", s) for s in result.samples) and len(result.samples) == 50


def test_smc_agrees_with_enumeration_within_its_error(tiny):
    exact = tiny.complete("a**", top=3, random_state=0)
    approx = tiny.complete("a**", top=3, samples=40, random_state=0, particles=4000, max_candidates=0)
    assert exact.method.startswith("exact")
    assert approx.method.startswith("approximate: SMC") and "exact" not in approx.method
    ess = float(re.search(r"effective sample size ([\d,]+)", approx.method)[1].replace(",", ""))
    assert ess > 1000
    # Importance sampling: relative variance of the p(pattern) estimate ~ 1/ESS - 1/N; 5 sigma.
    assert abs(approx.probability / exact.probability - 1) < 5 * math.sqrt(1 / ess)
    for e, a in zip(exact.positions, approx.positions):
        assert e["index"] == a["index"]
        for token, p in e["distribution"].items():  # a marginal's standard error ~ sqrt(p(1-p)/ESS)
            assert abs(a["distribution"].get(token, 0.0) - p) < 5 * math.sqrt(p * (1 - p) / ess) + 1e-9
    assert [t["text"] for t in approx.top] == [t["text"] for t in exact.top]  # ranked by exact log_prob
    assert all(re.fullmatch("a..", s) for s in approx.samples) and len(approx.samples) == 40


def test_smc_with_a_gap_agrees_with_brute_force(tiny):
    approx = tiny.complete("%cb", top=3, samples=30, random_state=1, particles=4000)
    assert approx.method.startswith("approximate: SMC")
    ess = float(re.search(r"effective sample size ([\d,]+)", approx.method)[1].replace(",", ""))
    # Every item of up to 9 tokens, scored exactly; longer items weigh at most `tail` in all.
    matches, total = {}, 0.0
    for n in range(1, 10):
        probs = _brute_force(tiny, n, lambda x: True)
        total += sum(probs.values())
        matches.update((x, p) for x, p in probs.items() if x.endswith("cb"))
    z, tail = sum(matches.values()), 1 - total
    assert tail < 0.01
    # Over 40 seeds this estimate's relative error had sd 0.023 at ESS ~2,000, i.e. ~1/sqrt(ESS).
    assert z - 5 * z / math.sqrt(ess) < approx.probability < z + tail + 5 * z / math.sqrt(ess)
    best = sorted(matches, key=lambda x: -matches[x])[:3]
    assert [t["text"] for t in approx.top] == best  # ranked by exact log_prob
    assert all(s.endswith("cb") for s in approx.samples) and len(approx.samples) == 30


def test_length_distributions_in_complete_and_sample(tiny):
    length3 = _brute_force(tiny, 3, lambda x: True)
    truth = {x: p / sum(length3.values()) for x, p in length3.items() if x.startswith("b")}
    exact = tiny.complete("b**", random_state=0, length="3")
    assert exact.method.startswith("exact") and math.isclose(exact.probability, sum(truth.values()), rel_tol=1e-9)
    # 9 candidates enumerated, but p(length 3) over 27 items estimated: the label says so
    mixed = tiny.complete("b**", random_state=0, length="3", max_candidates=10)
    assert mixed.method.startswith("approximate: p(pattern) uses p(length)") and "posteriors exact" in mixed.method
    for m, e in zip(mixed.positions, exact.positions, strict=True):
        assert m["distribution"] == pytest.approx(e["distribution"], abs=1e-12)
    approx = tiny.complete("b%", random_state=0, length="3", particles=3000)
    assert approx.method.startswith("approximate: SMC")
    for estimate in (mixed, approx):
        ess = float(re.search(r"effective sample size ([\d,]+)", estimate.method)[1].replace(",", ""))
        assert abs(estimate.probability / exact.probability - 1) < 5 / math.sqrt(ess)
    assert tiny.complete("b%", random_state=0, length="2-3").probability > 0
    assert tiny.complete("b**", length="4").probability == 0
    assert all(len(s) == 4 for s in tiny.sample(10, random_state=0, length="4"))


def _pearson(drawn: list[str], truth: dict) -> tuple[float, int]:
    """Pearson's statistic of `drawn` against probabilities `truth` (item -> p, summing to
    1), cells expected fewer than 5 times pooled; returns (statistic, degrees of freedom)."""
    n = len(drawn)
    assert set(drawn) <= set(truth)
    counts = {item: 0 for item in truth}
    for item in drawn:
        counts[item] += 1
    big = [x for x in truth if n * truth[x] >= 5]
    observed = [counts[x] for x in big] + [n - sum(counts[x] for x in big)]
    expected = [n * truth[x] for x in big] + [n - sum(n * truth[x] for x in big)]
    if expected[-1] < 5:  # nothing left to pool: fold the remainder into the last cell
        observed[-2:], expected[-2:] = [sum(observed[-2:])], [sum(expected[-2:])]
    return sum((o - e) ** 2 / e for o, e in zip(observed, expected)), len(observed) - 1


def _length_conditioned_truth(model, spec: dict, temperature: float = 1.0) -> dict:
    """p(λ) p_model(item | λ) for every item of each length λ in `spec` (λ -> p(λ)), by
    scoring every item of that length exactly."""
    truth = {}
    for lam, p_lam in spec.items():
        items = ["".join(t) for t in itertools.product(model.vocabulary_, repeat=lam)]
        scores = model.score_ids([model._ids(x) for x in items], temperature)
        probs = np.exp(scores - scores.max())
        truth.update(zip(items, p_lam * probs / probs.sum()))
    return truth


@pytest.mark.parametrize("path", ["rejection", "enumeration"])
@pytest.mark.parametrize(
    ("length", "spec", "temperature"), [("3", {3: 1.0}, 1.0), ("2-4", {2: 1 / 3, 3: 1 / 3, 4: 1 / 3}, 0.7)]
)
def test_length_conditioned_samples_are_exact_draws(tiny, monkeypatch, path, length, spec, temperature):
    """10 seeds x 2,000 draws against the exact p(λ) p(item | λ): Pearson's statistics add
    up to a chi-square with the summed degrees of freedom. The old SMC sampler drew its
    items from 2,000 weighted particles, so repeats piled up: about twice the degrees of
    freedom (558 for 260 at length 3)."""
    from scipy.stats import chi2

    from tnaas.models import lstm_sampling

    # rejection only, or enumeration from the start (the default picks per length)
    monkeypatch.setattr(lstm_sampling, "ENUMERATE_UP_TO", 0 if path == "rejection" else 10**6)
    truth = _length_conditioned_truth(tiny, spec, temperature)
    total, dof = 0.0, 0
    for seed in range(10):
        statistic, k = _pearson(tiny.sample(2000, random_state=seed, length=length, temperature=temperature), truth)
        total, dof = total + statistic, dof + k
    assert chi2.sf(total, dof) > 1e-3, (total, dof)


def test_length_conditioned_sampling_is_seeded_and_mixes_both_ways(tiny, monkeypatch):
    from tnaas.models import lstm_sampling

    calls = []
    real = lstm_sampling._enumerate_into
    monkeypatch.setattr(lstm_sampling, "ENUMERATE_UP_TO", 10)
    monkeypatch.setattr(
        lstm_sampling, "_enumerate_into", lambda model, lam, *a: calls.append(lam) or real(model, lam, *a)
    )
    # lengths 1 and 2 (3 and 9 candidates) are enumerated, 3 and 4 drawn by rejection
    drawn = tiny.sample(300, random_state=4, length="1-4")
    assert drawn == tiny.sample(300, random_state=4, length="1-4")
    assert drawn != tiny.sample(300, random_state=5, length="1-4")
    assert sorted(set(calls)) == [1, 2]
    assert {len(x) for x in drawn} == {1, 2, 3, 4}


def test_a_length_too_rare_to_draw_exactly_is_one_clear_error(tiny, monkeypatch):
    from tnaas.models import lstm_sampling

    monkeypatch.setattr(lstm_sampling, "REJECTION_BUDGET", 50_000)
    # 3**25 items of 25 tokens: too many to enumerate; the model (items of 2-4) never ends there
    with pytest.raises(TnaasError, match=r"too rarely makes items of this length.*25 \(0 of [\d,]+ draws\)"):
        tiny.sample(5, random_state=0, length="25")


def test_cli_trains_and_completes_with_the_lstm():
    from tnaas.cli import main

    out = io.StringIO()
    flags = ["--model", "lstm", "--epochs", "2", "--hidden-size", "16", "--seed", "0"]
    assert main(["generate", "--corpus", "pokemon", "-n", "3", *flags], out=out) == 0
    assert len(out.getvalue().splitlines()) == 3
    out = io.StringIO()
    assert main(["complete", "p*ka", "--corpus", "pokemon", *flags], out=out) == 0
    assert "exact" in out.getvalue() and "p(p*ka)" in out.getvalue()
