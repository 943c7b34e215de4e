"""Chart builders: the right data in the right order, titles, axis titles and tooltips; valid
Vega-Lite specs (checked against the schema altair ships) that Streamlit draws without
altair, pandas or pyarrow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tnaas.app import audio, charts, score_charts
from tnaas.app.vega import marks_of, values_of
from tnaas.data.corpus import corpus_from_items
from tnaas.inference.completion import END_KEY
from tnaas.models import make_model
from tnaas.models.base import Heatmap

TINY = ["abba", "abab", "baba", "bab", "aab", "ba"]


@pytest.fixture(scope="module")
def model():
    corpus = corpus_from_items(TINY, "characters")
    return make_model("markov", {"state_size": 1}, corpus=corpus).fit(corpus)


def spec_of(spec: dict) -> dict:
    """`spec`, after checking it is valid Vega-Lite (the schema altair ships) and plain JSON."""
    alt = pytest.importorskip("altair")
    alt.LayerChart.from_dict(spec)  # validates against the Vega-Lite schema
    assert json.loads(json.dumps(spec, allow_nan=False)) == spec  # plain values: no numpy, NaN or inf
    return spec


def encodings(spec: dict) -> list[dict]:
    return [layer["encoding"] for layer in marks_of(spec)]


def data_of(spec: dict, *columns: str) -> list:
    """The chart's rows as tuples of `columns` (one column: its values)."""
    rows = values_of(spec)
    return [row[columns[0]] for row in rows] if len(columns) == 1 else [tuple(row[c] for c in columns) for row in rows]


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
    (encoding,) = encodings(spec_of(chart))
    assert encoding["y"]["sort"] == list(dict.fromkeys(row for row, _, _ in heatmap.records))
    assert encoding["x"]["sort"][-1] == END_KEY
    assert set(encoding["x"]["sort"]) == {column for _, column, _ in heatmap.records}
    assert data_of(chart, "row", "column", "value") == list(heatmap.records)
    mass = {c: sum(v for _, column, v in heatmap.records if column == c) for c in encoding["x"]["sort"][:-1]}
    assert list(mass.values()) == sorted(mass.values(), reverse=True)  # most probable next tokens first


def test_a_space_token_is_shown_as_a_visible_symbol():
    chart = charts.heatmap_chart(Heatmap("t", "state", "next", (("a", " ", 0.5), ("a", "b", 0.5))))
    assert "␣" in encodings(spec_of(chart))[0]["x"]["sort"]
    assert [row["token"] for row in charts.distribution_records({" ": 0.7, "x": 0.3})] == ["␣", "x"]


def test_posterior_frame_holds_each_positions_distribution(model):
    completion = model.complete("*b*", top=5)
    frame = charts.posterior_records(completion)
    assert sorted({row["position"] for row in frame}) == ["position 0", "position 2"]
    for position in completion.positions:
        rows = [row for row in frame if row["position"] == f"position {position['index']}"]
        assert {row["token"]: row["probability"] for row in rows} == pytest.approx(position["distribution"])
        assert sum(row["probability"] for row in rows) == pytest.approx(1.0)
    chart = charts.posterior_chart(completion)
    assert_readable(chart)
    assert values_of(chart) == frame
    assert chart["height"] == {"step": 2 * charts.ROW_HEIGHT}  # few positions: taller rows


def test_top_completions_chart_shows_the_completions_in_order(model):
    completion = model.complete("%b", top=4)
    chart = charts.top_completions_chart(completion)
    assert_readable(chart)
    assert data_of(chart, "text", "probability") == [(t["text"], t["probability"]) for t in completion.top]
    assert encodings(spec_of(chart))[0]["y"]["sort"] == "-x"
    assert chart["height"] == {"step": charts.ROW_HEIGHT}


def test_length_frame_compares_target_shares_with_generated_shares():
    target = np.array([0.0, 0.0, 0.25, 0.75])
    frame = charts.length_records(target, [2, 3, 3, 3, 5], "custom")
    custom = {row["length"]: row["share"] for row in frame if row["series"] == "custom"}
    generated = {row["length"]: row["share"] for row in frame if row["series"] == "generated"}
    assert custom == {2: 0.25, 3: 0.75}
    assert generated == pytest.approx({2: 0.2, 3: 0.6, 5: 0.2})
    chart = charts.length_comparison_chart(target, [2, 3], "characters", "custom")
    assert_readable(chart)
    bars, line = marks_of(spec_of(chart))
    assert (bars["mark"]["type"], line["mark"]["type"]) == ("bar", "line")
    assert bars["transform"][0] == {"filter": "datum.series === 'generated'"}
    assert line["transform"] == [{"filter": "datum.series !== 'generated'"}]
    colour = bars["encoding"]["color"]["scale"]
    assert colour == {"domain": ["generated", "custom"], "range": [charts.GENERATED_COLOUR, charts.TARGET_COLOUR]}
    assert chart["height"] == charts.CHART_HEIGHT


