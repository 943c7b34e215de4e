"""The HMM model: exact against brute-force sums over hidden paths, seeded, and usable from the CLI.

The reference below never touches tnaas's automaton code: it sums π(h1) B(h1,x1) A(h1,h2) …
B(h(n+1),END) over every hidden path with numpy, straight from the fitted parameters.
"""

from __future__ import annotations

import io
import itertools
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from tnaas.cli import main
from tnaas.data.corpus import corpus_from_items
from tnaas.errors import TnaasError
from tnaas.inference.completion import END_KEY
from tnaas.models import make_model
from tnaas.models.hmm import HMMModel

ITEMS = ["ab", "abc", "ba", "cab", "a", "bb", "cc", "acb", "b", "ca", "abca", "bac", "cba", "aab"]
TINY = corpus_from_items(ITEMS, "characters")
MAX_LEN = 4  # brute force enumerates every string over {a, b, c} up to this length


# --------------------------------------------------------------------- brute force
def path_sum(model: HMMModel, text: str) -> float:
    """p(text) summed over all hidden paths h1..h(n+1), from the fitted π, A, B."""
    pi, a, b = model.startprob_, model.transmat_, model.emissionprob_
    ids = [model.vocabulary_.index(ch) for ch in text]
    n, end = len(ids), b.shape[1] - 1
    paths = np.array(list(itertools.product(range(len(pi)), repeat=n + 1)))
    p = pi[paths[:, 0]] * b[paths[:, n], end]
    for t, x in enumerate(ids):
        p = p * b[paths[:, t], x] * a[paths[:, t], paths[:, t + 1]]
    return float(p.sum())


def tail_mass(model: HMMModel, length: int) -> float:
    """p(the item is longer than `length` tokens): mass still emitting after `length` tokens."""
    b_end = model.emissionprob_[:, -1]
    alpha = model.startprob_.copy()
    for _ in range(length + 1):
        alpha = (alpha * (1 - b_end)) @ model.transmat_
    return float(alpha.sum())


def all_strings(max_len: int, alphabet: str = "abc") -> list[str]:
    return ["".join(p) for n in range(max_len + 1) for p in itertools.product(alphabet, repeat=n)]


def pattern_regex(pattern: str) -> re.Pattern:
    return re.compile("".join("." if c == "*" else ".*" if c == "%" else re.escape(c) for c in pattern))


@pytest.fixture(scope="module")
def tiny():
    return HMMModel(hidden_states=3, iterations=30, random_state=0).fit(TINY)


@pytest.fixture(scope="module")
def exact(tiny):
    return {s: path_sum(tiny, s) for s in all_strings(MAX_LEN)}


# ------------------------------------------------------------------ probabilities
def test_log_prob_is_the_sum_over_hidden_paths(tiny, exact):
    strings = list(exact)
    got = tiny.log_prob_many(strings)
    want = np.log([exact[s] for s in strings])
    assert np.all(np.isfinite(want))
    assert np.allclose(got, want, rtol=0, atol=1e-9)
    assert tiny.log_prob("abc") == pytest.approx(math.log(exact["abc"]), abs=1e-9)
    assert tiny.log_prob("abd") == -math.inf  # a token outside the corpus vocabulary


def test_log_prob_is_hmmlearns_score_of_the_item_followed_by_end(tiny):
    from hmmlearn.hmm import CategoricalHMM

    hmm = CategoricalHMM(n_components=3, n_features=4, init_params="", params="")
    hmm.startprob_, hmm.transmat_, hmm.emissionprob_ = tiny.startprob_, tiny.transmat_, tiny.emissionprob_
    for item in ["", "a", "cab", "abcabcab"]:
        symbols = np.array([[tiny.vocabulary_.index(ch)] for ch in item] + [[3]])
        assert tiny.log_prob(item) == pytest.approx(hmm.score(symbols), abs=1e-9)


def test_every_state_options_sum_to_one_and_the_distribution_is_proper(tiny, exact):
    automaton = tiny.automaton_
    states = np.arange(automaton.n_states)
    edges = automaton.expand(states)
    total = np.bincount(edges.src, weights=edges.prob, minlength=len(states)) + automaton.end_prob(states)
    assert np.allclose(total, 1.0, atol=1e-12)
    assert np.all(np.diff(edges.src) >= 0)
    assert sum(exact.values()) + tail_mass(tiny, MAX_LEN) == pytest.approx(1.0, abs=1e-12)
    assert tail_mass(tiny, 3 * tiny.max_length_) < 1e-9  # generation stops by itself


