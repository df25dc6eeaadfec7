"""A scripted OpenAI-compatible server for exact-score, fault-injection and overhead tests.

The server answers ``POST /v1/chat/completions`` from a *responder* (a constant :class:`Reply`, or a
function of the request body), optionally paced like a real model (:class:`Pacing`) and optionally
failing on purpose (:class:`Fault`). It runs on its own event loop in a background thread, so sync
and async tests use it the same way::

    with ScriptedServer(Reply.text("The answer is C"), faults=[Fault("status", status=429)]) as server:
        ...  # point the code under test at server.v1_url ("http://127.0.0.1:PORT/v1")
        assert server.counts["status"] == 1
        assert server.requests[0]["temperature"] == 0

Speed tests use its exact pacing (``Pacing``), ``slots`` (a server that serves N requests at once and
queues the rest), ``refuse_fields`` (HTTP 400 naming a request field, as servers that do not take
``stream_options`` or ``ignore_eos`` answer), llama.cpp's ``/tokenize`` and ``/detokenize`` (a token
is four characters) and vLLM's Prometheus ``/metrics`` (token and request counters).

URLs: ``base_url`` is the server root (``http://127.0.0.1:PORT``); the OpenAI routes live under
``/v1`` (``v1_url``). With ``server_kind="llama.cpp"`` the un-prefixed aliases (``/chat/completions``,
``/models``) are served too, as llama-server does.

It is deliberately cheap on the trivial path (no access log, no validation layer, one ``json.dumps``
per non-streamed reply, one per streamed chunk) because the harness-overhead benchmarks push it to
thousands of requests per second. For those benchmarks run it in its own process
(``python -m benchlab.testing.scripted_server --help``) so that it does not share the client's GIL.

The package's modules: `script` (Reply, Pacing, Fault, by_substring), `messages` (request text),
`planning` (a reply resolved against one request), `events` (usage, errors and stream events),
`native` (the imitated servers' own endpoints) and `server` (`ScriptedServer`).
"""

from benchlab.testing.scripted_server.messages import last_user_text, message_text
from benchlab.testing.scripted_server.script import (
    Fault,
    FaultKind,
    Pacing,
    Reply,
    Responder,
    ServerKind,
    by_substring,
)
from benchlab.testing.scripted_server.server import ScriptedServer

__all__ = [
    "Fault",
    "FaultKind",
    "Pacing",
    "Reply",
    "Responder",
    "ScriptedServer",
    "ServerKind",
    "by_substring",
    "last_user_text",
    "message_text",
]
