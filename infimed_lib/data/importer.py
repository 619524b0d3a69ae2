"""Import real datasets into the corpus layout, so the paper profile reads them like the miniature one.

``python -m infimed_lib.data.importer sources.yaml OUT_DIR`` reads a list of sources

```yaml
sources:
  - {name: llava-med-instruct, format: llava, path: /data/llava_med/instruct.jsonl,
     image_root: /data/llava_med/images, family: medical_instruction, kind: dialogue}
  - {name: vqa-rad, format: vqa-rad, path: /data/vqa_rad}      # the folder: its train split is read
benchmarks:
  vqa-rad: /data/vqa_rad                                        # chapters 08-09 read its test split
```

and writes ``OUT_DIR/sources/<name>.jsonl`` (images referenced by absolute path; images a
dataset holds in memory, as parquet files do, written once to ``OUT_DIR/images/<name>/``) and
``OUT_DIR/manifest.json``; chapters 00-09 then take ``corpus_dir: OUT_DIR``. ``format`` is
``llava`` (LLaVA-Med, PubMedVision, Mammoth-VL, and the caption and interleaved sets once in
LLaVA's layout) or the name of a benchmark that ships a training split (VQA-RAD, PathVQA, SLAKE,
PMC-VQA): given the benchmark's folder, the importer reads ``split`` (default ``train``), never
the test split the benchmarks are scored on. The ``benchmarks:`` section records where each
benchmark's published folder is; chapters 08 and 09 evaluate on those folders
(``infimed_lib.eval.benchmark_folders``). A profile's ``-filtered`` mixtures recognise refusals
by their text (``mixtures.REFUSAL_PATTERNS``). The profiles/paper_sources.yaml file lists every
source the paper profile's mixtures name. Chapter 00 explains the layout.
"""
from __future__ import annotations

import argparse
import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import yaml

from infimed_lib.common import ParameterError, atomic_write_bytes, atomic_write_json, atomic_write_jsonl, require_path, \
    run_command
from infimed_lib.data.benchmarks import SPLITS
from infimed_lib.data.benchmarks import BENCHMARKS, load_benchmark
from infimed_lib.data.benchmarks import image_bytes
from infimed_lib.data.loaders import FAMILIES, KINDS, benchmark_items_to_samples, iter_llava_json

# File names of a test split as the benchmarks publish it (test.json, test_2.csv, test-0000-of-0001.parquet).
_TEST_FILE = re.compile(r"(?:^|[^a-z])test(?:[^a-z]|$)", re.IGNORECASE)


@dataclass
class SourceSpec:
    """One entry of the sources file; Chapter 00."""

    name: str
    format: str
    path: str
    family: str = "medical_instruction"
    kind: str = "vqa"
    image_root: str | None = None
    limit: int | None = None
    split: str = "train"

    def __post_init__(self):
        where = f"sources.{self.name}"
        if self.format != "llava" and self.format not in SPLITS:
            known = ["llava", *SPLITS]
            extra = (f"; {self.format} has no training split (it is evaluated only: list it under "
                     "'benchmarks')") if self.format in BENCHMARKS else ""
            raise ParameterError(f"{where}.format", f"{self.format!r} is not one of {known}{extra}")
        if self.family not in FAMILIES:
            raise ParameterError(f"{where}.family", f"{self.family!r} is not one of {list(FAMILIES)}")
        if self.kind not in KINDS:
            raise ParameterError(f"{where}.kind", f"{self.kind!r} is not one of {list(KINDS)}")
        path = require_path(f"{where}.path", self.path)
        if self.format == "llava":
            return
        if self.split == "test" or (path.is_file() and _TEST_FILE.search(path.name)):
            raise ParameterError(f"{where}.{'split' if self.split == 'test' else 'path'}",
                                 f"{path} is {self.format}'s test split, which chapter 08 evaluates on; "
                                 "training on it would leak the benchmark (give the folder or its train file)")
        if self.split not in SPLITS[self.format]:
            raise ParameterError(f"{where}.split", f"{self.split!r} is not one of {list(SPLITS[self.format])}")


