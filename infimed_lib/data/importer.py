"""Import real datasets into the corpus layout, so the paper profile reads them like the miniature one.

``python -m infimed_lib.data.importer sources.yaml OUT_DIR`` reads a list of sources

```yaml
sources:
  - {name: llava-med-instruct, format: llava, path: /data/llava_med/instruct.json,
     image_root: /data/llava_med/images, family: medical_instruction, kind: dialogue}
  - {name: vqa-rad, format: vqa-rad, path: /data/vqa_rad/train.parquet}
benchmarks:
  vqa-rad: /data/vqa_rad/test.parquet
```

and writes ``OUT_DIR/sources/<name>.jsonl`` (images referenced by absolute path or inlined) and
``OUT_DIR/manifest.json``; chapters 01-09 then take ``corpus_dir: OUT_DIR``. ``format`` is
``llava`` (LLaVA-Med, PubMedVision, Mammoth-VL) or a benchmark format name (a VQA training split:
VQA-RAD, PathVQA, SLAKE, PMC-VQA, ...). Chapter 00 explains the layout.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from infimed_lib.common import ParameterError, atomic_write_json, atomic_write_jsonl, require_path
from infimed_lib.data.benchmarks import BENCHMARKS, load_benchmark
from infimed_lib.data.loaders import FAMILIES, benchmark_items_to_samples, load_llava_json



@dataclass
class SourceSpec:
    name: str
    format: str
    path: str
    family: str = "medical_instruction"
    kind: str = "vqa"
    image_root: str | None = None
    limit: int | None = None

    def __post_init__(self):
        where = f"sources.{self.name}"
        if self.format != "llava" and self.format not in BENCHMARKS:
            raise ParameterError(f"{where}.format", f"{self.format!r} is not 'llava' or one of {list(BENCHMARKS)}")
        if self.family not in FAMILIES:
            raise ParameterError(f"{where}.family", f"{self.family!r} is not one of {list(FAMILIES)}")
        require_path(f"{where}.path", self.path)


def read_spec(path: str | Path) -> tuple[list[SourceSpec], dict[str, str]]:
    data = yaml.safe_load(require_path("sources_file", path, "file").read_text(encoding="utf-8")) or {}
    if not isinstance(data.get("sources"), list) or not data["sources"]:
        raise ParameterError("sources", f"{path} must list at least one source under 'sources'")
    specs = []
    for index, entry in enumerate(data["sources"]):
        try:
            specs.append(SourceSpec(**entry))
        except TypeError as error:
            raise ParameterError(f"sources[{index}]", str(error)) from None
    return specs, dict(data.get("benchmarks") or {})


def load_source_samples(spec: SourceSpec) -> list[dict]:
    if spec.format == "llava":
        return load_llava_json(spec.path, spec.image_root, spec.name, spec.family, spec.kind, limit=spec.limit)
    items = load_benchmark(spec.format, spec.path, limit=spec.limit)
    return benchmark_items_to_samples(items, spec.name, spec.family)


def import_corpus(specs: list[SourceSpec], out_dir: str | Path, benchmarks: dict[str, str] | None = None) -> Path:
    """Write the corpus layout for real sources; one source's file is replaced atomically."""
    out_dir = Path(out_dir)
    manifest = {"kind": "imported", "sources": {}, "benchmarks": {}}
    for spec in specs:
        samples = load_source_samples(spec)
        atomic_write_jsonl(out_dir / "sources" / f"{spec.name}.jsonl", samples)
        manifest["sources"][spec.name] = {"family": spec.family, "kind": spec.kind, "num_samples": len(samples),
                                          "domain": "medical" if spec.family.startswith("medical") else "general",
                                          "origin": str(Path(spec.path).resolve()), "defect_rate": None}
    for name, path in (benchmarks or {}).items():
        if name not in BENCHMARKS:
            raise ParameterError(f"benchmarks.{name}", f"unknown benchmark; known: {list(BENCHMARKS)}")
        manifest["benchmarks"][name] = {"path": str(require_path(f"benchmarks.{name}", path).resolve())}
    atomic_write_json(out_dir / "manifest.json", manifest)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Import real datasets into the corpus layout.")
    parser.add_argument("sources_file")
    parser.add_argument("out_dir")
    args = parser.parse_args(argv)
    try:
        specs, benchmarks = read_spec(args.sources_file)
        out = import_corpus(specs, args.out_dir, benchmarks)
    except (ParameterError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"corpus written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
