"""Kneser-Ney discounts tuned on a validation split (`kn_tuning`): the held-out objective is
the automaton's own likelihood (brute-force walk), its gradient is exact, tuning never loses
to the closed form on the split it was chosen on, the tuned model is still a distribution
after every history, it is reproducible and round-trips through an artifact. Pitman-Yor
strengths (`tuned_parameters`): the automaton is the definition (`StrengthRef`, from the
brute-force counts), the objective the direct held-out NLL, the sparse Gauss-Newton matrix
the dense one, and a tuned model keeps the exact backoff engines."""

from __future__ import annotations

import itertools

import bruteforce as bf
import numpy as np
import pytest

from tnaas.artifacts import load_artifact, save_artifact
from tnaas.data.corpus import corpus_from_items, load_bundled
from tnaas.errors import TnaasError
from tnaas.models.markov import MarkovModel
from tnaas.models.markov import kn_tuning as kt
from tnaas.models.markov.kneser_ney import KneserNeyAutomaton, modified_discounts
from tnaas.models.markov.ngram import HistoryTrie, count_ngrams
from tnaas.service import ModelRequest

TINY = ["abca", "abcb", "bca", "cab", "aab", "abab", "ccba", "bacb", "cc", "abc", "ba", "cabb"]


def _setup(corpus, k, n_rows=None, n_classes=3):
    enc = corpus.encoded
    fit, val = split_items(len(enc.offsets) - 1)
    trie = HistoryTrie.build(count_ngrams(kt.subset(enc, fit), k))
    held = count_ngrams(kt.subset(enc, val), k)
    objective = kt.HeldOutObjective(trie, held, n_classes, None, n_rows)
    start = np.array([kt.closed_form(used, n_classes) for _, _, used in kt.kn_levels(trie)[::-1]])
    if n_rows == 2 * k + 1:
        start = np.vstack([start, start[1:]])
    return trie, held, objective, start


def _brute_nll(automaton: KneserNeyAutomaton, held) -> float:
    """Summed NLL: each held-out event from the longest seen suffix of its context, one by one."""
    trie, k, total = automaton.trie, automaton.k, 0.0
    for context, target, count in zip(held.contexts, held.next_ids, held.counts):
        state = 0
        for j in range(1, k + 1):
            node = 0
            for token in context[k - j :]:
                node = int(trie.child(np.array([node]), np.array([token]))[0])
                if node < 0:
                    break
            if node < 0:
                break
            state = node
        total -= count * np.log(automaton.dense(np.array([state]), np.array([target]))[0, 0])
    return total