def test_length_frame_without_items_or_target_is_empty():
    assert charts.length_records(None, []) == []
    assert_readable(charts.length_comparison_chart(None, [], "characters", "custom"))


def test_corpus_length_histogram_counts_items_per_length():
    chart = charts.length_histogram_chart(np.array([3, 3, 5]), "words")
    assert_readable(chart)
    assert data_of(chart, "length", "items") == [(3, 2), (5, 1)]
    assert encodings(spec_of(chart))[0]["x"]["title"] == "length (words)"


def test_token_frequencies_count_tokens_of_the_right_kind():
    words = charts.token_frequencies(["to be or", "not to be"], "words", top=2)
    assert words == [{"token": "to", "count": 2, "share": 2 / 6}, {"token": "be", "count": 2, "share": 2 / 6}]
    characters = charts.token_frequencies(["a b", "aa"], "characters", top=3)
    assert [row["token"] for row in characters] == ["a", "␣", "b"]
    chart = charts.token_frequency_chart(words, "words")
    assert_readable(chart)
    assert chart["title"] == "The 2 most frequent words" and values_of(chart) == words


def test_next_token_chart_keeps_the_largest_probabilities(model):
    distribution = model.next_token_distribution("a")
    chart = charts.next_token_chart(distribution, "a", top=2)
    assert_readable(chart)
    expected = sorted(distribution.items(), key=lambda kv: -kv[1])[:2]
    assert data_of(chart, "token", "probability") == expected
    assert "'a'" in spec_of(chart)["title"]
    assert charts.next_token_chart(distribution, "")["title"] == "Next token after the start of an item"


def test_piano_roll_chart_spans_the_tunes_pitch_range():
    roll = audio.piano_roll_notes("C4 E4 G4 C5")
    chart = charts.piano_roll_chart(roll)
    assert_readable(chart)
    assert encodings(spec_of(chart))[0]["y"]["scale"]["domain"] == [59, 73]
    assert data_of(chart, "note") == ["C4", "E4", "G4", "C5"]
    assert audio.piano_roll("C4 E4 G4 C5").to_dict("records") == roll  # the same notes as a frame


def test_a_long_thin_target_tail_does_not_squeeze_the_length_axis():
    target = np.zeros(1001)
    target[5], target[1000] = 0.999, 0.001
    spec = spec_of(charts.length_comparison_chart(target, [4, 6], "notes", "natural"))
    assert encodings(spec)[0]["x"]["scale"]["domain"] == [0, 7]
    wide = spec_of(charts.length_comparison_chart(target, [4, 600], "notes", "natural"))
    assert encodings(wide)[0]["x"]["scale"]["domain"] == [0, 601]


def test_a_gap_pattern_draws_only_its_first_positions_and_says_so(model):
    completion = model.complete("a%", top=3)
    assert len(completion.positions) == 13
    frame = charts.posterior_records(completion, max_positions=2)
    assert list(dict.fromkeys(row["position"] for row in frame)) == ["position 1", "position 2"]
    short = spec_of(charts.posterior_chart(completion, max_positions=4))
    assert short["title"]["subtitle"] == "the first 4 of 13 unknown positions"
    assert encodings(short)[0]["y"]["sort"] == ["position 1", "position 2", "position 3", "position 4"]
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
    frame = charts.posterior_records(completion, max_columns=2)
    assert sorted({row["token"] for row in frame}) == [END_KEY, "x"]


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
    assert data_of(chart, "model") == ["markov k=3 kneser-ney", "hmm states=4"]
    assert data_of(chart, "nll_per_token") == [2.5, 2.9]
    spec = spec_of(chart)
    assert spec["title"]["subtitle"] == "∞, not drawn: markov k=2"
    bars, labels = marks_of(spec)
    assert bars["mark"]["type"] == "bar" and bars["encoding"]["y"]["sort"] == "x"  # lowest (best) first
    assert labels["encoding"]["text"]["field"] == "nll_per_token"
    finite = score_charts.nll_chart(comparison_rows()[1:3])
    assert spec_of(finite)["title"] == "Held-out NLL per token (nats, lower is better)"


