"""Turning a benchmark reference (a built-in key or a JSONL file) into validated, hashed samples.

A multiple-choice row is `{question, options{A..}, answer_idx}` where `answer_idx` is a letter or a
0-based integer, with optional `id` and `subject`. A row that does not fit is refused with the file,
the line number, what is wrong and how to fix it: a benchmark is never run on rows we misread.

The content hash is the SHA-256 of the normalized rows (canonical JSON, one per line, in file
order), so two files that differ only in formatting or key order hash the same, and any change to a
question, an option or an answer changes it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from benchlab.types import Sample

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
BUILTIN_KEYS = {"sample": "sample_mcq.jsonl"}


class DatasetError(ValueError):
    """A dataset that cannot be used as it is; the message says where and what to change."""


@dataclass(frozen=True)
class Dataset:
    key: str
    kind: str
    samples: list[Sample]
    sha256: str
    path: str

    def __len__(self) -> int:
        return len(self.samples)


def resolve(reference: str, *, allow_drift: bool = False) -> Dataset:
    """A built-in key (`sample`), a catalog key (`mmlu_formal_logic`: fetched, pinned and checked
    against the lock; `allow_drift` accepts rows that differ from it) or a path to a JSONL file."""
    if reference in BUILTIN_KEYS:
        resource = resources.files("benchlab.catalog") / "builtin" / BUILTIN_KEYS[reference]
        with resources.as_file(resource) as path:
            return load_mcq_jsonl(path, key=reference)
    path = Path(reference).expanduser()
    if path.suffix in (".jsonl", ".json") or path.exists():
        if not path.is_file():
            raise DatasetError(f"{path}: no such file. Give a JSONL file or a built-in key ({_keys()}).")
        return load_mcq_jsonl(path, key=path.stem)
    # Imported here: the catalog's fetch layer imports this module.
    from benchlab.catalog import fetch, registry

    if reference in registry.registry():
        return fetch.load(reference, allow_drift=allow_drift)
    raise DatasetError(
        f"unknown benchmark {reference!r}. Use a built-in key ({_keys()}), a catalog key "
        "(`benchlab list` shows them) or a .jsonl file."
    )


def load_mcq_jsonl(path: Path, *, key: str) -> Dataset:
    samples: list[Sample] = []
    canonical: list[str] = []
    seen: dict[str, int] = {}
    try:
        handle = path.open(encoding="utf-8")
    except OSError as error:
        raise DatasetError(f"{path}: cannot read ({error.strerror}).") from error
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise DatasetError(
                    f"{where}: not valid JSON ({error.msg} at column {error.colno}). "
                    "Each line must be one JSON object."
                ) from error
            normalized = normalize_mcq_row(row, where)
            sample_id = normalized["id"]
            if sample_id in seen:
                raise DatasetError(
                    f"{where}: id {sample_id!r} already used on line {seen[sample_id]}. Ids must be unique."
                )
            seen[sample_id] = number
            canonical.append(json.dumps(normalized, sort_keys=True, ensure_ascii=False))
            samples.append(
                Sample(
                    id=sample_id,
                    subject=normalized.get("subject"),
                    data={
                        "question": normalized["question"],
                        "options": normalized["options"],
                        "answer": normalized["answer"],
                    },
                )
            )
    if not samples:
        raise DatasetError(f"{path}: no rows. Add one JSON object per line.")
    digest = hashlib.sha256("\n".join(canonical).encode()).hexdigest()
    return Dataset(key=key, kind="mcq", samples=samples, sha256=digest, path=str(path))


def normalize_mcq_row(row: Any, where: str) -> dict[str, Any]:
    """Validate one row and bring it to `{id, question, options{A..}, answer, subject?}`."""
    if not isinstance(row, dict):
        raise DatasetError(f"{where}: expected a JSON object, got {type(row).__name__}.")
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise DatasetError(f"{where}: missing 'question' (a non-empty string).")
    options = _options(row.get("options"), where)
    answer = _answer(row.get("answer_idx", row.get("answer")), options, where)
    sample_id = row.get("id")
    if sample_id is None:
        # Stable across reorderings of the file: derived from the content, never from the position.
        sample_id = hashlib.sha256(json.dumps([question, options], sort_keys=True).encode()).hexdigest()[:16]
    elif not isinstance(sample_id, str | int) or isinstance(sample_id, bool):
        raise DatasetError(f"{where}: 'id' must be a string or an integer.")
    normalized: dict[str, Any] = {
        "id": str(sample_id),
        "question": question,
        "options": options,
        "answer": answer,
    }
    subject = row.get("subject")
    if subject is not None:
        normalized["subject"] = str(subject)
    return normalized


def _options(raw: Any, where: str) -> dict[str, str]:
    if isinstance(raw, list):
        raw = {LETTERS[index]: text for index, text in enumerate(raw[: len(LETTERS)])}
    if not isinstance(raw, dict) or len(raw) < 2:
        raise DatasetError(
            f'{where}: \'options\' must map letters to texts, e.g. {{"A": "…", "B": "…"}}, '
            "with at least two options."
        )
    letters = sorted(raw)
    expected = list(LETTERS[: len(letters)])
    if letters != expected:
        raise DatasetError(
            f"{where}: option letters must be consecutive from A ({', '.join(expected)}); "
            f"got {', '.join(map(str, letters))}."
        )
    options: dict[str, str] = {}
    for letter in expected:
        text = raw[letter]
        if not isinstance(text, str | int | float) or isinstance(text, bool) or str(text).strip() == "":
            raise DatasetError(f"{where}: option {letter} is empty or not text.")
        options[letter] = str(text)
    return options


def _answer(raw: Any, options: dict[str, str], where: str) -> str:
    letters = list(options)
    if isinstance(raw, bool) or raw is None:
        raise DatasetError(
            f"{where}: missing 'answer_idx' (a letter such as \"B\" or a 0-based integer such as 1)."
        )
    if isinstance(raw, int) or (isinstance(raw, str) and raw.strip().isdigit()):
        index = int(raw)
        if 0 <= index < len(letters):
            return letters[index]
        raise DatasetError(
            f"{where}: answer_idx {index} is outside the options (0–{len(letters) - 1} for "
            f"{len(letters)} options). Use a 0-based index or a letter {letters[0]}–{letters[-1]}."
        )
    if isinstance(raw, str) and raw.strip() in options:
        return raw.strip()
    raise DatasetError(
        f"{where}: answer_idx {raw!r} is not one of the options {letters[0]}–{letters[-1]}. "
        "Use a letter that has an option, or a 0-based integer."
    )


def _keys() -> str:
    return ", ".join(sorted(BUILTIN_KEYS))
