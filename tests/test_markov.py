"""The unsmoothed Markov model is markovify's `Chain`: same counts, same probabilities,
same log-probabilities, and samples from the same distribution.

Every expected value here is computed from markovify's own `Chain.model` dict, never
from our code, so a wrong count, probability or sampler fails these tests.
"""

from __future__ import annotations

import math
import random
from collections import Counter

import markovify
import numpy as np
import pytest
from scipy import stats

import tnaas.models.markov.ngram
from tnaas.data.corpus import corpus_from_items, load_bundled
from tnaas.data.tokens import tokenize
from tnaas.errors import TnaasError
from tnaas.inference.completion import END_KEY
from tnaas.models.markov import MarkovModel
from tnaas.validation import MAX_SAMPLES

BEGIN, END = markovify.chain.BEGIN, markovify.chain.END
BUNDLED = ("pokemon", "ikea", "rhcp")
TINY = ("tiny_characters", "tiny_words", "tiny_unicode", "tiny_notes")
STATE_SIZES = (1, 2, 3, 4)


# --------------------------------------------------------------------------- helpers


def runs(corpus) -> list[list[str]]:
    """The corpus as markovify wants it: one list of tokens per item."""
    return [list(tokenize(item, corpus.token_kind)) for item in corpus.items]


def our_model_dict(model: MarkovModel) -> dict[tuple, dict[str, int]]:
    """Our count table (`counts_`) in markovify's `Chain.model` form."""
    counts = model.counts_
    names = [*counts.vocabulary, END, BEGIN]
    table: dict[tuple, dict[str, int]] = {}
    for context, nxt, count in zip(counts.contexts.tolist(), counts.next_ids.tolist(), counts.counts.tolist()):
        follow = table.setdefault(tuple(names[t] for t in context), {})
        assert names[nxt] not in follow, "rows are unique"
        follow[names[nxt]] = count
    return table


def markovify_probabilities(model_dict) -> dict[tuple, dict[str, float]]:
    """count / state total for every transition of a markovify model dict."""
    result = {}
    for state, follow in model_dict.items():
        total = sum(follow.values())
        result[state] = {token: count / total for token, count in follow.items()}
    return result


def automaton_table(model: MarkovModel) -> dict[tuple, dict[str, float]]:
    """Walk the automaton from its start state; the transition probabilities of every
    reachable state, keyed by the markovify state (last k tokens, BEGIN-padded)."""
    automaton, vocabulary, k = model.automaton_, model.vocabulary_, model.state_size
    start_states, start_probs = automaton.start()
    assert len(start_states) == 1 and start_probs.tolist() == [1.0], "a chain starts in one state"
    seen = {(BEGIN,) * k: int(start_states[0])}
    frontier = [(BEGIN,) * k]
    table: dict[tuple, dict[str, float]] = {}
    while frontier:
        ids = np.array([seen[state] for state in frontier], dtype=np.int64)
        edges = automaton.expand(ids)
        ends = automaton.end_prob(ids)
        for state, end in zip(frontier, ends.tolist()):
            table[state] = {END: end} if end > 0 else {}
        discovered = []
        for src, token, dst, prob in zip(edges.src.tolist(), edges.token.tolist(), edges.dst.tolist(), edges.prob):
            state = frontier[src]
            assert vocabulary[token] not in table[state], "one edge per token"
            table[state][vocabulary[token]] = prob
            after = state[1:] + (vocabulary[token],)
            if after in seen:
                assert seen[after] == dst, "the same k tokens always lead to the same state"
            else:
                seen[after] = dst
                discovered.append(after)
        frontier = discovered
    return table


def markovify_log_prob(model_dict, tokens, k: int) -> float:
    """log p(tokens, END) straight from a markovify model dict (-inf when impossible)."""
    state, total_log = (BEGIN,) * k, 0.0
    for token in [*tokens, END]:
        follow = model_dict.get(state, {})
        if token not in follow:
            return -math.inf
        total_log += math.log(follow[token] / sum(follow.values()))
        state = state[1:] + (token,)
    return total_log