def test_novelty_and_diversity_are_grouped_per_model_without_unavailable_ones():
    frame = score_charts.novelty_diversity_records(comparison_rows())
    assert {row["model"] for row in frame} == {"markov k=2", "markov k=3 kneser-ney", "hmm states=4"}
    shares = {(row["model"], row["measure"]): row["share"] for row in frame}
    assert shares[("markov k=2", "novelty")] == 0.4 and shares[("hmm states=4", "diversity")] == 0.995
    chart = score_charts.novelty_diversity_chart(comparison_rows(), 500)
    assert_readable(chart)
    assert spec_of(chart)["title"] == "Novelty and diversity of 500 samples per model"


def test_the_sounds_like_chart_ranks_corpora_by_posterior():
    probabilities = {"tech": 0.2, "pokemon": 0.79996, "ikea": 0.00004}
    chart = score_charts.sounds_like_chart(probabilities, {"pokemon": "Pokémon names", "tech": "Tech"}, " Pika ")
    assert_readable(chart)
    assert data_of(chart, "corpus") == ["pokemon", "tech", "ikea"]
    assert data_of(chart, "title") == ["Pokémon names", "Tech", "ikea"]  # a missing title: the name
    assert data_of(chart, "shown") == ["80.0%", "20.0%", "0.004%"]
    spec = spec_of(chart)
    assert spec["title"] == "Which corpus does 'pika' sound like?"
    assert encodings(spec)[0]["y"]["sort"] == ["Pokémon names  80.0%", "Tech  20.0%", "ikea  0.004%"]


# ------------------------------------------------------------------ drawing them: no altair, pandas or pyarrow
DRAW_EVERY_CHART = r"""
import numpy as np
import streamlit as st
from tnaas.app import audio, charts, score_charts
from tnaas.models.base import Heatmap
from tnaas.inference.completion import Completion
from tnaas.tasks.compare import ComparisonRow

completion = Completion("*b", 0.5, [{"index": 0, "distribution": {"a": 0.75, "b": 0.25}}],
                        top=[{"text": "ab", "probability": 0.375}])
rows = [ComparisonRow("markov k=2", float("inf"), float("inf"), 0.4, 0.9, 0.01, True, 9),
        ComparisonRow("markov k=3", np.float64(2.5), 12.2, 0.97, 1.0, 0.02, True, 9)]
for spec in (
    charts.heatmap_chart(Heatmap("t", "state", "next", (("a", "b", 0.5), ("a", "<end>", 0.5)))),
    charts.posterior_chart(completion),
    charts.top_completions_chart(completion),
    charts.length_comparison_chart(np.array([0.0, 0.5, 0.5]), [1, 2, 2], "characters", "corpus"),
    charts.length_histogram_chart(np.array([1, 2, 2]), "characters"),
    charts.next_token_chart({"a": 0.5, "<end>": 0.5}, ""),
    charts.token_frequency_chart(charts.token_frequencies(["ab", "b"], "characters"), "characters"),
    charts.piano_roll_chart(audio.piano_roll_notes("C4 E4")),
    score_charts.nll_chart(rows),
    score_charts.novelty_diversity_chart(rows, 10),
    score_charts.sounds_like_chart({"tech": 0.25, "pokemon": 0.75}, {}, "pika"),
):
    st.vega_lite_chart(spec, width="stretch")
"""

PROBE = r"""
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_string(sys.argv[1], default_timeout=120)
at.run()
charts = at.get("vega_lite_chart")
print(json.dumps({"exceptions": [str(e.value) for e in at.exception], "charts": len(charts),
                  "arrow": sum(bool(c.proto.data.data) + len(c.proto.datasets) for c in charts),
                  "heavy": [m for m in ("pandas", "altair", "pyarrow") if m in sys.modules]}))
"""


def test_streamlit_draws_every_chart_without_altair_pandas_or_pyarrow():
    # A fresh interpreter: what other tests imported must not hide an import.
    pytest.importorskip("streamlit")
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", PROBE, DRAW_EVERY_CHART], capture_output=True, text=True, cwd=root, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["exceptions"] == [] and result["charts"] == 11
    assert result["arrow"] == 0  # every chart's data is inline in its spec
    assert result["heavy"] == []
