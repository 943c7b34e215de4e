"""The name hunt in the app: exact constraints, the free-on filter, the sort by similarity, the
Blend page, their share links, and the shortlist's export and re-import. Every number and item
shown is checked against the service called directly with the same settings."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tnaas import service
from tnaas.app import dashboard, hunt
from tnaas.app.display import percent
from tnaas.data.corpus import load_bundled
from tnaas.service import ModelRequest
from tnaas.service.names import blend_answer, parse_constraints
from tnaas.tasks.availability import is_free

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 120
GENERATE, BLEND = "pages/1_Generate.py", "pages/7_Blend.py"


@pytest.fixture(autouse=True)
def empty_caches():
    dashboard.clear_caches()
    yield


def open_page(page: str, **query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({k: str(v) for k, v in query.items()})
    at.switch_page(page)
    at.run()
    assert_clean(at)
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def shown_items(at: AppTest) -> list[str]:
    return at.data_editor[0].value["item"].tolist()


def shown_link(at: AppTest) -> str:
    codes = [c.value for c in at.code if c.value.startswith("/")]
    assert len(codes) == 1, codes
    return codes[0]


def query_of(link: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(link).query))


def bullets(markdown: str) -> list[str]:
    return [line[2:] for line in markdown.splitlines() if line.startswith("- ")]


POKEMON = load_bundled("pokemon")
MARKOV = ModelRequest.parse("markov", None, POKEMON)


def test_the_constraints_panel_answers_exactly_through_the_service():
    at = open_page(GENERATE)
    at.text_input(key="gen/starts_with").input("Pi").run()
    at.text_input(key="gen/contains").input("a, r").run()
    at.text_input(key="gen/excludes").input("zx").run()
    at.radio(key="gen/length").set_value("custom").run()
    at.slider(key="gen/range").set_value((5, 8)).run()
    assert_clean(at)
    items = shown_items(at)
    assert items, "the constraints can be met"
    for item in items:
        assert item.startswith("Pi") and "a" in item and "r" in item and not set("zx") & set(item)
        assert 5 <= len(item) <= 8
    constraints = parse_constraints("Pi", "", ("a", "r"), (), ("zx",))
    expected = service.generate_answer(POKEMON, MARKOV, n=20, seed=0, length="5-8", constraints=constraints)
    assert items == expected["items"]
    metric = next(m for m in at.metric if m.label == "p(constraints), exact")
    assert metric.value == hunt.probability_text(expected["probability"])
    assert 0 < expected["probability"] < 0.01  # a rare request, and the page says how rare
    # Another seed: other items, the same exact probability.
    at.number_input(key="gen/seed").set_value(1).run()
    assert shown_items(at) != items
    assert next(m for m in at.metric if m.label == "p(constraints), exact").value == metric.value


def test_contradicting_constraints_show_probability_zero_and_why():
    at = open_page(GENERATE, starts_with="Pi", not_contains="P")
    assert next(m for m in at.metric if m.label == "p(constraints), exact").value == "0"
    assert any("contradict" in w.value for w in at.warning)
    assert shown_items(at) == []


def test_the_free_on_filter_keeps_only_free_names_and_says_so_per_row():
    at = open_page(GENERATE, corpus="tech")
    unfiltered = shown_items(at)
    at.multiselect(key="gen/free_on").select("pypi").select("npm").run()
    assert_clean(at)
    items = shown_items(at)
    assert len(items) == 20 and all(is_free(item, ("pypi", "npm")) for item in items)
    assert not all(is_free(item, ("pypi", "npm")) for item in unfiltered), "the filter has something to do"
    assert set(at.data_editor[0].value["free on"]) == {"PyPI free* · npm free*"}
    data = load_bundled("tech")
    request = ModelRequest.parse("markov", None, data)
    expected = service.generate_answer(data, request, n=20, seed=0, free_on="pypi,npm")
    assert items == expected["items"]


def test_taken_names_are_marked_and_near_misses_warned():
    at = open_page(GENERATE, corpus="tech", novel="false", n=200, seed=3)
    table = at.data_editor[0].value
    taken = table[table["free on"].str.contains("taken")]
    assert len(taken), "the tech corpus is made of real package names"
    for item in taken["item"]:
        assert not is_free(item, ("pypi", "npm"))
    warned = [w.value for w in at.warning if "≈" in w.value]
    assert warned and all("one edit from a popular package" in w for w in warned)


def test_sort_by_similarity_puts_the_most_similar_first():
    at = open_page(GENERATE)
    at.text_input(key="gen/like").input("pikachu").run()
    at.selectbox(key="gen/sort").select("similarity").run()
    assert_clean(at)
    table = at.data_editor[0].value
    similarity = table["similarity"].tolist()
    from tnaas.tasks.similarity import distance

    edits = [distance(item.casefold(), "pikachu") for item in table["item"]]
    assert edits == sorted(edits) and similarity[0] > similarity[-1]  # fewest edits first
    expected = service.generate_answer(POKEMON, MARKOV, n=20, seed=0, like=["pikachu"], sort="similarity")
    assert table["item"].tolist() == expected["items"]
    assert similarity == pytest.approx([row["similarity"] for row in expected["ranked"]])


def test_a_constrained_generate_link_reproduces_the_same_items_and_writes_itself_back():
    query = dict(corpus="pokemon", model="markov", smoothing="none", state_size="3", n="8", temperature="1.0",
                 seed="4", novel="true", length="4-9", starts_with="Ma", contains="o", not_contains="mon",
                 excludes="q", free_on="pypi;npm", like="Mario", sort="score")  # fmt: skip
    at = open_page(GENERATE, **query)
    constraints = parse_constraints("Ma", "", ("o",), ("mon",), ("q",))
    expected = service.generate_answer(POKEMON, MARKOV, n=8, seed=4, length="4-9", constraints=constraints,
                                       free_on="pypi,npm", like=["Mario"], sort="score")  # fmt: skip
    assert expected["items"] and shown_items(at) == expected["items"]
    scores = [row["nll_per_token"] for row in expected["ranked"]]
    assert scores == sorted(scores)
    assert query_of(shown_link(at)) == query and at.query_params == query
    dashboard.clear_caches()
    again = open_page(GENERATE, **query_of(shown_link(at)))  # another visitor
    assert shown_items(again) == expected["items"]
    assert at.expander[0].proto.expanded, "a link with constraints opens the panel"
    assert not open_page(GENERATE, sort="score").expander[0].proto.expanded


def test_the_blend_page_shows_both_blends_as_the_service_gives_them():
    at = open_page(BLEND)
    at.selectbox(key="blend/b").select("tech").run()
    at.slider(key="blend/weight").set_value(0.3).run()
    at.number_input(key="blend/seed").set_value(9).run()
    assert_clean(at)
    lists = [bullets(m.value) for m in at.markdown if bullets(m.value)]
    tech = load_bundled("tech")
    mixture = blend_answer(POKEMON, tech, 0.3, 3, "mixture", 10, 9, 20)
    product = blend_answer(POKEMON, tech, 0.3, 3, "product", 10, 9, 20)
    assert lists == [mixture["items"], product["items"]]
    assert lists[0] != lists[1]
    metric = next(m for m in at.metric if m.label == "p within the bound")
    assert metric.value == percent(product["probability_within_bound"])
    assert any(f"at most {product['truncated_bound']:.2g}" in c.value for c in at.caption)
    # Only corpora of A's token kind are offered as B.
    offered = at.selectbox(key="blend/b").options
    kinds = {load_bundled(name).title: load_bundled(name).token_kind for name in dashboard.bundled_names()}
    assert {kinds[title] for title in offered} == {"characters"} and len(offered) < len(kinds)


def test_a_blend_link_reproduces_the_same_items():
    query = dict(corpus="pokemon", model="markov", smoothing="none", state_size="3", a="ikea", b="pokemon",
                 weight="0.7", state="2", n="6", seed="5", max_length="12")  # fmt: skip
    at = open_page(BLEND, **query)
    ikea = load_bundled("ikea")
    lists = [bullets(m.value) for m in at.markdown if bullets(m.value)]
    assert lists == [blend_answer(ikea, POKEMON, 0.7, 2, mode, 6, 5, 12)["items"] for mode in ("mixture", "product")]
    assert query_of(shown_link(at)) == query
    assert at.selectbox(key="blend/a").value == "ikea" and at.slider(key="blend/state").value == 2


def test_a_bad_blend_link_is_one_error_and_the_defaults():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"a": "nope", "weight": "0.5"})
    at.switch_page(BLEND).run()
    assert not at.exception
    assert len(at.error) == 1 and "unknown a 'nope'" in at.error[0].value
    assert at.selectbox(key="blend/a").value == "pokemon"


def keep_first(at: AppTest, rows: int) -> None:
    editor = at.data_editor[0]
    at.session_state[editor.key] = {
        "edited_rows": {i: {"keep": True} for i in range(rows)},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert_clean(at)


@pytest.fixture
def downloads(monkeypatch):
    """Every download button's bytes by file name, as the app hands them to streamlit."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    files = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        if filename:
            files[filename] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return files


