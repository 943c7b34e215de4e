"""Share links and first views: a page opened from a link shows what the service answers for
the same settings; bad links fall back to the defaults with one message; every Complete page
opens on an example the model answers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tnaas import service
from tnaas.app import dashboard, links, vega
from tnaas.app.display import escape_markdown, nats
from tnaas.app.examples import pattern_examples
from tnaas.data.corpus import bundled_names, load_bundled
from tnaas.errors import TnaasError
from tnaas.models import MODELS
from tnaas.service import LengthChoice, ModelRequest
from tnaas.service.requests import MAX_NAME_CHARS, MAX_PATTERN_CHARS, MAX_PREFIX_CHARS

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 120
PAGE_FILES = {
    "Home": "app.py",
    "Generate": "pages/1_Generate.py",
    "Complete": "pages/2_Complete.py",
    "Explore": "pages/3_Explore.py",
    "Compare": "pages/5_Compare.py",
    "Quiz": "pages/6_Quiz.py",
}


@pytest.fixture(autouse=True)
def empty_caches():
    dashboard.clear_caches()
    yield


def open_link(page: str, **query) -> AppTest:
    """A new session that opens `page` with the query parameters `query` (as a pasted link)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({k: str(v) for k, v in query.items()})
    if page != "Home":
        at.switch_page(PAGE_FILES[page])
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def bullets(at: AppTest) -> list[list[str]]:
    lists = [[line[2:] for line in m.value.splitlines() if line.startswith("- ")] for m in at.markdown]
    return [items for items in lists if items]


def shown_link(at: AppTest) -> str:
    codes = [c.value for c in at.code if c.value.startswith("/")]
    assert len(codes) == 1, codes
    return codes[0]


def query_of(link: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(link).query))


# ------------------------------------------------------------------ first views
FIRST_VIEWS = [
    (corpus, smoothing, state_size)
    for corpus in bundled_names()
    for smoothing in ("none", "kneser-ney")
    for state_size in (None, 5)
]


