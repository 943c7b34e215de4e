"""The app, page by page, with `streamlit.testing.v1.AppTest`: content, not only "no exception".

Every test starts from empty caches and a fresh session; numbers shown by the app are
checked against the library called directly.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tnaas.app import dashboard, vega
from tnaas.data.corpus import bundled_names, load_bundled, manifest
from tnaas.models import make_model

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 120  # seconds per script run: generous, the test machine is shared
LENGTH_CHART = "Target length distribution vs generated lengths"
GENERATE, COMPLETE, EXPLORE, CORPORA = (
    "pages/1_Generate.py",
    "pages/2_Complete.py",
    "pages/3_Explore.py",
    "pages/4_Corpora.py",
)


@pytest.fixture(autouse=True)
def empty_caches():
    dashboard.clear_caches()  # streamlit's caches and the service's fitted models
    yield


def start(page: str | None = None, corpus: str | None = None) -> AppTest:
    """A new session on the home page, optionally with another corpus and page."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert_clean(at)
    if corpus:
        at.sidebar.selectbox(key="_corpus").select(corpus).run()
    if page:
        at.switch_page(page).run()
    assert_clean(at)
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]


def chart_data(at: AppTest, title: str) -> pd.DataFrame:
    """The data of the chart called `title` on the page."""
    for chart in at.get("vega_lite_chart"):
        if json.loads(chart.proto.spec).get("title") == title:
            return pd.DataFrame(vega.values_of(json.loads(chart.proto.spec)))  # inline: no Arrow datasets
    raise AssertionError(f"no chart titled {title!r}: {chart_titles(at)}")


def chart_titles(at: AppTest) -> list[str]:
    titles = []
    for spec in chart_specs(at):
        for part in [spec, *spec.get("layer", [])]:
            title = part.get("title")
            if title:
                titles.append(title if isinstance(title, str) else title.get("text"))
    return titles


def bullet_items(markdown: str) -> list[str]:
    return [line[2:] for line in markdown.splitlines() if line.startswith("- ")]


def fitted(corpus: str, **params):
    data = load_bundled(corpus)
    return make_model("markov", params, corpus=data).fit(data)


# ------------------------------------------------------------------ home
def test_home_three_steps_and_go_gives_ten_new_distinct_items():
    at = start()
    assert at.title[0].value.endswith("Tech Names as a Service")
    assert at.sidebar.selectbox(key="_corpus").options == [load_bundled(n).title for n in bundled_names()]
    assert at.sidebar.selectbox(key="_model").value == "markov"
    assert len(at.page_link) >= 2 * 8 - 1  # sidebar links to every page, home links to the others
    assert [link.proto.label for link in at.sidebar.get("page_link")][-3:] == ["Compare", "Quiz", "Blend"]
    at.button[0].click().run()
    assert_clean(at)
    lists = [bullet_items(m.value) for m in at.markdown if bullet_items(m.value)]
    items = lists[0]
    assert len(items) == len(set(items)) == 10
    assert not set(items) & set(load_bundled("pokemon").items)


def test_a_page_opened_directly_has_the_sidebar_and_works():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.switch_page(COMPLETE).run()
    assert_clean(at)
    assert at.title[0].value.endswith("Complete")
    assert at.sidebar.selectbox(key="_corpus").value == "pokemon"
    assert at.metric, "a completion is shown without touching anything"


def test_corpus_and_model_choices_carry_across_pages():
    at = start(corpus="rhcp")
    state_size = at.sidebar.slider[0]
    assert state_size.value == load_bundled("rhcp").default_state_size == 1  # the corpus's own default
    state_size.set_value(2).run()
    for page in (GENERATE, EXPLORE, CORPORA, COMPLETE):
        at.switch_page(page).run()
        assert_clean(at)
        assert at.sidebar.selectbox(key="_corpus").value == "rhcp"
        assert at.sidebar.slider[0].value == 2
    at.switch_page(GENERATE).run()
    items = at.data_editor[0].value["item"].tolist()
    assert all(" " in item or item in fitted("rhcp").vocabulary_ for item in items)  # word items


