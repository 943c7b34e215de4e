"""Exact completion and length-conditioned sampling where probabilities underflow.

Tiny HMMs with parameters of 1e-160..1e-300 (normal after EM) and long literal / `*` /
`%` patterns, whose probability is far below e^-745, the smallest positive double; and a
Kneser-Ney chain on the pokemon names with a ~250-character pattern. The reference is
brute force in log space: every item the pattern can match (up to the length cap) is
listed, scored with `sequence_log_probs` (the log-space forward checked against hmmlearn
in test_automaton_underflow.py), and the answers follow from a log-sum-exp over them.
"""

from __future__ import annotations

import itertools

import bruteforce as bf
import numpy as np
import pytest
from scipy.special import logsumexp

from tnaas.data.corpus import corpus_from_items, load_bundled
from tnaas.inference.automaton import sequence_log_probs
from tnaas.inference.completion import END_KEY, complete_exact
from tnaas.inference.patterns import LITERAL, ONE, Pattern
from tnaas.models import make_model
from tnaas.models.hmm import HMMAutomaton, HMMModel

TINY = corpus_from_items(["ab", "abc", "ba", "cab", "a", "bb", "cc", "acb", "b", "ca", "abca", "bac"], "characters")


def with_parameters(model: HMMModel, start, trans, emit) -> HMMModel:
    model.startprob_, model.transmat_, model.emissionprob_ = start, trans, emit
    model.automaton_ = HMMAutomaton(start, trans, emit, model.vocabulary_)
    return model


def harsh_hmm(seed: int, hidden: int = 4) -> HMMModel:
    """An HMM over {a, b, c} whose parameters are half plausible, half 1e-160..1e-300."""
    model = HMMModel(hidden_states=hidden, iterations=1, random_state=0).fit(TINY)
    rng = np.random.default_rng(seed)

    def rows(shape):
        tiny = rng.random(shape) < 0.5
        x = np.where(tiny, 10.0 ** -rng.uniform(160, 300, shape), rng.uniform(0.1, 1, shape))
        return x / x.sum(axis=-1, keepdims=True)

    return with_parameters(model, rows(hidden), rows((hidden, hidden)), rows((hidden, len(model.vocabulary_) + 1)))


def matching_items(pattern: str, vocabulary, cap: int) -> list[tuple[str, ...]]:
    """Every token tuple of at most `cap` tokens matching `pattern` (characters; `*` one
    token, `%` any run), listed by expanding the pattern itself."""
    minimum = [sum(ch != "%" for ch in pattern[i:]) for i in range(len(pattern) + 1)]
    out = {()}
    for i, ch in enumerate(pattern):
        if ch == "*":
            out = {s + (v,) for s in out for v in vocabulary}
        elif ch == "%":
            out = {
                s + tail
                for s in out
                for n in range(cap - len(s) - minimum[i + 1] + 1)
                for tail in itertools.product(vocabulary, repeat=n)
            }
        else:
            out = {s + (ch,) for s in out}
    return sorted(s for s in out if len(s) <= cap)


def log_scores(model, items) -> np.ndarray:
    ids = [np.array([model.vocabulary_.index(t) for t in item], dtype=np.int64) for item in items]
    return sequence_log_probs(model.automaton_, ids)


def assert_matches_reference(completion, items, log_p: np.ndarray, pattern: str, top: int) -> dict:
    """p(pattern) in logs, every position's posterior, the top-k and the samples against
    the log-space brute force over `items` with log weights `log_p`; returns p(item | pattern)."""
    log_z = float(logsumexp(log_p))
    assert completion.log_probability == pytest.approx(log_z, rel=1e-9, abs=1e-9)
    assert completion.probability == pytest.approx(np.exp(log_z), rel=1e-9, abs=0)
    assert completion.matches and completion.method == "exact" and completion.top_complete
    assert completion.to_dict()["log_probability"] == completion.log_probability
    posterior = {item: float(np.exp(lp - log_z)) for item, lp in zip(items, log_p) if lp > -np.inf}

    want = bf.positions(posterior, pattern, "characters")
    got = {p["index"]: p["distribution"] for p in completion.positions}
    assert sorted(got) == sorted(want)
    for i, dist in want.items():
        assert set(got[i]) <= set(dist), f"position {i}"
        for token, p in dist.items():
            assert got[i].get(token, 0.0) == pytest.approx(p, abs=1e-9), f"position {i}, token {token!r}"
            if p > 1e-300:
                assert token in got[i]

    by_text = {"".join(item): p for item, p in posterior.items()}
    best = sorted(by_text.values(), reverse=True)[:top]
    listed = [row["probability"] for row in completion.top]
    assert listed == pytest.approx(best, rel=1e-9, abs=1e-300)
    for row in completion.top:
        assert row["probability"] == pytest.approx(by_text[row["text"]], rel=1e-9, abs=1e-300)
    assert completion.samples and all(s in by_text for s in completion.samples)
    assert bf.chi_square_p(completion.samples, by_text) > 1e-3
    return by_text


