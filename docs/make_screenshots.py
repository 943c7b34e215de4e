"""Regenerate the README screenshots in docs/: one per page, taken in Debian's Chromium.

    python docs/make_screenshots.py

Starts `streamlit run app.py` on a free port, drives each page with Playwright and stops
the server it started. Needs /usr/bin/chromium and an emoji font (fonts-noto-color-emoji)
for the page icons to render.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"]
WIDTH = 1400
SETTLE_SECONDS = 2.5  # charts fade in after the script run finishes


def start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    command += ["--server.headless", "true", "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=tempfile.TemporaryFile(), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return process, url
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit("streamlit did not start")


def idle(page) -> None:
    """Wait until the script run is over (no 'Running' indicator) and charts have drawn."""
    page.wait_for_timeout(500)
    page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')", timeout=60_000)
    page.wait_for_timeout(SETTLE_SECONDS * 1000)


def choose(page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    idle(page)


def shoot(page, name: str, height: int) -> None:
    page.set_viewport_size({"width": WIDTH, "height": height})
    idle(page)
    page.screenshot(path=str(DOCS / f"{name}.png"))
    sys.stdout.write(f"wrote {DOCS / name}.png\n")


def main() -> None:
    process, url = start_server()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": WIDTH, "height": 1000})

            page.goto(url + "/")
            page.get_by_role("button", name=re.compile("Go")).click()
            page.get_by_text("New from").wait_for()
            shoot(page, "home", 1000)

            page.get_by_role("link", name=re.compile("Generate")).first.click()
            choose(page, "① Corpus", "Software package names")
            page.get_by_role("heading", name=re.compile("Shortlist")).wait_for()
            shoot(page, "generate", 1700)

            page.get_by_role("link", name=re.compile("Complete")).first.click()
            page.get_by_role("textbox", name="Pattern").fill("***base")
            page.get_by_role("textbox", name="Pattern").press("Enter")
            page.get_by_role("heading", name="Exact samples").wait_for()
            shoot(page, "complete", 1500)

            page.get_by_role("link", name=re.compile("Explore")).first.click()
            choose(page, "① Corpus", "Pokémon names")
            page.get_by_text("What the model learned").wait_for()
            shoot(page, "explore", 1400)

            page.get_by_role("link", name=re.compile("Corpora")).first.click()
            page.get_by_text("Your own corpus").wait_for()
            page.get_by_text("Pokémon names (1,025 items, characters)").click()
            shoot(page, "corpora", 1300)

            page.get_by_role("link", name=re.compile("Generate")).first.click()
            choose(page, "① Corpus", "Irish folk tunes (notes)")
            page.get_by_role("heading", name="Listen").scroll_into_view_if_needed()
            shoot(page, "notes", 1000)

            page.get_by_role("link", name=re.compile("Compare")).first.click()
            choose(page, "① Corpus", "Pokémon names")
            page.get_by_role("button", name=re.compile("^⚖️ Compare|^Compare")).last.click()
            page.get_by_text("Held-out:").wait_for(timeout=300_000)  # the HMM (and the LSTM, if installed) train first
            shoot(page, "compare", 2000)

            page.get_by_role("link", name=re.compile("Quiz")).first.click()
            page.get_by_role("button", name=re.compile("tech")).click()
            page.get_by_role("button", name=re.compile("Next question")).wait_for()
            page.get_by_role("textbox", name="Any name").fill("pikachu")
            page.get_by_role("textbox", name="Any name").press("Enter")
            page.get_by_text("Sounds most like").wait_for()
            shoot(page, "quiz", 1500)
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=15)


if __name__ == "__main__":
    main()
