"""markovify's JSON files load as our models, and ours load in markovify, with nothing lost."""

from __future__ import annotations

import json
import math

import markovify
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

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


# ------------------------------------------------------- validation of the whole file
GOOD_TAIL = '[["a"], {"___END__": 1}]'  # completes a one-token chain BEGIN -> a -> END


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested"),
        ('{"chain": "' + "[" * 50_000 + "]" * 50_000 + '"}', "nested"),
        ('{"' + "[" * 50_000 + "]" * 50_000 + '": {"a": 1}}', "nested"),
        ('[[[null], {"a": 1}], ' + GOOD_TAIL + "]", "non-empty strings"),
        ('[[[["___BEGIN__"]], {"a": 1}], ' + GOOD_TAIL + "]", "non-empty strings"),
        ('[[[3], {"a": 1}], ' + GOOD_TAIL + "]", "non-empty strings"),
        ('[[[""], {"a": 1}], ' + GOOD_TAIL + "]", "non-empty strings"),
        ('[[["___BEGIN__"], [[null], [1]]], ' + GOOD_TAIL + "]", "non-empty strings"),
        ('[[["___BEGIN__"], [[["a"]], [1]]], ' + GOOD_TAIL + "]", "non-empty strings"),
        ('[[["___BEGIN__"], [[7], [1]]], ' + GOOD_TAIL + "]", "non-empty strings"),
        ('[[["___BEGIN__"], {"a": 123456789012345678901234567890}], ' + GOOD_TAIL + "]", r"up to 1e\+15"),
        ('[[["___BEGIN__"], {"a": 1e300}], ' + GOOD_TAIL + "]", "whole numbers up to"),
        ('[[["___BEGIN__"], {"a": NaN}], ' + GOOD_TAIL + "]", "whole numbers"),
        ('[[["___BEGIN__"], {"a": Infinity}], ' + GOOD_TAIL + "]", "whole numbers"),
        ('[[["___BEGIN__"], {"a": 1, "___BEGIN__": 1}], ' + GOOD_TAIL + "]", "as a next token"),
        ('[[["___BEGIN__"], [["a", "___BEGIN__"], [1, 2]]], ' + GOOD_TAIL + "]", "as a next token"),
        ('[[["___BEGIN__"], [["a", "b"], [3, 2]]], ' + GOOD_TAIL + ', [["b"], {"___END__": 1}]]', "must increase"),
        ('[[["___BEGIN__"], [["a", "b"], [3, 3]]], ' + GOOD_TAIL + ', [["b"], {"___END__": 1}]]', "must increase"),
        ('[[["___BEGIN__"], [["a"], [3, 1]]], ' + GOOD_TAIL + "]", "cumulative counts"),
        ('[[["___BEGIN__"], [["a", "a"], [1, 2]]], ' + GOOD_TAIL + "]", "appears twice"),
        ('[[["___BEGIN__"], {"a": 1}], ' + GOOD_TAIL + ", " + GOOD_TAIL + "]", "appears twice"),
        ('[[["___BEGIN__"], {}], ' + GOOD_TAIL + "]", "no next token"),
        ('[[["a", "___BEGIN__"], {"a": 1}], [["___BEGIN__", "___BEGIN__"], {"a": 1}]]', "pad a state on the left"),
        ('[[["___BEGIN__", "___END__"], {"a": 1}]]', "inside the state"),
        ('[[["___BEGIN__"], {"a": 1}], [["a"], {"___END__": 1}], [["a", "b"], {"a": 1}]]', "different sizes"),
        ('[[["___BEGIN__"], {"a b": 1}], [["a b"], {"___END__": 1}]]', "whitespace"),
        ('[[["___BEGIN__"], "abc"], ' + GOOD_TAIL + "]", "next-token counts"),
        ('[["___BEGIN__"], ' + GOOD_TAIL + "]", "pair"),
        ('{"chain": {"chain": []}}', "Text inside a Text"),
        ("[1, 2]", "pair"),
        ('[[["___BEGIN__"], {"\\ud800": 1}], [["\\ud800"], {"___END__": 1}]]', "lone surrogate"),
        ('"just a string"', "pairs"),
    ],
)
def test_every_part_of_the_file_is_validated(text, fragment):
    """Each problem is one TnaasError that names it (the old importer raised RecursionError,
    TypeError or OverflowError here, or accepted the file and failed later)."""
    with pytest.raises(TnaasError, match=fragment):
        MarkovModel.from_markovify_json(text)


