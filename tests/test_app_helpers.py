"""The app's plain helpers (no streamlit, no script run): shortlist, examples, display,
exports, lengths, cache keys, tables, the Compare menu, the quiz score and chart specs."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

from tnaas.app import display, examples, length_choice, lineup, tables, vega
from tnaas.app.scoreboard import Scoreboard
from tnaas.app.selection import Selection
from tnaas.app.shortlist import update_shortlist
from tnaas.data.corpus import corpus_from_items, load_bundled
from tnaas.errors import TnaasError
from tnaas.models import MODELS, ModelSpec, make_model
from tnaas.service import LengthChoice, ModelRequest
from tnaas.tasks.compare import ComparisonRow, default_lineup, parse_model_choice


def editor(rows: dict[str, bool]) -> pd.DataFrame:
    return pd.DataFrame({"keep": list(rows.values()), "item": list(rows)})


def test_ticks_add_to_the_shortlist_in_table_order_and_unticks_remove():
    assert update_shortlist([], editor({"b": True, "a": True, "c": False})) == ["b", "a"]
    assert update_shortlist(["x", "a"], editor({"a": False, "d": True})) == ["x", "d"]
    assert update_shortlist(["x"], editor({"x": True})) == ["x"]  # no duplicates


def test_item_samples_are_seeded_distinct_and_in_corpus_order():
    corpus = load_bundled("pokemon")
    sample = examples.sample_items(corpus, 8, seed=3)
    assert sample == examples.sample_items(corpus, 8, seed=3) != examples.sample_items(corpus, 8, seed=4)
    positions = [corpus.items.index(item) for item in sample]
    assert positions == sorted(positions) and len(set(sample)) == 8
    assert len(examples.sample_items(corpus_from_items(list("abcde"), "characters"), 8)) == 5


def test_corpus_statistics():
    corpus = corpus_from_items(["ab", "abc", "ab", "d e", "xyz"], "characters")
    assert display.corpus_stats(corpus) == {
        "items": "5",
        "distinct items": "4",
        "tokens": "13",
        "distinct tokens": "9",  # a b c d e x y z and the space
        "mean length": "2.6",
        "longest": "3",
    }


def test_exports_round_trip():
    frame = pd.DataFrame({"item": ["a,b", "ü"], "log_prob": [-1.5, -2.0]})
    assert pd.read_csv(io.BytesIO(tables.as_csv(frame))).equals(frame)
    assert tables.as_txt(["one", "two words"]).decode("utf-8").splitlines() == ["one", "two words"]
    assert length_choice.item_lengths(["G4 A4", "C5"], "notes") == [2, 1]


def test_length_choices_are_the_services_and_resolve_to_what_models_accept():
    corpus = corpus_from_items(["ab", "abc", "ab", "ba", "abcd"], "characters")
    model = make_model("markov", {"state_size": 1}, corpus=corpus).fit(corpus)
    assert LengthChoice.parse("natural").distribution(model).probs is None  # the model decides
    assert LengthChoice.parse("corpus").distribution(model).probs[2:5].tolist() == pytest.approx([0.6, 0.2, 0.2])
    custom = LengthChoice.range(2, 4, "peaked")
    assert custom.distribution(model).probs[2:5].tolist() == pytest.approx([0.25, 0.5, 0.25])
    assert LengthChoice.parse(str(custom)) == custom and hash(custom) == hash(LengthChoice.parse("2-4:peaked"))
    with pytest.raises(TnaasError):
        LengthChoice.range(5, 2)
    assert not hasattr(length_choice, "resolve_length")  # one length type: the service's


def test_the_target_length_is_the_corpus_histogram_or_the_models_own_estimate():
    corpus = corpus_from_items(["ab", "abc", "ab", "ba", "abcd"], "characters")
    model = make_model("markov", {"state_size": 1}, corpus=corpus).fit(corpus)
    probs, label = length_choice.target_length(LengthChoice("corpus"), model, corpus)
    assert probs[2:5].tolist() == pytest.approx([0.6, 0.2, 0.2]) and label == "corpus (target)"
    probs, label = length_choice.target_length(LengthChoice(), model, corpus, draws=300)
    drawn = model.sample(300, random_state=0)
    assert probs[3] == pytest.approx(sum(len(item) == 3 for item in drawn) / 300)
    assert label == "model's own (estimated from 300 draws)"


def test_the_model_cache_key_is_the_services_corpus_content_model_and_parameters():
    def selection(key, items, **params):
        corpus = corpus_from_items(items, "characters")
        return Selection(key, corpus, ModelRequest.parse("markov", params, corpus))

    a = selection("x", ["ab", "ba", "abc", "cab", "bca"], state_size=1)
    b = selection("y", ["ab", "ba", "abc", "cab", "bca"], state_size=1)
    c = selection("x", ["ab", "ba", "abc", "cab", "bcb"], state_size=1)
    assert a.key == b.key  # same content under another name: one fitted model
    assert a.key != c.key
    assert a.key != selection("x", a.corpus.items, state_size=2).key
    assert a.key == (a.corpus.content_hash, "markov", (("smoothing", "none"), ("state_size", 1)))
    assert a.describe() == "Markov chain (smoothing=none, state_size=1) on custom"
    hmm = Selection("x", a.corpus, ModelRequest.parse("hmm", {"train_seed": 1}, a.corpus))
    assert hmm.key != Selection("x", a.corpus, ModelRequest.parse("hmm", {"train_seed": 2}, a.corpus)).key


def test_pattern_examples_only_use_tokens_the_corpus_has():
    assert examples.pattern_examples(load_bundled("tech"))[:4] == ["***base", "mo***", "***ly", "*u*a"]
    assert examples.pattern_examples(load_bundled("ikea")) == ["*A*A", "S%"]  # upper-case names
    assert "% love %" not in examples.pattern_examples(load_bundled("ipsum"))  # Latin
    assert examples.pattern_examples(corpus_from_items(["xy", "yx", "xx", "yy", "xyx"], "characters")) == ["***"]


def test_patterns_are_shown_literally_in_markdown_labels():
    assert display.escape_markdown("*u*a") == r"\*u\*a"
    assert display.escape_markdown("mo%") == r"mo\%"
    assert display.escape_markdown(r"\*x_") == r"\\\*x\_"


@pytest.mark.parametrize(
    "p, shown",
    [
        (0.5, "50.0%"),
        (0.99996, "99.996%"),
        (0.00004, "0.004%"),
        (1.0, "100%"),
        (0.0, "0%"),
        (0.1234, "12.3%"),
        (2.6e-10, "< 0.0001%"),
        (1 - 1e-9, "> 99.9999%"),
    ],
)
def test_percentages_never_round_to_certainty(p, shown):
    assert display.percent(p) == shown


def test_nats_show_infinity_and_leave_missing_values_blank():
    assert display.nats(2.34567) == "2.346" and display.nats(12.3, 2) == "12.30"
    assert display.nats(math.inf) == "∞" and display.nats(math.nan) == ""


def rows() -> list[ComparisonRow]:
    nan = math.nan
    return [
        ComparisonRow("markov k=2", math.inf, math.inf, 0.4, 0.9, 0.01, True, 99),
        ComparisonRow("markov k=3 kneser-ney", 2.5, math.exp(2.5), 0.97, 1.0, 0.02, True, 99),
        ComparisonRow("lstm", nan, nan, nan, nan, nan, False, 99, note="the lstm model needs torch"),
    ]


def test_the_comparison_table_writes_infinity_and_the_reason_a_model_is_missing():
    table = tables.comparison_table(rows())
    assert table["model"].tolist() == ["markov k=2", "markov k=3 kneser-ney", "lstm"]
    assert table["nll"].tolist() == ["∞", "2.500", ""]
    assert table["perplexity"].tolist() == ["∞", f"{math.exp(2.5):.2f}", ""]
    assert table["completion"].tolist() == ["exact", "exact", ""]
    assert table["novelty"].iloc[:2].tolist() == pytest.approx([40.0, 97.0])  # percent
    assert table["note"].tolist() == ["", "", "the lstm model needs torch"]
    frame = tables.comparison_frame(rows())  # the CSV keeps the numbers
    assert frame["nll_per_token"].iloc[0] == math.inf and frame["novelty"].iloc[1] == 0.97


def test_the_generation_table_scores_items_and_marks_the_ones_in_the_corpus():
    corpus = corpus_from_items(["ab", "abc", "ba", "bca", "cab"], "characters")
    model = make_model("markov", {"state_size": 1}, corpus=corpus).fit(corpus)
    table = tables.generation_table(model, ("ab", "abab"))
    assert table["status"].tolist() == ["in corpus", "new"]
    assert table["log_prob"].tolist() == pytest.approx(model.log_prob_many(["ab", "abab"]).tolist())
    assert tables.generation_table(model, ()).empty


def test_the_compare_menu_offers_the_default_lineup_and_every_label_parses_back():
    menu = lineup.comparison_menu()
    assert {f"markov k={k}" for k in range(1, 6)} | {f"markov k={k} kneser-ney" for k in range(1, 6)} <= set(menu)
    assert lineup.default_labels(menu) == [choice.label for choice in default_lineup()]
    for label, choice in menu.items():
        assert choice.label == label
        if MODELS[choice.name].available()[0]:
            assert make_model(choice.name, dict(choice.params)) is not None  # the registry accepts every entry
    assert menu["markov k=4 kneser-ney"] == parse_model_choice("markov:state_size=4,smoothing=kneser-ney")
    assert lineup.slow_warnings([menu["markov k=2"]]) == []
    assert any("LSTM" in w for w in lineup.slow_warnings([menu["lstm"], menu["markov k=2"]]))


def test_a_model_the_grid_does_not_name_is_offered_with_its_defaults(monkeypatch):
    fake = ModelSpec("fake", "Fake", "", "tnaas.models.markov", "MarkovModel", requires=("no_such_module_xyz",))
    monkeypatch.setitem(MODELS, "fake", fake)
    assert lineup.comparison_menu()["fake"] == parse_model_choice("fake")


def test_the_quiz_score_counts_each_question_once():
    score = Scoreboard()
    score = score.answer("pokemon", truth="pokemon", model_guess="tech")
    assert (score.answered, score.right, score.model_right, score.guess) == (1, 1, 0, "pokemon")
    assert score.answer("tech", truth="pokemon", model_guess="tech") == score  # a double click
    score = score.next_question()
    assert (score.seed, score.guess) == (1, None)
    score = score.answer("tech", truth="pokemon", model_guess="pokemon")
    assert (score.answered, score.right, score.model_right) == (2, 1, 1)


def test_chart_data_travel_inline_in_a_layer_as_plain_values():
    marks = [{"mark": {"type": "bar"}, "encoding": {}}, {"mark": {"type": "line"}, "encoding": {}}]
    spec = vega.chart([{"x": np.int64(1), "y": np.float64(3.0)}, {"x": 2, "y": 4.0}], marks, "t", 300)
    assert "data" not in spec and "datasets" not in spec  # Streamlit would turn those into Arrow tables
    assert vega.values_of(spec) == [{"x": 1, "y": 3.0}, {"x": 2, "y": 4.0}]
    assert all(type(row["x"]) is int for row in vega.values_of(spec))  # no numpy scalars: JSON can hold them
    assert vega.marks_of(spec) == marks and spec["title"] == "t" and spec["height"] == 300
    single = vega.chart([], marks[:1], vega.titled("t", "sub"), vega.rows_high(20))
    assert vega.marks_of(single)[0]["mark"] == {"type": "bar"} and single["title"] == {"text": "t", "subtitle": "sub"}
    with pytest.raises(ValueError, match="cannot hold"):
        vega.rows([{"x": math.inf}])
