"""A chart run against the real llama.cpp server serving the smoke model (a null model).

The smoke model writes random bytes, not charts: the run must finish cleanly with every sample
scored (no crash, no infra error) and a score near zero. A suite that gave it real credit would
have a scoring bug.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("xllamacpp", reason="needs the embedded llama.cpp engine: pip install 'benchlab[serve]'")

from benchlab import api
from benchlab.endpoints.managed import ServerProcess, free_port
from benchlab.tasks.chart_criteria import WEIGHTS
from benchlab.types import ErrorKind, RunStatus

pytestmark = pytest.mark.llamacpp


@pytest.fixture(scope="module")
def smoke_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("smoke-home")
    with ServerProcess(smoke=True, port=free_port(), parallel=2, env={"BENCHLAB_HOME": str(home)}) as server:
        yield server.base_url


def test_the_null_model_scores_near_zero_on_charts(smoke_server: str, benchlab_home: Path) -> None:
    record = api.run("chart_core", server=smoke_server, n=2, max_tokens=64, think=False)
    assert record.status is RunStatus.FINISHED and record.task_kind == "chart"
    assert record.endpoint.server_kind.value == "llama.cpp"
    results = api.results(record.run_id)
    assert len(results) == 2
    for result in results:
        score = result.score
        assert score.error_kind in (ErrorKind.NONE, ErrorKind.MODEL), score.error
        assert set(score.details["criteria"]) == set(WEIGHTS)
        assert 0.0 <= score.value <= 0.2, (result.sample_id, score.details)
        assert result.transcript is not None and result.transcript.completions[0].usage.completion_tokens
    summary = record.summary
    assert summary["score"]["n"] == 2 and summary["score"]["rate"] < 0.1
    assert set(summary["criteria"]) == set(WEIGHTS) and summary["infra_errors"]["k"] == 0
