"""How fast the app feels and how much memory its server needs.

Three measurements, all on the bundled corpora with the Markov model:

1. Script run time in-process (`AppTest`): for every page, corpus and state size 1-4, the
   time of a rerun after a widget change that needs new work (a new temperature, a new
   pattern, more heatmap rows, a new seed), caches warm for everything else. The Compare
   page is measured with its results cached (a comparison itself is seconds of model
   fitting, not an interaction: it runs once per corpus, unmeasured, with a small line-up);
   the Quiz page answers a question or asks the next one.
2. In a real browser (Debian's Chromium driving `streamlit run app.py` on a free port):
   - first render of each page: a fresh server per page, from the page's URL to the end of
     the first script run (imports, corpus load and model fit included);
   - warm reruns: the same interactions as in 1, from the browser's rerun request to the
     server's "script finished" message on the websocket (the client's own input debounce
     is not counted);
   - server memory: the peak resident set (VmHWM) of the server process after every
     corpus was fitted at state sizes 1-4, unsmoothed and Kneser-Ney.
3. With `--uploads` (only this part): the app server's peak memory for a 25 MB upload of
   each token kind (the synthetic files of bench_memory.py), each in a fresh process:
   upload on the Corpora page, use it, open Generate at the default settings.
4. With `--first-render` (only this part): the first render of every page (Blend included),
   the app of commit `OLD_COMMIT` or `--old` (checked out into a temporary `git worktree` outside the
   repository, removed afterwards) against the working tree, alternating, `--reps` times
   each; besides the wall time, the server process's CPU time from opening the URL to the
   end of the first script run (/proc/PID/stat). Rewrites section 2 of bench_app.md.

    python benchmarks/bench_app.py [--quick | --uploads | --first-render [--reps 3] [--old COMMIT]]

Writes benchmarks/results/bench_app.md (--uploads: bench_app_uploads.md). Part 2 needs
/usr/bin/chromium and playwright.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common

ROOT = _common.ROOT
APP = str(ROOT / "app.py")
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"]
PAGES = {
    "Home": "app.py",
    "Generate": "pages/1_Generate.py",
    "Complete": "pages/2_Complete.py",
    "Explore": "pages/3_Explore.py",
    "Corpora": "pages/4_Corpora.py",
    "Compare": "pages/5_Compare.py",
    "Quiz": "pages/6_Quiz.py",
}
URLS = {name: "/" if name == "Home" else "/" + name for name in PAGES}
FIRST_RENDER_URLS = {**URLS, "Blend": "/Blend"}
FIRST_RENDER_SCRIPTS = {**PAGES, "Blend": "pages/7_Blend.py"}
# The first script run of one page in a fresh interpreter that has imported what a started
# server has (streamlit's server and runtime, its component registry scanned), timed in
# CPU seconds: the page's own cost without the browser, the websocket or other processes.
FIRST_RUN_PROBE = r"""
import json, os, sys, time
import streamlit.runtime.scriptrunner, streamlit.web.server.server
from streamlit.testing.v1 import AppTest
from streamlit.components.v2.component_manager import BidiComponentManager
at = AppTest.from_file(os.path.join(sys.argv[1], "app.py"), default_timeout=300)
if sys.argv[2] != "app.py":
    at.switch_page(sys.argv[2])
