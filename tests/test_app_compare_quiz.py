"""The Compare and Quiz pages with `AppTest`: what they show against the library called directly."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tnaas.app import dashboard, lineup, vega
from tnaas.app.display import escape_markdown, nats, percent
from tnaas.data.corpus import load_bundled
from tnaas.tasks.compare import compare_models
from tnaas.tasks.quiz import QUIZ_CORPORA, casefolded, fit_corpus_models, make_question, posterior

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 120
COMPARE, QUIZ = "pages/5_Compare.py", "pages/6_Quiz.py"
NLL_CHART = "Held-out NLL per token (nats, lower is better)"


@pytest.fixture(autouse=True)
def empty_caches():
    dashboard.clear_caches()  # streamlit's caches and the service's fitted models
    yield


def start(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(page).run()
    assert_clean(at)
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def chart_data(at: AppTest, title: str) -> pd.DataFrame:
    """The data of the chart whose title (or title text) is `title`."""
    for chart in at.get("vega_lite_chart"):
        shown = json.loads(chart.proto.spec).get("title")
        if title in (shown, shown.get("text") if isinstance(shown, dict) else None):
            return pd.DataFrame(vega.values_of(json.loads(chart.proto.spec)))  # inline: no Arrow datasets
    raise AssertionError(f"no chart titled {title!r}")


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


# ------------------------------------------------------------------ compare
def compare(at: AppTest, labels: list[str], samples: int = 100, seed: int = 0) -> AppTest:
    at.multiselect(key="_compare/models").set_value(labels).run()
    at.number_input(key="_compare/samples").set_value(samples).run()
    at.number_input(key="_compare/seed").set_value(seed).run()
    button(at, "Compare").click().run()
    assert_clean(at)
    return at


def test_compare_shows_one_row_per_model_with_the_libraries_scores(monkeypatch):
    at = start(COMPARE)
    assert "click **Compare**" in at.info[0].value and not at.dataframe  # nothing runs before the click
    picked = ["markov k=3", "markov k=3 kneser-ney", "hmm states=4"]
    compare(at, picked, samples=150, seed=7)
    table = at.dataframe[0].value
    assert table["model"].tolist() == picked
    menu = lineup.comparison_menu()
    expected = compare_models(
        load_bundled("pokemon"), [menu[label] for label in picked], test_size=0.1, samples=150, random_state=7
    )
    assert table["nll"].tolist() == [nats(row.nll_per_token) for row in expected]
    assert table["nll"].iloc[0] == "∞"  # the unsmoothed chain meets an unseen transition
    assert all(math.isfinite(row.nll_per_token) for row in expected[1:])
    nll = chart_data(at, NLL_CHART).set_index("model")["nll_per_token"]
    assert nll.to_dict() == pytest.approx({row.model: row.nll_per_token for row in expected[1:]}, rel=1e-12)
    shares = chart_data(at, "Novelty and diversity of 150 samples per model").set_index(["model", "measure"])
    for row in expected:
        assert shares.loc[(row.model, "novelty"), "share"] == pytest.approx(row.novelty)
        assert shares.loc[(row.model, "diversity"), "share"] == pytest.approx(row.diversity)
    assert "markov k=3" in at.info[0].value and "probability 0" in at.info[0].value
    held_out = next(c.value for c in at.caption if c.value.startswith("Held-out"))
    assert f"Held-out: {expected[0].test_items:,} of 1,025 items" in held_out and "closed" in held_out

    # Results are cached and kept: a rerun or another page and back does not compare again.
    calls = []
    monkeypatch.setattr("tnaas.service.compare_answer", lambda *a, **k: calls.append(a) or {})
    at.run()
    at.switch_page("pages/1_Generate.py").run()
    at.switch_page(COMPARE).run()
    assert_clean(at)
    assert at.dataframe[0].value["model"].tolist() == picked and calls == []
    assert at.multiselect(key="_compare/models").value == picked  # the choices carried across pages


def test_an_unavailable_model_gets_a_row_with_its_reason(monkeypatch):
    from tnaas.models import MODELS, ModelSpec

    fake = ModelSpec(
        "fake", "Fake", "", "tnaas.models.markov", "MarkovModel", requires=("no_such_xyz",), install="pip xyz"
    )
    monkeypatch.setitem(MODELS, "fake", fake)
    at = start(COMPARE)
    assert at.multiselect(key="_compare/models").format_func("fake") == "fake (unavailable)"
    compare(at, ["markov k=2 kneser-ney", "fake"], samples=20)
    table = at.dataframe[0].value.set_index("model")
    assert "no_such_xyz" in table.loc["fake", "note"] and "pip xyz" in table.loc["fake", "note"]
    assert table.loc["fake", "nll"] == "" and table.loc["markov k=2 kneser-ney", "nll"] != ""


def test_picking_the_lstm_warns_that_it_is_slow_before_anything_runs():
    at = start(COMPARE)
    at.multiselect(key="_compare/models").set_value(["lstm", "markov k=2"]).run()
    assert_clean(at)
    assert "LSTM" in at.warning[0].value and not at.dataframe


def test_compare_uses_the_sessions_upload_and_explains_a_split_that_cannot_be_made():
    at = start("pages/4_Corpora.py")
    at.file_uploader(key="corpora/file").upload("aliens.txt", "\n".join(f"zorb{i}" for i in range(40)).encode())
    at.run()
    button(at, "Use this corpus").click().run()
    at.switch_page(COMPARE).run()
    compare(at, ["markov k=1 kneser-ney"], samples=10)
    assert any("Held-out: 4 of 40 items" in c.value for c in at.caption)

    at.switch_page("pages/4_Corpora.py").run()
    at.file_uploader(key="corpora/file").upload("five.txt", b"ab\nba\nabc\ncab\nbca\n").run()
    button(at, "Use this corpus").click().run()
    at.switch_page(COMPARE).run()
    at.slider(key="_compare/share").set_value(5).run()
    button(at, "Compare").click().run()
    assert_clean(at)
    assert "too few items" in at.error[0].value


# ------------------------------------------------------------------ quiz
@pytest.fixture(scope="module")
def quiz():
    """The quiz's questions and the model's posteriors, computed without the app."""
    models = fit_corpus_models(QUIZ_CORPORA)
    corpora = {name: casefolded(load_bundled(name)) for name in QUIZ_CORPORA}

    def question(seed: int):
        q = make_question(models, random_state=seed, corpora=corpora)
        return q, posterior(q.name, models)

    return question


def scores(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_the_quiz_scores_a_right_and_a_wrong_guess_and_reveals_the_models_answer(quiz):
    at = start(QUIZ)
    question, probabilities = quiz(0)
    assert f"## {escape_markdown(question.name)}" in [m.value for m in at.markdown]
    assert question.name == question.name.casefold()
    assert scores(at)["Your score"] == "0 / 0" and not at.success and not at.warning

    at.button(key=f"quiz/guess/{question.source}").click().run()  # right
    assert_clean(at)
    assert "Right!" in at.success[0].value
    assert ("made up by the model" in at.success[0].value) == question.generated
    model_guess = max(probabilities, key=probabilities.get)
    assert scores(at)["Your score"] == "1 / 1"
    assert scores(at)["The model's score"] == f"{int(model_guess == question.source)} / 1"
    assert any(f"with probability **{percent(probabilities[model_guess])}**" in m.value for m in at.markdown)
    shown = chart_data(at, f"Which corpus does {question.name!r} sound like?").set_index("corpus")["probability"]
    assert shown.to_dict() == pytest.approx(probabilities, rel=1e-12)
    assert all(at.button(key=f"quiz/guess/{name}").disabled for name in QUIZ_CORPORA)  # one answer per question
    button(at, "Next question").click().run()
    question, probabilities = quiz(1)
    assert f"## {escape_markdown(question.name)}" in [m.value for m in at.markdown]
    assert scores(at)["Question"] == "#2" and not at.success
    wrong = next(name for name in QUIZ_CORPORA if name != question.source)
    at.button(key=f"quiz/guess/{wrong}").click().run()
    assert_clean(at)
    assert "Not this time" in at.warning[0].value
    assert scores(at)["Your score"] == "1 / 2"


def test_sounds_like_ranks_names_by_bayes_over_every_corpus_model():
    at = start(QUIZ)
    assert not at.error and any("Type a name" in c.value for c in at.caption)  # empty: a prompt
    models = fit_corpus_models()
    for name, best in (("pikachu", "pokemon"), ("numpy", "tech")):
        at.text_input(key="quiz/name").input(name).run()
        assert_clean(at)
        data = chart_data(at, f"Which corpus does {name!r} sound like?")
        assert data["corpus"].iloc[0] == best
        assert data.set_index("corpus")["probability"].to_dict() == pytest.approx(posterior(name, models), rel=1e-12)
    at.text_input(key="quiz/name").input("   ").run()
    assert_clean(at)
    assert at.error[0].value == "the name is empty"  # the service's one-line message
