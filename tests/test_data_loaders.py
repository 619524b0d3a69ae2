"""Benchmark and training-data loaders on fixtures written in each dataset's published format."""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from infimed_lib.common import ParameterError
from infimed_lib.data.benchmarks import BENCHMARKS, BenchmarkItem, load_benchmark, write_benchmark
from infimed_lib.data.loaders import benchmark_items_to_samples, load_llava_json

FIXTURES = Path(__file__).parent / "fixtures"
BENCH = FIXTURES / "benchmarks"
LLAVA = FIXTURES / "llava"
RED, GREEN, BLUE = (200, 30, 30), (30, 200, 30), (30, 30, 200)


def pixels(image) -> np.ndarray:
    return np.asarray((Image.open(image) if isinstance(image, str) else image).convert("RGB"), dtype=np.int16)


def colour(image) -> tuple:
    return tuple(int(v) for v in pixels(image).reshape(-1, 3).mean(axis=0).round())


def assert_same_items(expected: list[BenchmarkItem], actual: list[BenchmarkItem]) -> None:
    assert len(expected) == len(actual)
    for want, got in zip(expected, actual):
        assert dataclasses.replace(want, images=[]) == dataclasses.replace(got, images=[])
        assert len(want.images) == len(got.images)
        for a, b in zip(want.images, got.images):
            assert np.abs(pixels(a) - pixels(b)).max() <= 0  # image bytes copied or PNG: lossless


# --- each benchmark loader on its published-format fixture ---------------------------------

def test_vqa_rad_parquet_types_answers_like_medevalkit():
    items = load_benchmark("vqa-rad", BENCH / "vqa-rad")
    assert [i.id for i in items] == ["test-00000", "test-00001", "test-00002"]
    assert [i.question_type for i in items] == ["yes_no", "yes_no", "open"]
    assert items[1].answer == "No" and items[2].answer == "right upper lobe"
    assert np.allclose(colour(items[0].images[0]), RED, atol=6)


def test_vqa_rad_json_with_image_files():
    items = load_benchmark("vqa-rad", BENCH / "vqa-rad-json" / "test.json")
    assert [(i.id, i.question_type) for i in items] == [("100", "yes_no"), ("101", "open")]
    assert Path(items[0].images[0]).is_file()


def test_pathvqa_reads_all_shards_and_keeps_shared_image_ids_unique():
    items = load_benchmark("pathvqa", BENCH / "pathvqa")
    assert [i.id for i in items] == ["test_0001", "test_0001-1", "test_0002"]
    assert [i.question_type for i in items] == ["open", "yes_no", "yes_no"]
    assert [i.id for i in load_benchmark("pathvqa", BENCH / "pathvqa", limit=2)] == ["test_0001", "test_0001-1"]


def test_slake_answer_types_and_both_languages():
    items = load_benchmark("slake", BENCH / "slake")
    assert [i.question_type for i in items] == ["yes_no", "closed", "open", "closed", "open"]
    assert [i.lang for i in items] == ["en", "en", "en", "zh", "zh"]
    assert items[0].id == "11934" and items[0].modality == "CT"
    assert items[0].meta == {"location": "Abdomen", "content_type": "Organ"}
    assert items[2].images[0].endswith("imgs/xmlab2/source.jpg")


def test_pmc_vqa_strips_choice_prefixes_and_keeps_letters():
    items = load_benchmark("pmc-vqa", BENCH / "pmc-vqa")
    first = items[0]
    assert first.options == {"A": "Diffuse uptake pattern", "B": "Focal uptake pattern", "C": "No uptake pattern",
                             "D": "Cannot determine from the information given"}
    assert first.answer == "B" and first.question == "What is the uptake pattern in the breast?"
    assert [i.answer for i in items] == ["B", "A", "D"]
    assert items[2].question == 'What does the "arrow" point to?'
    assert first.meta == {"Caption": "Bone scan, anterior view: focal uptake in the left breast."}


