"""The seven evaluation benchmarks, read from and written in their published file formats.

Chapter 08 (evaluation) explains how each benchmark is typed and scored. The item type lives in
``benchmark_items``, the shared file helpers in ``benchmark_files`` and the per-format readers and
writers in ``benchmark_vqa_formats`` and ``benchmark_exam_formats``; this module holds the tables
that route each benchmark to its reader and writer and the two public entry points
:func:`load_benchmark` and :func:`write_benchmark`.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

from infimed_lib.common import ParameterError, require_path, require_type
from infimed_lib.data.benchmark_exam_formats import read_medxpert, read_mmmu, read_omni, write_medxpert, write_mmmu, write_omni
from infimed_lib.data.benchmark_files import image_bytes, safe_name
from infimed_lib.data.benchmark_items import (
    BENCHMARKS, FORMATS, MMMU_MED_SUBJECTS, QUESTION_TYPES, BenchmarkItem, FormatSpec, is_yes_no, option_letters,
)
from infimed_lib.data.benchmark_vqa_formats import read_pmc, read_slake, read_vqa, write_pmc, write_slake, write_vqa

__all__ = ["BENCHMARKS", "FORMATS", "MMMU_MED_SUBJECTS", "QUESTION_TYPES", "READERS", "SPLITS", "WRITERS", "BenchmarkItem",
           "FormatSpec", "check_writable", "image_bytes", "is_yes_no", "load_benchmark", "option_letters",
           "write_benchmark"]


def _unwritable(name: str, item: BenchmarkItem) -> str | None:
    """Why benchmark ``name``'s published format cannot hold ``item``; None when it can."""
    spec, kind, count = FORMATS[name], item.question_type, len(item.options)
    reads_as_yes_no = name in ("vqa-rad", "pathvqa") or (name == "slake" and kind == "closed")
    extra = sorted(set(item.meta) - set(spec.meta_keys))
    rules = [
        (item.benchmark != name, f"belongs to benchmark {item.benchmark!r}"),
        (kind not in spec.question_types, f"has question_type {kind!r}; the format holds {list(spec.question_types)}"),
        (kind == "yes_no" and not is_yes_no(item.answer), f"is yes_no but its answer is {item.answer!r}"),
        (kind != "yes_no" and reads_as_yes_no and is_yes_no(item.answer),
         f"has a yes/no answer, so it would read back as yes_no, not {kind!r}"),
        (kind == "multiple_choice" and (list(item.options) != option_letters(count)
                                        or not spec.options[0] <= count <= spec.options[1]),
         f"options {list(item.options)} must be {spec.options[0]} to {spec.options[1]} consecutive letters from A"),
        (kind != "multiple_choice" and bool(item.options), f"is {kind} but has options"),
        (not spec.images[0] <= len(item.images) <= spec.images[1],
         f"has {len(item.images)} images; the format holds {spec.images[0]} to {spec.images[1]}"),
        (bool(extra), f"meta keys {extra} have no field in the format; allowed: {list(spec.meta_keys)}"),
        (not spec.has_modality and bool(item.modality),
         f"has modality {item.modality!r}; the format has no such field"),
        (not spec.has_lang and item.lang != "en", f"has lang {item.lang!r}; the format is English only"),
        # VQA-RAD and PathVQA have no id column: the id travels as the image's file name.
        (name in ("vqa-rad", "pathvqa") and safe_name(item.id) != item.id,
         "has an id that is not a file name (use letters, digits, '.', '_', '-')"),
        (name == "omnimedvqa" and not str(item.meta.get("dataset", "")).strip(),
         "needs meta['dataset'], the source dataset that names its JSON file"),
        (name == "omnimedvqa" and len(set(item.options.values())) != count,
         "repeats an option text, so gt_answer (an option text) would be ambiguous"),
        (name == "mmmu-med" and item.meta.get("subject") not in MMMU_MED_SUBJECTS,
         f"needs meta['subject'] in {list(MMMU_MED_SUBJECTS)}"),
        (name == "medxpertqa-mm" and "Answer Choices:" in item.question,
         "already lists 'Answer Choices:' in its question; the writer appends them"),
    ]
    return next((message for broken, message in rules if broken), None)


