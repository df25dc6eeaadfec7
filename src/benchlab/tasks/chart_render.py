"""Rendering charts in a real headless browser (Playwright driving Chromium), offline.

One browser per run: `ChartRenderer` starts it lazily on the first chart and keeps it on a thread
of its own with its own event loop. The thread decouples the browser from the run's event loop, so
a renderer can be closed from synchronous code (the task's `summarize()`, or `atexit` when a run
is abandoned) and survives a caller that runs several event loops one after the other.

Each chart is served from memory at a stand-in http address (`CHART_URL`) in a fresh browser
context where every other request that is not `data:`, `blob:` or `about:` is aborted (and
recorded), as are WebSockets; Chromium itself refuses file:// resources to such a page.
The render records: uncaught script errors and console errors, blocked requests, whether the
screenshot is a single colour, how many elements are painted, and the screenshot's path.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import io
import re
import shutil
import threading
import weakref
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

DEFAULT_BROWSER = "/usr/bin/chromium"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The chart is served from memory at this stand-in address (`.invalid` never resolves), never as a
# file: a page with a file:// origin could show the user's files (an <iframe src="file:///…">) in its
# screenshot, while Chromium refuses file:// resources to an http page.
CHART_URL = "http://chart.invalid/chart.html"
LOCAL_SCHEMES = ("data:", "blob:", "about:")
_LOCAL_REFUSED = re.compile(r"Not allowed to load local resource: (\S+)")
SETTLE_MS = 300  # time after `load` for charts drawn in requestAnimationFrame or a short timeout

# Counts what the page actually paints: SVG shapes and text with an area on screen, canvases with
# at least one non-transparent pixel, and table cells with a background.
_PAINTED = """() => {
  let painted = 0;
  for (const el of document.querySelectorAll('svg rect, svg path, svg circle, svg ellipse, svg line,'
      + ' svg polyline, svg polygon, svg text')) {
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if ((box.width > 0 || box.height > 0) && style.visibility !== 'hidden' && style.display !== 'none')
      painted++;
  }
  for (const cell of document.querySelectorAll('td, th')) {
    const colour = getComputedStyle(cell).backgroundColor;
    if (colour && colour !== 'transparent' && colour !== 'rgba(0, 0, 0, 0)') painted++;
  }
  for (const canvas of document.querySelectorAll('canvas')) {
    try {
      const ctx = canvas.getContext('2d');
      if (!ctx || !canvas.width || !canvas.height) continue;
      const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) { painted++; break; }
    } catch (e) { painted++; }
  }
  return painted;
}"""

T = TypeVar("T")


class RenderUnavailable(RuntimeError):
    """The browser cannot be used; the message says what to install or set."""


def check_render_ready(executable: str = DEFAULT_BROWSER) -> None:
    """Refuse early (before any request) when rendering was asked for but cannot happen."""
    try:
        import PIL  # noqa: F401
        import playwright.async_api  # noqa: F401
    except ImportError as error:
        raise RenderUnavailable(
            f"--render needs Playwright and Pillow ({error.name} is missing): pip install 'benchlab[render]'."
        ) from None
    if not (Path(executable).is_file() or shutil.which(executable)):
        raise RenderUnavailable(
            f"--render needs Chromium at {executable}: install it (Debian: apt install chromium) or point "
            "to it with --option browser=/path/to/chromium."
        )


def single_colour(png: bytes) -> bool:
    """Whether a screenshot is one flat colour (nothing was drawn)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return image.convert("RGB").getcolors(maxcolors=1) is not None


