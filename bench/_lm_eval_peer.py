"""lm-evaluation-harness as a peer for the bench/ scripts, on a local task (the hub is not needed).

lm-eval lives in its own virtual environment (it pulls torch and much else), so it runs as a
subprocess of that interpreter: `local-chat-completions` against the same scripted server, with a
`generate_until` task whose rows are a local JSONL file (`dataset_path: json` + `data_files`,
passed with `--include_path`). Its request phase is timed inside its process by
`_lm_eval_driver.py`; its whole command is timed from outside with its own `lm_eval` script.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _support import MODEL_ID, OtherLoad, ServerProcess

DRIVER = Path(__file__).resolve().with_name("_lm_eval_driver.py")

_EXACT_MATCH = re.compile(r"\|\s*exact_match\s*\|[^|]*\|\s*([0-9.]+)\s*\|")

_TASK_YAML = """\
task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {rows}
test_split: test
output_type: generate_until
doc_to_text: "{{{{question}}}}\\nReply with the letter of the correct option in the form \\"Answer: X\\"."
doc_to_target: "Answer: {{{{answer}}}}"
generation_kwargs:
  until: ["\\n\\n"]
  max_gen_toks: 16
  do_sample: false
  temperature: 0
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
"""

_PROBE = "import lm_eval, aiohttp, tenacity, tqdm, requests; print(lm_eval.__version__)"


@dataclass
class PeerRun:
    limit: int
    concurrency: int
    wall_seconds: float
    returncode: int
    requests: int = 0
    request_seconds: float = float("nan")
    client_cpu: float = float("nan")
    server_cpu: float = float("nan")
    system_busy: float = float("nan")
    answered: int = 0
    exact_match: float = float("nan")
    command_other_cores: float = float("nan")  # everything else on the machine during the command
    error: str = ""

    @property
    def ok(self) -> bool:
        """lm-eval exited cleanly and scored every reply right (the server always answers A)."""
        every_reply = self.answered == self.limit if self.requests else True
        return self.returncode == 0 and not self.error and self.exact_match == 1.0 and every_reply

    @property
    def request_rate(self) -> float:
        return self.requests / self.request_seconds if self.requests else float("nan")

    @property
    def client_cores(self) -> float:
        return self.client_cpu / self.request_seconds if self.requests else float("nan")

    @property
    def server_cores(self) -> float:
        return self.server_cpu / self.request_seconds if self.requests else float("nan")

    @property
    def other_cores(self) -> float:
        """Cores used by everything else on the machine during the request phase (should be ~0)."""
        if not self.requests:
            return float("nan")
        return max(0.0, (self.system_busy - self.client_cpu - self.server_cpu) / self.request_seconds)


def find_python(explicit: str | None) -> tuple[str | None, str]:
    """(interpreter, lm-eval version) when lm-eval is usable, else (None, why not and what to do)."""
    candidates: list[str] = []
    if explicit:
        candidates.append(explicit)
    elif os.environ.get("BENCH_PEER_PYTHON"):
        candidates.append(os.environ["BENCH_PEER_PYTHON"])
    else:
        # A venv named venv-peers beside the checkout, an `lm_eval` on PATH, or this interpreter.
        candidates.append(str(Path(__file__).resolve().parents[2] / "venv-peers" / "bin" / "python"))
        script = shutil.which("lm_eval")
        if script:
            first = Path(script).read_text(errors="replace").splitlines()[:1]
            if first and first[0].startswith("#!"):
                candidates.append(first[0][2:].strip())
        if importlib.util.find_spec("lm_eval") is not None:
            candidates.append(sys.executable)
    reasons = []
    for python in candidates:
        if not Path(python).exists():
            reasons.append(f"{python}: not found")
            continue
        try:
            probe = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True, timeout=180)
        except subprocess.TimeoutExpired:
            reasons.append(f"{python}: importing lm_eval took over 180 s")
            continue
        if probe.returncode == 0:
            return python, probe.stdout.strip()
        last = probe.stderr.strip().splitlines()[-1:] or ["failed"]
        reasons.append(f"{python}: {last[0]}")
    return None, (
        f"lm-eval is not usable ({'; '.join(reasons) or 'no interpreter to try'}). Install it in its own "
        "venv (the CPU torch wheel first, then 'lm-eval[api]') and pass --peer-python or set "
        "BENCH_PEER_PYTHON."
    )


class LmEvalPeer:
    """lm-eval commands against one scripted server, with their task and caches in `workdir`."""

    TASK = "benchlab_bench_mcq"

    def __init__(self, python: str, workdir: Path, rows: int, timeout: float = 900.0) -> None:
        self.python = python
        self.workdir = workdir
        self.timeout = timeout
        self.task_dir = workdir / "lm_eval_task"
        self.task_dir.mkdir(parents=True, exist_ok=True)
        rows_path = self.task_dir / "rows.jsonl"
        with rows_path.open("w", encoding="utf-8") as handle:
            for index in range(rows):
                question = (
                    f"Synthetic question {index}: which of these options is the first one?\n"
                    "A. alpha\nB. beta\nC. gamma\nD. delta"
                )
                handle.write(json.dumps({"id": f"q{index:06d}", "question": question, "answer": "A"}) + "\n")
        (self.task_dir / "task.yaml").write_text(_TASK_YAML.format(name=self.TASK, rows=rows_path))
        self.hf_home = workdir / "hf_home"
        self.lm_eval_script = Path(python).parent / "lm_eval"

    def _env(self, server: ServerProcess, timing: Path) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.lower().endswith("_proxy") and key != "BENCHLAB_HOME"
        }
        env.update(
            HF_HOME=str(self.hf_home),
            HF_DATASETS_OFFLINE="1",
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            TOKENIZERS_PARALLELISM="false",
            NO_PROXY="127.0.0.1,localhost",
            BENCH_SERVER_PID=str(server.pid),
            BENCH_PEER_TIMING=str(timing),
            BENCH_REPLY=server.reply,
        )
        return env

    def arguments(self, server: ServerProcess, concurrency: int, limit: int) -> list[str]:
        model_args = (
            f"base_url={server.url}/v1/chat/completions,model={MODEL_ID},num_concurrent={concurrency},"
            "max_retries=1,tokenized_requests=False"
        )
        return [
            "--model",
            "local-chat-completions",
            "--model_args",
            model_args,
            "--tasks",
            self.TASK,
            "--include_path",
            str(self.task_dir),
            "--apply_chat_template",
            "--limit",
            str(limit),
        ]

    def run(self, server: ServerProcess, concurrency: int, limit: int, *, timed: bool = True) -> PeerRun:
        """One lm-eval command: through the timing driver, or (``timed=False``) its plain script."""
        stamp = time.monotonic_ns()
        timing = self.workdir / f"timing-{stamp}.jsonl"
        arguments = self.arguments(server, concurrency, limit)
        if timed or not self.lm_eval_script.exists():
            command = [self.python, str(DRIVER), *arguments]
        else:
            command = [str(self.lm_eval_script), *arguments]
        log = self.workdir / f"lm_eval-c{concurrency}-n{limit}-{stamp}.log"
        began = time.perf_counter()
        error = ""
        load = OtherLoad(server.pid)
        try:
            with load, log.open("w") as handle:
                completed = subprocess.run(
                    command,
                    cwd=self.workdir,
                    env=self._env(server, timing),
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    timeout=self.timeout,
                )
            returncode = completed.returncode
        except subprocess.TimeoutExpired:
            returncode, error = -1, f"timed out after {self.timeout:.0f} s"
        result = PeerRun(limit, concurrency, time.perf_counter() - began, returncode, error=error)
        result.command_other_cores = load.cores
        output = log.read_text(errors="replace")
        if returncode != 0 and not error:
            result.error = f"exit {returncode}: {' | '.join(output.strip().splitlines()[-3:])}"
        found = _EXACT_MATCH.search(output)
        if found:
            result.exact_match = float(found.group(1))
        if timing.exists():
            records = [json.loads(line) for line in timing.read_text().splitlines() if line.strip()]
            result.requests = sum(r["requests"] for r in records)
            result.request_seconds = sum(r["seconds"] for r in records)
            result.client_cpu = sum(r["client_cpu"] for r in records)
            result.server_cpu = sum(r["server_cpu"] for r in records)
            result.system_busy = sum(r["system_busy"] for r in records)
            result.answered = sum(r["answered"] for r in records)
        return result