def exact_distribution(model_dict, k: int, temperature: float = 1.0, min_prob: float = 1e-7):
    """p(item) for every item with probability >= `min_prob`, by enumerating markovify's
    model dict; at a temperature every state's options are reweighted p**(1/T)."""
    probs = {}
    for state, follow in markovify_probabilities(model_dict).items():
        weights = {token: p ** (1 / temperature) for token, p in follow.items()}
        total = sum(weights.values())
        probs[state] = {token: w / total for token, w in weights.items()}
    found: dict[tuple, float] = {}
    stack = [((BEGIN,) * k, (), 1.0)]
    while stack:
        state, seq, p = stack.pop()
        for token, q in probs[state].items():
            if token == END:
                found[seq] = found.get(seq, 0.0) + p * q
            elif p * q >= min_prob:
                stack.append((state[1:] + (token,), seq + (token,), p * q))
    return found


def goodness_of_fit(samples: list[tuple], exact: dict[tuple, float]) -> float:
    """Chi-square p-value of `samples` against exact probabilities (items with fewer than
    5 expected draws, and all unenumerated ones, are pooled into one category)."""
    n = len(samples)
    counts = Counter(samples)
    kept = sorted((s for s, p in exact.items() if p * n >= 5), key=lambda s: -exact[s])
    observed = [counts[s] for s in kept]
    expected = [exact[s] * n for s in kept]
    rest_observed, rest_expected = n - sum(observed), n - sum(expected)
    if rest_expected >= 5:
        observed.append(rest_observed)
        expected.append(rest_expected)
    else:  # too little left over for its own category: pool it with the rarest kept item
        observed[-1] += rest_observed
        expected[-1] += rest_expected
    assert len(observed) >= 5, "too few categories for a meaningful test"
    return stats.chisquare(observed, expected).pvalue


def as_tuples(items: list[str], kind: str) -> list[tuple]:
    return [tokenize(item, kind) for item in items]


_FITTED: dict = {}


def fitted(corpus, k: int) -> tuple[MarkovModel, markovify.Chain]:
    """Our model and markovify's chain on the same corpus (memoised: both are immutable here)."""
    key = (corpus.content_hash, k)
    if key not in _FITTED:
        _FITTED[key] = (MarkovModel(state_size=k).fit(corpus), markovify.Chain(runs(corpus), k))
    return _FITTED[key]


@pytest.fixture(params=BUNDLED + TINY)
def corpus(request):
    """Each small bundled corpus and each tiny hand-made corpus."""
    if request.param in BUNDLED:
        return load_bundled(request.param)
    return request.getfixturevalue(request.param)


# --------------------------------------------------------------------------- counts and probabilities


@pytest.mark.parametrize("k", STATE_SIZES)
def test_transition_counts_equal_markovify(corpus, k):
    model, chain = fitted(corpus, k)
    assert our_model_dict(model) == chain.model


@pytest.mark.parametrize("k", STATE_SIZES)
def test_transition_probabilities_are_count_over_total(corpus, k):
    model, chain = fitted(corpus, k)
    # Both divide the same integers, so the floats are identical, not just close.
    assert automaton_table(model) == markovify_probabilities(chain.model)


@pytest.mark.parametrize("k", (1, 3))
def test_next_token_distribution_is_markovify_state_distribution(corpus, k):
    model, chain = fitted(corpus, k)
    probs = markovify_probabilities(chain.model)
    rng = np.random.default_rng(7)
    for j in rng.choice(len(corpus.items), size=min(40, len(corpus.items)), replace=False):
        tokens = tokenize(corpus.items[j], corpus.token_kind)
        cut = int(rng.integers(0, len(tokens) + 1))
        prefix = tokens[:cut]
        state = ((BEGIN,) * k + prefix)[-k:]
        expected = {END_KEY if t == END else t: p for t, p in probs[state].items()}
        got = model.next_token_distribution(" ".join(prefix) if corpus.token_kind != "characters" else "".join(prefix))
        assert got.keys() == expected.keys()
        assert all(math.isclose(got[t], expected[t], rel_tol=1e-12) for t in expected)
        assert list(got.values()) == sorted(got.values(), reverse=True), "sorted by probability"


