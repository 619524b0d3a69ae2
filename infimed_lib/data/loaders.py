"""Training-data loaders: published LLaVA-style files and benchmark items -> the sample schema.

Chapter 01 (data and curation) describes the sample schema and the sources these loaders read:
LLaVA-Med, PubMedVision and Mammoth-VL ship LLaVA-style JSON/JSONL; the VQA sets (VQA-RAD,
PathVQA, SLAKE, PMC-VQA) ship in the benchmark formats and pass through ``load_benchmark`` first.
"""
from __future__ import annotations

import base64
import io
import itertools
import json
from pathlib import Path
from typing import Any, Callable, Iterable

from infimed_lib.common import ParameterError, iter_jsonl, require_choice, require_path, require_type
from infimed_lib.data.benchmark_prompts import build_prompt
from infimed_lib.data.benchmark_prompts import prompt_images
from infimed_lib.data.benchmarks import BenchmarkItem, image_bytes
from infimed_lib.data.prompt_format import IMAGE_MARKER

FAMILIES: tuple[str, ...] = (
    "general_caption", "general_interleaved", "general_instruction", "medical_caption", "medical_instruction",
)
KINDS: tuple[str, ...] = ("caption", "interleaved", "instruction", "vqa", "dialogue")

# ShareGPT-style files name the roles user/assistant; the schema keeps LLaVA's human/gpt.
_ROLES = {"human": "human", "user": "human", "gpt": "gpt", "assistant": "gpt"}


def _check_naming(source: Any, family: Any, kind: Any) -> None:
    require_type("source", source, str)
    if not source.strip():
        raise ParameterError("source", "is empty; name the data source")
    require_choice("family", family, FAMILIES)
    require_choice("kind", kind, KINDS)


def _read_records(path: Path) -> Iterable:
    """JSONL is streamed; a JSON list has to be parsed whole (convert a corpus-scale one to
    JSONL first, e.g. ``jq -c '.[]' big.json > big.jsonl``)."""
    if path.suffix == ".jsonl":
        return iter_jsonl(path)
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected a JSON list of samples, got {type(records).__name__}")
    return records


def _image_refs(record: dict, image_root: Path, check: bool, where: str) -> list[str]:
    """The record's images as schema references: data URLs kept, file paths made absolute."""
    raw = record.get("image", record.get("images"))
    if raw in (None, "", []):
        return []
    raw = [raw] if isinstance(raw, str) else raw
    if not isinstance(raw, list) or not all(isinstance(ref, str) and ref for ref in raw):
        raise ValueError(f"{where}: 'image' must be a file name or a list of file names, got {raw!r}")
    refs = []
    for ref in raw:
        if ref.startswith("data:image/"):
            refs.append(ref)
            continue
        file = Path(ref) if Path(ref).is_absolute() else image_root / ref
        if check and not file.is_file():
            raise ValueError(f"{where}: image file missing: {file}")
        refs.append(str(file))
    return refs


def _conversations(record: dict, where: str) -> list[dict]:
    turns = record.get("conversations")
    if not isinstance(turns, list) or not turns:
        raise ValueError(f"{where}: missing field 'conversations' (a non-empty list of turns)")
    cleaned = []
    for number, turn in enumerate(turns):
        if not isinstance(turn, dict) or turn.get("from") not in _ROLES or not isinstance(turn.get("value"), str):
            raise ValueError(f"{where}: turn {number} must be {{'from': human|gpt, 'value': text}}, got {turn!r}")
        cleaned.append({"from": _ROLES[turn["from"]], "value": turn["value"]})
    if not any(turn["from"] == "gpt" for turn in cleaned):
        raise ValueError(f"{where}: no 'gpt' turn, so the sample carries no training target")
    return cleaned


def _place_markers(turns: list[dict], count: int, where: str) -> list[dict]:
    """Make the number of <image> markers equal the number of images (schema rule)."""
    found = sum(turn["value"].count(IMAGE_MARKER) for turn in turns)
    if found == count:
        return turns
    if found == 0:
        return [dict(turns[0], value=(IMAGE_MARKER + "\n") * count + turns[0]["value"])] + turns[1:]
    raise ValueError(f"{where}: {found} '{IMAGE_MARKER}' markers for {count} images")


def load_llava_json(
    path: str | Path,
    image_root: str | Path | None,
    source: str,
    family: str,
    kind: str,
    *,
    limit: int | None = None,
    check_images: bool = True,
) -> list[dict]:
    """`iter_llava_json` as a list (Chapter 01)."""
    return list(iter_llava_json(path, image_root, source, family, kind, limit=limit, check_images=check_images))


