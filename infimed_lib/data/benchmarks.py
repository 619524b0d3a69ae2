"""The seven evaluation benchmarks, read from and written in their published file formats.

Chapter 08 (evaluation) explains how each benchmark is typed and scored. The per-format
readers and writers live in ``benchmark_formats``; this module holds the item type, the table
of what each format can hold, the helpers the readers and writers share, and the two public
entry points :func:`load_benchmark` and :func:`write_benchmark`.
"""
from __future__ import annotations

import base64
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from infimed_lib.common import ParameterError, atomic_write_bytes, require_path, require_type

BENCHMARKS: tuple[str, ...] = (
    "mmmu-med",
    "vqa-rad",
    "slake",
    "pathvqa",
    "pmc-vqa",
    "omnimedvqa",
    "medxpertqa-mm",
)

QUESTION_TYPES: tuple[str, ...] = ("multiple_choice", "yes_no", "closed", "open")

# The five MMMU subjects of its "Health & Medicine" discipline.
MMMU_MED_SUBJECTS: tuple[str, ...] = (
    "Basic_Medical_Science",
    "Clinical_Medicine",
    "Diagnostics_and_Laboratory_Medicine",
    "Pharmacy",
    "Public_Health",
)


@dataclass(frozen=True)
class FormatSpec:
    """What a published format can hold: an item outside this cannot survive a round trip."""

    question_types: tuple[str, ...]
    meta_keys: tuple[str, ...] = ()
    has_modality: bool = False
    has_lang: bool = False
    images: tuple[int, int] = (1, 1)  # (fewest, most) images per question
    options: tuple[int, int] = (0, 0)  # (fewest, most) options of a multiple-choice question


# meta keys are the formats' own field names, kept verbatim.
FORMATS: dict[str, FormatSpec] = {
    "mmmu-med": FormatSpec(("multiple_choice", "closed"), ("subject", "subfield", "topic_difficulty", "explanation"),
                           has_modality=True, images=(1, 7), options=(2, 26)),
    "vqa-rad": FormatSpec(("yes_no", "open")),
    "pathvqa": FormatSpec(("yes_no", "open")),
    "slake": FormatSpec(("yes_no", "closed", "open"), ("location", "content_type"),
                        has_modality=True, has_lang=True),
    "pmc-vqa": FormatSpec(("multiple_choice",), ("Caption",), options=(4, 4)),
    "omnimedvqa": FormatSpec(("multiple_choice",), ("dataset", "question_type"), has_modality=True, options=(2, 4)),
    "medxpertqa-mm": FormatSpec(("multiple_choice",), ("medical_task", "body_system", "question_type"),
                                images=(1, 26), options=(2, 26)),
}


@dataclass
class BenchmarkItem:
    """One benchmark question, whatever its source format (Chapter 08).

    ``answer`` is the gold option letter for multiple choice, else the answer text.
    ``images`` holds file paths (str) or ``PIL.Image`` objects; ``meta`` keeps the format's
    own extra fields under their published names. ``published`` keeps, byte for byte, the
    fields a reader had to clean up (PMC-VQA's ``Question``, ``Choice A``-``D`` and ``Answer``,
    MedXpertQA's question with its "Answer Choices:" tail), because MedEvalKit's prompts and
    rules read those raw strings; it takes no part in equality, and items built in memory leave
    it empty (:mod:`~infimed_lib.data.benchmark_formats` then rebuilds what the writer would write).
    """

    benchmark: str
    id: str
    question: str
    images: list[Any] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    answer: str = ""
    question_type: str = "open"
    lang: str = "en"
    modality: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    published: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.benchmark not in BENCHMARKS:
            raise ValueError(f"BenchmarkItem.benchmark: {self.benchmark!r} is not one of {list(BENCHMARKS)}")
        if self.question_type not in QUESTION_TYPES:
            raise ValueError(
                f"BenchmarkItem {self.id!r}: question_type {self.question_type!r} is not one of {list(QUESTION_TYPES)}"
            )
        if self.question_type == "multiple_choice" and self.answer not in self.options:
            raise ValueError(
                f"BenchmarkItem {self.id!r}: gold answer {self.answer!r} is not an option letter {sorted(self.options)}"
            )


# --- helpers shared by the readers and writers in benchmark_formats ---------------------------

def is_yes_no(answer: str) -> bool:
    """MedEvalKit's rule: a question is a yes/no judgement when its gold answer is yes or no."""
    return str(answer).strip().lower() in ("yes", "no")


def record_error(source: Any, record: Any, problem: str) -> ValueError:
    """One message naming the file, the record and what is wrong with it."""
    return ValueError(f"{source}: record {record}: {problem}")


def require_fields(record: dict, fields: tuple[str, ...], source: Any, where: Any) -> None:
    missing = [name for name in fields if name not in record or record[name] is None]
    if missing:
        raise record_error(source, where, f"missing field(s) {missing}")


def existing_image(path: Path, source: Any, where: Any) -> str:
    if not path.is_file():
        raise record_error(source, where, f"image file missing: {path}")
    return str(path)


def option_letters(count: int) -> list[str]:
    return [chr(ord("A") + index) for index in range(count)]