def test_next_token_distribution_is_empty_for_an_impossible_prefix(tiny_characters):
    model, _ = fitted(tiny_characters, 2)
    assert model.next_token_distribution("dd") == {}
    assert model.next_token_distribution("z") == {}


def test_counting_in_chunks_gives_the_same_table(monkeypatch):
    """Huge corpora are counted in chunks and merged; force many small chunks."""
    corpus = load_bundled("pokemon")
    monkeypatch.setattr(tnaas.models.markov.ngram, "_CHUNK_TOKENS", 50)
    model = MarkovModel(state_size=3).fit(corpus)
    assert our_model_dict(model) == markovify.Chain(runs(corpus), 3).model


@pytest.mark.parametrize("k", (5, 6))
def test_large_vocabulary_counts_without_packing(k):
    """(vocabulary + 2) ** (k + 1) >= 2**62 takes the unpacked counting path."""
    rng = np.random.default_rng(3)
    words = rng.permutation([f"w{i}" for i in range(1600)]).tolist()
    cuts = np.cumsum(rng.integers(2, 9, size=400))
    items = [" ".join(words[a:b]) for a, b in zip([0, *cuts], cuts) if a < len(words)]  # every word once
    items += [" ".join(rng.choice(words[:30], size=rng.integers(2, 9))) for _ in range(60)]  # repeats
    corpus = corpus_from_items(items + items[-10:], "words")
    assert (len(corpus.vocabulary) + 2) ** (k + 1) >= 2**62
    model = MarkovModel(state_size=k).fit(corpus)
    chain = markovify.Chain(runs(corpus), k)
    assert our_model_dict(model) == chain.model
    assert automaton_table(model) == markovify_probabilities(chain.model)


# --------------------------------------------------------------------------- log-probabilities


@pytest.mark.parametrize("k", STATE_SIZES)
def test_log_prob_agrees_with_markovify(corpus, k):
    model, chain = fitted(corpus, k)
    kind = corpus.token_kind
    rng = np.random.default_rng(k)
    vocabulary = list(corpus.vocabulary)
    unknown = {"characters": "#", "words": "zzzz", "notes": "Cb9"}[kind]
    alphabet = vocabulary[:12] + [unknown]
    join = "".join if kind == "characters" else " ".join
    random_items = [join(rng.choice(alphabet, size=rng.integers(1, 9))) for _ in range(200)]
    sampled = model.sample(200, random_state=k)
    corpus_items = list(corpus.items[:300])
    for group in (corpus_items, random_items, sampled):
        ours = model.log_prob_many(group)
        theirs = np.array([markovify_log_prob(chain.model, tokenize(item, kind), k) for item in group])
        assert np.array_equal(np.isinf(ours), np.isinf(theirs))
        finite = np.isfinite(theirs)
        np.testing.assert_allclose(ours[finite], theirs[finite], rtol=0, atol=1e-12)
    assert np.isfinite(model.log_prob_many(corpus_items)).all(), "every training item is possible"
    assert np.isfinite(model.log_prob_many(sampled)).all(), "every sample is possible"
    assert np.isneginf(model.log_prob_many(random_items)).any(), "some random strings are impossible"
    assert model.log_prob(unknown) == -math.inf


def test_log_prob_of_single_items_matches_batch(tiny_words):
    model, _ = fitted(tiny_words, 2)
    items = ["the cat sat", "a dog sat down", "the cat", "cat the"]
    assert [model.log_prob(item) for item in items] == model.log_prob_many(items).tolist()


