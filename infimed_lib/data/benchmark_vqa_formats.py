"""Readers and writers of VQA-RAD, PathVQA, SLAKE and PMC-VQA in their published file layouts.

Chapter 08 (evaluation) describes each layout. Field names follow the datasets as published
(and as MedEvalKit reads them); ``benchmarks.write_benchmark`` has already checked that the items
fit the format before a writer here runs.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from infimed_lib.common import atomic_write_text, dumps_json, read_jsonl
from infimed_lib.data.benchmark_files import (
    existing_image, hf_image, image_struct, parquet_rows, record_error, require_fields, safe_name, save_image,
    write_hf_parquet,
)
from infimed_lib.data.benchmark_items import BenchmarkItem, is_yes_no

# --- VQA-RAD and PathVQA: image / question / answer ----------------------------------------

def _vqa_files(path: Path, split: str) -> list[Path]:
    if path.is_file():
        return [path]
    for pattern in (f"data/{split}-*.parquet", f"{split}-*.parquet", f"{split}.json", f"{split}.jsonl"):
        found = sorted(path.glob(pattern))
        if found:
            return found
    raise ValueError(f"{path}: no {split} split found (expected data/{split}-*.parquet, {split}.json "
                     f"or {split}.jsonl)")


def _vqa_item(name: str, id_: str, question: Any, answer: Any, image: Any) -> BenchmarkItem:
    answer = str(answer)
    return BenchmarkItem(benchmark=name, id=id_, question=str(question), images=[image], answer=answer,
                         question_type="yes_no" if is_yes_no(answer) else "open")


def read_vqa(name: str, path: Path, limit: int | None, split: str = "test") -> list[BenchmarkItem]:
    files = _vqa_files(path, split)
    if files[0].suffix in (".json", ".jsonl"):
        return _read_vqa_json(name, files[0], limit, split)
    items, seen = [], set()
    for index, (file, row) in enumerate(parquet_rows(files, limit)):
        require_fields(row, ("image", "question", "answer"), file, index)
        stem = Path(row["image"]["path"]).stem if row["image"].get("path") else ""
        # Several questions may share one image file; only the first keeps the bare name.
        id_ = stem if stem and stem not in seen else (f"{stem}-{index}" if stem else f"{split}-{index:05d}")
        seen.add(id_)
        items.append(_vqa_item(name, id_, row["question"], row["answer"], hf_image(row["image"], file, index)))
    return items


def _read_vqa_json(name: str, file: Path, limit: int | None, split: str) -> list[BenchmarkItem]:
    records = read_jsonl(file) if file.suffix == ".jsonl" else json.loads(file.read_text(encoding="utf-8"))
    items = []
    for index, record in enumerate(records[:limit]):
        key = "image" if "image" in record else "image_name"
        require_fields(record, (key, "question", "answer"), file, index)
        candidates = [file.parent / record[key], file.parent / "images" / record[key]]
        image = next((c for c in candidates if c.is_file()), candidates[0])
        id_ = str(record.get("qid", record.get("id", f"{split}-{index:05d}")))
        items.append(_vqa_item(name, id_, record["question"], record["answer"],
                               existing_image(image, file, index)))
    return items


def write_vqa(items: list[BenchmarkItem], out_dir: Path) -> None:
    rows = [{"image": image_struct(item.images[0], item.id), "question": item.question, "answer": item.answer}
            for item in items]
    write_hf_parquet(out_dir / "data" / "test-00000-of-00001.parquet", rows,
                     {"image": "Image", "question": "Value", "answer": "Value"})


# --- SLAKE: test.json + imgs/ --------------------------------------------------------------

def read_slake(path: Path, limit: int | None, split: str = "test") -> list[BenchmarkItem]:
    file = path / f"{split}.json" if path.is_dir() else path
    if not file.is_file():
        raise ValueError(f"{path}: SLAKE {split}.json not found")
    items = []
    for index, record in enumerate(json.loads(file.read_text(encoding="utf-8"))[:limit]):
        require_fields(record, ("img_name", "question", "answer", "answer_type", "q_lang"), file, index)
        kind, answer = str(record["answer_type"]).upper(), str(record["answer"])
        if kind not in ("OPEN", "CLOSED"):
            raise record_error(file, index, f"answer_type {record['answer_type']!r} is not OPEN or CLOSED")
        question_type = "open" if kind == "OPEN" else ("yes_no" if is_yes_no(answer) else "closed")
        items.append(BenchmarkItem(
            benchmark="slake", id=str(record.get("qid", index)), question=str(record["question"]),
            images=[existing_image(file.parent / "imgs" / record["img_name"], file, index)],
            answer=answer, question_type=question_type, lang=str(record["q_lang"]),
            modality=str(record.get("modality", "")),
            meta={key: record[key] for key in ("location", "content_type") if key in record}))
    return items


def write_slake(items: list[BenchmarkItem], out_dir: Path) -> None:
    records = []
    for number, item in enumerate(items, 1):
        folder = safe_name(item.id)
        image = save_image(item.images[0], out_dir / "imgs" / folder, "source")
        records.append({
            "img_id": number, "img_name": f"{folder}/{image}", "question": item.question,
            "answer": item.answer, "q_lang": item.lang, **item.meta, "modality": item.modality,
            "answer_type": "OPEN" if item.question_type == "open" else "CLOSED", "base_type": "vqa",
            # The published qid is an integer; keep other ids as strings so they come back unchanged.
            "qid": int(item.id) if item.id.isdigit() and str(int(item.id)) == item.id else item.id,
        })
    atomic_write_text(out_dir / "test.json", dumps_json(records))


# --- PMC-VQA: test_2.csv + figures/ --------------------------------------------------------

def _choice_text(value: str, letter: str) -> str:
    """The published choices carry their letter ("A:Diffuse uptake"); drop it."""
    return re.sub(rf"^\s*\(?{letter}\s*[:.)]\s*", "", str(value)).strip()


def _gold_letter(value: str, options: dict[str, str], file: Path, where: Any) -> str:
    value = str(value).strip()
    letter = re.sub(r"^([A-Z])\s*[:.)].*$", r"\1", value, flags=re.DOTALL)
    if letter in options:
        return letter
    matches = [key for key, text in options.items() if text == value]
    if not matches:
        raise record_error(file, where, f"answer {value!r} is neither an option letter nor an option text")
    return matches[0]


def read_pmc(path: Path, limit: int | None, split: str = "test") -> list[BenchmarkItem]:
    file = path / f"{split}_2.csv" if path.is_dir() else path
    if not file.is_file():
        raise ValueError(f"{path}: PMC-VQA {split}_2.csv not found")
    table = pd.read_csv(file, dtype=str, keep_default_na=False)
    id_column = next((c for c in ("index", "Unnamed: 0") if c in table.columns), None)
    answer_column = "Answer_label" if "Answer_label" in table.columns else "Answer"
    needed = ("Figure_path", "Question", answer_column) + tuple(f"Choice {k}" for k in "ABCD")
    items = []
    for index, record in enumerate((table if limit is None else table.head(limit)).to_dict("records")):
        require_fields(record, needed, file, index)
        options = {key: _choice_text(record[f"Choice {key}"], key) for key in "ABCD"}
        figure = file.parent / "figures" / record["Figure_path"]
        if not figure.is_file() and (file.parent / "images" / record["Figure_path"]).is_file():
            figure = file.parent / "images" / record["Figure_path"]
        items.append(BenchmarkItem(
            benchmark="pmc-vqa", id=str(record[id_column]) if id_column else str(index),
            question=record["Question"].strip(), images=[existing_image(figure, file, index)], options=options,
            answer=_gold_letter(record[answer_column], options, file, index), question_type="multiple_choice",
            meta={"Caption": record["Caption"]} if record.get("Caption") else {},
            published={"Question": record["Question"], "choices": [record[f"Choice {key}"] for key in "ABCD"],
                       "Answer": record["Answer"] if "Answer" in record else record[answer_column]}))
    return items


def pmc_published(item: BenchmarkItem) -> dict[str, Any]:
    """PMC-VQA's ``Question``, ``Choice A``-``D`` (letter included, "A:CT") and ``Answer`` as the CSV
    has them: the reader's copy when the item was read, else what :func:`write_pmc` writes (Chapter 08)."""
    if item.published.get("choices"):
        return {"Question": item.published["Question"], "choices": list(item.published["choices"]),
                "Answer": item.published["Answer"]}
    return {"Question": item.question, "choices": _pmc_choice_cells(item), "Answer": item.answer}


def _pmc_choice_cells(item: BenchmarkItem) -> list[str]:
    return [f"{key}:{text}" for key, text in item.options.items()]


def write_pmc(items: list[BenchmarkItem], out_dir: Path) -> None:
    rows = [{"index": item.id, "Figure_path": save_image(item.images[0], out_dir / "figures", safe_name(item.id)),
             "Caption": item.meta.get("Caption", ""), "Question": item.question,
             **{f"Choice {key}": cell for key, cell in zip(item.options, _pmc_choice_cells(item))},
             "Answer": item.answer, "split": "test"} for item in items]
    columns = ["index", "Figure_path", "Caption", "Question", "Choice A", "Choice B", "Choice C", "Choice D",
               "Answer", "split"]
    table = pd.DataFrame(rows, columns=columns)
    atomic_write_text(out_dir / "test_2.csv", table.to_csv(index=False, lineterminator="\n"))