def check_writable(name: str, items: list[BenchmarkItem]) -> None:
    """Refuse items the published format cannot hold, so that write -> load gives them back."""
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, BenchmarkItem):
            raise ValueError(f"write_benchmark({name!r}): expected BenchmarkItem, got {type(item).__name__}")
        problem = _unwritable(name, item)
        # ids name the image files, so two ids that sanitise alike would share one file.
        if safe_name(item.id) in seen:
            problem = "is a duplicate id"
        if problem:
            raise ValueError(f"write_benchmark({name!r}): item {item.id!r} {problem}")
        seen.add(safe_name(item.id))


READERS = {"mmmu-med": read_mmmu, "vqa-rad": partial(read_vqa, "vqa-rad"), "pathvqa": partial(read_vqa, "pathvqa"),
           "slake": read_slake, "pmc-vqa": read_pmc, "omnimedvqa": read_omni, "medxpertqa-mm": read_medxpert}
# Benchmarks whose published folder also holds a training split (the SFT sources of Table 4);
# ``load_benchmark(..., split="train")`` reads it. SLAKE calls its third split "validate".
SPLITS = {"vqa-rad": ("train", "test"), "pathvqa": ("train", "validation", "test"),
          "slake": ("train", "validate", "test"), "pmc-vqa": ("train", "test")}
WRITERS = {"mmmu-med": write_mmmu, "vqa-rad": write_vqa, "pathvqa": write_vqa, "slake": write_slake,
           "pmc-vqa": write_pmc, "omnimedvqa": write_omni, "medxpertqa-mm": write_medxpert}


def write_benchmark(name: str, items: list[BenchmarkItem], out_dir: str | Path) -> Path:
    """Write ``items`` in benchmark ``name``'s published layout under ``out_dir`` (Chapter 08).

    Files are written atomically and deterministically (same items -> same bytes). Returns the
    folder to hand to :func:`load_benchmark`. Items the format cannot represent (a field it has
    no column for, a question type it cannot express) raise ValueError instead of being altered.
    OmniMedVQA and MMMU keep one file per ``meta["dataset"]`` / ``meta["subject"]``, so their items
    read back grouped by file, in the files' order.
    """
    require_type("name", name, str)
    if name not in BENCHMARKS:
        raise ParameterError("name", f"{name!r} is not one of {list(BENCHMARKS)}")
    items = list(items)
    check_writable(name, items)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    WRITERS[name](items, out_dir)
    return out_dir


def load_benchmark(name: str, path: str | Path, limit: int | None = None, split: str = "test") -> list[BenchmarkItem]:
    """Read benchmark ``name`` from its published files at ``path`` (Chapter 08).

    ``path`` is the benchmark's folder as downloaded (or as :func:`write_benchmark` made it), or
    its main file. ``limit`` keeps the first items in file order. ``split`` picks another split
    of a folder that has one (``SPLITS``: VQA-RAD, PathVQA, SLAKE and PMC-VQA
    ship their training data beside the test set). Malformed records raise ValueError naming
    the file and the record.
    """
    require_type("name", name, str)
    if name not in BENCHMARKS:
        raise ParameterError("name", f"{name!r} is not one of {list(BENCHMARKS)}")
    if split != "test" and split not in SPLITS.get(name, ()):
        raise ParameterError("split", f"{split!r}: {name} is read from its test split only"
                             if name not in SPLITS else
                             f"{split!r} is not one of {list(SPLITS[name])}")
    if limit is not None:
        require_type("limit", limit, int)
        if limit < 1:
            raise ParameterError("limit", f"must be a positive integer or None, got {limit}")
    path = require_path("path", path).absolute()
    reader = READERS[name]
    items = reader(path, limit, split) if name in SPLITS else reader(path, limit)
    return items[:limit] if limit is not None else items
