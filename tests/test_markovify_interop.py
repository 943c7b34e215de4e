"""markovify's JSON files load as our models, and ours load in markovify, with nothing lost."""

from __future__ import annotations

import math

import markovify
import numpy as np
import pytest

from tnaas.data.corpus import corpus_from_items, load_bundled
from tnaas.data.tokens import tokenize
from tnaas.errors import TnaasError
from tnaas.models.markov import MarkovModel

BEGIN, END = markovify.chain.BEGIN, markovify.chain.END

TEXT = (
    "The cat sat on the mat. The dog sat on the log. A cat ran after the dog. "
    "The dog ran after a cat. A bird sat on the dog. The cat sat on the bird."
)


def runs(corpus) -> list[list[str]]:
    return [list(tokenize(item, corpus.token_kind)) for item in corpus.items]


def model_dict(text: str) -> dict:
    """markovify's model dict from JSON (row order is not part of a model)."""
    return markovify.Chain.from_json(text).model


def assert_same_model(loaded: MarkovModel, direct: MarkovModel, items) -> None:
    """Same vocabulary and counts, same scores, same samples for the same seed."""
    assert loaded.vocabulary_ == direct.vocabulary_
    assert loaded.token_kind_ == direct.token_kind_
    assert loaded.state_size == direct.state_size
    assert model_dict(loaded.to_markovify_json()) == model_dict(direct.to_markovify_json())
    np.testing.assert_array_equal(loaded.log_prob_many(items), direct.log_prob_many(items))
    assert loaded.sample(50, random_state=8) == direct.sample(50, random_state=8)
    assert loaded.next_token_distribution("") == direct.next_token_distribution("")


@pytest.mark.parametrize(("name", "k"), [("pokemon", 1), ("pokemon", 3), ("rhcp", 2), ("ikea", 4)])
def test_chain_json_loads_plain_and_compiled(name, k):
    corpus = load_bundled(name)
    chain = markovify.Chain(runs(corpus), k)
    direct = MarkovModel(state_size=k).fit(corpus)
    probes = list(corpus.items[:100]) + direct.sample(100, random_state=1) + ["", "Zzzz zz"]
    for text in (chain.to_json(), chain.compile().to_json()):
        loaded = MarkovModel.from_markovify_json(text, token_kind=corpus.token_kind)
        assert_same_model(loaded, direct, probes)


def test_token_kind_is_inferred_from_the_tokens():
    chars = markovify.Chain(runs(load_bundled("pokemon")), 2).to_json()
    words = markovify.Chain(runs(load_bundled("rhcp")), 1).to_json()
    assert MarkovModel.from_markovify_json(chars).token_kind_ == "characters"
    assert MarkovModel.from_markovify_json(words).token_kind_ == "words"


@pytest.mark.parametrize("k", (1, 2))
def test_text_json_loads_as_a_word_model(k):
    text = markovify.Text(TEXT, state_size=k)
    loaded = MarkovModel.from_markovify_json(text.to_json())
    compiled = MarkovModel.from_markovify_json(text.compile().to_json())
    assert model_dict(compiled.to_markovify_json()) == model_dict(loaded.to_markovify_json()) == text.chain.model
    assert loaded.token_kind_ == "words"
    assert loaded.state_size == k
    sentences = [" ".join(words) for words in text.parsed_sentences]
    direct = MarkovModel(state_size=k).fit(corpus_from_items(sentences, "words"))
    assert_same_model(loaded, direct, sentences + ["The cat sat on the dog.", "cat The"])
    for sentence in sentences:  # the training sentences are possible, scored as markovify would
        state, log_p = (BEGIN,) * k, 0.0
        for word in [*sentence.split(" "), END]:
            follow = text.chain.model[state]
            log_p += math.log(follow[word] / sum(follow.values()))
            state = state[1:] + (word,)
        assert math.isclose(loaded.log_prob(sentence), log_p, rel_tol=0, abs_tol=1e-12)