def test_a_multi_character_token_is_refused_in_a_character_model():
    text = '[[["___BEGIN__"], {"ab": 1, "c": 2}], [["ab"], {"___END__": 1}], [["c"], {"___END__": 1}]]'
    with pytest.raises(TnaasError, match="not one character"):
        MarkovModel.from_markovify_json(text, token_kind="characters")
    words = MarkovModel.from_markovify_json(text)  # inferred: a word model, which can hold it
    assert words.token_kind_ == "words"
    assert words.log_prob("ab") == pytest.approx(math.log(1 / 3))
    assert set(words.sample(30, random_state=0)) == {"ab", "c"}


def test_a_note_model_needs_notes():
    text = '[[["___BEGIN__"], {"C4": 1, "H9": 1}], [["C4"], {"___END__": 1}], [["H9"], {"___END__": 1}]]'
    with pytest.raises(TnaasError, match="not a note"):
        MarkovModel.from_markovify_json(text, token_kind="notes")


def test_size_is_capped(monkeypatch):
    import tnaas.models.markov.markovify_json as markovify_json

    text = markovify.Chain([list("abc"), list("abd")], 1).to_json()
    monkeypatch.setattr(markovify_json, "MAX_JSON_CHARS", len(text) - 1)
    with pytest.raises(TnaasError, match="the limit is"):
        MarkovModel.from_markovify_json(text)


def test_bytes_and_other_types():
    text = markovify.Chain([list("abc"), list("abd")], 1).to_json()
    assert MarkovModel.from_markovify_json(text.encode()).vocabulary_ == tuple("abcd")
    for bad in (None, 42, ["a"], b"\xff\xfe"):
        with pytest.raises(TnaasError):
            MarkovModel.from_markovify_json(bad)


def test_a_big_count_is_kept_exactly():
    text = '[[["___BEGIN__"], {"a": 1000000000000000, "b": 1}], ' + GOOD_TAIL + ', [["b"], {"___END__": 1}]]'
    model = MarkovModel.from_markovify_json(text)
    assert model.counts_.counts.tolist() == [10**15, 1, 1, 1]
    assert model.log_prob("b") == pytest.approx(math.log(1 / (10**15 + 1)), rel=1e-12)


# ------------------------------------------------------- markovify's markers as tokens
@pytest.mark.parametrize("marker", [END, BEGIN])
def test_a_corpus_with_markovify_markers_is_refused_on_export(marker):
    """markovify would read the token as the end (or start) of an item, so the file would
    load as another model: export refuses, saying why. Fitting and scoring still work."""
    corpus = corpus_from_items([f"the {marker} cat", "a cat sat", "the dog", "a dog", "the cat"], "words")
    model = MarkovModel(state_size=1).fit(corpus)
    assert np.isfinite(model.log_prob(f"the {marker} cat"))
    with pytest.raises(TnaasError, match=marker):
        model.to_markovify_json()


def test_a_corpus_without_markers_still_exports():
    corpus = corpus_from_items(["the END cat", "___ENDS__ here", "BEGIN now", "the cat", "now here"], "words")
    model = MarkovModel(state_size=1).fit(corpus)
    assert model_dict(model.to_markovify_json()) == markovify.Chain(runs(corpus), 1).model