registry = BidiComponentManager()  # a server scans at startup; AppTest would on its first run
registry.discover_and_register_components(start_file_watching=False)
at._bidi_component_manager = registry
started = time.process_time()
at.run()
print(json.dumps({"cpu": time.process_time() - started, "exceptions": [str(e.value) for e in at.exception]}))
"""
# The app before issue 13 part 3's charts change (plain Vega-Lite dicts, no altair or pandas
# to draw a chart; near misses without an index to build); 3d7acab is before its first part
# (lazy imports, background warm-up). `--old` picks another.
OLD_COMMIT = "cd09c86"
LINEUP = ["markov k=2", "markov k=3", "markov k=3 kneser-ney", "markov k=5 kneser-ney"]  # fast to fit, for Compare
STATE_SIZES = (1, 2, 3, 4)
GOAL_MS, FIRST_RENDER_GOAL_S = 300, 1.5  # issue 13 part 3: 1.5 s (on a quiet machine)


# ------------------------------------------------------------------ 1. in-process
def apptest_reruns(corpora: list[str], interactions: int) -> dict[str, list[float]]:
    """Warm rerun times in ms per page (AppTest), over corpora x state sizes x interactions."""
    from streamlit.testing.v1 import AppTest

    from tnaas.app.dashboard import pattern_examples
    from tnaas.data.corpus import load_bundled

    times: dict[str, list[float]] = {page: [] for page in PAGES}
    from tnaas.app import dashboard

    dashboard.clear_caches()
    for corpus in corpora:
        examples = pattern_examples(load_bundled(corpus))
        for k in STATE_SIZES:
            at = AppTest.from_file(APP, default_timeout=300).run()
            at.sidebar.selectbox(key="_corpus").select(corpus).run()
            at.sidebar.slider[0].set_value(k).run()
            for page, path in PAGES.items():
                at.switch_page(path).run()
                if page == "Compare":  # the comparison itself, once per corpus: not an interaction
                    at.multiselect(key="_compare/models").set_value(LINEUP).run()
                    next(b for b in at.button if b.label == "Compare").click().run()
                at.run()  # warm: every cache filled for the current settings
                for i in range(interactions):
                    widget = _apptest_interaction(at, page, i, k, examples)
                    started = _common.clock()
                    widget()
                    times[page].append(1000 * (_common.clock() - started))
                    assert not at.exception, [e.value for e in at.exception]
    return times


def _apptest_interaction(at, page: str, i: int, k: int, examples):
    """The i-th measured interaction of `page` as a callable that changes a widget and reruns."""

    def run():
        if page == "Home":
            at.button[0].click()
        elif page == "Generate":
            at.slider(key="gen/temperature").set_value(round(0.8 + 0.05 * i, 2))
        elif page == "Complete":
            box = next(t for t in at.text_input if t.key and t.key.startswith("complete/pattern/"))
            box.set_value(examples[(i + 1) % len(examples)])
        elif page == "Explore":
            at.slider(key="explore/limit").set_value(10 + i)
        elif page == "Corpora":
            at.sidebar.slider[0].set_value(max(1, k - 1) if i % 2 == 0 else k)
        elif page == "Compare":
            pass  # a plain rerun, the comparison from the cache
        elif any(b.label == "Next question" for b in at.button):
            next(b for b in at.button if b.label == "Next question").click()
        else:
            next(b for b in at.button if b.key and b.key.startswith("quiz/guess/")).click()
        at.run()

    return run


# ------------------------------------------------------------------ 2. real browser
class Server:
    """`streamlit run app.py` on a free port; `stop()` ends only this process."""

    def __init__(self, root: Path = ROOT):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(self.port)]
        command += ["--server.headless", "true", "--server.fileWatcherType", "none"]
        command += ["--browser.gatherUsageStats", "false", "--server.address", "127.0.0.1"]
        self.started = _common.clock()
        env = {**os.environ, "PYTHONPATH": str(root)}  # that checkout's tnaas, not an installed one
        self.process = subprocess.Popen(
            command, cwd=root, env=env, stdout=tempfile.TemporaryFile(), stderr=subprocess.STDOUT
        )
        self.url = f"http://127.0.0.1:{self.port}"
        import urllib.request

        try:
            for _ in range(600):
                try:
                    with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as response:
                        if response.read() == b"ok":
                            self.ready = _common.clock()
                            return
                except OSError:
                    time.sleep(0.1)
        except BaseException:  # e.g. Ctrl-C while waiting: leave no server behind
            self.stop()
            raise
        self.stop()
        raise SystemExit("streamlit did not start")

    def memory_mb(self) -> dict[str, float]:
        """VmRSS (now) and VmHWM (peak) of the server process, in MB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return {key: int(re.search(rf"{key}:\s+(\d+) kB", status)[1]) / 1024 for key in ("VmRSS", "VmHWM")}

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (all its threads), seconds."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Wire:
    """Watches the page's websocket: when a rerun was requested and when a script run finished."""

    def __init__(self, page):
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self.page = page
        self.requests: list[float] = []
        self.finished: list[float] = []

        def on_socket(ws):
            def sent(payload):
                if isinstance(payload, bytes):
                    message = BackMsg.FromString(payload)
                    if message.WhichOneof("type") == "rerun_script":
                        self.requests.append(_common.clock())

            def received(payload):
                if isinstance(payload, bytes):
                    message = ForwardMsg.FromString(payload)
                    if message.WhichOneof("type") == "script_finished" and message.script_finished in (
                        ForwardMsg.FINISHED_SUCCESSFULLY,
                    ):
                        self.finished.append(_common.clock())

            ws.on("framesent", sent)
            ws.on("framereceived", received)

        page.on("websocket", on_socket)

    def measure(self, action, timeout: float = 120) -> float:
        """Do `action`; ms from the rerun request it causes to the end of that script run."""
        before_requests, before_finished = len(self.requests), len(self.finished)
        action()
        deadline = _common.clock() + timeout
        while len(self.finished) <= before_finished or len(self.requests) <= before_requests:
            if _common.clock() > deadline:
                raise TimeoutError(f"no script run finished after {action}")
            self.page.wait_for_timeout(5)
        # A later request (e.g. a second key press) supersedes earlier ones: time the last.
        self.page.wait_for_timeout(50)
        request = self.requests[-1]
        end = next((t for t in self.finished[before_finished:] if t >= request), None)
        while end is None:
            self.page.wait_for_timeout(5)
            end = next((t for t in self.finished[before_finished:] if t >= request), None)
        return 1000 * (end - request)

    def settle(self) -> None:
        """Wait until no script is running (the last request has finished)."""
        deadline = _common.clock() + 120
        while not self.finished or (self.requests and self.finished[-1] < self.requests[-1]):
            if _common.clock() > deadline:
                raise TimeoutError("the app did not settle")
            self.page.wait_for_timeout(10)
        self.page.wait_for_timeout(100)


def first_renders(browser, root: Path = ROOT, urls: dict[str, str] = URLS) -> dict[str, tuple[float, float]]:
    """Per page: (seconds from opening its URL on a fresh server to its first finished script
    run, the server's CPU seconds over the same span)."""
    return {name: first_render(browser, url, root) for name, url in urls.items()}


def first_render(browser, url: str, root: Path = ROOT) -> tuple[float, float]:
    """(wall s, server CPU s) of one page's first render on a fresh server run from `root`."""
    server = Server(root)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        wire = Wire(page)
        cpu, started = server.cpu_seconds(), _common.clock()
        page.goto(server.url + url)
        while not wire.finished:
            page.wait_for_timeout(5)
        wall, cpu = wire.finished[0] - started, server.cpu_seconds() - cpu
        page.close()
    finally:
        server.stop()
    return wall, cpu


def first_run_cpu(script: str, root: Path = ROOT) -> float:
    """CPU seconds of `script`'s first run in a fresh interpreter (see `FIRST_RUN_PROBE`), warm-up off."""
    env = {**os.environ, "PYTHONPATH": str(root), "TNAAS_NO_WARM_UP": "1"}
    done = subprocess.run(
        [sys.executable, "-c", FIRST_RUN_PROBE, str(root), script],
        capture_output=True, text=True, cwd=root, env=env, check=True,
    )  # fmt: skip
    result = json.loads(done.stdout.splitlines()[-1])
    if result["exceptions"]:
        raise RuntimeError(f"{script} at {root}: {result['exceptions'][0]}")
    return result["cpu"]