def iter_llava_json(
    path: str | Path,
    image_root: str | Path | None,
    source: str,
    family: str,
    kind: str,
    *,
    limit: int | None = None,
    check_images: bool = True,
) -> Iterable[dict]:
    """Read a LLaVA-style JSON list or JSONL file into samples of the schema (Chapter 01).

    Each record needs ``conversations`` (turns from human/gpt); ``image`` may be one file name or
    a list (PubMedVision), resolved against ``image_root`` (default: the file's folder); records
    without images are text-only samples (Mammoth-VL has some). Images with no ``<image>`` marker
    in the text get ``"<image>\\n"`` prepended to the first turn. Record ids are kept; a missing
    id becomes ``<source>-<index>`` and a repeated one gets ``-<n>`` appended. Other record fields
    go to ``meta``. Malformed records raise ValueError naming the file and the record. A JSONL
    file is read and converted one record at a time (the arguments are checked at once).
    """
    file = require_path("path", path, "file")
    _check_naming(source, family, kind)
    root = (file.parent if image_root is None else require_path("image_root", image_root, "dir")).absolute()
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ParameterError("limit", f"must be a positive integer or None, got {limit!r}")
    return _llava_samples(file, root, source, family, kind, limit, check_images)


def _llava_samples(file: Path, root: Path, source: str, family: str, kind: str, limit: int | None,
                   check_images: bool) -> Iterable[dict]:
    used = set()
    for index, record in enumerate(itertools.islice(_read_records(file), limit)):
        label = record.get("id", index) if isinstance(record, dict) else index
        where = f"{file}: record {label}"
        if not isinstance(record, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
        images = _image_refs(record, root, check_images, where)
        turns = _place_markers(_conversations(record, where), len(images), where)
        original = f"{source}-{index:06d}" if record.get("id") in (None, "") else str(record["id"])
        sample_id, copy = original, 1
        while sample_id in used:  # curation caches judgements by id, so ids must stay unique
            copy += 1
            sample_id = f"{original}-{copy}"
        used.add(sample_id)
        meta = {k: v for k, v in record.items() if k not in ("id", "image", "images", "conversations")}
        if sample_id != original:
            meta["original_id"] = original
        yield _sample(sample_id, source, family, kind, images, turns, meta)


def _sample(id_: str, source: str, family: str, kind: str, images: list[str], turns: list[dict],
            meta: dict) -> dict:
    return {"id": id_, "source": source, "family": family, "kind": kind,
            "domain": "medical" if family.startswith("medical") else "general",
            "images": images, "conversations": turns, "meta": meta}


def _image_ref(image: Any) -> str:
    """Paths stay paths; in-memory images (parquet benchmarks) become data URLs of their original
    bytes when PIL still holds them (a JPEG stays JPEG), else of a PNG encoding."""
    if hasattr(image, "save") and hasattr(image, "size"):
        source = getattr(image, "fp", None)
        if image.format in ("JPEG", "PNG") and isinstance(source, io.BytesIO):
            data, kind = source.getvalue(), image.format.lower()
        else:
            data, kind = image_bytes(image)[0], "png"
        return f"data:image/{kind};base64," + base64.b64encode(data).decode("ascii")
    return str(image)


def benchmark_items_to_samples(
    items: Iterable[BenchmarkItem],
    source: str,
    family: str = "medical_instruction",
    prompt_fn: Callable[[BenchmarkItem], str] | None = None,
) -> list[dict]:
    """Turn VQA items (e.g. a VQA set's training split) into single-turn samples (Chapter 01).

    The user turn is the evaluation prompt of the item (``infimed_lib.data.benchmark_prompts.build_prompt``:
    MedEvalKit's layout, options listed for multiple choice, one ``<image>`` per image), so
    training asks questions exactly as the benchmarks will; ``prompt_fn`` replaces it (markers
    are prepended when the text it returns has none). The assistant turn is the gold answer (the
    option letter for multiple choice). Sample ids are ``<source>-<item id>``.
    """
    _check_naming(source, family, "vqa")
    samples = []
    for item in items:
        if not isinstance(item, BenchmarkItem):
            raise ValueError(f"benchmark_items_to_samples: expected BenchmarkItem, got {type(item).__name__}")
        where = f"item {item.benchmark}/{item.id}"
        if prompt_fn is None:
            prompt, images = build_prompt(item), prompt_images(item)
        else:
            prompt, images = prompt_fn(item), list(item.images)
            prompt = _place_markers([{"from": "human", "value": prompt}], len(images), where)[0]["value"]
        turns = [{"from": "human", "value": prompt}, {"from": "gpt", "value": item.answer}]
        meta = {"benchmark": item.benchmark, "item_id": item.id, "question_type": item.question_type,
                "modality": item.modality, "lang": item.lang}
        samples.append(_sample(f"{source}-{item.id}", source, family, "vqa",
                               [_image_ref(image) for image in images], turns, meta))
    return samples