# ----------------------------------------------------------- garbage from hypothesis
TOKENS = st.sampled_from(["a", "b", "ab", "C4", "x y", "", BEGIN, END]) | st.none() | st.integers(-2, 2)
COUNTS = (
    st.integers(-3, 5)
    | st.integers(10**14, 10**31)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
    | st.none()
    | st.text(max_size=2)
)
STATES = st.lists(TOKENS, min_size=0, max_size=3) | TOKENS
FOLLOWS = (
    st.dictionaries(st.sampled_from(["a", "b", "ab", "", BEGIN, END, "C4"]), COUNTS, max_size=4)
    | st.tuples(st.lists(TOKENS, max_size=3), st.lists(COUNTS, max_size=3)).map(list)
    | TOKENS
)
CHAINS = st.lists(st.tuples(STATES, FOLLOWS).map(list), max_size=6)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)


GARBAGE = st.sampled_from([None, 0, -1, 1.5, True, "", "ab", "x y", BEGIN, END, 10**30, [], {}, ["a"]])


@st.composite
def near_valid_chains(draw):
    """A real markovify chain (plain or compiled) with at most one part spoilt."""
    runs = draw(st.lists(st.lists(st.sampled_from("abc"), min_size=1, max_size=4), min_size=1, max_size=5))
    chain = markovify.Chain(runs, draw(st.integers(1, 3)))
    if draw(st.booleans()):
        chain = chain.compile()
    rows = json.loads(chain.to_json())
    row = rows[draw(st.integers(0, len(rows) - 1))]
    state, follow = row
    where = draw(st.sampled_from(["none", "state", "key", "count", "drop", "duplicate", "extra"]))
    bad = draw(GARBAGE)
    if where == "state":
        state[draw(st.integers(0, len(state) - 1))] = bad
    elif where in ("key", "count", "extra"):
        if isinstance(follow, dict):
            key = draw(st.sampled_from(sorted(follow)))
            if where == "count":
                follow[key] = bad
            else:
                follow[bad if isinstance(bad, str) else str(bad)] = follow.pop(key) if where == "key" else 1
        else:
            i = draw(st.integers(0, len(follow[0]) - 1))
            follow[0 if where == "key" else 1][i] = bad
            if where == "extra":
                follow[0].append(bad)
    elif where == "drop" and len(rows) > 1:
        rows.remove(row)
    elif where == "duplicate":
        rows.append(row)
    return rows


def _texts():
    structured = CHAINS | near_valid_chains()
    structured = structured | st.fixed_dictionaries({"chain": structured.map(json.dumps) | structured})
    as_json = (structured | JSON_VALUES).map(json.dumps)
    mangled = st.tuples(as_json, st.integers(0, 200), st.text(max_size=3)).map(lambda t: t[0][: t[1]] + t[2])
    deep = st.integers(1, 5000).map(lambda n: "[" * n + "]" * n)
    return as_json | mangled | deep | st.text(max_size=30)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(text='[[["___BEGIN__"], {"___END__": 1}], [["a"], {"___END__": 1}]]', kind=None, smoothing="none")
@given(
    text=_texts(),
    kind=st.sampled_from([None, "characters", "words", "notes"]),
    smoothing=st.sampled_from(["none", "kneser-ney"]),
)
def test_garbage_json_only_ever_raises_tnaas_error(text, kind, smoothing):
    """Whatever the text, import either raises TnaasError or gives a model that samples,
    scores and exports without error."""
    try:
        model = MarkovModel.from_markovify_json(text, token_kind=kind, smoothing=smoothing)
    except TnaasError:
        return
    try:
        samples = model.sample(3, random_state=0, length="1-4")
    except TnaasError as error:
        # e.g. BEGIN -> END only (a key renamed to END): the chain makes only the empty item,
        # so no length 1-4 exists and saying so is the right answer
        assert "never produces items of length" in str(error)
    else:
        assert len(samples) == 3
    scores = model.log_prob_many(["a", "ab", "C4 C4", ""])
    assert scores.shape == (4,) and not np.isnan(scores).any()
    model.next_token_distribution("")
    again = MarkovModel.from_markovify_json(model.to_markovify_json(), token_kind=kind, smoothing=smoothing)
    assert model_dict(again.to_markovify_json()) == model_dict(model.to_markovify_json())
