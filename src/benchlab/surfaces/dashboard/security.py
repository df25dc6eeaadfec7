"""The dashboard's guards: allowed Host headers, the access token, CSRF and same-origin checks.

The dashboard can start processes and runs, so every request is treated as possibly hostile:
- the Host header must be one this server answers to (a DNS-rebinding page carries its own name);
- off loopback, every request needs the launch's access token (query once, then an HttpOnly cookie);
- every state-changing request needs the per-launch CSRF token in a header and an Origin equal to
  the dashboard's own, so another site (or a sandboxed chart, whose origin is opaque) cannot act.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from dataclasses import dataclass, field

from starlette.datastructures import URL, MutableHeaders, QueryParams
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_HEADER = "x-csrf-token"
TOKEN_COOKIE = "benchlab_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")

# The app's own pages: scripts and styles from this origin only (Plotly needs inline styles).
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Model-written HTML: an opaque origin even when opened directly, no network, no forms.
ARTIFACT_CSP = (
    "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data:; font-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'"
)


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Guard:
    """The per-launch secrets and the names this server answers to."""

    port: int
    bind_host: str = "127.0.0.1"
    token: str | None = None  # required on every request when set
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    extra_hosts: tuple[str, ...] = ()

    def allowed_hosts(self) -> set[str]:
        names = {*LOOPBACK_NAMES, *self.extra_hosts}
        if not is_loopback(self.bind_host) and self.bind_host not in ("0.0.0.0", "::"):
            names.add(f"[{self.bind_host}]" if ":" in self.bind_host else self.bind_host)
        return {f"{name}:{self.port}" for name in names} | (names if self.port == 80 else set())

    def host_ok(self, host: str | None) -> bool:
        return host is not None and host.lower() in self.allowed_hosts()

    def token_ok(self, presented: str | None) -> bool:
        return self.token is None or (presented is not None and hmac.compare_digest(presented, self.token))

    def csrf_ok(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented, self.csrf)


_BEARER = re.compile(r"^Bearer\s+(\S+)$", re.IGNORECASE)


class GuardMiddleware:
    """ASGI middleware applying `Guard` to every HTTP request before any route sees it."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # the dashboard has none; refuse rather than leave one unguarded
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":  # lifespan
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-security-policy", PAGE_CSP)
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("referrer-policy", "no-referrer")
                headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope) -> Response | None:
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        host = headers.get("host")
        if not self.guard.host_ok(host):
            return _refuse(400, f"Host {host!r} is not served here (DNS rebinding guard).")
        url = URL(scope=scope)
        if self.guard.token is not None:
            from_query = QueryParams(scope.get("query_string", b"")).get("token")
            if from_query is not None and self.guard.token_ok(from_query) and scope["method"] == "GET":
                # Trade the token in the address for a cookie, and drop it from the address bar.
                response = RedirectResponse(str(url.remove_query_params("token")), status_code=303)
                response.set_cookie(TOKEN_COOKIE, from_query, httponly=True, samesite="strict")
                return response
            bearer = _BEARER.match(headers.get("authorization", ""))
            cookie = _cookie(headers.get("cookie", ""), TOKEN_COOKIE)
            if not (self.guard.token_ok(cookie) or self.guard.token_ok(bearer.group(1) if bearer else None)):
                return _refuse(401, "this dashboard needs its access token: open the address it printed.")
        if scope["method"] not in SAFE_METHODS:
            origin = headers.get("origin")
            if origin is None or origin.lower() != f"{url.scheme}://{host}".lower():
                return _refuse(403, f"cross-origin request refused (Origin {origin!r}).")
            if not self.guard.csrf_ok(headers.get(CSRF_HEADER)):
                return _refuse(403, "missing or wrong CSRF token; reload the dashboard page.")
        return None


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def _refuse(status: int, message: str) -> Response:
    return PlainTextResponse(message, status_code=status)