def test_the_shortlist_exports_availability_score_and_settings_and_imports_back(downloads):
    from tnaas.tasks.availability import check
    from tnaas.tasks.similarity import nll_per_token

    at = open_page(GENERATE, starts_with="Bu", seed="2", n="10")
    keep_first(at, 3)
    picked = shown_items(at)[:3]
    rows = json.loads(downloads["shortlist.json"])["names"]
    model = service.fitted(POKEMON, MARKOV)[0]
    link = query_of(shown_link(at))
    assert [row["name"] for row in rows] == picked
    for row in rows:
        answer = check(row["name"])
        assert row["availability"] == {key: answer[key] for key in ("pypi", "npm", "cran")}
        assert row["nll_per_token"] == pytest.approx(nll_per_token(model, row["name"]))
        assert row["settings"] == link and row["corpus"] == "pokemon" and row["model"] == "markov"
        assert row["params"] == {"smoothing": "none", "state_size": "3"} and row["seed"] == 2
        assert row["constraints"] == {"starts_with": "Bu", "length": "natural"}
    frame = pd.read_csv(__import__("io").BytesIO(downloads["shortlist.csv"]), dtype=str, keep_default_na=False)
    assert frame["name"].tolist() == picked and frame["pypi"].tolist() == [r["availability"]["pypi"] for r in rows]
    assert [json.loads(s) for s in frame["settings"]] == [link] * 3

    for name in ("shortlist.json", "shortlist.csv"):  # a new session continues the search
        dashboard.clear_caches()
        fresh = open_page(GENERATE)
        fresh.file_uploader(key="gen/import").upload(name, downloads[name], "text/plain").run()
        assert_clean(fresh)
        assert any(s.value == "Shortlist (3)" for s in fresh.subheader)
        assert any(bullets(m.value) == picked for m in fresh.markdown)
        assert "3 new names" in fresh.success[0].value
        fresh.button(key="gen/continue").click().run()
        assert_clean(fresh)
        assert fresh.text_input(key="gen/starts_with").value == "Bu" and fresh.number_input(key="gen/seed").value == 2
        assert shown_items(fresh) == shown_items(at)  # the same search, where it was left
        assert fresh.data_editor[0].value["keep"].tolist()[:3] == [True] * 3