# ------------------------------------------------------------------ generate
def test_generate_table_scores_items_with_the_models_log_probability():
    at = start(GENERATE)
    at.slider(key="gen/n").set_value(7).run()
    at.number_input(key="gen/seed").set_value(42).run()
    assert_clean(at)
    table = at.data_editor[0].value
    assert list(table.columns) == ["keep", "item", "log_prob", "status", "free on"]
    assert len(table) == table["item"].nunique() == 7
    model = fitted("pokemon", state_size=3)
    assert table["log_prob"].tolist() == pytest.approx(model.log_prob_many(table["item"].tolist()).tolist())
    assert set(table["status"]) == {"new"}
    assert not set(table["item"]) & set(load_bundled("pokemon").items)
    assert [b.proto.label for b in at.download_button][:2] == ["Download table (CSV)", "Download items (TXT)"]
    generated = chart_data(at, LENGTH_CHART).query("series == 'generated'").set_index("length")["share"]
    assert generated.to_dict() == pytest.approx(table["item"].str.len().value_counts(normalize=True).to_dict())


def test_generate_is_reproducible_and_the_seed_matters():
    at = start(GENERATE)
    first = at.data_editor[0].value["item"].tolist()
    at.run()
    assert at.data_editor[0].value["item"].tolist() == first
    at.number_input(key="gen/seed").set_value(1).run()
    assert at.data_editor[0].value["item"].tolist() != first


def test_custom_length_range_is_respected():
    at = start(GENERATE)
    at.radio(key="gen/length").set_value("custom").run()
    at.slider(key="gen/range").set_value((4, 5)).run()
    assert_clean(at)
    items = at.data_editor[0].value["item"].tolist()
    assert len(items) == 20 and all(4 <= len(item) <= 5 for item in items)
    data = chart_data(at, LENGTH_CHART)
    target = data[data["series"] != "generated"]
    assert target["series"].iloc[0].startswith("4-5 uniform")
    assert target.set_index("length")["share"].to_dict() == pytest.approx({4: 0.5, 5: 0.5})


def test_corpus_length_distribution_is_plotted_as_the_target():
    at = start(GENERATE)
    at.radio(key="gen/length").set_value("corpus").run()
    assert_clean(at)
    data = chart_data(at, LENGTH_CHART)
    target = data[data["series"] == "corpus (target)"].set_index("length")["share"]
    lengths = load_bundled("pokemon").lengths
    assert target[7] == pytest.approx((lengths == 7).mean())


def test_too_few_new_items_is_a_warning_that_keeps_what_was_found():
    at = start(GENERATE, corpus="rhcp")
    at.sidebar.slider[0].set_value(2).run()  # state size 2 on 110 song titles: mostly copies
    at.slider(key="gen/n").set_value(150).run()
    assert_clean(at)
    assert not at.error
    assert "found only" in at.warning[0].value
    found = int(re.search(r"found only (\d+)", at.warning[0].value)[1])
    assert len(at.data_editor[0].value) == found > 0