def first_render_report(reps: int, old: str = OLD_COMMIT) -> None:
    """Part 4 alone: first renders, commit `old` vs the working tree; rewrites section 2 of bench_app.md."""
    from playwright.sync_api import sync_playwright

    load = os.getloadavg()  # (reported: other jobs on the machine inflate wall times)
    old_root = Path(tempfile.mkdtemp(prefix="tnaas-old-")) / "app"
    subprocess.run(["git", "worktree", "add", "--detach", str(old_root), old], cwd=ROOT, check=True)
    runs: dict[str, dict[str, list[tuple[float, float]]]] = {"old": {}, "new": {}}
    # The floor: the same measurement of a one-line Streamlit page (the frontend's own start
    # in the browser, the websocket, one script run), so the pages' figures can be read
    # against what no app code can go below on this machine.
    floor_root = Path(tempfile.mkdtemp(prefix="tnaas-floor-"))
    (floor_root / "app.py").write_text('import streamlit as st\n\nst.write("floor")\n')
    floor: list[tuple[float, float]] = []
    # and the same page with one emoji icon (every TNaaS page has emoji icons: Streamlit checks
    # an emoji against its whole catalog, a large module with one large regex, on first use)
    emoji_root = Path(tempfile.mkdtemp(prefix="tnaas-floor-emoji-"))
    (emoji_root / "app.py").write_text(
        'import streamlit as st\n\nst.set_page_config(page_icon="\U0001f3b2")\nst.write("floor")\n'
    )
    emoji_floor: list[tuple[float, float]] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for rep in range(reps):
                floor.append(first_render(browser, "/", floor_root))
                print("floor", floor[-1], flush=True)
                emoji_floor.append(first_render(browser, "/", emoji_root))
                print("floor with an emoji icon", emoji_floor[-1], flush=True)
                for index, (name, url) in enumerate(FIRST_RENDER_URLS.items()):
                    order = [("old", old_root), ("new", ROOT)]
                    for which, root in order if (rep + index) % 2 == 0 else order[::-1]:
                        if name == "Blend" and not (root / "pages" / "7_Blend.py").exists():
                            continue
                        wall, cpu = first_render(browser, url, root)
                        script = first_run_cpu(FIRST_RENDER_SCRIPTS[name], root)
                        runs[which].setdefault(name, []).append((wall, cpu, script))
                        print(which, name, runs[which][name][-1], flush=True)
            browser.close()
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(old_root)], cwd=ROOT, check=True)
        shutil.rmtree(old_root.parent, ignore_errors=True)
        shutil.rmtree(floor_root, ignore_errors=True)
        shutil.rmtree(emoji_root, ignore_errors=True)

    def cell(which: str, name: str, part: int) -> str:
        values = [r[part] for r in runs[which].get(name, [])]
        return f"{_common.median(values):.2f}" if values else "n/a"

    rows = [
        [name] + [cell(which, name, part) for part in (0, 1, 2) for which in ("old", "new")]
        for name in FIRST_RENDER_URLS
    ]
    for label, runs_ in (
        ("floor: a one-line Streamlit page", floor),
        ("the same with one emoji page icon", emoji_floor),
    ):
        wall, cpu = (f"{_common.median([f[i] for f in runs_]):.2f}" for i in (0, 1))
        rows.append([label, wall, wall, cpu, cpu, "", ""])
    headers = ["page"] + [
        f"{what}, {version}"
        for what in ("wall s", "server CPU s", "script CPU s (in-process)")
        for version in (old, "now")
    ]
    section = "\n".join(
        [
            "## 2. In Chromium: first render of each page (fresh server each time)",
            "",
            "From opening the page's URL to the end of its first script run: Python imports, corpus "
            f"load and model fit included. Goal: under {FIRST_RENDER_GOAL_S:g} s. Re-measured on "
            f"{time.strftime('%Y-%m-%d')} by `python benchmarks/bench_app.py --first-render"
            f"{f' --reps {reps}' if reps != 1 else ''}{f' --old {old}' if old != OLD_COMMIT else ''}`: the app at commit {old} and now, in "
            f"the same run, alternating, median of {reps}; server CPU s is the server process's "
            "CPU time over the same span (the first script run, the session's setup, the static "
            "files); script CPU s is the page's first run alone in a fresh interpreter (AppTest, "
            "`FIRST_RUN_PROBE`, the background warm-up off). The machine's 2 cores are shared with "
            f"Chromium; 1-minute load average {load[0]:.2f} at the start and {os.getloadavg()[0]:.2f} at "
            "the end (other jobs inflate wall times far more than CPU times).",
            "",
            _common.table(headers, rows),
            "",
        ]
    )
    path = _common.RESULTS / "bench_app.md"
    text = path.read_text()
    start, end = text.index("## 2. "), text.index("## 3. ")
    path.write_text(text[:start] + section + "\n" + text[end:])
    print(section)


def _slider(page, label: str):
    return page.locator(f'input[type=range][aria-label="{label}"]').first


def _choose(page, wire: Wire, label: str, option: str) -> None:
    box = page.get_by_role("combobox", name=label, exact=True)
    if box.input_value() == option:
        return
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    wire.settle()