def split_items(n_items: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(fitting item indices, validation item indices): a seeded tenth held out."""
    order = np.random.default_rng(seed).permutation(n_items)
    n_val = int(round(n_items * 0.1))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _numeric_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of `f` at `x`, one coordinate at a time (the reference gradient)."""
    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        numeric[index] = (f(x + step) - f(x - step)) / (2 * eps)
    return numeric


@pytest.mark.parametrize(("k", "split_begin", "n_classes"), [(1, False, 3), (2, False, 3), (3, True, 3), (2, False, 4)])
def test_objective_is_the_automatons_held_out_nll_and_its_gradient_is_exact(k, split_begin, n_classes):
    corpus = corpus_from_items(TINY * 5 + ["abcabc", "cbacba", "aaaa"], "characters")
    n_rows = 2 * k + 1 if split_begin else None
    trie, held, objective, start = _setup(corpus, k, n_rows, n_classes)
    rng = np.random.default_rng(0)
    for d in (start, np.clip(start * rng.uniform(0.3, 1.5, start.shape), 0.01, kt.ceilings(n_classes))):
        value, grad, _ = objective.value_and_gradient(d)
        assert value == pytest.approx(_brute_nll(KneserNeyAutomaton(trie, d), held), rel=1e-12)
        np.testing.assert_allclose(grad, _numeric_gradient(objective.value, d), rtol=1e-5, atol=1e-6)


def test_closed_form_with_three_classes_is_chen_and_goodmans():
    rng = np.random.default_rng(1)
    for _ in range(20):
        counts = rng.geometric(rng.uniform(0.2, 0.9), size=int(rng.integers(1, 200))).astype(np.float64)
        np.testing.assert_array_equal(kt.closed_form(counts, 3), modified_discounts(counts))


@pytest.mark.parametrize(("name", "k"), [("pokemon", 3), ("tech", 4), ("sonnets", 2)])
def test_tuned_is_never_worse_than_closed_form_on_its_validation_split(name, k):
    _, _, objective, start = _setup(load_bundled(name), k)
    tuned, first, best = kt.minimise(objective, start)
    assert first == objective.value(start)
    assert best == objective.value(tuned) <= first
    assert best < first  # and here it actually gains: the closed form is not optimal
    assert (tuned > 0).all() and (tuned <= kt.ceilings(3)).all()


def test_tuned_model_is_a_distribution_after_every_history():
    for corpus, k in ((load_bundled("pokemon"), 3), (corpus_from_items(TINY * 6, "characters"), 2)):
        model = MarkovModel(k, smoothing="kneser-ney", discounts="tuned").fit(corpus)
        assert model.kn_discounts_ is not None
        automaton = model.automaton_
        table = automaton.dense(np.arange(automaton.n_states), np.arange(automaton.n_outcomes))
        assert (table[:, :-1] > 0).all()
        np.testing.assert_allclose(table.sum(axis=1), 1.0, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(automaton.discounts, model.kn_discounts_)
        closed = MarkovModel(k, smoothing="kneser-ney").fit(corpus).automaton_
        assert not np.array_equal(closed.discounts, automaton.discounts)


def test_tuning_is_reproducible_and_seeded():
    encoded = load_bundled("pokemon").encoded
    a = kt.tuned_parameters(encoded, 2)
    for part, again in zip(a, kt.tuned_parameters(encoded, 2)):
        np.testing.assert_array_equal(part, again)
    assert any(not np.array_equal(part, other) for part, other in zip(a, kt.tuned_parameters(encoded, 2, seed=1)))


def test_too_small_a_corpus_keeps_the_closed_form():
    corpus = corpus_from_items(TINY, "characters")  # 12 items: one validation item
    model = MarkovModel(2, smoothing="kneser-ney", discounts="tuned").fit(corpus)
    closed = MarkovModel(2, smoothing="kneser-ney").fit(corpus)
    assert model.kn_discounts_ is None
    np.testing.assert_array_equal(model.automaton_.dense([0, 1], [0, 1, 2]), closed.automaton_.dense([0, 1], [0, 1, 2]))


def test_discounts_only_change_kneser_ney():
    corpus = load_bundled("pokemon")
    plain = MarkovModel(3, discounts="tuned").fit(corpus)
    assert plain.kn_discounts_ is None
    assert plain.log_prob("Pikachu") == MarkovModel(3).fit(corpus).log_prob("Pikachu")


@pytest.mark.parametrize("bad", ["bogus", None, 3, "Tuned ", ["tuned"]])
def test_bad_discounts_choice_is_one_tnaas_error(bad):
    with pytest.raises(TnaasError, match="unknown discounts") as info:
        MarkovModel(3, smoothing="kneser-ney", discounts=bad).fit(load_bundled("rhcp"))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((4, 3)),  # a discount of 0
        np.full((4, 3), np.nan),
        np.array([[1.5, 1.0, 1.0]] * 4),  # D1 above 1: negative counts
        np.full((3, 3), 0.5),  # wrong number of orders
        np.full((4,), 0.5),
        [["a", "b", "c"]] * 4,
    ],
)
def test_bad_discount_tables_are_one_tnaas_error(bad):
    trie = HistoryTrie.build(count_ngrams(load_bundled("pokemon").encoded, 3))
    with pytest.raises(TnaasError, match="Kneser-Ney discount") as info:
        KneserNeyAutomaton(trie, bad)
    assert "\n" not in str(info.value)


