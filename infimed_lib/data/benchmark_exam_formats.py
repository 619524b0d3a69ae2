"""Readers and writers of OmniMedVQA, MedXpertQA-MM and MMMU (Health & Medicine) in their
published file layouts (Chapter 08); see ``benchmark_vqa_formats`` for the other four.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from infimed_lib.common import atomic_write_jsonl, atomic_write_text, dumps_json, read_jsonl
from infimed_lib.data.benchmark_files import (
    existing_image, hf_image, image_struct, parquet_rows, record_error, require_fields, safe_name, save_image,
    write_hf_parquet,
)
from infimed_lib.data.benchmark_items import MMMU_MED_SUBJECTS, BenchmarkItem, option_letters

# --- OmniMedVQA: QA_information/Open-access/<dataset>.json + Images/ -----------------------

def _omni_files(path: Path) -> tuple[Path, list[Path]]:
    """(root the image paths are relative to, JSON files in read order)."""
    if path.is_file():
        return path.parents[2], [path]
    folder = path / "QA_information" / "Open-access" if path.name != "Open-access" else path
    files = sorted(folder.glob("*.json"))
    if not files:
        raise ValueError(f"{path}: no OmniMedVQA QA_information/Open-access/*.json found")
    return folder.parents[1], files


def read_omni(path: Path, limit: int | None) -> list[BenchmarkItem]:
    root, files = _omni_files(path)
    items = []
    for file in files:
        for index, record in enumerate(json.loads(file.read_text(encoding="utf-8"))):
            if limit is not None and len(items) >= limit:
                return items
            require_fields(record, ("question", "gt_answer", "image_path", "option_A", "option_B"), file, index)
            options = {k: str(record[f"option_{k}"]) for k in "ABCD" if record.get(f"option_{k}") is not None}
            gold = [k for k, text in options.items() if text == str(record["gt_answer"])]
            if not gold:
                raise record_error(file, index, f"gt_answer {record['gt_answer']!r} matches no option text")
            items.append(BenchmarkItem(
                benchmark="omnimedvqa", id=str(record.get("question_id", f"{file.stem}-{index}")),
                question=str(record["question"]), images=[existing_image(root / record["image_path"], file, index)],
                options=options, answer=gold[0], question_type="multiple_choice",
                # MedEvalKit notes some files say "modality" instead of "modality_type".
                modality=str(record.get("modality_type", record.get("modality", ""))),
                meta={key: record[key] for key in ("dataset", "question_type") if key in record}))
    return items


def write_omni(items: list[BenchmarkItem], out_dir: Path) -> None:
    groups: dict[str, list[dict]] = {}
    for item in items:
        folder = safe_name(item.meta["dataset"])
        name = save_image(item.images[0], out_dir / "Images" / folder, safe_name(item.id))
        groups.setdefault(folder, []).append({
            "question_id": item.id, **item.meta, "question": item.question,
            "gt_answer": item.options[item.answer], "image_path": f"Images/{folder}/{name}",
            **{f"option_{key}": text for key, text in item.options.items()}, "modality_type": item.modality})
    for dataset, records in groups.items():
        atomic_write_text(out_dir / "QA_information" / "Open-access" / f"{dataset}.json", dumps_json(records))


# --- MedXpertQA-MM: MM/test.jsonl + images/ ------------------------------------------------

_CHOICES_MARK = "Answer Choices:"


def medxpert_published_question(item: BenchmarkItem) -> str:
    """MedXpertQA's question as its file has it, options included ("...\nAnswer Choices: (A) ... (B) ..."):
    the reader's copy when the item was read, else what :func:`write_medxpert` writes (Chapter 08)."""
    if item.published.get("question"):
        return item.published["question"]
    return _medxpert_question_cell(item)


def _medxpert_question_cell(item: BenchmarkItem) -> str:
    listed = " ".join(f"({key}) {text}" for key, text in item.options.items())
    return f"{item.question}\n{_CHOICES_MARK} {listed}"


def read_medxpert(path: Path, limit: int | None) -> list[BenchmarkItem]:
    file = next((p for p in (path / "MM" / "test.jsonl", path / "test.jsonl") if p.is_file()), path)
    if not file.is_file():
        raise ValueError(f"{path}: MedXpertQA MM/test.jsonl not found")
    images_dir = (file.parent.parent if file.parent.name == "MM" else file.parent) / "images"
    items = []
    for index, record in enumerate(read_jsonl(file)[:limit]):
        require_fields(record, ("id", "question", "options", "label"), file, index)
        options = {str(k): str(v) for k, v in dict(record["options"]).items()}
        if record["label"] not in options:
            raise record_error(file, index, f"label {record['label']!r} is not an option letter {sorted(options)}")
        # The published question repeats the options after "Answer Choices:"; keep the stem only so
        # prompts list them once (MedEvalKit lists them twice).
        stem = str(record["question"]).rsplit(_CHOICES_MARK, 1)[0].rstrip()
        items.append(BenchmarkItem(
            benchmark="medxpertqa-mm", id=str(record["id"]), question=stem, options=options,
            images=[existing_image(images_dir / name, file, index) for name in record.get("images") or []],
            answer=record["label"], question_type="multiple_choice",
            meta={k: record[k] for k in ("medical_task", "body_system", "question_type") if k in record},
            published={"question": str(record["question"])}))
    return items