def test_omnimedvqa_gold_letter_from_option_text():
    items = load_benchmark("omnimedvqa", BENCH / "omnimedvqa")
    assert [i.id for i in items] == ["ACRIMA_0000", "ACRIMA_0001", "Chest CT Scan_0000"]
    assert [i.answer for i in items] == ["B", "B", "C"]
    assert [len(i.options) for i in items] == [2, 4, 3]
    assert items[2].modality == "CT(Computed Tomography)"  # the file's "modality" spelling
    assert items[0].meta == {"dataset": "ACRIMA", "question_type": "Disease Diagnosis"}
    single = BENCH / "omnimedvqa" / "QA_information" / "Open-access" / "ACRIMA.json"
    assert [i.id for i in load_benchmark("omnimedvqa", single)] == ["ACRIMA_0000", "ACRIMA_0001"]
    assert len(load_benchmark("omnimedvqa", BENCH / "omnimedvqa", limit=2)) == 2


def test_medxpertqa_keeps_the_stem_without_the_repeated_choices():
    items = load_benchmark("medxpertqa-mm", BENCH / "medxpertqa-mm")
    assert items[0].question.endswith("What is the most likely diagnosis?")
    assert "Answer Choices" not in items[0].question
    assert list(items[0].options) == list("ABCDE") and items[0].answer == "B"
    assert len(items[1].images) == 2 and colour(items[1].images[1]) == pytest.approx(BLUE, abs=6)
    assert items[1].meta == {"medical_task": "Treatment", "body_system": "Integumentary",
                             "question_type": "Understanding"}


def test_mmmu_reads_validation_of_each_subject_only():
    items = load_benchmark("mmmu-med", BENCH / "mmmu-med")
    assert [i.id for i in items] == ["validation_Basic_Medical_Science_1", "validation_Basic_Medical_Science_2",
                                     "validation_Pharmacy_1"]
    assert [i.question_type for i in items] == ["multiple_choice", "multiple_choice", "closed"]
    assert items[1].options["B"] == "Smooth muscle (it's involuntary)" and len(items[1].images) == 2
    assert items[2].answer == "12" and items[2].options == {} and items[2].modality == "Tables, Text"
    assert items[2].meta["subject"] == "Pharmacy" and items[2].meta["explanation"] == "Two 6 mg doses."


# --- write -> load round trips, determinism ------------------------------------------------

FIXTURE_DIRS = {name: BENCH / name for name in BENCHMARKS}


@pytest.mark.parametrize("name", BENCHMARKS)
def test_published_fixture_survives_write_then_load(name, tmp_path):
    original = load_benchmark(name, FIXTURE_DIRS[name])
    assert_same_items(original, load_benchmark(name, write_benchmark(name, original, tmp_path / name)))


def synthetic(name: str) -> list[BenchmarkItem]:
    red, blue = Image.new("RGB", (6, 5), RED), Image.new("RGB", (6, 5), BLUE)
    mc = dict(options={"A": "CT", "B": "MRI", "C": "X-ray", "D": "Ultrasound"}, answer="C",
              question_type="multiple_choice")
    return {
        "vqa-rad": [BenchmarkItem(name, "q-1", "Is there a lesion?", [red], answer="yes", question_type="yes_no"),
                    BenchmarkItem(name, "q-2", "Where?", [blue], answer="left lobe", question_type="open")],
        "slake": [BenchmarkItem(name, "4", "Is it normal?", [red], answer="No", question_type="yes_no",
                                modality="CT", meta={"location": "Lung"}),
                  BenchmarkItem(name, "s5", "哪个器官?", [blue], answer="肝脏", question_type="closed",
                                lang="zh")],
        "pmc-vqa": [BenchmarkItem(name, "7", "Which modality?", [red], meta={"Caption": "a, b"}, **mc)],
        "omnimedvqa": [BenchmarkItem(name, "Derm_1", "Which modality?", [red], modality="Dermoscopy",
                                     meta={"dataset": "Derm"}, **mc)],
        "medxpertqa-mm": [BenchmarkItem(name, "MM-9", "Which?", [red, blue], meta={"medical_task": "Basic Science"},
                                        options={k: f"choice {k}" for k in "ABCDE"}, answer="E",
                                        question_type="multiple_choice")],
        "mmmu-med": [BenchmarkItem(name, "validation_Public_Health_3", "<image 1> Rate?", [red], answer="0.25",
                                   question_type="closed", meta={"subject": "Public_Health"}),
                     BenchmarkItem(name, "validation_Public_Health_4", "<image 1> <image 2>?", [red, blue],
                                   modality="Plots and Charts", meta={"subject": "Public_Health"}, **mc)],
    }.get(name) or [dataclasses.replace(i, benchmark=name) for i in synthetic("vqa-rad")]