def test_tuned_model_round_trips_through_an_artifact(tmp_path, monkeypatch):
    corpus = load_bundled("pokemon")
    request = ModelRequest.parse("markov", {"smoothing": "kneser-ney"}, corpus)
    model = MarkovModel(3, smoothing="kneser-ney", discounts="tuned").fit(corpus)
    header, _ = save_artifact(model, request, corpus, tmp_path)
    probes = ["Pikachu", "Zyx", "Mew"]
    loaded = load_artifact(header)
    assert [loaded.log_prob(p) for p in probes] == [model.log_prob(p) for p in probes]
    np.testing.assert_array_equal(loaded.kn_discounts_, model.kn_discounts_)
    assert model.kn_strengths_ is not None
    np.testing.assert_array_equal(loaded.kn_strengths_, model.kn_strengths_)
    # another library version: the snapshot is ignored and the counts compiled again with
    # the stored discounts (they cannot be recomputed from the counts alone)
    import tnaas

    monkeypatch.setattr(tnaas, "__version__", "0.0.0-other")
    rebuilt = load_artifact(header)
    assert [rebuilt.log_prob(p) for p in probes] == pytest.approx([model.log_prob(p) for p in probes], abs=1e-12)
    assert rebuilt.discounts == "tuned"


# ----------------------------------------------------------- Pitman-Yor strengths
class StrengthRef(bf.KneserNeyRef):
    """Kneser-Ney with a Pitman-Yor strength, straight from the definition: the counts of
    `bruteforce.KneserNeyRef`, and per history h (order j) the row ((k + 1) [h starts with
    BEGIN] + j) * 3 + bucket of its number of distinct followers (1-2, 3-7, 8+), whose
    discounts D and strength theta give p(w | h) = max(c(h w) - D(c), 0) / (theta + c(h)) +
    (theta + sum of the discounts taken) / (theta + c(h)) p(w | h minus its first token)."""

    def __init__(self, runs, k, discounts, strengths):
        super().__init__(runs, k)
        self.table, self.theta = np.asarray(discounts), np.asarray(strengths)

    def row(self, h):
        followers = len(self.counts[len(h)][h])
        bucket = 0 if followers <= 2 else 1 if followers <= 7 else 2
        return ((self.k + 1) * int(len(h) > 0 and h[0] == bf.BEGIN) + len(h)) * 3 + bucket

    def prob(self, h, w):
        lower = 1 / len(self.outcomes) if not h else self.prob(h[1:], w)
        follow = self.counts[len(h)].get(h)
        if not follow:
            return lower
        d, theta = self.table[self.row(h)], self.theta[self.row(h)]
        cls = lambda c: min(c, len(d)) - 1  # noqa: E731
        total = sum(follow.values())
        taken = sum(d[cls(c)] for c in follow.values())
        c = follow.get(w, 0)
        own = (c - d[cls(c)]) / (theta + total) if c > 0 else 0.0
        return own + (theta + taken) / (theta + total) * lower


# a-c mostly (histories with few followers), d-i after some (so that some have 8+)
STRENGTH_ITEMS = TINY * 2 + ["abcabc", "cbacba", "aaaa", "bbbcca", "cabacab", "acbbca", "ad", "ae", "af", "agh", "ahi"]
STRENGTH_ITEMS += ["ia", "bi", "ehc", "fg", "ga", "db", "ab"]


def _random_strengths(k, seed=0):
    """Discounts and strengths for every row of the follower layout, theta down to -min D."""
    rng = np.random.default_rng(seed)
    rows = 2 * (k + 1) * kt.N_BUCKETS
    d = rng.uniform(0.05, 1.0, (rows, 3)) * kt.ceilings(3)
    u = rng.uniform(-0.95, 1.0, rows)
    theta = np.where(u < 0, u * d.min(axis=1), 3 * u)
    return d, theta


def _prefixes(vocabulary, k):
    """Every token sequence of at most k + 1 tokens: it reaches every history of a k-chain."""
    return [seq for n in range(k + 2) for seq in itertools.product(vocabulary, repeat=n)]