class ChartRenderer:
    def __init__(
        self,
        executable: str = DEFAULT_BROWSER,
        *,
        timeout_s: float = 15.0,
        pages: int = 2,
        viewport: tuple[int, int] = (900, 700),
    ) -> None:
        self.executable = executable
        self.timeout_s = timeout_s
        self.pages = pages
        self.viewport = viewport
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._playwright: Any = None
        self._browser: Any = None
        self._gate: asyncio.Semaphore | None = None
        atexit.register(_close_quietly, weakref.ref(self))

    # -- the browser thread ------------------------------------------------------------------------

    def _start_thread(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def main() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=main, name="benchlab-chart-browser", daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def _submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self._start_thread())

    async def render(self, html_path: Path, screenshot_path: Path) -> dict[str, Any]:
        """Render one saved chart (an absolute path); awaitable from any event loop."""
        if not html_path.is_absolute():
            raise ValueError(f"render() needs an absolute path, not {html_path}")
        return await asyncio.wrap_future(self._submit(self._render(html_path, screenshot_path)))

    def render_sync(self, html_path: Path, screenshot_path: Path) -> dict[str, Any]:
        return self._submit(self._render(html_path, screenshot_path)).result()

    async def _ensure_browser(self) -> Any:
        if self._browser is not None and not self._browser.is_connected():
            await self._shutdown()  # the browser died: start a fresh one
        if self._browser is None:
            check_render_ready(self.executable)
            from playwright.async_api import async_playwright

            try:
                self._playwright = await async_playwright().start()
                self._browser = await self._playwright.chromium.launch(
                    executable_path=self.executable, args=BROWSER_ARGS, headless=True
                )
            except Exception as error:
                await self._shutdown()
                raise RenderUnavailable(f"Chromium at {self.executable} did not start: {error}") from error
            self._gate = asyncio.Semaphore(self.pages)
        return self._browser

    async def _render(self, html_path: Path, screenshot_path: Path) -> dict[str, Any]:
        try:
            browser = await self._ensure_browser()
        except RenderUnavailable as error:
            return {"status": "unavailable", "error": str(error)}
        assert self._gate is not None
        async with self._gate:
            try:
                return await self._render_page(browser, html_path, screenshot_path)
            except Exception as error:  # the browser's failure, not the chart's: an infra error
                return {"status": "unavailable", "error": f"the browser failed: {error}"}

    async def _render_page(self, browser: Any, html_path: Path, screenshot_path: Path) -> dict[str, Any]:
        from playwright.async_api import Error as PlaywrightError

        blocked: list[str] = []
        page_errors: list[str] = []
        console_errors: list[str] = []

        html = await asyncio.to_thread(html_path.read_bytes)

        async def gate(route: Any) -> None:
            url = route.request.url
            if url == CHART_URL:
                await route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)
            elif url.startswith(LOCAL_SCHEMES):
                await route.continue_()
            else:
                blocked.append(url)
                await route.abort("blockedbyclient")

        closing: set[asyncio.Task[Any]] = set()

        def on_socket(socket: Any) -> None:
            blocked.append(socket.url)
            task = asyncio.ensure_future(socket.close())
            closing.add(task)
            task.add_done_callback(closing.discard)

        width, height = self.viewport
        context = await browser.new_context(
            viewport={"width": width, "height": height}, service_workers="block"
        )
        record: dict[str, Any] = {"status": "rendered"}
        try:
            await context.route("**/*", gate)
            await context.route_web_socket("**/*", on_socket)
            page = await context.new_page()
            page.on("pageerror", lambda error: page_errors.append(str(error)[:300]))
            page.on(
                "console",
                lambda message: (
                    console_errors.append(message.text[:300]) if message.type == "error" else None
                ),
            )
            timeout_ms = self.timeout_s * 1000
            await page.goto(CHART_URL, wait_until="load", timeout=timeout_ms)
            await page.wait_for_timeout(SETTLE_MS)
            painted = int(await asyncio.wait_for(page.evaluate(_PAINTED), self.timeout_s))
            png = await page.screenshot(full_page=True, timeout=timeout_ms)
            await asyncio.to_thread(screenshot_path.write_bytes, png)
            record.update(painted=painted, single_colour=single_colour(png), screenshot=str(screenshot_path))
        except TimeoutError as error:
            record.update(status="timeout", error=f"the page did not finish within {self.timeout_s:g} s")
            del error
        except PlaywrightError as error:
            text = str(error)
            # A timeout or a crashed page is the chart's doing; anything else (the browser or its
            # connection went away) is not, and is reported as an infra failure.
            status = (
                "timeout" if "Timeout" in text else "crashed" if "crash" in text.lower() else "unavailable"
            )
            record.update(status=status, error=text.splitlines()[0][:300] if text else status)
        finally:
            try:
                await asyncio.wait_for(context.close(), 10)
            except Exception:  # a wedged context is left to the browser's exit
                record.setdefault("cleanup", "context did not close")
        # Requests refused by us or by Chromium (local files) surface as console errors of their own;
        # they are counted as blocked instead.
        for message in console_errors:
            refused = _LOCAL_REFUSED.search(message)
            if refused:
                blocked.append(refused.group(1))
        console_errors = [
            e
            for e in console_errors
            if not _LOCAL_REFUSED.search(e) and not ("net::ERR_BLOCKED_BY_CLIENT" in e and blocked)
        ]
        record.update(
            blocked=list(dict.fromkeys(blocked))[:10],
            page_errors=page_errors[:10],
            console_errors=console_errors[:10],
        )
        record["blank"] = bool(
            record["status"] == "rendered" and (record.get("single_colour") or not record.get("painted"))
        )
        return record

    # -- closing -----------------------------------------------------------------------------------

    async def _shutdown(self) -> None:
        browser, playwright = self._browser, self._playwright
        self._browser = self._playwright = None
        if browser is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(browser.close(), 10)
        if playwright is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(playwright.stop(), 10)

    def close(self) -> None:
        """Close the browser and stop its thread; the next render starts them again."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=10)
        if not loop.is_running():
            loop.close()

    @property
    def running(self) -> bool:
        return self._browser is not None


def _close_quietly(reference: weakref.ref[ChartRenderer]) -> None:
    renderer = reference()
    if renderer is not None:
        renderer.close()


__all__ = [
    "BROWSER_ARGS",
    "DEFAULT_BROWSER",
    "ChartRenderer",
    "RenderUnavailable",
    "check_render_ready",
    "single_colour",
]
