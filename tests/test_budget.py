"""Memory is a budget: fits estimated from their counts before allocating, caches bounded in bytes."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tnaas.data.corpus import corpus_from_items
from tnaas.errors import TooCostly
from tnaas.models.markov import MarkovModel
from tnaas.models.markov.budget import check_fit_budget, history_bound
from tnaas.models.markov.ngram import count_ngrams
from tnaas.service.cache import ModelCache, approx_bytes

items = st.lists(st.text(alphabet="abcde", min_size=1, max_size=8), min_size=5, max_size=30)


@settings(max_examples=60, deadline=None)
@given(items, st.integers(1, 6), st.sampled_from(["characters", "words"]))
def test_the_history_bound_is_never_below_the_real_trie(texts, k, kind):
    if kind == "words":
        texts = [" ".join(t) for t in texts]
    corpus = corpus_from_items(texts, kind)
    model = MarkovModel(k).fit(corpus)
    assert history_bound(count_ngrams(corpus.encoded, k)) >= model.trie_.n_nodes


def many_words(n_items: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}" for i in range(20_000)])
    return [" ".join(rng.choice(words, 8)) for _ in range(n_items)]


def test_a_fit_over_the_budget_is_refused_quickly_naming_what_to_change(monkeypatch):
    monkeypatch.setenv("TNAAS_FIT_BUDGET_MB", "20")
    corpus = corpus_from_items(many_words(60_000), "words")
    started = time.perf_counter()
    with pytest.raises(TooCostly, match=r"over the 20 MB budget.*lower state size, no smoothing or a smaller file"):
        MarkovModel(3, "kneser-ney").fit(corpus)
    assert time.perf_counter() - started < 10
    with pytest.raises(TooCostly, match="lower state size or a smaller file"):
        MarkovModel(3).fit(corpus)
    MarkovModel(1).fit(corpus)  # a lower state size fits


def test_the_estimate_covers_what_the_model_holds():
    corpus = corpus_from_items(many_words(20_000), "words")
    for smoothing in ("none", "kneser-ney"):
        model = MarkovModel(3, smoothing).fit(corpus)
        model.sample(5, random_state=0)
        assert check_fit_budget(model.counts_, smoothing) >= approx_bytes(model.trie_)


def test_the_model_cache_is_bounded_in_bytes_and_evicts_uploads_first():
    cache = ModelCache(max_entries=10, max_bytes=3_000_000)
    blob = lambda: {"array": np.zeros(100_000)}  # noqa: E731 - 800 kB each
    cache.put(("bundled", 1), blob())
    cache.put(("upload", 1), blob(), upload=True)
    cache.put(("bundled", 2), blob())
    cache.put(("bundled", 3), blob())  # 3.2 MB: one must go, and it is the upload
    assert ("upload", 1) not in cache and len(cache) == 3 and cache.nbytes <= 3_000_000
    cache.put(("bundled", 4), blob())  # then the least recently used
    assert ("bundled", 1) not in cache and ("bundled", 4) in cache


def test_one_fit_per_key_even_when_requests_race():
    import threading

    cache, calls = ModelCache(), []

    def fit():
        calls.append(1)
        time.sleep(0.2)
        return {"model": 1}

    threads = [threading.Thread(target=cache.get_or_fit, args=(("k",), fit)) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    model, fit_ms = cache.get_or_fit(("k",), fit)
    assert model == {"model": 1} and fit_ms is None