@pytest.mark.parametrize("k", [1, 2])
def test_strength_automaton_is_the_definition_and_sums_to_one_after_every_history(k):
    corpus = corpus_from_items(STRENGTH_ITEMS, "characters")
    d, theta = _random_strengths(k)
    trie = HistoryTrie.build(count_ngrams(corpus.encoded, k))
    automaton = KneserNeyAutomaton(trie, d, theta)
    ref = StrengthRef(bf.runs_of(STRENGTH_ITEMS, "characters"), k, d, theta)
    vocabulary = list(automaton.vocabulary)
    assert ref.outcomes == [*vocabulary, bf.END]
    assert {ref.row(h) % 3 for level in ref.counts for h in level} == {0, 1, 2}  # every bucket in use
    for prefix in _prefixes(vocabulary, k):
        state = automaton.start()[0][0]
        for token in prefix:
            state = automaton.next_state(np.array([state]), np.array([vocabulary.index(token)]))[0]
        got = automaton.dense(np.array([state]), np.arange(automaton.n_outcomes))[0]
        want = ref.dist(bf.context_of(prefix, k))
        np.testing.assert_allclose(got, [want.get(w, 0.0) for w in ref.outcomes], rtol=1e-12, atol=1e-15)
    table = automaton.dense(np.arange(automaton.n_states), np.arange(automaton.n_outcomes))
    assert (table[:, :-1] > 0).all()
    np.testing.assert_allclose(table.sum(axis=1), 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_strength_objective_is_the_direct_held_out_nll_and_its_gradient_is_exact(k):
    items = STRENGTH_ITEMS
    val = [i for i in range(len(items)) if i % 4 == 1]
    fit = [i for i in range(len(items)) if i % 4 != 1]
    encoded = corpus_from_items(items, "characters").encoded
    trie = HistoryTrie.build(count_ngrams(kt.subset(encoded, np.array(fit)), k))
    held = count_ngrams(kt.subset(encoded, np.array(val)), k)
    rows = 2 * (k + 1) * kt.N_BUCKETS
    objective = kt.HeldOutObjective(trie, held, 3, None, rows, strengths=True)
    ref_runs = bf.runs_of([items[i] for i in fit], "characters")
    for seed in (0, 1):
        d, theta = _random_strengths(k, seed)
        params = np.hstack([d, theta[:, None]])
        ref = StrengthRef(ref_runs, k, d, theta)
        direct = -sum(bf.log_prob(ref, list(items[i])) for i in val)
        value, grad, _ = objective.value_and_gradient(params)
        assert value == pytest.approx(direct, rel=1e-12) and objective.value(params) == pytest.approx(direct, rel=1e-12)
        np.testing.assert_allclose(grad, _numeric_gradient(objective.value, params), rtol=1e-5, atol=1e-6)
        assert np.abs(grad[:, 3]).max() > 1e-3  # theta matters


def test_sparse_gauss_newton_matrix_is_the_dense_one():
    corpus = load_bundled("pokemon")
    k = 3
    rows = 2 * (k + 1) * kt.N_BUCKETS
    enc = corpus.encoded
    fit, val = split_items(len(enc.offsets) - 1)
    trie = HistoryTrie.build(count_ngrams(kt.subset(enc, fit), k))
    objective = kt.HeldOutObjective(trie, count_ngrams(kt.subset(enc, val), k), 3, None, rows, strengths=True)
    d, theta = _random_strengths(k)
    _, _, (score, row) = objective.value_and_gradient(np.hstack([d, theta[:, None]]))
    width = score.shape[2]
    dense = np.zeros((len(score), rows * width))  # event e's derivative by (row, column)
    for j in range(k + 1):
        for c in range(width):
            np.add.at(dense, (np.arange(len(score)), row[:, j] * width + c), score[:, j, c])
    want = dense.T @ (dense * objective.weights[:, None])
    np.testing.assert_allclose(kt.gauss_newton(score, row, objective.weights, rows), want, rtol=1e-10, atol=1e-8)


def test_cross_validated_strengths_beat_the_closed_form_on_their_folds():
    encoded = load_bundled("ikea").encoded
    captured = {}
    original = kt.minimise

    def spy(objective, start):
        captured["result"] = original(objective, start)
        captured["objective"], captured["start"] = objective, start
        return captured["result"]

    kt.minimise = spy
    try:
        d, theta = kt.tuned_parameters(encoded, 3)
    finally:
        kt.minimise = original
    objective, (best, first, last) = captured["objective"], captured["result"]
    assert isinstance(objective, kt.SummedObjective) and len(objective.objectives) == kt.N_FOLDS
    assert first == objective.value(captured["start"]) and last == objective.value(best) < first
    assert d.shape == (2 * 4 * kt.N_BUCKETS, 3) and theta.shape == (len(d),)
    np.testing.assert_array_equal(kt.check_strengths(theta, kt.check_discounts(d, 3)), theta)
    assert (theta != 0).any()
    # folds partition the items: each item is held out exactly once
    held = sum(o.n_tokens for o in objective.objectives)
    assert held == pytest.approx(float(np.diff(encoded.offsets).sum() + len(encoded.offsets) - 1))


def test_tuned_strength_model_keeps_the_exact_backoff_engine_and_completes_as_brute_force():
    from test_exact_completion import assert_exact

    from tnaas.inference.backoff import backoff_structure
    from tnaas.inference.backoff_lengths import BackoffAllPaths
    from tnaas.inference.exact_paths import make_all_paths

    items, kind = bf.CORPORA["chars3"]
    items = items * 4  # 32 items: enough for 5 folds
    k = 2
    model = MarkovModel(k, smoothing="kneser-ney", discounts="tuned").fit(corpus_from_items(items, kind))
    assert model.kn_strengths_ is not None and (model.kn_strengths_ != 0).any()
    np.testing.assert_array_equal(model.automaton_.strengths, model.kn_strengths_)
    assert backoff_structure(model.automaton_) is not None
    assert isinstance(make_all_paths(model.automaton_, 6), BackoffAllPaths)
    ref = StrengthRef(bf.runs_of(items, kind), k, model.kn_discounts_, model.kn_strengths_)
    candidates = [seq for n in range(1, 5) for seq in itertools.product(ref.vocabulary, repeat=n)]
    got = model.log_prob_many([bf.join(seq, kind) for seq in candidates])
    np.testing.assert_allclose(got, [bf.log_prob(ref, seq) for seq in candidates], rtol=0, atol=1e-9)
    for pattern in ("a**", "*b*", "***", "c*a"):
        length = len(bf.parse_pattern_ref(pattern, kind))
        completion = model.complete(pattern, top=6)
        assert completion.method == "exact" and completion.truncated_mass == 0
        assert_exact(completion, bf.enumerate_items(ref, length, length), pattern, kind, model.vocabulary_, 6)


def test_closed_form_automaton_has_no_strengths_attribute():
    # its saved snapshot (every automaton attribute) must stay what it was before strengths
    automaton = MarkovModel(3, smoothing="kneser-ney").fit(load_bundled("pokemon")).automaton_
    assert not hasattr(automaton, "strengths")
    with_zero = KneserNeyAutomaton(automaton.trie, automaton.discounts, np.zeros(len(automaton.discounts)))
    table = automaton.dense(np.arange(automaton.n_states), np.arange(automaton.n_outcomes))
    np.testing.assert_allclose(with_zero.dense(np.arange(automaton.n_states), np.arange(automaton.n_outcomes)), table)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.full(4, -0.6), "above minus"),  # below -min D (D = 0.5)
        (np.full(4, np.inf), "above minus"),
        (np.full(4, 101.0), "at most 100"),
        (np.zeros(3), "4 numbers"),
        (["x"] * 4, "must be numbers"),
    ],
)
def test_bad_strengths_are_one_tnaas_error(bad, match):
    trie = HistoryTrie.build(count_ngrams(load_bundled("pokemon").encoded, 3))
    with pytest.raises(TnaasError, match=match) as info:
        KneserNeyAutomaton(trie, np.full((4, 3), 0.5), bad)
    assert "\n" not in str(info.value)
    with pytest.raises(TnaasError, match="need their discounts"):
        KneserNeyAutomaton(trie, None, np.zeros(4))
