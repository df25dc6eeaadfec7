"""State-changing routes: setup, fetching benchmarks, servers, runs and the chat box.

Every route here sits behind the guard middleware (Host, token, Origin and CSRF checks). Bodies
are JSON objects; a bad field gets a 400 that names it.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from benchlab import api, settings
from benchlab.catalog.datasets import DatasetError
from benchlab.endpoints.client import ChatClient
from benchlab.endpoints.errors import EndpointError
from benchlab.endpoints.managed import MissingServeExtra, PortInUse, ServeError
from benchlab.surfaces.dashboard import settings_store
from benchlab.surfaces.dashboard.control import ControlError, ProcessControl
from benchlab.surfaces.dashboard.read_routes import problem, reply
from benchlab.types import Endpoint, GenerationParams

MAX_CHAT_MESSAGES = 50


class BadBody(ValueError):
    pass


async def body_of(request: Request) -> dict[str, Any]:
    try:
        payload = json.loads(await request.body() or b"{}")
    except json.JSONDecodeError as error:
        raise BadBody(f"the request body is not JSON: {error}") from None
    if not isinstance(payload, dict):
        raise BadBody("the request body must be a JSON object.")
    return payload


def text_field(payload: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = payload.get(name)
    if value in (None, ""):
        if required:
            raise BadBody(f"{name} is required.")
        return None
    if not isinstance(value, str):
        raise BadBody(f"{name} must be text.")
    return value.strip()


def int_field(payload: dict[str, Any], name: str) -> int | None:
    value = payload.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadBody(f"{name} must be a whole number, not {value!r}.") from None


def control(request: Request) -> ProcessControl:
    process_control: ProcessControl = request.app.state.control
    return process_control


async def get_setup(request: Request) -> Response:
    try:
        return reply(await run_in_threadpool(settings_store.effective))
    except settings_store.SetupError as error:
        return problem(str(error), 500)


async def put_setup(request: Request) -> Response:
    try:
        chosen = settings_store.validate(await body_of(request))
        await run_in_threadpool(settings_store.save_user, chosen)
    except (BadBody, settings_store.SetupError) as error:
        return problem(str(error))
    return reply(await run_in_threadpool(settings_store.effective))


async def fetch_benchmark(request: Request) -> Response:
    try:
        key = text_field(await body_of(request), "key", required=True)
        path = await run_in_threadpool(api.fetch, str(key))
    except BadBody as error:
        return problem(str(error))
    except (DatasetError, KeyError, ValueError, OSError) as error:
        return problem(f"cannot fetch: {error}", 422)
    return reply({"key": key, "rows": sum(1 for _ in path.open(encoding="utf-8")), "fetched": True})


async def list_processes(request: Request) -> Response:
    return reply({"processes": control(request).list()})


async def start_server(request: Request) -> Response:
    try:
        payload = await body_of(request)
        kind = text_field(payload, "kind", required=True)
        if kind not in ("smoke", "gguf", "command"):
            raise BadBody("kind must be smoke, gguf or command.")
        child = await run_in_threadpool(
            lambda: control(request).start_server(
                smoke=kind == "smoke",
                gguf=text_field(payload, "gguf") if kind == "gguf" else None,
                command=text_field(payload, "command") if kind == "command" else None,
                port=int_field(payload, "port"),
                parallel=int_field(payload, "parallel") or 2,
            )
        )
    except BadBody as error:
        return problem(str(error))
    except (ControlError, MissingServeExtra, PortInUse, ServeError) as error:
        return problem(str(error), 422)
    return reply(child.describe(), 201)


async def start_run(request: Request) -> Response:
    try:
        payload = await body_of(request)
        child = control(request).start_run(
            str(text_field(payload, "benchmark", required=True)),
            server=text_field(payload, "server"),
            n=int_field(payload, "n"),
            tag=text_field(payload, "tag"),
            model=text_field(payload, "model"),
            concurrency=text_field(payload, "concurrency"),
        )
    except BadBody as error:
        return problem(str(error))
    except ControlError as error:
        return problem(str(error), 422)
    return reply(child.describe(), 201)


async def stop_process(request: Request) -> Response:
    try:
        child = await run_in_threadpool(control(request).stop, request.path_params["child_id"])
    except ControlError as error:
        return problem(str(error), 404)
    return reply(child.describe())


async def chat(request: Request) -> Response:
    """One reply from the model at hand; the API key stays on this side (environment or config)."""
    try:
        payload = await body_of(request)
        messages = payload.get("messages")
        if not isinstance(messages, list) or not messages or len(messages) > MAX_CHAT_MESSAGES:
            raise BadBody(f"messages must be a list of 1 to {MAX_CHAT_MESSAGES} chat messages.")
        for message in messages:
            if not (isinstance(message, dict) and message.get("role") in ("system", "user", "assistant")):
                raise BadBody("each message needs a role (system, user or assistant) and text content.")
            if not isinstance(message.get("content"), str):
                raise BadBody("each message needs text content.")
        connection = settings.connection(text_field(payload, "server"), text_field(payload, "model"))
    except (BadBody, settings.SettingsError) as error:
        return problem(str(error))
    endpoint = Endpoint(
        base_url=connection.server,
        model=connection.model,
        api_key=SecretStr(connection.api_key) if connection.api_key else None,
    )
    client = ChatClient(endpoint, timeout=120.0)
    try:
        model_id, _ = await client.resolve_model(endpoint.model)
        client.endpoint = endpoint.model_copy(update={"model": model_id})
        params = GenerationParams(max_tokens=int_field(payload, "max_tokens") or 512)
        completion = await client.chat(
            [{"role": m["role"], "content": m["content"]} for m in messages], params
        )
    except (EndpointError, BadBody) as error:
        return problem(str(error), 502)
    finally:
        await client.close()
    return reply(
        {
            "model": model_id,
            "content": completion.content,
            "reasoning": completion.reasoning,
            "finish_reason": completion.finish_reason,
            "timings": completion.timings.model_dump(),
            "usage": completion.usage.model_dump(),
        }
    )


ROUTES = [
    Route("/api/setup", get_setup, methods=["GET"]),
    Route("/api/setup", put_setup, methods=["PUT"]),
    Route("/api/fetch", fetch_benchmark, methods=["POST"]),
    Route("/api/processes", list_processes, methods=["GET"]),
    Route("/api/servers", start_server, methods=["POST"]),
    Route("/api/launch", start_run, methods=["POST"]),
    Route("/api/processes/{child_id}/stop", stop_process, methods=["POST"]),
    Route("/api/chat", chat, methods=["POST"]),
]
