"""The dashboard served by uvicorn on a thread: for tests, screenshots and benchmarks that drive it
from the same process (the `benchlab dashboard` command serves on the main thread instead)."""

from __future__ import annotations

import threading
import time

import uvicorn

from benchlab.endpoints.managed import free_port
from benchlab.surfaces.dashboard.app import create_app, plan_launch


class BackgroundDashboard:
    """Use as a context manager; `url` is the loopback address to open."""

    def __init__(self, token: str | None = None, port: int | None = None) -> None:
        self.launch = plan_launch(port=port or free_port(), token=token)
        config = uvicorn.Config(
            create_app(self.launch),
            host="127.0.0.1",
            port=self.launch.port,
            log_level="warning",
            timeout_graceful_shutdown=2,  # open live streams would otherwise hold the shutdown
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="benchlab-dashboard", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.launch.port}"

    def __enter__(self) -> BackgroundDashboard:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the dashboard did not start; see the log above")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