@pytest.mark.parametrize(("name", "k"), [("pokemon", 3), ("rhcp", 1), ("notes", 2)])
def test_our_json_loads_in_markovify_with_the_identical_model(name, k):
    corpus = load_bundled(name)
    ours = MarkovModel(state_size=k).fit(corpus)
    chain = markovify.Chain.from_json(ours.to_markovify_json())
    assert chain.state_size == k
    assert chain.model == markovify.Chain(runs(corpus), k).model
    assert len(chain.walk()) >= 0  # markovify can sample from it


def test_round_trip_through_json_keeps_the_model(tiny_unicode):
    direct = MarkovModel(state_size=2).fit(tiny_unicode)
    loaded = MarkovModel.from_markovify_json(direct.to_markovify_json(), token_kind="characters")
    assert_same_model(loaded, direct, list(tiny_unicode.items) + ["Mr. Jr.", "Nido"])


def test_smoothing_can_be_chosen_on_load(tiny_words):
    text = MarkovModel(state_size=1).fit(tiny_words).to_markovify_json()
    plain = MarkovModel.from_markovify_json(text)
    smoothed = MarkovModel.from_markovify_json(text, smoothing="kneser-ney")
    unseen = "cat the"  # every token known, the transitions never seen
    assert plain.log_prob(unseen) == -math.inf
    assert np.isfinite(smoothed.log_prob(unseen))


def test_a_loaded_model_has_no_training_items():
    loaded = MarkovModel.from_markovify_json(markovify.Chain([list("abc"), list("abd")], 1).to_json())
    assert loaded.training_items_ == frozenset()
    with pytest.raises(TnaasError, match="corpus"):
        loaded.sample(3, random_state=0, length="corpus")


@pytest.mark.parametrize(
    "text",
    [
        "not json at all",
        "",
        "42",
        "null",
        "[]",
        "{}",
        '{"chain": "garbage"}',
        '[["a", "b"]]',
        '[[["___BEGIN__"], {"a": 0}]]',
        '[[["___BEGIN__"], {"a": -2}]]',
        '[[["___BEGIN__"], {"a": "x"}]]',
        '[[["___BEGIN__", "___BEGIN__"], {"a": 1}], [["a"], {"___END__": 1}]]',
        '[[["___BEGIN__"], {"a": 1}]]',  # "a" leads to a state the chain never defines
    ],
)
def test_garbage_json_is_refused(text):
    with pytest.raises(TnaasError):
        MarkovModel.from_markovify_json(text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[[[], {"a": 1}]]', "state size 0"),
        ('[[["a", "b", "c", "d", "e", "f", "g"], {"a": 1}]]', "state size 7"),
        ('[[["a"], {"b": 1}], [["b"], {"___END__": 1}]]', "no BEGIN state"),
        ('[[["___BEGIN__"], {"a": 1}], [["a"], {"a": 1}]]', "never reach END"),
        ('[[["___BEGIN__"], {"a": 1, "b": 1}], [["a"], {"___END__": 1}], [["b"], {"b": 1}]]', "never reach END"),
        ('[[["___BEGIN__"], {"a": 1.5}], [["a"], {"___END__": 1}]]', "whole numbers"),
        ('[[["___BEGIN__"], {"a": true}], [["a"], {"___END__": 1}]]', "whole numbers"),
    ],
    ids=["state size 0", "state size 7", "no begin", "never ends", "one branch never ends", "fraction", "boolean"],
)
def test_unusable_chains_are_refused_with_the_reason(text, fragment):
    """Chains markovify itself would load but that cannot be sampled or scored sensibly."""
    with pytest.raises(TnaasError, match=fragment):
        MarkovModel.from_markovify_json(text)


def test_a_chain_with_a_loop_that_can_end_is_accepted():
    model = MarkovModel.from_markovify_json('[[["___BEGIN__"], {"a": 1}], [["a"], {"a": 3, "___END__": 1}]]')
    assert model.log_prob("aaa") == pytest.approx(math.log(1 * 0.75**2 * 0.25), abs=1e-12)
    assert set("".join(model.sample(20, random_state=0))) == {"a"}
