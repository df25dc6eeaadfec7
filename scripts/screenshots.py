"""Regenerate the dashboard screenshots in docs/screenshots/ (one per page).

The runs shown are synthetic (written straight into a temporary store by
`benchlab.testing.synthetic_runs`), labelled `example-…`, so the pictures show the layout and
never claim a real model's score. The speed page is a real concurrency sweep against benchlab's
scripted server (paced replies with llama.cpp-style timings), so its figures describe that
stand-in, not a model. Needs the dashboard extra, Playwright and Chromium.

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
    from benchlab.testing.scripted_server import Pacing, Reply, ScriptedServer
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
    rubric = write_run(store, samples=40, model="example-model-q8", benchmark="rubric_core", tag="q8", seed=5)
    rubric_summary = {
        **rubric.summary,
        "metric": "rubric_score",
        "rubric_score": {"mean": 0.58, "ci_low": 0.49, "ci_high": 0.67, "n": 40, "method": "bootstrap"},
    }
    rubric_summary.pop("accuracy", None)
    store.save_run(rubric.model_copy(update={"task_kind": "rubric", "summary": rubric_summary}))
    with store.connect() as connection:  # the kind column is set when a run is first saved
        connection.execute("UPDATE runs SET task_kind = 'rubric' WHERE run_id = ?", (rubric.run_id,))
    # Paced like a small local model: 60 ms to the first token, then ~40 tokens/s per request.
    reply = Reply(
        content=" ".join(f"w{i}" for i in range(48)),
        timings={"prompt_n": 128, "prompt_ms": 55.0, "predicted_n": 48, "predicted_ms": 1150.0},
    )
    pacing = Pacing(ttft=0.06, gap=0.025)
    with ScriptedServer(
        reply, pacing=pacing, slots=4, server_kind="llama.cpp", model="example-server"
    ) as server:
        sweep = api.speed("concurrency", server=server.base_url, levels=[1, 2, 4, 8], output_tokens=48)
    options.out.mkdir(parents=True, exist_ok=True)
    pages = {
        "live": f"/live?run={live.run_id}",
        "runs": "/runs",
        "run": f"/run/{q8.run_id}?sample=s00004",
        "compare": f"/compare?a={q8.tag}&b={q4.tag}",
        "leaderboard": "/leaderboard",
        "speed": f"/run/{sweep.run_id}",
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
            if name in ("live", "leaderboard", "speed"):  # Plotly is several MB: wait for the chart itself
                page.locator(".chart .main-svg").first.wait_for(timeout=60_000)
            time.sleep(0.8)  # charts animate in
            target = options.out / f"{name}.png"
            page.screenshot(
                path=str(target), full_page=name in ("compare", "leaderboard", "control", "speed")
            )
            print(f"wrote {target}")
        browser.close()


if __name__ == "__main__":
    main()
