"""The dashboard application: pages, static files, the chart library, and the guarded API.

Everything is served from the installed package and works offline: the UI is plain HTML and
JavaScript modules in `static/`, and charts use the `plotly.min.js` that the `plotly` wheel ships
(served from where pip put it, never copied into this repository).
"""

from __future__ import annotations

import html
import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from importlib.util import find_spec
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from benchlab import __version__, api, settings
from benchlab.surfaces.dashboard import control_routes, read_routes, settings_store
from benchlab.surfaces.dashboard.control import ProcessControl
from benchlab.surfaces.dashboard.queries import DashboardQueries
from benchlab.surfaces.dashboard.security import Guard, GuardMiddleware, is_loopback

STATIC = Path(str(resources.files("benchlab.surfaces.dashboard").joinpath("static")))


class DashboardError(RuntimeError):
    """The dashboard cannot start as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Launch:
    """How this dashboard was started: where it listens and the secrets of this launch."""

    host: str
    port: int
    token: str | None
    guard: Guard

    @property
    def url(self) -> str:
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        shown = f"[{shown}]" if ":" in shown else shown
        address = f"http://{shown}:{self.port}/"
        return f"{address}?token={self.token}" if self.token else address


def plan_launch(host: str = "127.0.0.1", port: int = 8050, token: str | None = None) -> Launch:
    """Loopback needs no token unless one is given; any other address always gets one."""
    if not is_loopback(host) and not token:
        token = secrets.token_urlsafe(24)
    # On a wildcard address the browser reaches us by this machine's name; allow those names too.
    names = (socket.gethostname(), socket.getfqdn()) if host in ("0.0.0.0", "::") else ()
    guard = Guard(port=port, bind_host=host, token=token, extra_hosts=tuple(n.lower() for n in names if n))
    return Launch(host=host, port=port, token=token, guard=guard)


def plotly_path() -> Path | None:
    spec = find_spec("plotly")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "package_data" / "plotly.min.js"
    return path if path.is_file() else None


def create_app(launch: Launch) -> Starlette:
    settings.ensure_home()
    store = api.open_store()
    process_control = ProcessControl(settings.home())

    async def index(request: Request) -> Response:
        template = (STATIC / "index.html").read_text(encoding="utf-8")
        try:
            title = settings_store.effective()["title"]
        except settings_store.SetupError:
            title = settings_store.DEFAULT_TITLE
        page = (
            template.replace("{{csrf}}", html.escape(launch.guard.csrf, quote=True))
            .replace("{{title}}", html.escape(title))
            .replace("{{version}}", html.escape(__version__))
        )
        return HTMLResponse(page)

    async def plotly(request: Request) -> Response:
        path = plotly_path()
        if path is None:
            return PlainTextResponse("charts need plotly: pip install 'benchlab[dashboard]'", status_code=404)
        return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            process_control.shutdown()

    pages = ["/", "/live", "/runs", "/run/{run_id}", "/compare", "/leaderboard", "/control", "/setup"]
    routes = [
        *(Route(path, index) for path in pages),
        Route("/vendor/plotly.min.js", plotly),
        *read_routes.ROUTES,
        *control_routes.ROUTES,
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes, middleware=[Middleware(GuardMiddleware, guard=launch.guard)], lifespan=lifespan
    )
    app.state.queries = DashboardQueries(store)
    app.state.control = process_control
    app.state.launch = launch
    return app


def serve(launch: Launch) -> None:
    """Serve until interrupted (uvicorn handles Ctrl-C and SIGTERM)."""
    try:
        import uvicorn
    except ImportError:
        raise DashboardError("the dashboard needs its extra: pip install 'benchlab[dashboard]'") from None
    os.environ.setdefault("BENCHLAB_HOME", str(settings.home()))
    # Open live streams never end on their own: give them a moment, then close them on shutdown.
    uvicorn.run(
        create_app(launch),
        host=launch.host,
        port=launch.port,
        log_level="warning",
        timeout_graceful_shutdown=3,
    )