def read_spec(path: str | Path) -> tuple[list[SourceSpec], dict[str, str]]:
    """The sources and benchmark folders of a sources file, checked; Chapter 00."""
    data = yaml.safe_load(require_path("sources_file", path, "file").read_text(encoding="utf-8")) or {}
    if not isinstance(data.get("sources"), list) or not data["sources"]:
        raise ParameterError("sources", f"{path} must list at least one source under 'sources'")
    unknown = sorted(set(data) - {"sources", "benchmarks"})
    if unknown:
        raise ParameterError(unknown[0], f"unknown section of {path}; expected 'sources' and 'benchmarks'")
    specs = []
    for index, entry in enumerate(data["sources"]):
        try:
            specs.append(SourceSpec(**entry))
        except TypeError as error:
            raise ParameterError(f"sources[{index}]", str(error)) from None
    names = [spec.name for spec in specs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ParameterError(f"sources.{repeated[0]}", "is listed twice")
    benchmarks = dict(data.get("benchmarks") or {})
    for name, folder in benchmarks.items():
        if name not in BENCHMARKS:
            raise ParameterError(f"benchmarks.{name}", f"unknown benchmark; known: {list(BENCHMARKS)}")
        require_path(f"benchmarks.{name}", folder)
    return specs, benchmarks


def source_samples(spec: SourceSpec) -> Iterable[dict]:
    """The schema samples of one source, streamed where the file format allows. Chapter 00."""
    if spec.format == "llava":
        return iter_llava_json(spec.path, spec.image_root, spec.name, spec.family, spec.kind, limit=spec.limit)
    items = load_benchmark(spec.format, spec.path, limit=spec.limit, split=spec.split)
    return benchmark_items_to_samples(items, spec.name, spec.family)


def store_images(samples: Iterable[dict], out_dir: Path, source: str) -> Iterable[dict]:
    """Write each sample's inlined (data URL) images once under ``images/<source>/``, named by
    content hash, and refer to them by that corpus-relative path: a VQA set asks several
    questions about one image, and inlining it per question would copy it into every record
    (and into every mixture that draws them). The bytes are kept as they come (JPEG stays JPEG)."""
    folder = out_dir / "images" / source
    for sample in samples:
        refs = []
        for ref in sample.get("images", []):
            if not str(ref).startswith("data:image/"):
                refs.append(ref)
                continue
            data, suffix = image_bytes(ref)
            name = f"{hashlib.sha256(data).hexdigest()[:24]}{suffix}"
            if not (folder / name).exists():
                atomic_write_bytes(folder / name, data)
            refs.append(f"images/{source}/{name}")
        yield dict(sample, images=refs)


def import_corpus(specs: list[SourceSpec], out_dir: str | Path, benchmarks: dict[str, str] | None = None) -> Path:
    """Write the corpus layout for real sources; each source's file is written as a stream and
    replaced atomically, the manifest last. Chapter 00."""
    out_dir = Path(out_dir)
    manifest = {"kind": "imported", "sources": {}, "benchmarks": {}}
    for spec in specs:
        counted = {"n": 0}

        def counting(samples):
            for sample in samples:
                counted["n"] += 1
                yield sample

        samples = store_images(source_samples(spec), out_dir, spec.name)
        atomic_write_jsonl(out_dir / "sources" / f"{spec.name}.jsonl", counting(samples))
        manifest["sources"][spec.name] = {
            "family": spec.family, "kind": spec.kind, "num_samples": counted["n"],
            "domain": "medical" if spec.family.startswith("medical") else "general",
            "origin": str(Path(spec.path).resolve()), "defect_rate": None,
            **({"split": spec.split} if spec.format != "llava" else {})}
    for name, path in (benchmarks or {}).items():
        manifest["benchmarks"][name] = {"path": str(require_path(f"benchmarks.{name}", path).resolve())}
    atomic_write_json(out_dir / "manifest.json", manifest)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Import real datasets into the corpus layout.")
    parser.add_argument("sources_file")
    parser.add_argument("out_dir")
    args = parser.parse_args(argv)
    def job() -> Path:
        specs, benchmarks = read_spec(args.sources_file)
        return import_corpus(specs, args.out_dir, benchmarks)

    return run_command(job, lambda out: f"corpus written to {out}", errors=(ParameterError, ValueError))


if __name__ == "__main__":
    sys.exit(main())