def _set_state_size(page, wire: Wire, k: int) -> None:
    thumb = _slider(page, "State size")
    current = int(float(thumb.input_value()))
    while current != k:
        thumb.focus()
        thumb.press("ArrowRight" if current < k else "ArrowLeft")
        wire.settle()
        current = int(float(thumb.input_value()))


def browser_reruns(browser, server: Server, corpora: list[str], interactions: int) -> dict[str, list[float]]:
    """Warm rerun times in ms per page, measured on the websocket, for every corpus and k = 1-4."""
    from tnaas.app.dashboard import pattern_examples
    from tnaas.data.corpus import load_bundled

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    wire = Wire(page)
    page.goto(server.url + "/")
    wire.settle()
    times: dict[str, list[float]] = {name: [] for name in URLS}
    for corpus in corpora:
        data = load_bundled(corpus)
        for k in STATE_SIZES:
            for name in URLS:
                page.goto(server.url + URLS[name])
                wire.settle()
                _choose(page, wire, "① Corpus", data.title)
                _set_state_size(page, wire, k)
                if name == "Compare":
                    _small_lineup(page, wire)
                    page.get_by_role("button", name=re.compile("Compare$")).click()  # computed once, unmeasured
                    page.get_by_text("Held-out").or_(page.get_by_text("nothing left to test on")).first.wait_for()
                    wire.settle()
                for _ in range(interactions):
                    if name == "Home":
                        action = page.get_by_role("button", name=re.compile("Go")).click
                    elif name == "Generate":
                        action = _keypress(_slider(page, "Temperature"), "ArrowRight")
                    elif name == "Complete":
                        action = _typing(page, pattern_examples(data))
                    elif name == "Explore":
                        action = _keypress(_slider(page, "States to show"), "ArrowRight")
                    elif name == "Corpora":
                        action = _keypress(_slider(page, "State size"), None)
                    elif name == "Compare":  # the same comparison again: from the cache
                        action = page.get_by_role("button", name=re.compile("Compare$")).click
                    else:
                        action = _quiz_click(page)
                    times[name].append(wire.measure(action))
                    wire.settle()
    page.close()
    return times


def _small_lineup(page, wire: Wire) -> None:
    """Leave only `LINEUP` in the Compare page's model choice (the default has the HMM and the LSTM)."""
    tags = page.locator("[data-testid=stMultiSelect] [data-tag]")
    for label in [tags.nth(i).get_attribute("aria-label") for i in range(tags.count())]:
        if label not in LINEUP:
            page.get_by_role("button", name=f"Remove {label}").click()
            wire.settle()


def _quiz_click(page):
    """Answer the quiz's question (the first choice), or ask for the next one once answered."""

    def click():
        guess = page.get_by_role("button", name=re.compile("Pokémon"))
        if guess.is_enabled():
            guess.click()
        else:  # answered: the next-question button may still be on its way to the page, click() waits for it
            page.get_by_role("button", name=re.compile("Next question")).click()

    return click


def _keypress(thumb, key: str | None):
    """Press `key` on a slider; None: one step towards its middle (always a change)."""

    def press():
        thumb.focus()
        if key is None:
            value, low, high = (float(thumb.get_attribute(a) or thumb.input_value()) for a in ("value", "min", "max"))
            thumb.press("ArrowLeft" if value > (low + high) / 2 else "ArrowRight")
        else:
            thumb.press(key)

    return press


def _typing(page, examples):
    """Type the example pattern after the one in the box (always a change)."""

    def type_pattern():
        box = page.get_by_role("textbox", name="Pattern")
        current = box.input_value()
        following = examples[(examples.index(current) + 1) % len(examples)] if current in examples else examples[0]
        box.fill(following)
        box.press("Enter")

    return type_pattern


def memory_with_everything_fitted(browser, server: Server, corpora: list[str]) -> dict[str, float]:
    """Fit every corpus at k = 1-4, both smoothings (Explore page); the server's memory after."""
    from tnaas.data.corpus import load_bundled

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    wire = Wire(page)
    page.goto(server.url + "/Explore")
    wire.settle()
    fitted = 0
    for corpus in corpora:
        _choose(page, wire, "① Corpus", load_bundled(corpus).title)
        for smoothing in ("none", "kneser-ney"):
            _choose(page, wire, "Smoothing", smoothing)
            for k in STATE_SIZES:
                _set_state_size(page, wire, k)
                fitted += 1
    page.close()
    return {"models": fitted, **server.memory_mb()}