def test_ticked_items_go_to_the_shortlist_and_survive_a_new_seed():
    at = start(GENERATE)
    editor = at.data_editor[0]
    picked = editor.value["item"].tolist()[:2]
    at.session_state[editor.key] = {
        "edited_rows": {0: {"keep": True}, 1: {"keep": True}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert_clean(at)
    assert any(s.value == "Shortlist (2)" for s in at.subheader)
    assert any(bullet_items(m.value) == picked for m in at.markdown)
    assert "Download shortlist (TXT)" in [b.proto.label for b in at.download_button]
    at.number_input(key="gen/seed").set_value(5).run()
    assert any(bullet_items(m.value) == picked for m in at.markdown)
    at.number_input(key="gen/seed").set_value(0).run()
    editor = at.data_editor[0]
    assert editor.value["keep"].tolist()[:3] == [True, True, False]  # ticks shown again for the same items
    at.session_state[editor.key] = {"edited_rows": {0: {"keep": False}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert any(s.value == "Shortlist (1)" for s in at.subheader)
    assert any(bullet_items(m.value) == picked[1:] for m in at.markdown)


def test_notes_corpus_plays_generated_tunes_and_draws_a_piano_roll():
    at = start(GENERATE, corpus="notes")
    at.slider(key="gen/n").set_value(3).run()
    assert_clean(at)
    assert len(at.get("audio")) == 1
    assert at.get("audio")[0].proto.url.endswith(".wav")
    items = at.data_editor[0].value["item"].tolist()
    tune = at.selectbox(key="gen/tune")
    assert len(tune.options) == 3 and tune.value == items[0]
    assert set(at.data_editor[0].value["free on"]) <= {"PyPI invalid · npm invalid", "PyPI free* · npm free*"}
    assert chart_data(at, "Piano roll")["note"].tolist() == items[0].split()


# ------------------------------------------------------------------ complete
def test_complete_shows_the_exact_probability_posterior_and_matching_samples():
    at = start(COMPLETE)
    at.text_input(key="complete/pattern/pokemon").input("*u*a").run()
    assert_clean(at)
    expected = fitted("pokemon", state_size=3).complete("*u*a", top=10)
    assert float(at.metric[0].value) == pytest.approx(expected.probability, rel=1e-2)
    titles = chart_titles(at)
    assert "Posterior of each unknown position given '*u*a'" in titles and "Most probable completions" in titles
    samples = next(bullet_items(m.value) for m in at.markdown if bullet_items(m.value))
    assert len(samples) == 10 and all(re.fullmatch(".u.a", s) for s in samples)


def test_an_example_pill_fills_the_pattern_box():
    at = start(COMPLETE, corpus="tech")
    at.pills(key="complete/example").set_value("***base").run()
    assert_clean(at)
    assert at.text_input(key="complete/pattern/tech").value == "***base"
    assert float(at.metric[0].value) > 0


def test_an_impossible_pattern_is_explained_with_the_smoothing_hint():
    at = start(COMPLETE)
    at.text_input(key="complete/pattern/pokemon").input("***base").run()
    assert_clean(at)
    assert "probability is 0" in at.warning[0].value and "Smoothing" in at.warning[0].value
    assert not at.metric
    at.sidebar.selectbox[2].select("kneser-ney").run()  # the markov model's smoothing
    assert_clean(at)
    assert not at.warning and float(at.metric[0].value) > 0


def test_a_pattern_with_unknown_tokens_is_an_error_message_not_a_traceback():
    at = start(COMPLETE)
    at.text_input(key="complete/pattern/pokemon").input("**§§").run()
    assert_clean(at)
    assert "never appears in this corpus" in at.error[0].value


# ------------------------------------------------------------------ explore
def test_explore_shows_the_transition_matrix_statistics_and_next_tokens():
    at = start(EXPLORE)
    assert_clean(at)
    stats = {m.label: m.value for m in at.metric}
    assert stats["items"] == "1,025" and stats["distinct tokens"] == str(len(load_bundled("pokemon").vocabulary))
    titles = chart_titles(at)
    assert "Transition matrix (state size 3)" in titles
    assert "Next token after the start of an item" in titles
    at.text_input(key="explore/context/characters").input("Pika").run()
    expected = fitted("pokemon").next_token_distribution("Pika")
    data = chart_data(at, "Next token after 'Pika'")
    assert data.set_index("token")["probability"].to_dict() == pytest.approx(expected)
    at.text_input(key="explore/context/characters").input("Qxz").run()
    assert "never produces an item that starts with 'Qxz'" in at.warning[0].value


def test_word_corpora_show_their_most_frequent_words():
    at = start(EXPLORE, corpus="sonnets")
    at.sidebar.slider[0].set_value(1).run()
    assert_clean(at)
    titles = chart_titles(at)
    assert "The 25 most frequent words" in titles
    assert "Transition matrix (state size 1)" in titles


# ------------------------------------------------------------------ corpora
def test_corpora_page_lists_every_bundled_corpus_with_provenance():
    at = start(CORPORA)
    table = at.dataframe[0].value
    assert table["title"].tolist() == [e["title"] for e in manifest()]
    assert len(at.expander) == len(manifest())
    assert any(e["licence"] in m.value for e in manifest() for m in at.markdown)
    first_sample = at.code[0].value.splitlines()
    assert len(first_sample) == 8 and set(first_sample) <= set(load_bundled(manifest()[0]["name"]).items)


def upload(at: AppTest, name: str, data: bytes, mime: str = "text/plain") -> AppTest:
    at.file_uploader(key="corpora/file").upload(name, data, mime).run()
    return at


def test_uploading_a_text_file_selects_it_and_every_page_works_with_it():
    at = start(CORPORA)
    names = "\n".join(f"zorblax{i}" for i in range(30)).encode()
    upload(at, "aliens.txt", names)
    at.button[0].click().run()
    assert_clean(at)
    assert "aliens.txt: 30 items of characters" in at.success[0].value
    assert at.sidebar.selectbox(key="_corpus").value == "upload/aliens.txt"
    at.switch_page(GENERATE).run()
    assert_clean(at)
    assert all(item.startswith("zorblax") for item in at.data_editor[0].value["item"])


def test_a_csv_column_is_chosen_before_reading():
    at = start(CORPORA)
    rows = "id,name\n" + "\n".join(f"{i},Fjord{i}" for i in range(12))
    upload(at, "shop.csv", rows.encode(), "text/csv")
    assert at.selectbox(key="corpora/column").options == ["id", "name"]
    at.selectbox(key="corpora/column").select("name").run()
    at.button[0].click().run()
    assert_clean(at)
    assert "shop.csv: 12 items" in at.success[0].value


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("blob.txt", b"\x00\x01\x02binary\x00" * 10, "binary"),
        ("latin1.txt", "Åsa\nÖrjan\nÄlva\nÉmile\nÜrs\n".encode("latin-1"), "not UTF-8"),
        ("short.txt", b"one\ntwo\n", "at least 5"),
    ],
)
def test_a_bad_upload_is_an_error_with_the_reason(name, data, reason):
    at = start(CORPORA)
    upload(at, name, data)
    at.button[0].click().run()
    assert_clean(at)
    assert reason in at.error[0].value
    assert at.sidebar.selectbox(key="_corpus").value == "pokemon"


# ------------------------------------------------------------------ models
def test_an_unavailable_model_is_listed_with_the_reason(monkeypatch):
    from tnaas.models import MODELS, ModelSpec

    fake = ModelSpec(
        "fake",
        "Fake model",
        "",
        "tnaas.models.markov",
        "MarkovModel",
        requires=("no_such_module_xyz",),
        install="pip install xyz",
    )
    monkeypatch.setitem(MODELS, "fake", fake)
    assert fake.available()[0] is False
    at = start()
    assert "fake" not in at.sidebar.selectbox(key="_model").options
    assert any("Fake model is unavailable" in c.value and "pip install xyz" in c.value for c in at.sidebar.caption)


def test_the_hmm_model_generates_and_completes_through_the_same_pages():
    from tnaas.models import MODELS

    if not MODELS["hmm"].available()[0]:
        pytest.skip("the hmm model is not available in this installation")
    at = start(corpus="rhcp")
    at.sidebar.selectbox(key="_model").select("hmm").run()
    at.number_input(key="_hp/rhcp/hmm/hidden_states").set_value(4).run()
    at.number_input(key="_hp/rhcp/hmm/iterations").set_value(5).run()
    at.switch_page(GENERATE).run()
    assert_clean(at)
    assert len(at.data_editor[0].value) > 0
    at.switch_page(COMPLETE).run()
    assert_clean(at)
    assert at.metric or at.warning
