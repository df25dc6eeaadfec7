"""Dashboard at scale: a run of 20,000 samples opens, pages and filters without stalling the page.

Writes a synthetic 20,000-sample run straight into a temporary store (through the same writer a
real run uses), serves the dashboard on loopback, and prints:
- server response times of the queries the run page makes (open, first/deep page, filters, search),
  median of several requests each;
- with Chromium (Playwright), the browser's time to open the run page and render its first page
  of rows, to render the next page, and to apply a filter; and the longest main-thread task seen
  (a "stall" is any task over 200 ms).

    python bench/dashboard_scale.py              # 20,000 samples
    python bench/dashboard_scale.py --samples 5000 --no-browser
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7, help="requests per query (median reported)")
    parser.add_argument("--no-browser", action="store_true", help="server figures only")
    options = parser.parse_args()
    os.environ["BENCHLAB_HOME"] = tempfile.mkdtemp(prefix="benchlab-dash-scale-")

    from benchlab import api
    from benchlab.surfaces.dashboard.background import BackgroundDashboard
    from benchlab.testing.synthetic_runs import write_run

    started = time.perf_counter()
    record = write_run(api.open_store(), samples=options.samples, accuracy=0.62)
    print(f"wrote run {record.run_id}: {options.samples:,} samples in {time.perf_counter() - started:.1f} s")
    size = Path(os.environ["BENCHLAB_HOME"], "benchlab.db").stat().st_size
    print(f"store size {size / 1e6:.1f} MB\n")

    with BackgroundDashboard() as dashboard:
        base = f"{dashboard.url}/api/runs/{record.run_id}"
        last_page = max(0, options.samples - 50)
        queries = {
            "open run (record + tally + subjects)": base,
            "samples page 1 (50 rows)": f"{base}/samples?limit=50",
            f"samples deep page (offset {last_page:,})": f"{base}/samples?limit=50&offset={last_page}",
            "filter outcome=wrong": f"{base}/samples?limit=50&outcome=wrong",
            "filter subject=logic": f"{base}/samples?limit=50&subject=logic",
            "filter outcome+subject, deep page": (
                f"{base}/samples?limit=50&outcome=correct&subject=virology&offset=2000"
            ),
            "search sample id 's1999'": f"{base}/samples?limit=50&q=s1999",
            "one sample's drill-down": f"{base}/samples/s{options.samples // 2:05d}",
            "accuracy trend (200 points)": f"{base}/trend",
            "runs list": f"{dashboard.url}/api/runs",
            "leaderboard": f"{dashboard.url}/api/leaderboard",
        }
        print(f"{'server query':<45} {'median ms':>10} {'max ms':>9}")
        for name, url in queries.items():
            times = []
            for _ in range(options.repeat):
                begin = time.perf_counter()
                with urllib.request.urlopen(url) as response:
                    response.read()
                times.append((time.perf_counter() - begin) * 1000)
            print(f"{name:<45} {statistics.median(times):>10.1f} {max(times):>9.1f}")
        begin = time.perf_counter()
        with urllib.request.urlopen(f"{base}/export.csv") as response:
            exported = len(response.read())
        took = (time.perf_counter() - begin) * 1000
        print(f"{'CSV export of every sample':<45} {took:>10.1f} ms total ({exported / 1e6:.1f} MB)")
        if not options.no_browser:
            browser_figures(dashboard.url, record.run_id)
    return 0


def browser_figures(url: str, run_id: str) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("\n(browser figures skipped: pip install playwright)")
        return
    if not Path(CHROMIUM).exists():
        print(f"\n(browser figures skipped: no Chromium at {CHROMIUM})")
        return
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        # Long main-thread tasks, as the browser itself reports them.
        page.add_init_script(
            "window.__longest = 0; new PerformanceObserver((list) => { for (const e of list.getEntries())"
            " window.__longest = Math.max(window.__longest, e.duration); })"
            ".observe({type: 'longtask', buffered: true});"
        )
        figures = []
        begin = time.perf_counter()
        page.goto(f"{url}/run/{run_id}")
        page.locator("#samples-table tbody tr").nth(49).wait_for()
        figures.append(("open run page, first 50 rows rendered", time.perf_counter() - begin))
        before = page.locator("#samples-range").text_content()
        begin = time.perf_counter()
        page.locator("#samples-next").click()
        _wait_text_change(page, "#samples-range", before or "")
        figures.append(("next page rendered", time.perf_counter() - begin))
        before = page.locator("#samples-range").text_content()
        begin = time.perf_counter()
        page.locator("select[name=outcome]").select_option("wrong")
        _wait_text_change(page, "#samples-range", before or "")
        figures.append(("filter outcome=wrong rendered", time.perf_counter() - begin))
        before = page.locator("#samples-range").text_content()
        begin = time.perf_counter()
        page.locator("select[name=subject]").select_option("logic")
        _wait_text_change(page, "#samples-range", before or "")
        figures.append(("filter + subject rendered", time.perf_counter() - begin))
        begin = time.perf_counter()
        page.locator("#samples-table tbody tr").first.click()
        page.locator("#sample-detail").wait_for()
        figures.append(("sample drill-down rendered", time.perf_counter() - begin))
        longest = {"run page (open, page, filter, drill-down)": page.evaluate("window.__longest")}
        begin = time.perf_counter()
        page.goto(f"{url}/live?run={run_id}")
        page.locator("#feed tr").nth(499).wait_for()
        figures.append(("open live page, newest 500 feed rows", time.perf_counter() - begin))
        longest["live page feed (500 rows)"] = page.evaluate("window.__longest")
        page.locator("#live-chart .main-svg").first.wait_for(timeout=60_000)
        figures.append(("... and its accuracy chart drawn", time.perf_counter() - begin))
        longest["live page incl. loading Plotly (once)"] = page.evaluate("window.__longest")
        browser.close()
    print(f"\n{'browser (Chromium, headless)':<45} {'ms':>10}")
    for name, seconds in figures:
        print(f"{name:<45} {seconds * 1000:>10.0f}")
    print(f"\n{'longest main-thread task':<45} {'ms':>10}   (a stall: > 200 ms)")
    for name, value in longest.items():
        print(f"{name:<45} {value:>10.0f}")


def _wait_text_change(page: object, selector: str, before: str, timeout: float = 30.0) -> None:
    # Polled from Python: the dashboard's CSP forbids the string evaluation wait_for_function uses.
    deadline = time.monotonic() + timeout
    locator = page.locator(selector)  # type: ignore[attr-defined]
    while time.monotonic() < deadline:
        if locator.text_content() != before:
            return
        time.sleep(0.005)
    raise TimeoutError(f"{selector} did not change from {before!r}")


if __name__ == "__main__":
    sys.exit(main())
