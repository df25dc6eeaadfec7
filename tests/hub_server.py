"""A local stand-in for the Hugging Face hub, speaking the part of its HTTP API that
`huggingface_hub` uses to read a dataset repository at a revision:

- `GET /api/datasets/<repo>` and `GET /api/datasets/<repo>/revision/<rev>`: the repository's
  commit sha and file list (`siblings`), as `HfApi.dataset_info` expects;
- `HEAD`/`GET /datasets/<repo>/resolve/<rev>/<path>`: one file at a revision, with the
  `X-Repo-Commit` and `ETag` headers `hf_hub_download` insists on.

and the part `HfApi.create_repo`/`create_commit` use to write one:

- `POST /api/repos/create`: a new dataset repository (409 when it exists);
- `POST /api/datasets/<repo>/preupload/<rev>`: every file goes up as a regular (non-LFS) blob;
- `POST /api/datasets/<repo>/commit/<rev>`: the NDJSON commit (header, then base64 `file` lines),
  applied on top of the branch's files as a new commit. Writes need a bearer token.

Repositories have commits and branches (`main`, `refs/convert/parquet`…); pushing moves a branch
and leaves old commits readable, as on the hub. A gated repository answers file requests only
with the right bearer token (401 with `X-Error-Code: GatedRepo` otherwise), while its metadata
stays public. Every request is recorded so tests can check the revision and token that were sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit


@dataclass
class Repo:
    repo_id: str
    gated: bool = False
    token: str | None = None
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    authorization: str | None


class HubServer:
    """Run with `with HubServer() as hub:`; `hub.url` goes into HF_ENDPOINT."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._counter = 0
        handler = _handler_for(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> HubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def create(self, repo_id: str, *, gated: bool = False, token: str | None = None) -> Repo:
        repo = Repo(repo_id, gated=gated, token=token)
        self.repos[repo_id] = repo
        return repo

    def push(self, repo_id: str, files: dict[str, bytes], *, ref: str = "main") -> str:
        """A new commit holding exactly `files`, with `ref` moved to it; returns its sha."""
        repo = self.repos.get(repo_id) or self.create(repo_id)
        with self._lock:
            self._counter += 1
            manifest = json.dumps(
                [
                    self._counter,
                    repo_id,
                    sorted((name, hashlib.sha256(data).hexdigest()) for name, data in files.items()),
                ]
            )
        sha = hashlib.sha1(manifest.encode()).hexdigest()
        repo.commits[sha] = dict(files)
        repo.refs[ref] = sha
        return sha

    def requests_to(self, fragment: str) -> list[Request]:
        return [request for request in self.requests if fragment in request.path]

    # --- request handling, called from the handler ---------------------------------------------

    def _resolve(self, repo: Repo, revision: str) -> str | None:
        if revision in repo.commits:
            return revision
        return repo.refs.get(revision)

    def _split_repo(self, parts: list[str]) -> tuple[Repo | None, list[str]]:
        if len(parts) < 2:
            return None, parts
        return self.repos.get(f"{parts[0]}/{parts[1]}"), parts[2:]

    def handle(
        self, method: str, raw_path: str, headers: Any, body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        path = urlsplit(raw_path).path
        authorization = headers.get("Authorization")
        self.requests.append(Request(method, unquote(path), authorization))
        segments = [unquote(part) for part in path.strip("/").split("/")]
        if method == "POST":
            if not (authorization or "").startswith("Bearer "):
                return _error(401, "Unauthorized", "Invalid credentials in Authorization header")
            return self._write(segments, body)
        if segments[:2] == ["api", "datasets"]:
            return self._info(segments[2:])
        if segments[:1] == ["datasets"]:
            return self._file(method, segments[1:], authorization)
        return _error(404, "RepoNotFound", "unknown route")

    def _write(self, segments: list[str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if segments == ["api", "repos", "create"]:
            request = json.loads(body)
            repo_id = (
                f"{request['organization']}/{request['name']}"
                if request.get("organization")
                else request["name"]
            )
            url = json.dumps({"url": f"{self.url}/datasets/{repo_id}"}).encode()
            if repo_id in self.repos:  # the hub names the existing repository in its 409 answer
                status, headers, _ = _error(409, "RepoExists", "You already created this dataset repo")
                return status, headers, url
            self.create(repo_id)
            self.push(repo_id, {})
            return 200, {"Content-Type": "application/json"}, url
        repo, rest = self._split_repo(segments[2:])
        if segments[:2] != ["api", "datasets"] or repo is None or len(rest) < 2:
            return _error(404, "RepoNotFound", "Repository not found")
        if rest[0] == "preupload":
            files = [
                {"path": item["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
                for item in json.loads(body)["files"]
            ]
            return 200, {"Content-Type": "application/json"}, json.dumps({"files": files}).encode()
        if rest[0] == "commit":
            branch = "/".join(rest[1:])
            base = self._resolve(repo, branch)
            files = dict(repo.commits[base]) if base else {}
            for line in body.splitlines():
                entry = json.loads(line)
                if entry["key"] == "file":
                    files[entry["value"]["path"]] = base64.b64decode(entry["value"]["content"])
            sha = self.push(repo.repo_id, files, ref=branch)
            answer = {"commitUrl": f"{self.url}/datasets/{repo.repo_id}/commit/{sha}", "commitOid": sha,
                      "pullRequestUrl": None}  # fmt: skip
            return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()
        return _error(404, "RepoNotFound", "unknown route")

    def _info(self, parts: list[str]) -> tuple[int, dict[str, str], bytes]:
        repo, rest = self._split_repo(parts)
        if repo is None:
            return _error(404, "RepoNotFound", "Repository not found")
        revision = "main"
        if len(rest) >= 2 and rest[0] == "revision":
            revision = "/".join(rest[1:])
        sha = self._resolve(repo, revision)
        if sha is None:
            return _error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        body = {
            "id": repo.repo_id,
            "sha": sha,
            "private": False,
            "gated": "manual" if repo.gated else False,
            "disabled": False,
            "siblings": [{"rfilename": name} for name in sorted(repo.commits[sha])],
            "tags": [],
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def _file(
        self, method: str, parts: list[str], authorization: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        repo, rest = self._split_repo(parts)
        if repo is None or len(rest) < 3 or rest[0] != "resolve":
            return _error(404, "RepoNotFound", "Repository not found")
        revision, name = rest[1], "/".join(rest[2:])
        if repo.gated and authorization != f"Bearer {repo.token}":
            return _error(
                401,
                "GatedRepo",
                f"Access to dataset {repo.repo_id} is restricted. You must have access to it.",
            )
        sha = self._resolve(repo, revision)
        if sha is None:
            return _error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        data = repo.commits[sha].get(name)
        if data is None:
            return _error(404, "EntryNotFound", f"{name} does not exist at {revision}", commit=sha)
        headers = {
            "X-Repo-Commit": sha,
            "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
            "Content-Length": str(len(data)),
            "Content-Type": "application/octet-stream",
        }
        return 200, headers, b"" if method == "HEAD" else data


def _error(
    status: int, code: str, message: str, commit: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    headers = {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"}
    if commit:
        headers["X-Repo-Commit"] = commit
    return status, headers, json.dumps({"error": message}).encode()


def _handler_for(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self, method: str) -> None:
            status, headers, body = hub.handle(method, self.path, self.headers)
            self.send_response(status)
            headers.setdefault("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, headers, answer = hub.handle("POST", self.path, self.headers, body)
            self.send_response(status)
            headers.setdefault("Content-Length", str(len(answer)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer)

        def do_HEAD(self) -> None:
            self._serve("HEAD")

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler
