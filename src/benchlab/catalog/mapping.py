"""The declarative row mapping: how one upstream multiple-choice row becomes
`{id?, question, options{A..}, answer_idx, subject?}`.

Upstream sets store the same idea in a dozen shapes — a list of choices and a 0-based index (MMLU),
ARC's `choices.label`/`choices.text` with an `answerKey` that is sometimes a digit, four columns
`opa…opd` (MedMCQA), two columns and "1"/"2" (WinoGrande), a constant yes/no/maybe (PubMedQA), the
answer's text instead of its position (GPQA). Writing each as data instead of code keeps a new
benchmark a data file, and keeps every definition checkable without running it.

Field paths are dotted (`mc1_targets.choices`); an all-digit segment indexes a list. A question
may be a template (`"{context}\\n\\n{question}"`) that joins fields; a list value in a template is
joined with blank lines (paragraphs of a context). `question_pattern` and `answer.pattern` take
the first group of a regular expression, for sources that wrap the text ("Question: …\\nAnswer:")
or prefix the answer ("C. the text").
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from benchlab.catalog.errors import MappingError

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_TEMPLATE_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_MISSING = object()


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _check_path(path: str) -> str:
    if not path or any(not part for part in path.split(".")):
        raise ValueError(f"{path!r} is not a field path (use names joined by dots, e.g. 'choices.text')")
    return path


FieldPath = Annotated[str, Field(min_length=1)]


class ListOptions(_Model):
    """A field holding the option texts as a list, in order (MMLU `choices`)."""

    from_: Literal["list"] = Field(alias="from")
    field: FieldPath

    @field_validator("field")
    @classmethod
    def _path(cls, value: str) -> str:
        return _check_path(value)


class DictOptions(_Model):
    """A field holding `{letter: text}` (MedQA `options`). Null entries are dropped, because a
    parquet file stores a dict as a struct with every key of every row."""

    from_: Literal["dict"] = Field(alias="from")
    field: FieldPath

    @field_validator("field")
    @classmethod
    def _path(cls, value: str) -> str:
        return _check_path(value)


class LabeledOptions(_Model):
    """Two parallel lists, labels and texts (ARC `choices.label` / `choices.text`). The labels
    matter only to `answer.from = "answerKey"`; options are re-lettered A, B, … in list order."""

    from_: Literal["labeled"] = Field(alias="from")
    labels: FieldPath
    texts: FieldPath

    @field_validator("labels", "texts")
    @classmethod
    def _paths(cls, value: str) -> str:
        return _check_path(value)


class KeysOptions(_Model):
    """One field per option, in order (MedMCQA `opa`…`opd`, GPQA's answer columns)."""

    from_: Literal["keys"] = Field(alias="from")
    fields: list[FieldPath] = Field(min_length=2, max_length=len(LETTERS))

    @field_validator("fields")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        return [_check_path(path) for path in value]


class PairOptions(_Model):
    """Exactly two fields (WinoGrande `option1`, `option2`)."""

    from_: Literal["pair"] = Field(alias="from")
    fields: list[FieldPath] = Field(min_length=2, max_length=2)

    @field_validator("fields")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        return [_check_path(path) for path in value]


class FixedOptions(_Model):
    """The same options for every row (PubMedQA: yes / no / maybe)."""

    from_: Literal["fixed"] = Field(alias="from")
    values: list[str] = Field(min_length=2, max_length=len(LETTERS))


OptionsSpec = Annotated[
    ListOptions | DictOptions | LabeledOptions | KeysOptions | PairOptions | FixedOptions,
    Field(discriminator="from_"),
]

AnswerFrom = Literal["index", "letter", "answerKey", "map", "match", "flags"]


class AnswerSpec(_Model):
    """Where the gold answer is and how to read it.

    - `index`: an integer (or digit string) position; `offset = 1` for 1-based sources.
    - `letter`: a letter A, B, …
    - `answerKey`: ARC style — one of the row's labels when options come `labeled`, else a letter
      or a 1-based digit ("1".."5").
    - `map`: a table from the raw value to a letter or a 0-based index.
    - `match`: the raw value is the text of the right option.
    - `flags`: a list of 0/1 (or booleans) parallel to the options with exactly one set
      (TruthfulQA `mc1_targets.labels`).
    """

    from_: AnswerFrom = Field(alias="from")
    field: FieldPath
    offset: int = 0
    table: dict[str, str | int] | None = None
    pattern: str | None = None

    @field_validator("field")
    @classmethod
    def _path(cls, value: str) -> str:
        return _check_path(value)

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"not a valid regular expression ({error})") from error
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AnswerSpec:
        if self.from_ == "map" and not self.table:
            raise ValueError('answer.from = "map" needs a `table` from the raw values to letters')
        if self.from_ != "map" and self.table is not None:
            raise ValueError(f'`table` is only used with answer.from = "map", not "{self.from_}"')
        if self.offset and self.from_ != "index":
            raise ValueError(f'`offset` is only used with answer.from = "index", not "{self.from_}"')
        return self