# --------------------------------------------------------------------- HMM, natural lengths
def random_text(seed: int, n: int) -> str:
    return "".join(np.random.default_rng(seed).choice(list("abc"), n))


def first_unlikely(make, log_mass, seed: int):
    """The first of make(seed), make(seed + 1), ... whose log_mass is finite but below
    -745 (most random texts are; the search makes it so for every parameter)."""
    for attempt in range(seed, seed + 200):
        value = make(attempt)
        if -np.inf < log_mass(value) < -745:
            return value
    raise AssertionError("no unlikely text found")


# Parameter draws under which most 20-token texts have probability below e^-745 (under
# others some hidden state emits everything plausibly; they would test nothing new).
HARSH_SEEDS = (0, 1, 8, 11, 12, 14)


@pytest.mark.parametrize("seed", HARSH_SEEDS)
def test_long_literal_pattern_on_a_harsh_hmm(seed):
    model = harsh_hmm(seed)
    text = first_unlikely(lambda s: random_text(s, 20), model.log_prob, 100 * seed)
    want = model.log_prob(text)
    assert -np.inf < want < -745  # possible, but no double holds its probability
    completion = model.complete(text, top=3, samples=50, random_state=seed)
    assert completion.log_probability == pytest.approx(want, rel=1e-9)
    assert completion.probability == 0.0 and completion.matches and not completion.message
    assert [row["text"] for row in completion.top] == [text]
    assert completion.top[0]["probability"] == pytest.approx(1.0, rel=1e-12)
    assert completion.samples == [text] * 50


@pytest.mark.parametrize("seed", HARSH_SEEDS)
@pytest.mark.parametrize("shape", ["stars", "gap", "both"])
def test_star_and_gap_patterns_on_a_harsh_hmm(seed, shape):
    model = harsh_hmm(seed)
    model.max_length_ = 28  # the cap on gap patterns: up to 5 tokens in the gap

    def make(attempt):
        left, right = random_text(1000 * seed + attempt, 14), random_text(5000 + 1000 * seed + attempt, 9)
        return {
            "stars": left[:4] + "*" + left[5:9] + "*" + left[10:] + "*" + right,
            "gap": left + "%" + right,
            "both": left[:6] + "*" + left[7:] + "%" + right[:4] + "*" + right[5:],
        }[shape]

    def log_mass(pattern):
        return logsumexp(log_scores(model, matching_items(pattern, model.vocabulary_, model.max_length_)))

    pattern = first_unlikely(make, log_mass, 0)
    items = matching_items(pattern, model.vocabulary_, model.max_length_)
    log_p = log_scores(model, items)
    completion = model.complete(pattern, top=5, samples=400, random_state=seed)
    assert_matches_reference(completion, items, log_p, pattern, top=5)
    if "%" in pattern:
        assert completion.truncated_mass >= 0


def test_the_path_a_scaled_pass_drops_carries_the_pattern():
    # State 0 emits a (and c at 1e-200), state 1 emits b; switching costs 1e-200. The
    # literal c forces the two onto one edge (B·A = 1e-400 underflows to 0), yet that path
    # beats every other (b's from state 0 cost 1e-300 each) by hundreds of nats.
    model = HMMModel(hidden_states=2, iterations=1, random_state=0).fit(TINY)
    tiny = 1e-200
    emit = np.array([[0.8, 1e-300, tiny, 0.2], [1e-300, 0.8, 1e-300, 0.2]])
    emit /= emit.sum(axis=1, keepdims=True)
    with_parameters(model, np.array([1.0, 0.0]), np.array([[1 - tiny, tiny], [tiny, 1 - tiny]]), emit)
    model.max_length_ = 30
    pattern = "a*c" + "b" * 20 + "%"
    items = matching_items(pattern, model.vocabulary_, model.max_length_)
    log_p = log_scores(model, items)
    assert -1000 < logsumexp(log_p) < -745
    completion = model.complete(pattern, top=4, samples=300, random_state=0)
    by_text = assert_matches_reference(completion, items, log_p, pattern, top=4)
    assert completion.top[0]["text"] == "aac" + "b" * 20 and by_text["aac" + "b" * 20] > 0.2