# ------------------------------------------------------------------ 3. uploads
UPLOAD_MB = 24.9  # as bench_memory.py: just under the 25 MB limit
UPLOAD_PROBE = r"""
import json, sys, time
from pathlib import Path
from streamlit.testing.v1 import AppTest
def peak():  # VmHWM: this process's own peak RSS; ru_maxrss would keep the parent's across exec
    status = Path('/proc/self/status').read_text()
    return int(status.split('VmHWM:')[1].split()[0]) / 1024
path = Path(sys.argv[1])
started, start = time.perf_counter(), peak()
at = AppTest.from_file('app.py', default_timeout=300).run()
at.switch_page('pages/4_Corpora.py').run()
at.file_uploader(key='corpora/file').upload(path.name, path.read_bytes(), 'text/plain').run()
uploaded = peak()
next(b for b in at.button if b.label == 'Use this corpus').click().run()
read = peak()
use = [m.value for m in at.success] + ['error: ' + m.value for m in at.error]
selected = at.sidebar.selectbox(key='_corpus').value
at.switch_page('pages/1_Generate.py').run()
items = len(at.data_editor[0].value) if at.data_editor else 0
print(json.dumps({'start': start, 'uploaded': uploaded, 'read': read, 'peak': peak(), 'seconds': time.perf_counter() - started,
                  'use': use, 'selected': selected, 'errors': [m.value for m in at.error],
                  'warnings': [m.value for m in at.warning],
                  'exceptions': [str(e.value) for e in at.exception], 'items': items}))
"""


def upload_memory(megabytes: float = UPLOAD_MB) -> list[list]:
    """Rows of the upload table: per token kind, the app server's peak RSS in a fresh process."""
    import bench_memory

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for kind in ("characters", "words", "notes"):
            path = bench_memory.synthetic(kind, megabytes, Path(folder))
            done = subprocess.run(
                [sys.executable, "-c", UPLOAD_PROBE, str(path)], capture_output=True, text=True, cwd=ROOT, check=True
            )
            r = json.loads(done.stdout.splitlines()[-1])
            if r["exceptions"]:
                shown = "exception: " + r["exceptions"][0]
            elif r["errors"]:
                shown = "st.error: " + r["errors"][0]
            else:
                shown = f"{r['items']} items" + "".join(f"; st.warning: {w}" for w in r["warnings"])
            rows.append(
                [
                    kind,
                    f"{path.stat().st_size / 2**20:.1f}",
                    f"{r['start']:.0f}",
                    f"{r['uploaded']:.0f}",
                    f"{r['read']:.0f}",
                    f"{r['peak']:.0f}",
                    f"{r['seconds']:.1f}",
                    (" / ".join(r["use"]) or "(nothing)")[:90],
                    shown.replace("\n", " ")[:140],
                ]
            )
    return rows


def uploads_report() -> None:
    """Part 3 alone: write results/bench_app_uploads.md."""
    headers = [
        "tokens",
        "MB",
        "start MB",
        "uploaded MB",
        "read MB",
        "peak RSS MB",
        "wall s",
        "Corpora page",
        "Generate page",
    ]
    body = "\n".join(
        [
            "The app server (`AppTest`, in-process, as `streamlit run` runs the scripts) in a fresh "
            "process per token kind: open the Corpora page, upload the synthetic file of "
            "`bench_memory.py`, press *Use this corpus* (token kind inferred), then open Generate "
            "with the upload selected at the default settings (Markov chain, state size 3, no "
            "smoothing, 20 items). Memory is the process's own peak RSS (`VmHWM`; `ru_maxrss` "
            "would report the parent's if larger, being kept across exec) after each step: *start* "
            "before the first script run (Python and streamlit imported), *uploaded* once the "
            "uploader holds the file, *read* once *Use this corpus* read it into a corpus, *peak* "
            "at the end (the Generate page's fit and sampling included).",
            "",
            _common.table(headers, upload_memory()),
            "",
            "documented budget: one fit ≤ TNAAS_FIT_BUDGET_MB (500 MB); Community Cloud gives an app 1 GB",
        ]
    )
    _common.write_result(
        "bench_app_uploads",
        "App server memory for a 25 MB upload",
        body,
        "python benchmarks/bench_app.py --uploads",
        timing=False,
    )