@pytest.mark.parametrize(
    "name, data, says",
    [
        ("list.json", b"{not json", "not JSON"),
        ("list.json", b'{"names": []}', "not a shortlist export"),
        ("list.csv", b"a,b\n1,2\n", "needs the columns name and settings"),
        ("list.json", json.dumps({"format": "tnaas-shortlist", "names": [{"name": "x\ny"}]}).encode(), "name 1"),
        ("list.csv", b"\xff\xfe\x00bad", "not UTF-8"),
    ],
)
def test_a_bad_shortlist_file_is_one_error_line_and_changes_nothing(name, data, says):
    at = open_page(GENERATE)
    at.file_uploader(key="gen/import").upload(name, data, "text/plain").run()
    assert not at.exception
    assert len(at.error) == 1 and says in at.error[0].value and "\n" not in at.error[0].value
    assert any(s.value == "Shortlist (0)" for s in at.subheader)


def test_hunt_choices_round_trip_through_a_link_and_defaults_add_nothing():
    from tnaas.app import links

    assert hunt.HuntChoice().link_values() == {} and not hunt.HuntChoice().active
    choice = hunt.HuntChoice("Pi", "u", "a, k", "mon", "zx", ("pypi", "cran"), "pikachu, raichu", "similarity")
    query = links.link_query("pokemon", MARKOV, choice.link_values())
    values = links.parse_link(query, links.page_fields("Generate")).values
    assert hunt.HuntChoice(**{**values, "free_on": tuple(values["free_on"])}) == choice
    options = choice.service_options()
    assert options["constraints"] == parse_constraints("Pi", "u", ("a", "k"), ("mon",), ("zx",))
    assert options["like"] == ["pikachu", "raichu"] and options["free_on"] == "pypi,cran"
    with pytest.raises(Exception, match="unknown sort"):
        links.parse_link({**query, "sort": "best"}, links.page_fields("Generate"))