@pytest.mark.parametrize("corpus, smoothing, state_size", FIRST_VIEWS)
def test_the_complete_page_first_view_answers_its_default_example(corpus, smoothing, state_size):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.sidebar.selectbox(key="_corpus").select(corpus).run()
    at.sidebar.selectbox(key=f"_hp/{corpus}/markov/smoothing").select(smoothing).run()
    if state_size:
        at.sidebar.slider(key=f"_hp/{corpus}/markov/state_size").set_value(state_size).run()
    at.switch_page(PAGE_FILES["Complete"]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.metric or at.warning  # an answer: a probability, or "probability 0" and why

    data = load_bundled(corpus)
    request = ModelRequest.parse("markov", {"smoothing": smoothing, "state_size": state_size}, data)
    answered = []
    for example in pattern_examples(data):  # the examples the page should offer, asked of the service
        try:
            answer = service.complete_answer(data, request, example, top=10, samples=10, seed=0)
        except TnaasError:
            continue
        answered.append((example, answer["probability"]))
    assert at.pills(key="complete/example").options == [escape_markdown(e) for e, _ in answered]  # labels
    default = next((e for e, p in answered if p > 0), answered[0][0])
    assert at.text_input(key=f"complete/pattern/{corpus}").value == default


def test_sonnets_with_kneser_ney_no_longer_opens_on_a_refused_example():
    data = load_bundled("sonnets")
    request = ModelRequest.parse("markov", {"smoothing": "kneser-ney"}, data)
    # what the page opened with before, refused then (V edges per node), answered now
    answer = service.complete_answer(data, request, pattern_examples(data)[0], top=10, samples=10, seed=0)
    assert answer["probability"] > 0
    at = open_link("Complete", corpus="sonnets", smoothing="kneser-ney")
    assert not at.error and at.metric
    assert escape_markdown("% love %") in at.pills(key="complete/example").options  # answerable now


def test_the_hmm_complete_page_opens_with_small_hidden_states():
    if not MODELS["hmm"].available()[0]:
        pytest.skip("the hmm model is not available in this installation")
    at = open_link("Complete", corpus="pokemon", model="hmm", hidden_states=3, iterations=5)
    assert not at.error, [e.value for e in at.error]
    assert at.metric or at.warning
    assert at.sidebar.number_input(key="_hp/pokemon/hmm/hidden_states").value == 3


# ------------------------------------------------------------------ links reproduce the service's answers
def test_a_generate_link_reproduces_the_services_answer_and_writes_itself_back():
    query = dict(corpus="tech", model="markov", smoothing="kneser-ney", state_size=2, n=7, seed=42,
                 temperature=1.5, novel="true", length="4-6:peaked")  # fmt: skip
    at = open_link("Generate", **query)
    assert not at.error and not at.info
    data = load_bundled("tech")
    request = ModelRequest.parse("markov", {"smoothing": "kneser-ney", "state_size": 2}, data)
    expected = service.generate_answer(data, request, n=7, seed=42, temperature=1.5, length="4-6:peaked")
    assert at.data_editor[0].value["item"].tolist() == expected["items"]
    assert all(4 <= len(item) <= 6 for item in expected["items"])
    # The URL holds every choice (the hyperparameters and the page's), as the link shows it.
    written = {k: str(v) for k, v in query.items()}
    assert at.query_params == written
    assert shown_link(at).startswith("/Generate?") and query_of(shown_link(at)) == written
    # A widget change wins over the link and is written back.
    at.number_input(key="gen/seed").set_value(43).run()
    assert at.query_params["seed"] == "43"
    again = service.generate_answer(data, request, n=7, seed=43, temperature=1.5, length="4-6:peaked")
    assert at.data_editor[0].value["item"].tolist() == again["items"]


def test_the_generate_pages_link_opened_elsewhere_gives_the_same_items():
    first = open_link("Generate", corpus="rhcp")
    first.slider(key="gen/n").set_value(9).run()
    first.number_input(key="gen/seed").set_value(5).run()
    first.radio(key="gen/length").set_value("corpus").run()
    link = shown_link(first)
    assert query_of(link)["length"] == "corpus" and query_of(link)["n"] == "9"
    dashboard.clear_caches()
    second = open_link("Generate", **query_of(link))  # another visitor, another session
    assert second.data_editor[0].value["item"].tolist() == first.data_editor[0].value["item"].tolist()
    assert shown_link(second) == link


def test_a_complete_link_reproduces_the_services_completion():
    at = open_link("Complete", corpus="pokemon", pattern="*u*a", top=5, samples=3, seed=9, temperature=0.8,
                   length="natural", state_size=3, smoothing="none")  # fmt: skip
    assert not at.error
    data = load_bundled("pokemon")
    request = ModelRequest.parse("markov", {"state_size": 3}, data)
    expected = service.complete_answer(data, request, "*u*a", top=5, samples=3, seed=9, temperature=0.8)
    assert at.text_input(key="complete/pattern/pokemon").value == "*u*a"
    assert float(at.metric[0].value) == pytest.approx(expected["probability"], rel=1e-2)
    assert bullets(at)[0] == expected["samples"]
    answer = dashboard.completion_answer(
        dashboard.Selection("pokemon", data, request),
        service.fitted(data, request)[0],
        dashboard.CompleteSettings("*u*a", 5, 3, 9, 0.8, LengthChoice()),
    )
    # The download is the service's answer: the CLI's --json, field for field.
    assert json.loads(dashboard.answer_json(answer)) == json.loads(json.dumps(service.jsonable(expected)))
    assert query_of(shown_link(at))["pattern"] == "*u*a"


def test_an_explore_link_sets_the_context():
    at = open_link("Explore", corpus="pokemon", context="Pika", limit=10, top=8)
    data = load_bundled("pokemon")
    expected = service.next_tokens_answer(data, ModelRequest.parse("markov", {}, data), "Pika")["distribution"]
    chart = next(
        c for c in at.get("vega_lite_chart") if json.loads(c.proto.spec).get("title") == "Next token after 'Pika'"
    )
    shown = pd.DataFrame(vega.values_of(json.loads(chart.proto.spec))).set_index("token")["probability"].to_dict()
    assert shown == pytest.approx(expected) and at.text_input(key="explore/context/characters").value == "Pika"
    assert query_of(shown_link(at))["context"] == "Pika"
    assert at.slider(key="explore/limit").value == 10 and at.slider(key="explore/top").value == 8


def test_a_compare_link_runs_the_comparison_the_service_gives():
    labels = ["markov k=2 kneser-ney", "markov k=3"]
    at = open_link("Compare", corpus="ikea", models=";".join(labels), share=20, samples=30, seed=3)
    assert not at.error and at.dataframe, "a comparison link shows its result without a click"
    from tnaas.app import lineup

    menu = lineup.comparison_menu()
    expected = service.compare_answer(load_bundled("ikea"), [menu[x] for x in labels], 0.2, 30, 3)
    table = at.dataframe[0].value
    assert table["model"].tolist() == labels
    assert table["nll"].tolist() == [nats(row["nll_per_token"]) for row in expected["rows"]]
    assert query_of(shown_link(at))["models"] == ";".join(labels)


def test_a_quiz_link_asks_its_question_and_classifies_its_name():
    at = open_link("Quiz", question=3, name="numpy")
    assert any(m.label == "Question" and m.value == "#3" for m in at.metric)
    assert at.text_input(key="quiz/name").value == "numpy"
    posterior = service.sounds_like_answer("numpy", dashboard.SOUNDS_LIKE_CORPORA)["posterior"]
    best = next(iter(posterior))
    title = next(entry["title"] for entry in dashboard.manifest() if entry["name"] == best)
    assert best == "tech" and any(m.value.startswith(f"Sounds most like **{title}**") for m in at.markdown)


def test_a_home_link_shows_the_same_ten_items():
    at = open_link("Home", corpus="ikea", seed=4)
    data = load_bundled("ikea")
    expected = service.generate_answer(data, ModelRequest.parse("markov", {}, data), n=10, seed=4)
    assert bullets(at)[0] == expected["items"]


# ------------------------------------------------------------------ links that cannot be used
def test_a_link_naming_an_upload_says_it_is_private_and_shows_the_defaults():
    at = open_link("Generate", corpus="upload/secret.txt", n=5)
    assert len(at.info) == 1 and "private to their session" in at.info[0].value
    assert not at.error
    assert at.sidebar.selectbox(key="_corpus").value == "pokemon" and at.slider(key="gen/n").value == 20


@pytest.mark.parametrize(
    "query, says",
    [
        ({"corpus": "nope"}, "unknown corpus"),
        ({"state_size": "99"}, "state size"),
        ({"smoothing": "magic"}, "smoothing"),
        ({"n": "abc"}, "n must be"),
        ({"n": "5000"}, "n must be"),
        ({"temperature": "nan"}, "temperature"),
        ({"length": "9-3"}, "length"),
        ({"length": "1-900"}, "length"),
        ({"novel": "perhaps"}, "novel"),
        ({"model": "gpt"}, "unknown model"),
    ],
)
def test_a_bad_link_is_one_error_and_the_defaults(query, says):
    at = open_link("Generate", **query)
    assert len(at.error) == 1 and says in at.error[0].value and "Showing the defaults" in at.error[0].value
    assert at.sidebar.selectbox(key="_corpus").value == "pokemon" and at.slider(key="gen/n").value == 20
    assert len(at.data_editor[0].value) == 20  # the defaults work
    at.run()  # the refused link is not applied (or reported) again
    assert not at.error


def test_a_too_long_pattern_in_a_link_is_refused():
    at = open_link("Complete", pattern="*" * (MAX_PATTERN_CHARS + 1))
    assert len(at.error) == 1 and "limit is 400" in at.error[0].value
    assert not at.exception


# ------------------------------------------------------------------ text boxes
def test_every_free_text_box_has_the_services_cap():
    caps = {}
    for page in ("Complete", "Explore", "Quiz"):
        at = open_link(page)
        caps.update({box.key: box.proto.max_chars for box in at.text_input})
    assert caps["complete/pattern/pokemon"] == MAX_PATTERN_CHARS
    assert caps["explore/context/characters"] == MAX_PREFIX_CHARS
    assert caps["quiz/name"] == MAX_NAME_CHARS


def test_links_round_trip_every_field():
    data = load_bundled("pokemon")
    request = ModelRequest.parse("markov", {"state_size": 4}, data)
    values = {"n": 3, "temperature": 0.35, "seed": 7, "novel": False, "length": LengthChoice.range(2, 5, "peaked")}
    query = links.link_query("pokemon", request, values)
    link = links.parse_link(query, links.page_fields("Generate"))
    assert link.request == request and link.values == values and link.corpus_key == "pokemon"
    assert re.fullmatch(r"/Generate\?corpus=pokemon&model=markov&.*length=2-5%3Apeaked", links.relative_link(
        "/Generate", query))  # fmt: skip