class Mapping(_Model):
    """How one upstream row becomes a multiple-choice sample."""

    id: str | None = None
    question: str
    question_pattern: str | None = None
    options: OptionsSpec
    answer: AnswerSpec
    subject: str | None = None
    subject_format: Literal["keep", "snake"] = "keep"

    @field_validator("question", "id", "subject")
    @classmethod
    def _field_or_template(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if _is_template(value):
            fields = template_fields(value)
            if not fields:
                raise ValueError(f"template {value!r} uses no field; write fields as {{name}}")
            for path in fields:
                _check_path(path)
            return value
        return _check_path(value)

    @field_validator("question_pattern")
    @classmethod
    def _one_group(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            compiled = re.compile(value)
        except re.error as error:
            raise ValueError(f"not a valid regular expression ({error})") from error
        if compiled.groups < 1:
            raise ValueError("needs one group ( … ) around the question text")
        return value


def _is_template(text: str) -> bool:
    return "{" in text


def template_fields(template: str) -> list[str]:
    """The field paths a template refers to, in order."""
    return [match.group(1).strip() for match in _TEMPLATE_FIELD.finditer(template) if match.group(1)]


def get_path(row: Any, path: str) -> Any:
    """The value at a dotted path, or raise a `MappingError` that lists what the row has."""
    value = lookup(row, path)
    if value is _MISSING:
        raise MappingError(f"the row has no field {path!r} ({_fields_hint(row, path)})", field=path)
    return value


def lookup(row: Any, path: str) -> Any:
    """The value at a dotted path, or the `_MISSING` sentinel."""
    current = row
    for part in path.split("."):
        if isinstance(current, dict):
            if part not in current:
                return _MISSING
            current = current[part]
        elif isinstance(current, list | tuple) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def has_path(row: Any, path: str) -> bool:
    return lookup(row, path) is not _MISSING


def _fields_hint(row: Any, path: str) -> str:
    head, _, _ = path.rpartition(".")
    parent = lookup(row, head) if head else row
    if isinstance(parent, dict):
        names = ", ".join(sorted(map(str, parent))[:20])
        return f"{'under ' + repr(head) + ' ' if head else ''}it has: {names}"
    return f"{head!r} is not an object" if head else "the row is not an object"


def render(template: str, row: Any) -> str:
    """A field's text, or a template with `{field.path}` replaced by the row's values."""
    if not _is_template(template):
        return _text(get_path(row, template), template)

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "{{":
            return "{"
        if match.group(0) == "}}":
            return "}"
        path = match.group(1).strip()
        return _text(get_path(row, path), path)

    return _TEMPLATE_FIELD.sub(replace, template)


def _text(value: Any, path: str) -> str:
    if value is None:
        raise MappingError(f"field {path!r} is null", field=path)
    if isinstance(value, list | tuple):
        return "\n\n".join(_text(item, path) for item in value)
    if isinstance(value, dict):
        raise MappingError(f"field {path!r} is an object, not text; use a path into it", field=path)
    return str(value)


def snake(text: str) -> str:
    """`formal logic` and `Formal-Logic` both become `formal_logic`, so sources agree."""
    return re.sub(r"[\s\-/]+", "_", text.strip()).lower()


def apply_mapping(mapping: Mapping, row: Any) -> dict[str, Any]:
    """One upstream row as `{id?, question, options{A..}, answer_idx, subject?}`.

    Raises `MappingError` naming the mapping field that failed; the caller adds which definition,
    source and record it was.
    """
    if not isinstance(row, dict):
        raise MappingError(f"expected an object, got {type(row).__name__}")
    question = _question(mapping, row)
    texts, labels = _options(mapping.options, row)
    index = _answer(mapping.answer, row, texts, labels)
    mapped: dict[str, Any] = {
        "question": question,
        "options": {LETTERS[position]: text for position, text in enumerate(texts)},
        "answer_idx": index,
    }
    if mapping.id is not None:
        mapped["id"] = _field("id", lambda: render(mapping.id or "", row))
    subject = _subject(mapping, row)
    if subject is not None:
        mapped["subject"] = subject
    return mapped


def _subject(mapping: Mapping, row: dict[str, Any]) -> str | None:
    """The row's subject; a null subject is no subject (some sets leave it out on a few rows)."""
    path = mapping.subject
    if path is None:
        return None
    if not _is_template(path) and lookup(row, path) in (None, ""):
        return None
    text: str = _field("subject", lambda: render(path, row))
    return snake(text) if mapping.subject_format == "snake" else text


def _field(name: str, compute: Any) -> Any:
    try:
        return compute()
    except MappingError as error:
        raise MappingError(f"{name}: {error.detail}", field=name) from None


def _question(mapping: Mapping, row: dict[str, Any]) -> str:
    question = _field("question", lambda: render(mapping.question, row))
    if mapping.question_pattern:
        match = re.search(mapping.question_pattern, question, flags=re.DOTALL)
        if match is None:
            raise MappingError(
                f"question: question_pattern {mapping.question_pattern!r} does not match {question[:80]!r}",
                field="question_pattern",
            )
        question = match.group(1)
    return question


def _options(spec: Any, row: dict[str, Any]) -> tuple[list[str], list[str] | None]:
    def fail(message: str) -> MappingError:
        return MappingError(f'options (from = "{spec.from_}"): {message}', field="options")

    try:
        if isinstance(spec, ListOptions):
            value = get_path(row, spec.field)
            if not isinstance(value, list | tuple):
                raise fail(f"{spec.field!r} is {type(value).__name__}, not a list")
            return [_option_text(item, f"{spec.field}[{i}]") for i, item in enumerate(value)], None
        if isinstance(spec, DictOptions):
            value = get_path(row, spec.field)
            if not isinstance(value, dict):
                raise fail(f"{spec.field!r} is {type(value).__name__}, not an object of letter: text")
            present = {str(k).strip(): v for k, v in value.items() if v is not None}
            letters = sorted(present)
            if letters != list(LETTERS[: len(letters)]):
                raise fail(f"{spec.field!r} has keys {', '.join(letters)}; expected letters from A")
            return [_option_text(present[letter], f"{spec.field}.{letter}") for letter in letters], None
        if isinstance(spec, LabeledOptions):
            labels, texts = get_path(row, spec.labels), get_path(row, spec.texts)
            if not isinstance(labels, list | tuple) or not isinstance(texts, list | tuple):
                raise fail(f"{spec.labels!r} and {spec.texts!r} must both be lists")
            if len(labels) != len(texts):
                raise fail(f"{len(labels)} labels but {len(texts)} texts")
            return [_option_text(t, f"{spec.texts}[{i}]") for i, t in enumerate(texts)], [
                str(x) for x in labels
            ]
        if isinstance(spec, KeysOptions | PairOptions):
            return [_option_text(get_path(row, path), path) for path in spec.fields], None
        if isinstance(spec, FixedOptions):
            return list(spec.values), None
    except MappingError as error:
        if error.field == "options":
            raise
        raise fail(error.detail) from None
    raise fail("unknown kind of options")  # pragma: no cover - the models admit no other


def _option_text(value: Any, path: str) -> str:
    if value is None or isinstance(value, bool | dict | list):
        raise MappingError(
            f"option {path!r} is {'null' if value is None else type(value).__name__}, not text"
        )
    return str(value)


def _answer(spec: AnswerSpec, row: dict[str, Any], texts: list[str], labels: list[str] | None) -> int:
    def fail(message: str) -> MappingError:
        return MappingError(
            f'answer (from = "{spec.from_}", field {spec.field!r}): {message}', field="answer"
        )

    try:
        raw = get_path(row, spec.field)
    except MappingError as error:
        raise fail(error.detail) from None
    if raw is None:
        raise fail("the value is null")
    if spec.pattern is not None:
        match = re.search(spec.pattern, str(raw))
        if match is None:
            raise fail(f"pattern {spec.pattern!r} does not match {str(raw)[:60]!r}")
        raw = match.group(1) if match.groups() else match.group(0)
    count = len(texts)
    index: int | None = None
    if spec.from_ == "index":
        number = _integer(raw)
        if number is None:
            raise fail(f"{raw!r} is not an integer")
        index = number - spec.offset
    elif spec.from_ == "letter":
        letter = str(raw).strip()
        if len(letter) != 1 or letter not in LETTERS:
            raise fail(f"{raw!r} is not a letter A–Z")
        index = LETTERS.index(letter)
    elif spec.from_ == "answerKey":
        key = str(raw).strip()
        if labels is not None and key in labels:
            index = labels.index(key)
        elif len(key) == 1 and key in LETTERS:
            index = LETTERS.index(key)
        elif key.isdigit():
            index = int(key) - 1
        else:
            known = f"labels {labels}" if labels else "a letter or 1-based digit"
            raise fail(f"{raw!r} is not one of {known}")
    elif spec.from_ == "map":
        table = spec.table or {}
        target = table.get(_table_key(raw))
        if target is None:
            raise fail(f"{raw!r} is not in the table ({', '.join(map(repr, table))})")
        if isinstance(target, int):
            index = target
        elif len(target) == 1 and target in LETTERS:
            index = LETTERS.index(target)
        else:
            raise fail(f"the table maps {raw!r} to {target!r}, which is neither a letter nor an index")
    elif spec.from_ == "match":
        wanted = str(raw)
        hits = [i for i, text in enumerate(texts) if text == wanted] or [
            i for i, text in enumerate(texts) if text.strip() == wanted.strip()
        ]
        if not hits:
            raise fail(f"{wanted[:60]!r} is not the text of any option")
        if len(hits) > 1:
            raise fail(f"{wanted[:60]!r} matches {len(hits)} options; the answer is ambiguous")
        index = hits[0]
    elif spec.from_ == "flags":
        if not isinstance(raw, list | tuple):
            raise fail(f"expected a list of 0/1 flags, got {type(raw).__name__}")
        if len(raw) != count:
            raise fail(f"{len(raw)} flags for {count} options")
        marked = [i for i, flag in enumerate(raw) if flag in (1, True, "1", "true", "True")]
        if len(marked) != 1:
            raise fail(f"exactly one flag must be set, found {len(marked)}")
        index = marked[0]
    if index is None or not 0 <= index < count:
        raise fail(f"{raw!r} points outside the {count} options")
    return index


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _table_key(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()
