"""The app's first render after a server start: what the first script run imports, and the
background warm-up that prepares the other pages once the first one is drawn.

Each check runs in a fresh interpreter (as a fresh `streamlit run` server would be), since
what matters is what a process has imported so far.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import json, sys, time
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=120)
if sys.argv[2] != "app.py":
    at.switch_page(sys.argv[2])
at.run()
heavy = ("pandas", "altair", "pyarrow")
after_run = [m for m in heavy if m in sys.modules]
from tnaas.app import dashboard
warmed = None
if sys.argv[3] == "wait":
    thread = next((t for t in __import__("threading").enumerate() if t.name == "tnaas-warm-up"), None)
    if thread is not None:
        thread.join(120)
    from tnaas.tasks import availability
    warmed = {"modules": [m for m in heavy if m in sys.modules], "index": availability._POPULAR.loaded,
              "thread": thread is not None}
print(json.dumps({"after_run": after_run, "exceptions": [str(e.value) for e in at.exception],
                  "titles": [t.value for t in at.title], "warmed": warmed,
                  "charts": len(at.get("vega_lite_chart")), "tables": len(at.get("arrow_data_frame"))}))
"""


def probe(page: str, wait: bool, warm_up: bool = True) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TNAAS_NO_WARM_UP", None)
    if not warm_up:
        env["TNAAS_NO_WARM_UP"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT / "app.py"), page, "wait" if wait else "no"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_the_home_page_imports_neither_pandas_nor_altair():
    # ~0.9 s of CPU that the Home page does not need: its first render is then ~3x cheaper.
    result = probe("app.py", wait=False, warm_up=False)
    assert result["exceptions"] == [] and result["titles"] == ["🔤 Tech Names as a Service"]
    assert result["after_run"] == []


def test_the_corpora_page_does_not_import_altair():
    result = probe("pages/4_Corpora.py", wait=False, warm_up=False)
    assert result["exceptions"] == [] and result["titles"] == ["📚 Corpora"]
    assert "altair" not in result["after_run"]


@pytest.mark.parametrize("page, title, charts", [("pages/2_Complete.py", "🧩 Complete", 2),
                                                 ("pages/3_Explore.py", "🔍 Explore", 4)])  # fmt: skip
def test_complete_and_explore_draw_their_charts_without_pandas_altair_or_pyarrow(page, title, charts):
    # Charts are plain Vega-Lite dicts with inline data: ~1.2 s of imports less on a first render.
    result = probe(page, wait=False, warm_up=False)
    assert result["exceptions"] == [] and result["titles"] == [title]
    assert result["charts"] == charts
    assert result["after_run"] == []


def test_generate_imports_pandas_and_pyarrow_for_its_table_but_not_altair():
    # st.data_editor (the table with the keep ticks) needs pandas and pyarrow, even given a list of
    # dicts (Streamlit 1.67 makes a DataFrame of any input and sends it as Arrow), and no built-in
    # pandas-free widget has a checkbox column: ~0.4 s of CPU of the page's ~1.3 s first render
    # (measured 2026-12-01). Its chart needs neither.
    result = probe("pages/1_Generate.py", wait=False, warm_up=False)
    assert result["exceptions"] == [] and result["titles"] == ["🎲 Generate"]
    assert result["charts"] == 1
    assert result["after_run"] == ["pandas", "pyarrow"]


def test_after_the_first_page_a_background_warm_up_prepares_the_others():
    result = probe("app.py", wait=True)
    assert result["exceptions"] == []
    assert result["warmed"]["thread"]
    assert result["warmed"]["modules"] == ["pandas", "pyarrow"]  # for tables; no page needs altair
    assert result["warmed"]["index"]  # the free-on check's package-name index is read


def test_the_warm_up_can_be_switched_off():
    result = probe("app.py", wait=True, warm_up=False)
    assert not result["warmed"]["thread"]
    assert result["warmed"]["modules"] == []
