"""Generation: n distinct items, new ones unless asked otherwise, reproducible, in the asked lengths."""

from __future__ import annotations

import pytest

from tnaas.data.corpus import corpus_from_items, load_bundled
from tnaas.data.tokens import tokenize
from tnaas.errors import NotEnoughNovelItems, TnaasError
from tnaas.models.markov import MarkovModel
from tnaas.tasks.generate import generate


@pytest.fixture(scope="module")
def pokemon_model():
    return MarkovModel(state_size=3).fit(load_bundled("pokemon"))


@pytest.fixture(scope="module")
def rhcp_model():
    return MarkovModel(state_size=1).fit(load_bundled("rhcp"))


def test_returns_n_distinct_new_items(pokemon_model):
    items = generate(pokemon_model, 40, random_state=0)
    assert len(items) == 40
    assert len(set(items)) == 40
    assert not set(items) & set(load_bundled("pokemon").items), "none is in the corpus"
    assert all(item and item == item.strip() for item in items)


def test_every_generated_item_is_possible_under_the_model(rhcp_model):
    items = generate(rhcp_model, 20, random_state=1)
    assert all(rhcp_model.log_prob(item) > float("-inf") for item in items)


def test_include_existing_allows_corpus_items():
    """At state size 4 the chain almost only replays song titles: with them allowed it
    finds plenty, without them it cannot."""
    corpus = load_bundled("rhcp")
    model = MarkovModel(state_size=4).fit(corpus)
    items = generate(model, 30, random_state=0, include_existing=True)
    assert len(items) == len(set(items)) == 30
    assert set(items) & set(corpus.items)
    with pytest.raises(NotEnoughNovelItems):
        generate(model, 30, random_state=0)


def test_not_enough_novel_items_carries_the_partial_result():
    corpus = load_bundled("rhcp")
    model = MarkovModel(state_size=2).fit(corpus)
    with pytest.raises(NotEnoughNovelItems) as caught:
        generate(model, 200, random_state=0)
    error = caught.value
    assert isinstance(error, TnaasError)
    assert len(error.items) < 200
    assert len(set(error.items)) == len(error.items)
    assert not set(error.items) & set(corpus.items)
    message = str(error)
    assert f"found only {len(error.items)} of 200 new items" in message
    assert "include" in message.lower() or "allow existing" in message


def test_a_corpus_that_can_only_repeat_itself_yields_nothing_new():
    corpus = corpus_from_items(["abc", "abc", "bcd", "bcd", "cde"], "characters")
    model = MarkovModel(state_size=3).fit(corpus)  # a chain that replays its three items
    with pytest.raises(NotEnoughNovelItems) as caught:
        generate(model, 1, random_state=0)
    assert caught.value.items == []
    assert sorted(generate(model, 3, random_state=0, include_existing=True)) == ["abc", "bcd", "cde"]
    with pytest.raises(NotEnoughNovelItems, match="distinct items") as caught:
        generate(model, 4, random_state=0, include_existing=True)
    assert sorted(caught.value.items) == ["abc", "bcd", "cde"]


def test_same_seed_same_items_different_seed_different_items(pokemon_model):
    first = generate(pokemon_model, 15, random_state=123)
    assert generate(pokemon_model, 15, random_state=123) == first
    assert generate(pokemon_model, 15, random_state=124) != first


def test_temperature_is_passed_through(pokemon_model):
    cold = generate(pokemon_model, 15, random_state=5, temperature=0.3)
    assert cold != generate(pokemon_model, 15, random_state=5)
    with pytest.raises(TnaasError, match="temperature"):
        generate(pokemon_model, 5, random_state=5, temperature=0)


@pytest.mark.parametrize(("spec", "low", "high"), [("4-6", 4, 6), ("5", 5, 5), ("9-9", 9, 9)])
def test_lengths_are_in_the_asked_range(pokemon_model, spec, low, high):
    items = generate(pokemon_model, 30, random_state=2, length=spec)
    assert len(items) == 30
    assert all(low <= len(tokenize(item, "characters")) <= high for item in items)


def test_corpus_length_distribution_gives_corpus_lengths(rhcp_model):
    corpus = load_bundled("rhcp")
    seen = {len(tokenize(item, "words")) for item in corpus.items}
    items = generate(rhcp_model, 25, random_state=4, length="corpus")
    assert {len(tokenize(item, "words")) for item in items} <= seen


def test_word_lengths_count_words(rhcp_model):
    items = generate(rhcp_model, 10, random_state=3, length="3")
    assert all(len(item.split(" ")) == 3 for item in items)


@pytest.mark.parametrize("n", [-1, 2.5, True, "4"])
def test_invalid_counts_are_refused(pokemon_model, n):
    with pytest.raises(TnaasError, match="n must be"):
        generate(pokemon_model, n, random_state=0)


def test_zero_items_is_an_empty_list(pokemon_model):
    assert generate(pokemon_model, 0, random_state=0) == []


def test_invalid_length_spec_is_refused(pokemon_model):
    with pytest.raises(TnaasError, match="length"):
        generate(pokemon_model, 3, random_state=0, length="long")
    with pytest.raises(TnaasError, match="length"):
        generate(pokemon_model, 3, random_state=0, length="6-4")