def image_bytes(image: Any) -> tuple[bytes, str]:
    """Encoded bytes and file suffix of an image given as PIL image, path or data URL.

    Files are copied byte for byte so re-writing a loaded benchmark keeps its images intact.
    """
    if hasattr(image, "save") and hasattr(image, "size"):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue(), ".png"
    text = str(image)
    match = re.match(r"data:image/(\w+);base64,(.*)", text, re.DOTALL)
    if match:
        kind = match.group(1).lower()
        return base64.b64decode(match.group(2)), "." + ("jpg" if kind == "jpeg" else kind)
    path = Path(text)
    if not path.is_file():
        raise ValueError(f"image file missing: {path}")
    return path.read_bytes(), path.suffix.lower() or ".png"


def safe_name(text: str) -> str:
    """A file-name stem from an item id (ids may hold slashes or spaces)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._") or "item"


_IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def write_hf_parquet(path: Path, rows: list[dict], columns: dict[str, str]) -> None:
    """Parquet as `datasets` exports it: images as {bytes, path} structs, features in the footer."""
    fields = [(name, _IMAGE_TYPE if kind == "Image" else pa.string()) for name, kind in columns.items()]
    features = {name: {"_type": "Image"} if kind == "Image" else {"dtype": "string", "_type": "Value"}
                for name, kind in columns.items()}
    schema = pa.schema(fields, metadata={"huggingface": json.dumps({"info": {"features": features}})})
    table = pa.Table.from_pylist(rows, schema=schema)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def parquet_rows(files: list[Path], limit: int | None):
    """Yield (file, row) in file order, reading no further than ``limit`` rows."""
    count = 0
    for file in files:
        for batch in pq.ParquetFile(file).iter_batches(batch_size=256):
            for row in batch.to_pylist():
                yield file, row
                count += 1
                if limit is not None and count >= limit:
                    return


def hf_image(value: dict, file: Path, where: Any) -> Image.Image:
    if value.get("bytes"):
        return Image.open(io.BytesIO(value["bytes"]))
    if value.get("path"):
        return Image.open(existing_image(file.parent / value["path"], file, where))
    raise record_error(file, where, "image has neither bytes nor path")


def image_struct(image: Any, stem: str) -> dict:
    data, suffix = image_bytes(image)
    return {"bytes": data, "path": f"{stem}{suffix}"}


def save_image(image: Any, folder: Path, stem: str) -> str:
    """Write one image under ``folder``; return its file name."""
    data, suffix = image_bytes(image)
    atomic_write_bytes(folder / f"{stem}{suffix}", data)
    return f"{stem}{suffix}"


# --- public entry points ---------------------------------------------------------------------

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


def write_benchmark(name: str, items: list[BenchmarkItem], out_dir: str | Path) -> Path:
    """Write ``items`` in benchmark ``name``'s published layout under ``out_dir`` (Chapter 08).

    Files are written atomically and deterministically (same items -> same bytes). Returns the
    folder to hand to :func:`load_benchmark`. Items the format cannot represent (a field it has
    no column for, a question type it cannot express) raise ValueError instead of being altered.
    OmniMedVQA and MMMU keep one file per ``meta["dataset"]`` / ``meta["subject"]``, so their items
    read back grouped by file, in the files' order.
    """
    from infimed_lib.data import benchmark_formats

    require_type("name", name, str)
    if name not in BENCHMARKS:
        raise ParameterError("name", f"{name!r} is not one of {list(BENCHMARKS)}")
    items = list(items)
    check_writable(name, items)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    benchmark_formats.WRITERS[name](items, out_dir)
    return out_dir


def load_benchmark(name: str, path: str | Path, limit: int | None = None, split: str = "test") -> list[BenchmarkItem]:
    """Read benchmark ``name`` from its published files at ``path`` (Chapter 08).

    ``path`` is the benchmark's folder as downloaded (or as :func:`write_benchmark` made it), or
    its main file. ``limit`` keeps the first items in file order. ``split`` picks another split
    of a folder that has one (``benchmark_formats.SPLITS``: VQA-RAD, PathVQA, SLAKE and PMC-VQA
    ship their training data beside the test set). Malformed records raise ValueError naming
    the file and the record.
    """
    from infimed_lib.data import benchmark_formats

    require_type("name", name, str)
    if name not in BENCHMARKS:
        raise ParameterError("name", f"{name!r} is not one of {list(BENCHMARKS)}")
    if split != "test" and split not in benchmark_formats.SPLITS.get(name, ()):
        raise ParameterError("split", f"{split!r}: {name} is read from its test split only"
                             if name not in benchmark_formats.SPLITS else
                             f"{split!r} is not one of {list(benchmark_formats.SPLITS[name])}")
    if limit is not None:
        require_type("limit", limit, int)
        if limit < 1:
            raise ParameterError("limit", f"must be a positive integer or None, got {limit}")
    path = require_path("path", path).absolute()
    reader = benchmark_formats.READERS[name]
    items = reader(path, limit, split) if name in benchmark_formats.SPLITS else reader(path, limit)
    return items[:limit] if limit is not None else items