# ------------------------------------------------------------ HMM, length distributions
@pytest.fixture(scope="module")
def late_ender():
    """An HMM whose every item needs two 1e-200 factors (switch to state 1, end there):
    p_chain(length) ~ 1e-400, which no double holds, for every length."""
    model = HMMModel(hidden_states=2, iterations=1, random_state=0).fit(TINY)
    tiny = 1e-200
    emit = np.array([[0.5, 0.3, 0.2, 0.0], [0.2, 0.3, 0.5, tiny]])
    return with_parameters(model, np.array([1.0, 0.0]), np.array([[1 - tiny, tiny], [0.4, 0.6]]), emit)


def length_reference(model, low: int, high: int) -> dict[tuple, float]:
    """p(item) = p(λ) p(item | λ) under λ uniform on low..high, by enumeration in logs."""
    out = {}
    for n in range(low, high + 1):
        items = list(itertools.product(model.vocabulary_, repeat=n))
        log_p = log_scores(model, items)
        assert logsumexp(log_p) < -745
        out.update((item, lp - logsumexp(log_p) - np.log(high - low + 1)) for item, lp in zip(items, log_p))
    return out


def test_length_conditioned_sampling_where_every_length_underflows(late_ender):
    reference = length_reference(late_ender, 3, 6)
    drawn = late_ender.sample(4000, random_state=0, length="3-6")
    by_text = {"".join(item): float(np.exp(lp)) for item, lp in reference.items()}
    assert bf.chi_square_p(drawn, by_text) > 1e-3
    lengths = np.bincount([len(s) for s in drawn], minlength=7)[3:]
    assert (abs(lengths / 4000 - 0.25) < 0.04).all()


@pytest.mark.parametrize("pattern", ["%", "ab%", "*%c", "%b*"])
def test_patterns_under_a_length_distribution_where_every_length_underflows(late_ender, pattern):
    reference = length_reference(late_ender, 3, 6)
    accepts = bf.matcher(pattern, "characters", late_ender.vocabulary_)
    items = [item for item in reference if accepts(item)]
    log_p = np.array([reference[item] for item in items])
    completion = late_ender.complete(pattern, top=5, samples=400, random_state=1, length="3-6")
    assert_matches_reference(completion, items, log_p, pattern, top=5)
    if pattern == "%":
        assert completion.log_probability == pytest.approx(0.0, abs=1e-12)


# ------------------------------------------------------------ Kneser-Ney on the pokemon names
@pytest.fixture(scope="module")
def pokemon_kneser_ney():
    return make_model("markov", {"state_size": 3, "smoothing": "kneser-ney"}).fit(load_bundled("pokemon"))


@pytest.mark.parametrize("seed", range(2))
def test_kneser_ney_pattern_of_250_characters(pokemon_kneser_ney, seed):
    # `parse_pattern` caps patterns at 64 tokens (too short to get below e^-745 here), so
    # the pattern is built directly and answered by the exact engine behind `complete`.
    model = pokemon_kneser_ney
    rng = np.random.default_rng(seed)
    names = [name for name in load_bundled("pokemon").items if not set(name) & set("*%\\")]
    text = ""
    while len(text) < 250 or model.log_prob(text) > -760:  # real names end to end
        text += names[rng.integers(len(names))]
    holes = sorted(rng.choice(np.arange(3, len(text) - 3), size=2, replace=False))
    pattern = "".join("*" if i in holes else ch for i, ch in enumerate(text))
    assert -np.inf < model.log_prob(text) < -745
    items = matching_items(pattern, model.vocabulary_, len(pattern))
    log_p = log_scores(model, items)
    assert np.isfinite(log_p).all() and logsumexp(log_p) < -745
    elements = tuple((ONE, None) if ch == "*" else (LITERAL, ch) for ch in pattern)
    parsed = Pattern(pattern, "characters", elements)
    rng = np.random.default_rng(seed)
    completion = complete_exact(model.automaton_, parsed, "characters", model.max_length_, 5, 500, rng)
    assert completion.probability == 0.0 and completion.matches
    assert_matches_reference(completion, items, log_p, pattern, top=5)
    assert END_KEY not in str(completion.positions)