def test_expected_state_visits_give_the_expected_length(tiny):
    # Σ visits = emissions per item = E[length] + 1 (the END), E[length] = Σ_L p(length > L).
    expected_length = sum(tail_mass(tiny, n) for n in range(400))
    assert tiny.state_visits().sum() == pytest.approx(expected_length + 1, rel=1e-9)


def test_expand_with_tokens_is_a_filter_of_all_edges(tiny):
    automaton = tiny.automaton_
    states = np.array([2, 0, 2])
    every, some = automaton.expand(states), automaton.expand(states, np.array([2, -1, 0]))
    keep = np.isin(every.token, [0, 2])
    for name in ("src", "token", "dst", "prob"):
        assert np.array_equal(getattr(every, name)[keep], getattr(some, name))


@settings(max_examples=8, deadline=None)
@given(
    items=st.lists(st.text(alphabet="ab", min_size=1, max_size=5), min_size=5, max_size=12),
    hidden=st.integers(2, 5),
    iterations=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_fit_is_a_normalised_automaton(items, hidden, iterations, seed):
    model = HMMModel(hidden_states=hidden, iterations=iterations, random_state=seed).fit(
        corpus_from_items(items, "characters")
    )
    automaton = model.automaton_
    states = np.arange(automaton.n_states)
    edges = automaton.expand(states)
    total = np.bincount(edges.src, weights=edges.prob, minlength=len(states)) + automaton.end_prob(states)
    assert np.allclose(total, 1.0, atol=1e-12)
    alphabet = "".join(model.vocabulary_)
    strings = all_strings(3, alphabet)
    mass = np.exp(model.log_prob_many(strings)).sum()
    assert mass + tail_mass(model, 3) == pytest.approx(1.0, abs=1e-12)


# ----------------------------------------------------------------------- patterns
@pytest.mark.parametrize("pattern", ["*b*", "a**", "**", "c*a*", "b"])
def test_fixed_length_patterns_match_brute_force(tiny, exact, pattern):
    regex = pattern_regex(pattern)
    matches = {s: p for s, p in exact.items() if regex.fullmatch(s)}
    total = sum(matches.values())
    result = tiny.complete(pattern, top=5)
    assert result.probability == pytest.approx(total, rel=1e-9, abs=0)
    unknown = [i for i, c in enumerate(pattern) if c == "*"]
    assert [p["index"] for p in result.positions] == unknown
    for position in result.positions:
        i = position["index"]
        want = {}
        for s, p in matches.items():
            want[s[i]] = want.get(s[i], 0.0) + p / total
        assert position["distribution"].keys() == want.keys()
        for token, p in want.items():
            assert position["distribution"][token] == pytest.approx(p, abs=1e-9)
    best = sorted(matches.values(), reverse=True)[:5]
    assert [t["probability"] for t in result.top] == pytest.approx([p / total for p in best], abs=1e-9)
    for t in result.top:
        assert t["probability"] == pytest.approx(matches[t["text"]] / total, abs=1e-9)


@pytest.mark.parametrize("pattern", ["%b", "a%", "%c%"])
def test_gap_patterns_under_a_length_range_match_brute_force(tiny, exact, pattern):
    # length "1-4": λ uniform on 1..4, then the item from p(x | λ) = p(x) / p(length λ).
    by_length = {n: sum(p for s, p in exact.items() if len(s) == n) for n in range(1, MAX_LEN + 1)}
    regex = pattern_regex(pattern)
    matches = {s: 0.25 * p / by_length[len(s)] for s, p in exact.items() if s and regex.fullmatch(s)}
    total = sum(matches.values())
    result = tiny.complete(pattern, top=4, length="1-4")
    assert result.probability == pytest.approx(total, rel=1e-9)
    best = sorted(matches.values(), reverse=True)[:4]
    assert [t["probability"] for t in result.top] == pytest.approx([p / total for p in best], abs=1e-9)
    assert result.positions
    for position in result.positions:
        i = position["index"]
        want = {}
        for s, p in matches.items():
            key = s[i] if len(s) > i else END_KEY
            want[key] = want.get(key, 0.0) + p / total
        assert position["distribution"].keys() == want.keys()
        for token, p in want.items():
            assert position["distribution"][token] == pytest.approx(p, abs=1e-9)


# ----------------------------------------------------------------------- sampling
def chi_square_p(samples: list[str], probs: dict[str, float]) -> float:
    """p-value of the samples against `probs` (bins under 5 expected draws pooled; the rest
    of the probability, if any, is one more bin)."""
    n = len(samples)
    counts = {s: 0 for s in probs}
    other = 0
    for s in samples:
        if s in counts:
            counts[s] += 1
        else:
            other += 1
    rest = max(0.0, 1.0 - sum(probs.values()))
    observed, expected, pooled_o, pooled_e = [], [], other, rest * n
    for s, p in probs.items():
        if p * n >= 5:
            observed.append(counts[s])
            expected.append(p * n)
        else:
            pooled_o += counts[s]
            pooled_e += p * n
    if pooled_e > 0:
        observed.append(pooled_o)
        expected.append(pooled_e)
    elif pooled_o > 0:
        return 0.0  # draws of something the model gives probability 0
    return float(chisquare(observed, np.array(expected) * n / sum(expected)).pvalue)


def test_samples_follow_the_exact_distribution(tiny, exact):
    samples = tiny.sample(20_000, random_state=0)
    assert chi_square_p(samples, {s: p for s, p in exact.items() if len(s) <= 3}) > 1e-3


def test_length_conditioned_samples_have_that_length_and_exact_frequencies(tiny, exact):
    samples = tiny.sample(5_000, random_state=1, length="4")
    assert {len(s) for s in samples} == {4}
    four = {s: p for s, p in exact.items() if len(s) == 4}
    norm = sum(four.values())
    assert chi_square_p(samples, {s: p / norm for s, p in four.items()}) > 1e-3


def test_pattern_samples_follow_the_posterior(tiny, exact):
    matches = {s: p for s, p in exact.items() if pattern_regex("*b*").fullmatch(s)}
    total = sum(matches.values())
    result = tiny.complete("*b*", top=0, samples=5_000, random_state=2)
    assert chi_square_p(result.samples, {s: p / total for s, p in matches.items()}) > 1e-3


def test_generation_stops_by_itself_with_items_of_many_lengths(tiny):
    samples = tiny.sample(500, random_state=3)
    lengths = {len(s) for s in samples}
    assert len(lengths) >= 4 and max(lengths) < tiny.max_length_
    dist = tiny.next_token_distribution("ab")
    assert END_KEY in dist and sum(dist.values()) == pytest.approx(1.0, abs=1e-12)


# ---------------------------------------------------------------- fitting and API
def test_seeded_fitting_is_reproducible_and_leaves_the_global_rng_alone():
    np.random.seed(1)
    state = np.random.get_state()[1].copy()
    first = HMMModel(hidden_states=3, iterations=10, random_state=5).fit(TINY)
    assert np.array_equal(np.random.get_state()[1], state)
    np.random.seed(2)
    again = HMMModel(hidden_states=3, iterations=10, random_state=5).fit(TINY)
    other = HMMModel(hidden_states=3, iterations=10, random_state=6).fit(TINY)
    for name in ("startprob_", "transmat_", "emissionprob_"):
        assert np.array_equal(getattr(first, name), getattr(again, name))
    assert not np.allclose(first.emissionprob_, other.emissionprob_)


def test_unseeded_fitting_is_reproducible_with_the_default_seed():
    # None means the fixed default seed, resolved at fit time: every run, same model.
    np.random.seed(3)
    unseeded = [HMMModel(hidden_states=3, iterations=2) for _ in range(2)]
    np.random.seed(4)  # the global RNG plays no part
    fitted = [model.fit(TINY) for model in unseeded]
    assert all(model.random_state is None for model in fitted)  # the argument is stored as given
    explicit = HMMModel(hidden_states=3, iterations=2, random_state=0).fit(TINY)
    other = HMMModel(hidden_states=3, iterations=2, random_state=1).fit(TINY)
    for name in ("startprob_", "transmat_", "emissionprob_"):
        assert np.array_equal(getattr(fitted[0], name), getattr(fitted[1], name))
        assert np.array_equal(getattr(fitted[0], name), getattr(explicit, name))
    assert not np.allclose(fitted[0].emissionprob_, other.emissionprob_)


def test_fit_reports_progress_and_learned_state():
    calls = []
    model = HMMModel(hidden_states=4, iterations=15, random_state=0).fit(TINY, progress=lambda f, m: calls.append(f))
    fractions = [f for f in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and 0 <= fractions[0]
    assert len(calls) == model.n_iter_ + 1 and 1 <= model.n_iter_ <= 15
    assert model.emissionprob_.shape == (4, len(TINY.vocabulary) + 1)
    assert model.train_nll_ > 0


def test_inspect_shows_transitions_and_emissions(tiny):
    transitions, emissions = tiny.inspect(limit=2)
    rows: dict[str, float] = {}
    for row, _, value in transitions.records:
        rows[row] = rows.get(row, 0.0) + value
    assert len(rows) == 3 and np.allclose(list(rows.values()), 1.0)
    columns = {column for _, column, _ in emissions.records}
    assert END_KEY in columns and len(columns) == 2
    assert len(emissions.records) == 3 * 2


def test_word_items_of_different_lengths():
    corpus = corpus_from_items(["the red fox", "a fox", "the dog ran away", "a red dog", "dog"], "words")
    model = HMMModel(hidden_states=2, iterations=5, random_state=0).fit(corpus)
    assert np.all(np.isfinite(model.log_prob_many(corpus.items)))
    assert model.log_prob("the cat") == -math.inf
    assert all(set(s.split()) <= set(corpus.vocabulary) for s in model.sample(20, random_state=0) if s)


@pytest.mark.parametrize(
    "params",
    [
        {"hidden_states": 1},
        {"hidden_states": 65},
        {"hidden_states": 2.5},
        {"hidden_states": True},
        {"hidden_states": "4"},
        {"iterations": 0},
        {"iterations": 1001},
        {"iterations": None},
        {"random_state": -1},
        {"random_state": "seed"},
        {"random_state": 1.5},
    ],
)
def test_bad_hyperparameters_say_so(params):
    with pytest.raises(TnaasError):
        HMMModel(**params).fit(TINY)


def test_registry_builds_the_hmm_and_rejects_bad_values():
    model = make_model("hmm", {"hidden_states": 3, "iterations": 2}, random_state=0).fit(TINY)
    assert isinstance(model, HMMModel) and model.random_state == 0
    with pytest.raises(TnaasError, match="hidden states"):
        make_model("hmm", {"hidden_states": 100}).fit(TINY)
    with pytest.raises(TnaasError, match="not fitted"):
        HMMModel().sample(1)


def test_a_numerical_breakdown_in_em_is_one_clear_error(monkeypatch):
    from tnaas.models import hmm_em  # the EM HMMModel.fit runs (hmmlearn is no longer used there)

    def broken(*args, **kwargs):
        raise ValueError("startprob_ must sum to 1 (got nan)")

    monkeypatch.setattr(hmm_em, "baum_welch", broken)
    with pytest.raises(TnaasError, match="HMM fitting failed"):
        HMMModel(hidden_states=2, iterations=2, random_state=0).fit(TINY)


# --------------------------------------------------------------------------- CLI
HMM_FLAGS = ["--model", "hmm", "--hidden-states", "4", "--iterations", "5", "--train-seed", "0"]


def run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return main(argv, out=out), out.getvalue()


def test_cli_generate_complete_and_evaluate(tmp_path):
    status, text = run(["generate", "--corpus", "pokemon", "-n", "5", "--seed", "0", *HMM_FLAGS])
    assert status == 0 and len(text.splitlines()) == 5
    assert run(["generate", "--corpus", "pokemon", "-n", "5", "--seed", "0", *HMM_FLAGS])[1] == text  # same seeds
    status, text = run(["complete", "Pi*a", "--corpus", "pokemon", "--top", "3", *HMM_FLAGS])
    assert status == 0 and text.startswith("p(Pi*a) = ") and "[exact]" in text
    assert len(re.findall(r"^  \d\.\d{4}  Pi.a$", text, flags=re.M)) == 3
    test_file = tmp_path / "held_out.txt"
    test_file.write_text("Pikachu\nRaichu\nSandslash\nZubat\nOddish\n", encoding="utf-8")
    status, text = run(["evaluate", "--train", "pokemon", "--test", str(test_file), *HMM_FLAGS])
    assert status == 0 and re.search(r"^nll_per_token: \d+\.\d{4} nats$", text, flags=re.M)


def test_cli_rejects_bad_hidden_states(capsys):
    status, _ = run(["generate", "--corpus", "pokemon", "--model", "hmm", "--hidden-states", "1"])
    assert status == 2 and "hidden states must be a whole number from 2 to 64" in capsys.readouterr().err
