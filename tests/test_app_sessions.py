"""Multi-user safety: two independent sessions of the app, uploads and the shared model cache."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tnaas.app import dashboard
from tnaas.app.selection import Selection
from tnaas.data.corpus import load_bundled
from tnaas.models.markov import MarkovModel
from tnaas.service import MODELS_CACHE, ModelRequest

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 120


@pytest.fixture(autouse=True)
def empty_caches():
    dashboard.clear_caches()  # streamlit's caches and the service's fitted models
    yield


def session_with_upload(filename: str, lines: list[str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("pages/4_Corpora.py").run()
    at.file_uploader(key="corpora/file").upload(filename, "\n".join(lines).encode(), "text/plain").run()
    at.button[0].click().run()
    assert not at.exception and not at.error
    return at


def sidebar_corpora(at: AppTest) -> list[str]:
    return at.sidebar.selectbox(key="_corpus").options


def generated_items(at: AppTest) -> list[str]:
    at.switch_page("pages/1_Generate.py").run()
    assert not at.exception
    return at.data_editor[0].value["item"].tolist()


def test_an_upload_is_seen_only_by_its_own_session_even_with_the_same_file_name():
    alice = session_with_upload("names.txt", [f"alpha{i}" for i in range(40)])
    bob = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert "names.txt (your upload)" in sidebar_corpora(alice)
    assert "names.txt (your upload)" not in sidebar_corpora(bob)

    bob = session_with_upload("names.txt", [f"omega{i}" for i in range(40)])
    assert all(item.startswith("alpha") for item in generated_items(alice))
    assert all(item.startswith("omega") for item in generated_items(bob))
    assert len(alice.session_state["uploads"]) == len(bob.session_state["uploads"]) == 1
    assert alice.session_state["uploads"]["upload/names.txt"].items[0] == "alpha0"
    assert bob.session_state["uploads"]["upload/names.txt"].items[0] == "omega0"


def test_sessions_share_one_fitted_model_and_never_change_it(monkeypatch):
    fits = []
    original_fit = MarkovModel.fit
    monkeypatch.setattr(
        MarkovModel,
        "fit",
        lambda self, corpus, progress=None: fits.append(corpus.name) or original_fit(self, corpus, progress),
    )
    first = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    first.switch_page("pages/1_Generate.py").run()
    corpus = load_bundled("pokemon")
    selection = Selection("pokemon", corpus, ModelRequest.parse("markov", {"state_size": 3}, corpus))
    model = dashboard.fitted_model(selection)
    before = pickle.dumps(model.__dict__)

    second = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    for page in ("pages/1_Generate.py", "pages/2_Complete.py", "pages/3_Explore.py"):
        second.switch_page(page).run()
        assert not second.exception
    second.switch_page("pages/1_Generate.py").run()
    second.slider(key="gen/temperature").set_value(2.0).run()
    second.radio(key="gen/length").set_value("corpus").run()

    assert dashboard.fitted_model(selection) is model
    assert selection.key in MODELS_CACHE  # the app's model is the service's (one cache for every front end)
    assert fits == ["pokemon"]  # one fit served every page of both sessions
    assert pickle.dumps(model.__dict__) == before  # reading it did not change it
    assert generated_items(first) == generated_items(AppTest.from_file(APP, default_timeout=TIMEOUT).run())