def test_probabilities_of_a_finite_chain_sum_to_one(tiny_words):
    model, chain = fitted(tiny_words, 2)
    exact = exact_distribution(chain.model, 2, min_prob=0)
    assert math.isclose(sum(exact.values()), 1.0, rel_tol=1e-12)
    items = [" ".join(seq) for seq in exact]
    assert math.isclose(np.exp(model.log_prob_many(items)).sum(), 1.0, rel_tol=1e-12)


# --------------------------------------------------------------------------- sampling


N_SAMPLES = 20_000  # enough that a 1% error in a common item's probability is visible


@pytest.mark.parametrize(("name", "k"), [("tiny_characters", 1), ("tiny_characters", 2), ("tiny_words", 1)])
def test_samples_follow_the_exact_distribution(request, name, k):
    corpus = request.getfixturevalue(name)
    model, chain = fitted(corpus, k)
    samples = as_tuples(model.sample(N_SAMPLES, random_state=2024), corpus.token_kind)
    assert goodness_of_fit(samples, exact_distribution(chain.model, k)) > 1e-3


def test_goodness_of_fit_has_the_power_to_reject(tiny_characters):
    """The same test rejects samples from a slightly different distribution (T = 0.8)."""
    model, chain = fitted(tiny_characters, 1)
    samples = as_tuples(model.sample(N_SAMPLES, random_state=2024, temperature=0.8), "characters")
    assert goodness_of_fit(samples, exact_distribution(chain.model, 1)) < 1e-6


@pytest.mark.parametrize("temperature", (0.5, 2.0))
def test_tempered_samples_follow_the_tempered_distribution(tiny_characters, temperature):
    model, chain = fitted(tiny_characters, 1)
    samples = as_tuples(model.sample(N_SAMPLES, random_state=11, temperature=temperature), "characters")
    assert goodness_of_fit(samples, exact_distribution(chain.model, 1, temperature)) > 1e-3


def test_samples_match_markovify_walks(tiny_characters):
    """Two-sample chi-square test against markovify's own sampler."""
    model, chain = fitted(tiny_characters, 1)
    ours = Counter(as_tuples(model.sample(N_SAMPLES, random_state=5), "characters"))
    saved = random.getstate()
    try:
        random.seed(5)  # markovify samples with the global `random` module
        theirs = Counter(tuple(chain.walk()) for _ in range(N_SAMPLES))
    finally:
        random.setstate(saved)
    common = [s for s in ours.keys() | theirs.keys() if ours[s] + theirs[s] >= 20]
    table = [[ours[s] for s in common], [theirs[s] for s in common]]
    table[0].append(N_SAMPLES - sum(table[0]))
    table[1].append(N_SAMPLES - sum(table[1]))
    assert len(common) >= 10
    assert stats.chi2_contingency(table).pvalue > 1e-3


def test_temperature_below_one_concentrates_mass(tiny_characters):
    model, chain = fitted(tiny_characters, 1)
    exact = exact_distribution(chain.model, 1)
    best = "".join(max(exact, key=exact.get))
    frequency = {t: model.sample(4000, random_state=1, temperature=t).count(best) / 4000 for t in (0.5, 1.0, 2.0)}
    assert frequency[0.5] > frequency[1.0] > frequency[2.0]
    distinct = {t: len(set(model.sample(4000, random_state=1, temperature=t))) for t in (0.5, 2.0)}
    assert distinct[0.5] < distinct[2.0]


def test_same_seed_same_samples_different_seed_different_samples():
    model, _ = fitted(load_bundled("pokemon"), 3)
    first = model.sample(30, random_state=42)
    assert len(first) == 30
    assert model.sample(30, random_state=42) == first
    assert model.sample(30, random_state=np.random.default_rng(42)) == first
    assert model.sample(30, random_state=43) != first