# ------------------------------------------------------------------ report
def summary_rows(times: dict[str, list[float]]) -> list[list]:
    rows = []
    for page, values in times.items():
        ordered = sorted(values)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        share = sum(v < GOAL_MS for v in values) / len(values)
        rows.append([page, len(values), _common.median(values), p90, max(values), f"{share:.0%}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two corpora, one interaction each (a smoke run)")
    parser.add_argument("--interactions", type=int, default=3, help="measured interactions per page and setting")
    parser.add_argument("--uploads", action="store_true", help="only part 3: server memory for 25 MB uploads")
    parser.add_argument("--first-render", action="store_true", help=f"only part 4: first renders, {OLD_COMMIT} vs now")
    parser.add_argument("--old", default=OLD_COMMIT, help="with --first-render: the commit to compare with")
    parser.add_argument("--reps", type=int, default=3, help="with --first-render: renders per page and version")
    args = parser.parse_args()
    if args.uploads:
        uploads_report()
        return
    if args.first_render:
        first_render_report(args.reps, args.old)
        return
    from tnaas.data.corpus import bundled_names

    corpora = ["pokemon", "sonnets"] if args.quick else bundled_names()
    interactions = 1 if args.quick else args.interactions
    headers = ["page", "reruns", "median ms", "p90 ms", "max ms", f"< {GOAL_MS} ms"]
    body = [
        "Warm interactions: Home = click Go (new seed), Generate = temperature +0.05, Complete = a new "
        "example pattern, Explore = one more heatmap row, Corpora = state size ±1 (a refit the first time), "
        f"Compare = a rerun with the comparison cached (line-up: {', '.join(LINEUP)}; computed once per corpus "
        "before measuring), Quiz = answer the question or ask the next one. "
        f"Every bundled corpus ({', '.join(corpora)}) at state sizes 1-4, {interactions} interaction(s) each.",
        "",
        "## 1. Script run time in-process (AppTest)",
        "",
        _common.table(headers, summary_rows(apptest_reruns(corpora, interactions))),
    ]
    if Path(CHROMIUM).exists():
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            renders = first_renders(browser)
            server = Server()
            try:
                baseline = server.memory_mb()
                reruns = browser_reruns(browser, server, corpora, interactions)
                after_pages = server.memory_mb()
                memory = memory_with_everything_fitted(browser, server, corpora)
            finally:
                server.stop()
            browser.close()
        body += [
            "",
            "## 2. In Chromium: first render of each page (fresh server each time)",
            "",
            "From opening the page's URL to the end of its first script run: Python imports, corpus "
            f"load and model fit included. Goal: under {FIRST_RENDER_GOAL_S:g} s.",
            "",
            _common.table(
                ["page", "first render s", "server CPU s"], [[name, *times] for name, times in renders.items()]
            ),
            "",
            "## 3. In Chromium: warm reruns (websocket: rerun request to script finished)",
            "",
            _common.table(headers, summary_rows(reruns)),
            "",
            "## 4. Server memory",
            "",
            _common.table(
                ["when", "RSS MB", "peak RSS MB"],
                [
                    ["started, no page open", baseline["VmRSS"], baseline["VmHWM"]],
                    [
                        "after the rerun benchmark (every page, corpus, k = 1-4)",
                        after_pages["VmRSS"],
                        after_pages["VmHWM"],
                    ],
                    [
                        f"after fitting {memory['models']} models (every corpus, k = 1-4, none and Kneser-Ney)",
                        memory["VmRSS"],
                        memory["VmHWM"],
                    ],
                ],
            ),
            "",
            "Streamlit Community Cloud allows 1 GB. The model cache keeps at most "
            "`tnaas.app.dashboard.MODEL_CACHE_ENTRIES` fitted models for all sessions together.",
        ]
    else:
        body += ["", f"Part 2 skipped: {CHROMIUM} is not installed."]
    command = "python benchmarks/bench_app.py" + (" --quick" if args.quick else "")
    _common.write_result("bench_app", "App responsiveness and server memory", "\n".join(body), command)


if __name__ == "__main__":
    main()