def write_medxpert(items: list[BenchmarkItem], out_dir: Path) -> None:
    rows = []
    for item in items:
        names = [save_image(image, out_dir / "images", f"{safe_name(item.id)}-{chr(ord('a') + k)}")
                 for k, image in enumerate(item.images)]
        rows.append({"id": item.id, "question": _medxpert_question_cell(item),
                     "options": item.options, "label": item.answer, "images": names, **item.meta})
    atomic_write_jsonl(out_dir / "MM" / "test.jsonl", rows)


# --- MMMU Health & Medicine: <Subject>/validation-*.parquet ---------------------------------

_MMMU_COLUMNS = {"id": "Value", "question": "Value", "options": "Value", "explanation": "Value",
                 **{f"image_{k}": "Image" for k in range(1, 8)}, "img_type": "Value", "answer": "Value",
                 "topic_difficulty": "Value", "question_type": "Value", "subfield": "Value"}


def _mmmu_subject(file: Path, row_id: str) -> str:
    if file.parent.name in MMMU_MED_SUBJECTS:
        return file.parent.name
    return re.sub(r"^(dev|validation|test)_|_\d+$", "", row_id)


def read_mmmu(path: Path, limit: int | None) -> list[BenchmarkItem]:
    files = [path] if path.is_file() else [
        file for subject in MMMU_MED_SUBJECTS for file in sorted((path / subject).glob("validation-*.parquet"))]
    if not files:
        raise ValueError(f"{path}: no MMMU <Subject>/validation-*.parquet for {list(MMMU_MED_SUBJECTS)}")
    items = []
    for file, row in parquet_rows(files, limit):
        where = row.get("id", len(items))
        require_fields(row, ("id", "question", "options", "answer", "question_type"), file, where)
        try:
            choices = ast.literal_eval(row["options"] or "[]")
        except (ValueError, SyntaxError):
            raise record_error(file, where, f"options is not a Python list literal: {row['options']!r}") from None
        options = dict(zip(option_letters(len(choices)), map(str, choices)))
        kinds = {"multiple-choice": "multiple_choice", "open": "closed"}  # open answers are short, rule-scored
        if row["question_type"] not in kinds:
            raise record_error(file, where, f"question_type {row['question_type']!r} is not multiple-choice or open")
        if kinds[row["question_type"]] == "multiple_choice" and row["answer"] not in options:
            raise record_error(file, where, f"answer {row['answer']!r} is not an option letter {sorted(options)}")
        meta = {"subject": _mmmu_subject(file, row["id"])}
        meta.update({k: row[k] for k in ("subfield", "topic_difficulty", "explanation") if row.get(k)})
        try:
            img_type = ast.literal_eval(row["img_type"]) if row.get("img_type") else []
        except (ValueError, SyntaxError):
            raise record_error(file, where, f"img_type is not a Python list literal: {row['img_type']!r}") from None
        items.append(BenchmarkItem(
            benchmark="mmmu-med", id=row["id"], question=row["question"], options=options,
            images=[hf_image(row[f"image_{k}"], file, where) for k in range(1, 8) if row.get(f"image_{k}")],
            answer=str(row["answer"]), question_type=kinds[row["question_type"]],
            modality=", ".join(map(str, img_type)), meta=meta))
    return items


def write_mmmu(items: list[BenchmarkItem], out_dir: Path) -> None:
    groups: dict[str, list[dict]] = {}
    for item in items:
        row = {"id": item.id, "question": item.question, "options": str(list(item.options.values())),
               "explanation": item.meta.get("explanation", ""),
               "img_type": str(item.modality.split(", ")) if item.modality else "[]", "answer": item.answer,
               "topic_difficulty": item.meta.get("topic_difficulty", ""),
               "question_type": "multiple-choice" if item.question_type == "multiple_choice" else "open",
               "subfield": item.meta.get("subfield", "")}
        row.update({f"image_{k + 1}": image_struct(image, f"{safe_name(item.id)}_{k + 1}")
                    for k, image in enumerate(item.images)})
        groups.setdefault(item.meta["subject"], []).append(row)
    for subject, rows in groups.items():
        write_hf_parquet(out_dir / subject / "validation-00000-of-00001.parquet", rows, _MMMU_COLUMNS)
