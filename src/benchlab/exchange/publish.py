"""Publishing runs to a Hugging Face dataset repository, and reading them back.

Each run goes up as its envelope (with every sample) under a content-addressed name,
`envelopes/<sha256 of the bytes>.json`: the same run published twice is the same file, and a
different one never replaces anything. Every envelope is validated before anything is sent;
`dry_run` shows exactly the files and sizes that would be uploaded. The token comes from
`HF_TOKEN`; the hub address from `HF_ENDPOINT` (as everywhere in `huggingface_hub`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlab.catalog.sources import hf_endpoint
from benchlab.exchange.envelope import build
from benchlab.types import RunRecord, SampleResult

FOLDER = "envelopes"


class PublishError(RuntimeError):
    """A publish or hub import that cannot go ahead; the message says what to fix."""


@dataclass(frozen=True)
class Upload:
    run_id: str
    path_in_repo: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class PublishReport:
    repo: str
    uploaded: list[Upload]
    already_there: list[Upload]
    dry_run: bool
    commit: str | None = None


def envelope_bytes(record: RunRecord, samples: Sequence[SampleResult]) -> bytes:
    """The canonical bytes of a run's envelope: the same run always gives the same bytes."""
    envelope = build(record, samples, trigger="publish")
    return json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def plan(runs: Sequence[tuple[RunRecord, Sequence[SampleResult]]]) -> list[Upload]:
    uploads = []
    for record, samples in runs:
        data = envelope_bytes(record, samples)
        uploads.append(Upload(record.run_id, f"{FOLDER}/{hashlib.sha256(data).hexdigest()}.json", data))
    return uploads


def _hub() -> Any:
    try:
        import huggingface_hub
    except ImportError as error:
        raise PublishError("publishing needs the hub client: pip install 'benchlab[data]'.") from error
    return huggingface_hub


def publish(repo: str, uploads: Sequence[Upload], *, dry_run: bool = False) -> PublishReport:
    if "/" not in repo:
        raise PublishError(f"--repo takes owner/name, not {repo!r}.")
    if dry_run:
        return PublishReport(repo, list(uploads), [], dry_run=True)
    token = os.environ.get("HF_TOKEN")
    if not token:
        raise PublishError("set HF_TOKEN to a Hugging Face token with write access (or use --dry-run).")
    hub = _hub()
    api = hub.HfApi(endpoint=hf_endpoint(), token=token)
    try:
        api.create_repo(repo, repo_type="dataset", exist_ok=True)
        existing = set(_files(api, repo, None))
        new = [upload for upload in uploads if upload.path_in_repo not in existing]
        commit = None
        if new:
            operations = [hub.CommitOperationAdd(u.path_in_repo, u.data) for u in new]
            info = api.create_commit(
                repo,
                operations,
                commit_message=f"benchlab: {len(new)} run(s): {', '.join(u.run_id for u in new)}",
                repo_type="dataset",
            )
            commit = info.oid
    except (hub.errors.HfHubHTTPError, OSError) as error:
        raise PublishError(f"publishing to {repo} failed: {error}") from error
    return PublishReport(repo, new, [u for u in uploads if u not in new], dry_run=False, commit=commit)


def _files(api: Any, repo: str, revision: str | None) -> list[str]:
    info = api.dataset_info(repo, revision=revision)
    return [sibling.rfilename for sibling in info.siblings or []]


def download_envelopes(
    repo: str, *, revision: str | None = None, cache_dir: Path | None = None
) -> list[Path]:
    """Every envelope in a published dataset repository, downloaded (at `revision` when given)."""
    hub = _hub()
    token = os.environ.get("HF_TOKEN") or None
    api = hub.HfApi(endpoint=hf_endpoint(), token=token)
    try:
        names = [
            name
            for name in _files(api, repo, revision)
            if name.startswith(f"{FOLDER}/") and name.endswith(".json")
        ]
        return [
            Path(
                hub.hf_hub_download(
                    repo,
                    name,
                    repo_type="dataset",
                    revision=revision,
                    token=token,
                    cache_dir=cache_dir,
                    endpoint=hf_endpoint(),
                )
            )
            for name in sorted(names)
        ]
    except (hub.errors.HfHubHTTPError, OSError) as error:
        raise PublishError(f"reading {repo} from the hub failed: {error}") from error
