"""Chart builders: the right data in the right order, titles, axis titles and tooltips."""

from __future__ import annotations

import altair as alt
import numpy as np
import pytest

from tnaas.app import audio, charts, score_charts
from tnaas.data.corpus import corpus_from_items
from tnaas.inference.completion import END_KEY
from tnaas.models import make_model
from tnaas.models.base import Heatmap

TINY = ["abba", "abab", "baba", "bab", "aab", "ba"]


@pytest.fixture(scope="module")
def model():
    corpus = corpus_from_items(TINY, "characters")
    return make_model("markov", {"state_size": 1}, corpus=corpus).fit(corpus)


def spec_of(chart: alt.TopLevelMixin) -> dict:
    return chart.to_dict()  # validates against the Vega-Lite schema


def encodings(spec: dict) -> list[dict]:
    return [layer["encoding"] for layer in spec.get("layer", [spec])]


def assert_readable(chart) -> None:
    """A title, a title on every axis, and tooltips."""
    spec = spec_of(chart)
    assert spec.get("title")
    for encoding in encodings(spec):
        assert encoding["tooltip"]
        for channel in ("x", "y"):
            assert encoding[channel].get("title"), channel


def test_the_transition_heatmap_keeps_row_order_and_puts_the_end_column_last(model):
    heatmap = model.inspect()[0]
    chart = charts.heatmap_chart(heatmap)
    assert_readable(chart)
    encoding = spec_of(chart)["encoding"]
    assert encoding["y"]["sort"] == list(dict.fromkeys(heatmap.data["row"]))
    assert encoding["x"]["sort"][-1] == END_KEY
    assert set(encoding["x"]["sort"]) == set(heatmap.data["column"])


def test_a_space_token_is_shown_as_a_visible_symbol():
    chart = charts.heatmap_chart(Heatmap("t", "state", "next", (("a", " ", 0.5), ("a", "b", 0.5))))
    assert "␣" in spec_of(chart)["encoding"]["x"]["sort"]
    assert charts.distribution_frame({" ": 0.7, "x": 0.3})["token"].tolist() == ["␣", "x"]


def test_posterior_frame_holds_each_positions_distribution(model):
    completion = model.complete("*b*", top=5)
    frame = charts.posterior_frame(completion)
    assert sorted(frame["position"].unique()) == ["position 0", "position 2"]
    for position in completion.positions:
        rows = frame[frame["position"] == f"position {position['index']}"]
        assert dict(zip(rows["token"], rows["probability"])) == pytest.approx(position["distribution"])
        assert rows["probability"].sum() == pytest.approx(1.0)
    assert_readable(charts.posterior_chart(completion))


def test_top_completions_chart_shows_the_completions_in_order(model):
    completion = model.complete("%b", top=4)
    chart = charts.top_completions_chart(completion)
    assert_readable(chart)
    assert chart.data["text"].tolist() == [t["text"] for t in completion.top]
    assert spec_of(chart)["encoding"]["y"]["sort"] == "-x"


def test_length_frame_compares_target_shares_with_generated_shares():
    target = np.array([0.0, 0.0, 0.25, 0.75])
    frame = charts.length_frame(target, [2, 3, 3, 3, 5], "custom")
    custom = frame[frame["series"] == "custom"].set_index("length")["share"]
    generated = frame[frame["series"] == "generated"].set_index("length")["share"]
    assert custom.to_dict() == {2: 0.25, 3: 0.75}
    assert generated.to_dict() == pytest.approx({2: 0.2, 3: 0.6, 5: 0.2})
    chart = charts.length_comparison_chart(target, [2, 3], "characters", "custom")
    assert_readable(chart)
    marks = [layer["mark"]["type"] for layer in spec_of(chart)["layer"]]
    assert marks == ["bar", "line"]


def test_length_frame_without_items_or_target_is_empty():
    assert charts.length_frame(None, []).empty


def test_corpus_length_histogram_counts_items_per_length():
    chart = charts.length_histogram_chart(np.array([3, 3, 5]), "words")
    assert_readable(chart)
    assert chart.data.to_dict("list") == {"length": [3, 5], "items": [2, 1]}
    assert spec_of(chart)["encoding"]["x"]["title"] == "length (words)"


def test_token_frequencies_count_tokens_of_the_right_kind():
    words = charts.token_frequencies(["to be or", "not to be"], "words", top=2)
    assert words.to_dict("list") == {"token": ["to", "be"], "count": [2, 2], "share": [2 / 6, 2 / 6]}
    characters = charts.token_frequencies(["a b", "aa"], "characters", top=3)
    assert characters["token"].tolist() == ["a", "␣", "b"]
    assert_readable(charts.token_frequency_chart(words, "words"))


def test_next_token_chart_keeps_the_largest_probabilities(model):
    distribution = model.next_token_distribution("a")
    chart = charts.next_token_chart(distribution, "a", top=2)
    assert_readable(chart)
    expected = sorted(distribution.items(), key=lambda kv: -kv[1])[:2]
    assert list(zip(chart.data["token"], chart.data["probability"])) == expected
    assert "'a'" in spec_of(chart)["title"]


def test_piano_roll_chart_spans_the_tunes_pitch_range():
    roll = audio.piano_roll("C4 E4 G4 C5")
    chart = charts.piano_roll_chart(roll)
    assert_readable(chart)
    assert spec_of(chart)["encoding"]["y"]["scale"]["domain"] == [59, 73]


def test_a_long_thin_target_tail_does_not_squeeze_the_length_axis():
    target = np.zeros(1001)
    target[5], target[1000] = 0.999, 0.001
    spec = spec_of(charts.length_comparison_chart(target, [4, 6], "notes", "natural"))
    assert spec["layer"][0]["encoding"]["x"]["scale"]["domain"] == [0, 7]
    wide = spec_of(charts.length_comparison_chart(target, [4, 600], "notes", "natural"))
    assert wide["layer"][0]["encoding"]["x"]["scale"]["domain"] == [0, 601]


def test_a_gap_pattern_draws_only_its_first_positions_and_says_so(model):
    completion = model.complete("a%", top=3)
    assert len(completion.positions) == 13
    frame = charts.posterior_frame(completion, max_positions=2)
    assert frame["position"].unique().tolist() == ["position 1", "position 2"]
    short = spec_of(charts.posterior_chart(completion, max_positions=4))
    assert short["title"]["subtitle"] == "the first 4 of 13 unknown positions"
    assert short["encoding"]["y"]["sort"] == ["position 1", "position 2", "position 3", "position 4"]
    assert (
        spec_of(charts.posterior_chart(completion, max_positions=20))["title"]
        == "Posterior of each unknown position given 'a%'"
    )


def test_positions_where_the_item_has_ended_and_rare_tokens_are_left_out():
    from tnaas.inference.completion import Completion

    positions = [
        {"index": 0, "distribution": {"x": 0.6, "y": 0.4}},
        {"index": 1, "distribution": {END_KEY: 0.9995, "x": 0.0005}},
        {"index": 2, "distribution": {"z": 0.01, END_KEY: 0.99}},
    ]
    completion = Completion("%", 1.0, positions)
    assert [p["index"] for p in charts.shown_positions(completion)] == [0, 2]
    frame = charts.posterior_frame(completion, max_columns=2)
    assert sorted(frame["token"].unique()) == [END_KEY, "x"]


# ------------------------------------------------------------------ scores: compare and quiz
def comparison_rows():
    from tnaas.tasks.compare import ComparisonRow

    nan = float("nan")
    return [
        ComparisonRow("markov k=2", float("inf"), float("inf"), 0.4, 0.9, 0.01, True, 99),
        ComparisonRow("markov k=3 kneser-ney", 2.5, 12.18, 0.97, 1.0, 0.02, True, 99),
        ComparisonRow("hmm states=4", 2.9, 18.2, 1.0, 0.995, 1.5, True, 99),
        ComparisonRow("lstm", nan, nan, nan, nan, nan, False, 99, note="needs torch"),
    ]


def test_the_nll_chart_draws_finite_scores_and_names_the_infinite_ones():
    chart = score_charts.nll_chart(comparison_rows())
    assert_readable(chart)
    assert chart.data["model"].tolist() == ["markov k=3 kneser-ney", "hmm states=4"]
    assert chart.data["nll_per_token"].tolist() == [2.5, 2.9]
    spec = spec_of(chart)
    assert spec["title"]["subtitle"] == "∞, not drawn: markov k=2"
    bars, labels = spec["layer"]
    assert bars["mark"]["type"] == "bar" and bars["encoding"]["y"]["sort"] == "x"  # lowest (best) first
    assert labels["encoding"]["text"]["field"] == "nll_per_token"
    finite = score_charts.nll_chart(comparison_rows()[1:3])
    assert spec_of(finite)["title"] == "Held-out NLL per token (nats, lower is better)"


def test_novelty_and_diversity_are_grouped_per_model_without_unavailable_ones():
    frame = score_charts.novelty_diversity_frame(comparison_rows())
    assert set(frame["model"]) == {"markov k=2", "markov k=3 kneser-ney", "hmm states=4"}
    shares = frame.set_index(["model", "measure"])["share"]
    assert shares[("markov k=2", "novelty")] == 0.4 and shares[("hmm states=4", "diversity")] == 0.995
    chart = score_charts.novelty_diversity_chart(comparison_rows(), 500)
    assert_readable(chart)
    assert spec_of(chart)["title"] == "Novelty and diversity of 500 samples per model"


def test_the_sounds_like_chart_ranks_corpora_by_posterior():
    probabilities = {"tech": 0.2, "pokemon": 0.79996, "ikea": 0.00004}
    chart = score_charts.sounds_like_chart(probabilities, {"pokemon": "Pokémon names", "tech": "Tech"}, " Pika ")
    assert_readable(chart)
    assert chart.data["corpus"].tolist() == ["pokemon", "tech", "ikea"]
    assert chart.data["title"].tolist() == ["Pokémon names", "Tech", "ikea"]  # a missing title: the name
    assert chart.data["shown"].tolist() == ["80.0%", "20.0%", "0.004%"]
    spec = spec_of(chart)
    assert spec["title"] == "Which corpus does 'pika' sound like?"
    assert spec["encoding"]["y"]["sort"] == ["Pokémon names  80.0%", "Tech  20.0%", "ikea  0.004%"]