@pytest.mark.parametrize("name", BENCHMARKS)
def test_write_then_load_gives_equal_items_and_identical_bytes(name, tmp_path):
    items = synthetic(name)
    first = write_benchmark(name, items, tmp_path / "a")
    assert_same_items(items, load_benchmark(name, first))
    write_benchmark(name, items, tmp_path / "b")
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert all((first / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)


# --- malformed input --------------------------------------------------------------------------

def copy_fixture(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(BENCH / name, tmp_path / name))


def edit_json(path: Path, change) -> None:
    records = json.loads(path.read_text(encoding="utf-8"))
    change(records)
    path.write_text(json.dumps(records), encoding="utf-8")


def test_slake_missing_field_names_file_and_record(tmp_path):
    root = copy_fixture("slake", tmp_path)
    edit_json(root / "test.json", lambda r: r[1].pop("answer"))
    with pytest.raises(ValueError, match=r"test\.json: record 1: missing field\(s\) \['answer'\]"):
        load_benchmark("slake", root)
    edit_json(root / "test.json", lambda r: r[1].update(answer="x", answer_type="MAYBE"))
    with pytest.raises(ValueError, match="record 1: answer_type 'MAYBE'"):
        load_benchmark("slake", root)


def test_missing_image_file_is_named(tmp_path):
    root = copy_fixture("slake", tmp_path)
    (root / "imgs" / "xmlab2" / "source.jpg").unlink()
    with pytest.raises(ValueError, match=r"record 2: image file missing: .*xmlab2/source\.jpg"):
        load_benchmark("slake", root)


def test_bad_gold_answers_are_rejected(tmp_path):
    pmc = copy_fixture("pmc-vqa", tmp_path)
    csv = pmc / "test_2.csv"
    csv.write_text(csv.read_text(encoding="utf-8").replace(",D,test", ",E,test"), encoding="utf-8")
    with pytest.raises(ValueError, match="test_2.csv: record 2: answer 'E'"):
        load_benchmark("pmc-vqa", pmc)
    omni = copy_fixture("omnimedvqa", tmp_path)
    edit_json(omni / "QA_information/Open-access/ACRIMA.json", lambda r: r[0].update(gt_answer="Cataract"))
    with pytest.raises(ValueError, match="ACRIMA.json: record 0: gt_answer 'Cataract' matches no option"):
        load_benchmark("omnimedvqa", omni)
    mx = copy_fixture("medxpertqa-mm", tmp_path)
    lines = (mx / "MM/test.jsonl").read_text(encoding="utf-8").replace('"label": "C"', '"label": "F"')
    (mx / "MM/test.jsonl").write_text(lines, encoding="utf-8")
    with pytest.raises(ValueError, match="test.jsonl: record 1: label 'F' is not an option letter"):
        load_benchmark("medxpertqa-mm", mx)


def test_mmmu_bad_rows_are_rejected(tmp_path):
    row = {"id": "validation_Pharmacy_9", "question": "q", "options": "['a', 'b'", "answer": "A",
           "question_type": "multiple-choice"}
    (tmp_path / "Pharmacy").mkdir()
    file = tmp_path / "Pharmacy" / "validation-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pylist([row]), file)
    with pytest.raises(ValueError, match="record validation_Pharmacy_9: options is not a Python list literal"):
        load_benchmark("mmmu-med", tmp_path)
    pq.write_table(pa.Table.from_pylist([dict(row, options="['a', 'b']", answer="C")]), file)
    with pytest.raises(ValueError, match="answer 'C' is not an option letter"):
        load_benchmark("mmmu-med", tmp_path)


def test_bad_parameters_name_the_parameter(tmp_path):
    with pytest.raises(ParameterError, match="parameter 'name'"):
        load_benchmark("vqa-med", BENCH / "slake")
    with pytest.raises(ParameterError, match="parameter 'path'"):
        load_benchmark("slake", tmp_path / "absent")
    with pytest.raises(ParameterError, match="parameter 'limit'"):
        load_benchmark("slake", BENCH / "slake", limit=0)
    with pytest.raises(ValueError, match="no test split found"):
        load_benchmark("vqa-rad", tmp_path)


def test_writer_refuses_items_the_format_cannot_hold(tmp_path):
    base = synthetic("pmc-vqa")[0]
    cases = [
        ("vqa-rad", dataclasses.replace(synthetic("vqa-rad")[0], question_type="closed"), "question_type 'closed'"),
        ("vqa-rad", dataclasses.replace(synthetic("vqa-rad")[1], modality="CT"), "has modality .CT.; the format has no"),
        ("pmc-vqa", dataclasses.replace(base, lang="zh"), "English only"),
        ("pmc-vqa", dataclasses.replace(base, meta={"finding": "x"}), r"meta keys \['finding'\]"),
        ("pmc-vqa", dataclasses.replace(base, options={"A": "a", "B": "b"}, answer="A"), "4 to 4 consecutive"),
        ("slake", dataclasses.replace(synthetic("slake")[1], answer="yes"), "would read back as yes_no"),
        ("omnimedvqa", dataclasses.replace(synthetic("omnimedvqa")[0], meta={}), r"needs meta\[.dataset.\]"),
        ("mmmu-med", dataclasses.replace(synthetic("mmmu-med")[0], meta={}), r"needs meta\['subject'\]"),
        ("slake", base, "belongs to benchmark 'pmc-vqa'"),
    ]
    for name, item, message in cases:
        with pytest.raises(ValueError, match=message):
            write_benchmark(name, [item], tmp_path / name)
    with pytest.raises(ValueError, match="duplicate id"):
        write_benchmark("pmc-vqa", [base, base], tmp_path / "dup")
    with pytest.raises(ValueError, match="gold answer 'E' is not an option letter"):
        dataclasses.replace(base, answer="E")


# --- training data: LLaVA-style files and benchmark items ------------------------------------

def test_llava_med_marker_kept_or_prepended():
    samples = load_llava_json(LLAVA / "llava_med_instruct.json", LLAVA / "images", "llava-med", "medical_instruction",
                              "dialogue")
    first, second = samples
    assert first["conversations"][0]["value"] == "What does the chest X-ray show?\n<image>"
    assert len(first["conversations"]) == 4 and first["meta"]["domain"]["chest_xray"] is True
    assert second["conversations"][0]["value"] == "<image>\nDescribe the main finding."
    assert Path(second["images"][0]).is_absolute() and Path(second["images"][0]).is_file()
    assert (first["source"], first["family"], first["kind"], first["domain"]) == (
        "llava-med", "medical_instruction", "dialogue", "medical")


def test_pubmedvision_image_list_and_mammoth_text_only():
    (pmv,) = load_llava_json(LLAVA / "pubmedvision.json", None, "pubmedvision", "medical_instruction", "instruction")
    assert len(pmv["images"]) == 2 and pmv["meta"] == {"modality": "Histopathology", "body_part": "Skin"}
    chart, text = load_llava_json(LLAVA / "mammoth.jsonl", LLAVA / "images", "mammoth-vl", "general_instruction",
                                  "instruction")
    assert chart["conversations"][0]["value"].startswith("<image>\n") and chart["domain"] == "general"
    assert text["images"] == [] and "<image>" not in text["conversations"][0]["value"]


def write_records(tmp_path: Path, records: list) -> Path:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def test_llava_malformed_records(tmp_path):
    ok = {"id": "a", "conversations": [{"from": "user", "value": "hi"}, {"from": "assistant", "value": "yo"}]}
    assert load_llava_json(write_records(tmp_path, [ok]), None, "s", "general_instruction", "instruction")[0][
        "conversations"][0]["from"] == "human"
    dup = load_llava_json(write_records(tmp_path, [ok, dict(ok, id="a-2"), ok]), None, "s", "general_instruction",
                          "instruction")
    assert [s["id"] for s in dup] == ["a", "a-2", "a-3"] and dup[2]["meta"]["original_id"] == "a"
    cases = [
        ({"id": "b"}, "record b: missing field 'conversations'"),
        (dict(ok, conversations=[{"from": "system", "value": "x"}]), "record a: turn 0 must be"),
        (dict(ok, conversations=[{"from": "human", "value": "x"}]), "record a: no 'gpt' turn"),
        (dict(ok, image="nope.jpg"), r"record a: image file missing: .*nope\.jpg"),
        (dict(ok, image=["x.png", 3]), "record a: 'image' must be a file name"),
        (dict(ok, image="data:image/png;base64,AAAA",
              conversations=[{"from": "human", "value": "<image><image>"}, {"from": "gpt", "value": "y"}]),
         "2 '<image>' markers for 1 images"),
    ]
    for record, message in cases:
        with pytest.raises(ValueError, match=message):
            load_llava_json(write_records(tmp_path, [record]), None, "s", "general_instruction", "instruction")
    with pytest.raises(ValueError, match="expected a JSON list"):
        load_llava_json(write_records(tmp_path, {"id": 1}), None, "s", "general_instruction", "instruction")
    with pytest.raises(ParameterError, match="parameter 'family'"):
        load_llava_json(write_records(tmp_path, [ok]), None, "s", "medical_vqa", "instruction")


def test_benchmark_items_become_single_turn_samples():
    pmc = benchmark_items_to_samples(load_benchmark("pmc-vqa", BENCH / "pmc-vqa"), "pmc-vqa-train")
    human, gpt = pmc[0]["conversations"]
    assert human["value"].startswith("<image>\n") and "What is the uptake pattern in the breast?" in human["value"]
    assert "A. Diffuse uptake pattern" in human["value"] and "D. Cannot determine" in human["value"]
    assert gpt["value"] == "B" and pmc[0]["id"] == "pmc-vqa-train-0" and pmc[0]["kind"] == "vqa"
    assert Path(pmc[0]["images"][0]).is_file()
    rad = benchmark_items_to_samples(load_benchmark("vqa-rad", BENCH / "vqa-rad"), "vqa-rad-train")
    assert rad[0]["images"][0].startswith("data:image/jpeg;base64,")  # the parquet's JPEG bytes, not re-encoded
    assert rad[0]["meta"]["question_type"] == "yes_no" and rad[0]["conversations"][1]["value"] == "yes"
    mmmu = benchmark_items_to_samples(load_benchmark("mmmu-med", BENCH / "mmmu-med"), "m")
    assert mmmu[1]["conversations"][0]["value"].count("<image>") == len(mmmu[1]["images"]) == 2
    mx = benchmark_items_to_samples(load_benchmark("medxpertqa-mm", BENCH / "medxpertqa-mm"), "mx",
                                    prompt_fn=lambda item: item.question)
    assert mx[1]["conversations"][0]["value"].startswith("<image>\n<image>\nA 7-year-old girl")
    with pytest.raises(ParameterError, match="parameter 'source'"):
        benchmark_items_to_samples([], "")
