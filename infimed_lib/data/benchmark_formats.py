"""Readers and writers for the seven benchmarks' published file layouts.

Chapter 08 (evaluation) describes each layout. Field names follow the datasets as published
(and as MedEvalKit reads them); ``benchmarks.write_benchmark`` has already checked that the items
fit the format before a writer here runs.
"""
from __future__ import annotations

import ast
import json
import re
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from infimed_lib.common import atomic_write_jsonl, atomic_write_text, dumps_json, read_jsonl
from infimed_lib.data.benchmarks import (
    MMMU_MED_SUBJECTS, BenchmarkItem, existing_image, hf_image, image_struct, is_yes_no, option_letters,
    parquet_rows, record_error, require_fields, safe_name, save_image, write_hf_parquet,
)

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


def _read_vqa(name: str, path: Path, limit: int | None, split: str = "test") -> list[BenchmarkItem]:
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


def _write_vqa(items: list[BenchmarkItem], out_dir: Path) -> None:
    rows = [{"image": image_struct(item.images[0], item.id), "question": item.question, "answer": item.answer}
            for item in items]
    write_hf_parquet(out_dir / "data" / "test-00000-of-00001.parquet", rows,
                     {"image": "Image", "question": "Value", "answer": "Value"})


# --- SLAKE: test.json + imgs/ --------------------------------------------------------------

def _read_slake(path: Path, limit: int | None, split: str = "test") -> list[BenchmarkItem]:
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


def _write_slake(items: list[BenchmarkItem], out_dir: Path) -> None:
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


def _read_pmc(path: Path, limit: int | None, split: str = "test") -> list[BenchmarkItem]:
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
    has them: the reader's copy when the item was read, else what :func:`_write_pmc` writes (Chapter 08)."""
    if item.published.get("choices"):
        return {"Question": item.published["Question"], "choices": list(item.published["choices"]),
                "Answer": item.published["Answer"]}
    return {"Question": item.question, "choices": _pmc_choice_cells(item), "Answer": item.answer}


def _pmc_choice_cells(item: BenchmarkItem) -> list[str]:
    return [f"{key}:{text}" for key, text in item.options.items()]


def _write_pmc(items: list[BenchmarkItem], out_dir: Path) -> None:
    rows = [{"index": item.id, "Figure_path": save_image(item.images[0], out_dir / "figures", safe_name(item.id)),
             "Caption": item.meta.get("Caption", ""), "Question": item.question,
             **{f"Choice {key}": cell for key, cell in zip(item.options, _pmc_choice_cells(item))},
             "Answer": item.answer, "split": "test"} for item in items]
    columns = ["index", "Figure_path", "Caption", "Question", "Choice A", "Choice B", "Choice C", "Choice D",
               "Answer", "split"]
    table = pd.DataFrame(rows, columns=columns)
    atomic_write_text(out_dir / "test_2.csv", table.to_csv(index=False, lineterminator="\n"))


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


def _read_omni(path: Path, limit: int | None) -> list[BenchmarkItem]:
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


def _write_omni(items: list[BenchmarkItem], out_dir: Path) -> None:
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
    the reader's copy when the item was read, else what :func:`_write_medxpert` writes (Chapter 08)."""
    if item.published.get("question"):
        return item.published["question"]
    return _medxpert_question_cell(item)


def _medxpert_question_cell(item: BenchmarkItem) -> str:
    listed = " ".join(f"({key}) {text}" for key, text in item.options.items())
    return f"{item.question}\n{_CHOICES_MARK} {listed}"


def _read_medxpert(path: Path, limit: int | None) -> list[BenchmarkItem]:
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


def _write_medxpert(items: list[BenchmarkItem], out_dir: Path) -> None:
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


def _read_mmmu(path: Path, limit: int | None) -> list[BenchmarkItem]:
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


def _write_mmmu(items: list[BenchmarkItem], out_dir: Path) -> None:
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


READERS = {"mmmu-med": _read_mmmu, "vqa-rad": partial(_read_vqa, "vqa-rad"), "pathvqa": partial(_read_vqa, "pathvqa"),
           "slake": _read_slake, "pmc-vqa": _read_pmc, "omnimedvqa": _read_omni, "medxpertqa-mm": _read_medxpert}
# Benchmarks whose published folder also holds a training split (the SFT sources of Table 4);
# ``load_benchmark(..., split="train")`` reads it. SLAKE calls its third split "validate".
SPLITS = {"vqa-rad": ("train", "test"), "pathvqa": ("train", "validation", "test"),
          "slake": ("train", "validate", "test"), "pmc-vqa": ("train", "test")}
WRITERS = {"mmmu-med": _write_mmmu, "vqa-rad": _write_vqa, "pathvqa": _write_vqa, "slake": _write_slake,
           "pmc-vqa": _write_pmc, "omnimedvqa": _write_omni, "medxpertqa-mm": _write_medxpert}
