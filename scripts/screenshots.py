"""Regenerate the dashboard screenshots in docs/screenshots/ (one per page).

The runs shown are synthetic (written straight into a temporary store by
`benchlab.testing.synthetic_runs`), labelled `example-…`, so the pictures show the layout and
never claim a real model's score. Needs the dashboard extra, Playwright and Chromium.

    python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "screenshots"
    )
    options = parser.parse_args()
    os.environ["BENCHLAB_HOME"] = tempfile.mkdtemp(prefix="benchlab-screens-")

    from playwright.sync_api import sync_playwright

    from benchlab import api
    from benchlab.surfaces.dashboard.background import BackgroundDashboard
    from benchlab.testing.synthetic_runs import write_run
    from benchlab.types import RunStatus

    store = api.open_store()
    q8 = write_run(
        store, samples=400, accuracy=0.66, model="example-model-q8", benchmark="mmlu", tag="q8", seed=1
    )
    q4 = write_run(
        store, samples=400, accuracy=0.61, model="example-model-q4", benchmark="mmlu", tag="q4", seed=2
    )
    write_run(
        store, samples=300, accuracy=0.72, model="example-model-q8", benchmark="hellaswag", tag="q8", seed=3
    )
    write_run(
        store, samples=300, accuracy=0.70, model="example-model-q4", benchmark="hellaswag", tag="q4", seed=4
    )
    live = write_run(
        store,
        samples=120,
        accuracy=0.55,
        model="example-model-q4",
        benchmark="arc_challenge",
        status=RunStatus.RUNNING,
    )
    options.out.mkdir(parents=True, exist_ok=True)
    pages = {
        "live": f"/live?run={live.run_id}",
        "runs": "/runs",
        "run": f"/run/{q8.run_id}?sample=s00004",
        "compare": f"/compare?a={q8.tag}&b={q4.tag}",
        "leaderboard": "/leaderboard",
        "control": "/control",
    }
    with BackgroundDashboard() as dashboard, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        for name, path in pages.items():
            page.goto(dashboard.url + path)
            if name in ("live", "control"):  # a live stream and a poller never go idle
                time.sleep(2.5)
            else:
                page.wait_for_load_state("networkidle")
            if name in ("live", "leaderboard"):  # Plotly is several MB: wait for the chart itself
                page.locator(".chart .main-svg").first.wait_for(timeout=60_000)
            time.sleep(0.8)  # charts animate in
            target = options.out / f"{name}.png"
            page.screenshot(path=str(target), full_page=name in ("compare", "leaderboard", "control"))
            print(f"wrote {target}")
        browser.close()


if __name__ == "__main__":
    main()