def test_a_generator_continues_its_stream():
    model, _ = fitted(load_bundled("pokemon"), 3)
    rng = np.random.default_rng(9)
    assert model.sample(10, random_state=rng) != model.sample(10, random_state=rng)


def test_sampling_never_touches_the_global_random_generators():
    model, _ = fitted(load_bundled("pokemon"), 3)
    np.random.seed(0)
    random.seed(0)
    before = (np.random.get_state()[1].copy(), random.getstate())
    a = model.sample(20, random_state=1)
    assert np.array_equal(np.random.get_state()[1], before[0]) and random.getstate() == before[1]
    np.random.seed(99)
    random.seed(99)
    assert model.sample(20, random_state=1) == a


def test_temperature_one_is_the_default():
    model, _ = fitted(load_bundled("pokemon"), 3)
    assert model.sample(25, random_state=3, temperature=1) == model.sample(25, random_state=3)
    assert model.sample(25, random_state=3, temperature=1.0) == model.sample(25, random_state=3)


def test_sample_zero_items():
    model, _ = fitted(load_bundled("rhcp"), 1)
    assert model.sample(0, random_state=0) == []


def test_a_chain_sharpened_into_a_loop_says_so_instead_of_spinning():
    """At T = 0.05 "a" follows "a" with probability ~1 - 1e-17: no run ever ends."""
    corpus = corpus_from_items(["a" * n for n in range(6, 11)], "characters")
    model = MarkovModel(state_size=1).fit(corpus)
    assert len(model.sample(10, random_state=0, temperature=0.5)) == 10
    with pytest.raises(TnaasError, match="temperature"):
        model.sample(10, random_state=0, temperature=0.05)


# --------------------------------------------------------------------------- bad parameters


@pytest.mark.parametrize("temperature", [0, -1, 0.01, 11, float("nan"), float("inf"), "hot", None])
def test_invalid_temperature_is_refused(temperature):
    model, _ = fitted(load_bundled("rhcp"), 1)
    with pytest.raises(TnaasError, match="temperature"):
        model.sample(5, random_state=0, temperature=temperature)
    with pytest.raises(TnaasError, match="temperature"):
        model.complete("*", temperature=temperature)


@pytest.mark.parametrize("state_size", [0, 7, -1, "3", True, 2.5, None])
def test_invalid_state_size_is_refused(state_size):
    with pytest.raises(TnaasError, match="state size"):
        MarkovModel(state_size=state_size).fit(load_bundled("rhcp"))


def test_numpy_integer_state_size_is_accepted():
    model = MarkovModel(state_size=np.int64(2)).fit(load_bundled("rhcp"))
    assert model.counts_.state_size == 2


@pytest.mark.parametrize("smoothing", ["laplace", "", None, "Kneser-Ney"])
def test_invalid_smoothing_is_refused(smoothing):
    with pytest.raises(TnaasError, match="smoothing"):
        MarkovModel(state_size=2, smoothing=smoothing).fit(load_bundled("rhcp"))


@pytest.mark.parametrize("n", [-1, 1.5, True, "3", MAX_SAMPLES + 1])
def test_invalid_sample_count_is_refused(n):
    model, _ = fitted(load_bundled("rhcp"), 1)
    with pytest.raises(TnaasError, match="n must be"):
        model.sample(n, random_state=0)


def test_an_unfitted_model_says_so():
    with pytest.raises(TnaasError, match="not fitted"):
        MarkovModel(state_size=2).sample(3, random_state=0)
    with pytest.raises(TnaasError, match="not fitted"):
        MarkovModel(state_size=2).log_prob("abc")


def test_constructor_stores_arguments_unchanged_and_fit_returns_self():
    model = MarkovModel(state_size="3", smoothing="odd")  # validated in fit, not here
    assert (model.state_size, model.smoothing) == ("3", "odd")
    model = MarkovModel(state_size=2)
    assert model.fit(load_bundled("rhcp")) is model
