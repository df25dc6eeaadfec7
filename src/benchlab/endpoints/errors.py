"""What can go wrong when talking to a model server, sorted by who is to blame.

Every message names the problem and the fix. None of them ever contains the API key: they are
built from the URL, the HTTP status and the server's own error text only.
"""

from __future__ import annotations


class EndpointError(Exception):
    """Base class; `str(error)` is a message fit for the user."""


class InfraError(EndpointError):
    """A transport failure worth retrying: refused connection, timeout, 429/5xx, broken stream."""

    def __init__(self, message: str, *, retry_after: float | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.attempts = attempts


class RejectedError(EndpointError):
    """The server refused the request itself (prompt longer than its context, a parameter it does
    not take). Retrying cannot help and the model is not to blame."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthError(EndpointError):
    """401/403: every request would fail the same way, so a run stops at once."""


class ServerUnreachable(EndpointError):
    """Nothing answers at the URL (checked before a run starts)."""


class ModelNotFound(EndpointError):
    def __init__(self, requested: str, available: list[str]) -> None:
        listing = ", ".join(available) if available else "(the server lists no models)"
        super().__init__(
            f"the server has no model {requested!r}. Available: {listing}. "
            "Pass one of these with --model (or BENCHLAB_MODEL), or leave it out to use the first."
        )
        self.requested = requested
        self.available = available
