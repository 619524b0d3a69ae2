"""Tests of the bundled miniature corpus generator (infimed_lib.data.corpus and its helpers)."""
from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from infimed_lib.common import ParameterError, read_json, read_jsonl
from infimed_lib.data.corpus import corpus_build as corpus_module
from infimed_lib.data.benchmarks import BENCHMARKS, load_benchmark
from infimed_lib.data.corpus import ensure_corpus, generate_corpus
from infimed_lib.data.corpus.corpus_sources import build_sources
from infimed_lib.data.corpus.corpus_medical import Context
from infimed_lib.data.corpus.corpus_questions import MMMU_SENTENCE
from infimed_lib.data.corpus.defects import DEFECT_TYPES, apply_defect
from infimed_lib.data.corpus.dicom_images import MODALITY_NAMES, dicom_path, real_images, split_real_images
from infimed_lib.data.images import (MEDICAL_MODALITIES, draw_medical, image_to_data_url, load_image,
                                     medical_attrs)

SCALE = 0.02
FAMILIES = {"general_caption", "general_interleaved", "general_instruction", "medical_caption", "medical_instruction"}
KINDS = {"caption", "interleaved", "instruction", "vqa", "dialogue"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return generate_corpus(tmp_path_factory.mktemp("corpus") / "mini", seed=0, scale=SCALE, workers=1)


def _samples(root: Path) -> list[dict]:
    manifest = read_json(root / "manifest.json")
    return [row for entry in manifest["sources"].values() for row in read_jsonl(root / entry["path"])]


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_arguments_give_byte_identical_corpus_and_another_seed_differs(corpus, tmp_path):
    again = generate_corpus(tmp_path / "again", seed=0, scale=SCALE)
    assert _tree(again) == _tree(corpus)
    other = _tree(generate_corpus(tmp_path / "other", seed=1, scale=SCALE))
    first = _tree(corpus)
    changed = [name for name in first if name in other and other[name] != first[name]]
    assert len(changed) > len(first) // 2


def test_worker_processes_write_the_same_corpus(corpus, tmp_path):
    parallel = generate_corpus(tmp_path / "parallel", seed=0, scale=SCALE, workers=2)
    assert _tree(parallel) == _tree(corpus)
    with pytest.raises(ParameterError, match="workers"):
        generate_corpus(tmp_path / "bad", seed=0, scale=SCALE, workers=0)


def test_layout_and_sample_schema(corpus):
    manifest = read_json(corpus / "manifest.json")
    assert manifest["generator"]["seed"] == 0 and manifest["generator"]["scale"] == SCALE
    assert set(manifest["families"]) == FAMILIES
    for name, entry in manifest["sources"].items():
        assert (corpus / "sources" / f"{name}.jsonl").is_file() and entry["count"] >= 4
    for rel, digest in manifest["checksums"].items():
        assert hashlib.sha256((corpus / rel).read_bytes()).hexdigest() == digest
    samples = _samples(corpus)
    assert len({s["id"] for s in samples}) == len(samples)
    for sample in samples:
        assert sample["family"] in FAMILIES and sample["kind"] in KINDS
        assert sample["domain"] == ("general" if sample["family"].startswith("general") else "medical")
        turns = sample["conversations"]
        assert turns and all(t["from"] in ("human", "gpt") and isinstance(t["value"], str) for t in turns)
        assert any(t["from"] == "gpt" and t["value"].strip() for t in turns)
        markers = sum(t["value"].count("<image>") for t in turns)
        assert markers == len(sample["images"]), sample["id"]
        assert "defect" not in json.dumps(sample["meta"])
        for ref in sample["images"]:
            assert load_image(ref, corpus).size == (96, 96)
    kinds = {(s["family"], s["kind"]) for s in samples}
    assert ("general_interleaved", "interleaved") in kinds and ("medical_instruction", "dialogue") in kinds
    interleaved = [s for s in samples if s["kind"] == "interleaved" and s["images"]]
    assert all(len(s["conversations"]) == 1 and len(s["images"]) in (2, 3) for s in interleaved)


def test_defect_labels_match_manifest_rates(corpus):
    manifest = read_json(corpus / "manifest.json")
    labels = read_jsonl(corpus / "labels" / "defects.jsonl")
    samples = {s["id"]: s for s in _samples(corpus)}
    assert {row["id"] for row in labels} == set(samples)
    assert {row["defect"] for row in labels} <= set(DEFECT_TYPES) | {None}
    for name, entry in manifest["sources"].items():
        rows = [row for row in labels if row["source"] == name]
        found = Counter(row["defect"] for row in rows if row["defect"])
        assert found == Counter({k: v for k, v in entry["defect_counts"].items() if v})
        assert abs(sum(found.values()) / len(rows) - entry["defect_rate"]) <= 0.5 / len(rows) + 1e-9
        if entry["dropped_in_paper"]:
            assert entry["defect_rate"] >= 0.35
        else:
            assert entry["defect_rate"] <= 0.10
    dropped = {n for n, e in manifest["sources"].items() if e["dropped_in_paper"]}
    assert dropped == {"iu-xray-mini", "medpix-2.0-mini", "pmc-oa-mini", "vqa-med-2019-mini"}
    for row in labels:
        sample = samples[row["id"]]
        # an image-less sample is either one whose image went missing or a text-only one by design
        assert (len(sample["images"]) == 0) == (row["defect"] == "missing_image" or sample["meta"].get("text_only", False))


def test_every_modality_and_real_scans_with_true_modality(corpus):
    samples = _samples(corpus)
    modalities = {s["meta"].get("modality") for s in samples}
    assert set(MEDICAL_MODALITIES) <= modalities
    real = [s for s in samples if "dicom_file" in s["meta"]]
    assert real, "no sample uses a real DICOM image"
    import pydicom

    held_out = {r.ref for r in split_real_images(0)["benchmark"]}
    for sample in real:
        ref = sample["meta"]["dicom_file"]
        assert ref not in held_out
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tag = pydicom.dcmread(dicom_path(ref), stop_before_pixels=True, force=True).Modality
        assert MODALITY_NAMES[tag] == sample["meta"]["modality"]


def test_real_dicom_images_are_decoded_deduplicated_and_split_by_series():
    reals = real_images()
    assert {"CT", "MRI", "ultrasound", "X-ray"} <= {r.modality for r in reals}
    assert all(r.image.size == (96, 96) and r.image.mode == "RGB" for r in reals)
    pixels = [np.asarray(r.image).tobytes() for r in reals]
    assert len(set(pixels)) == len(pixels)
    # the shipped 693_* files hold one CT slice under several transfer syntaxes: it is kept once
    assert sum(1 for r in reals if r.ref.split("/")[1].startswith("693_")) == 1
    split = split_real_images(0)
    assert split["train"] and split["benchmark"]
    assert not {r.series for r in split["train"]} & {r.series for r in split["benchmark"]}


def test_benchmarks_load_and_share_no_image_with_training(corpus):
    manifest = read_json(corpus / "manifest.json")
    assert set(manifest["benchmarks"]) == set(BENCHMARKS)
    train_pixels = {np.asarray(load_image(ref, corpus)).tobytes() for s in _samples(corpus) for ref in s["images"]}
    for name in BENCHMARKS:
        items = load_benchmark(name, corpus / manifest["benchmarks"][name]["path"])
        assert len(items) == manifest["benchmarks"][name]["count"] >= 8
        findings = read_jsonl(corpus / "benchmarks" / name / "findings.jsonl")  # chapter 08's sidecar
        assert sorted(r["id"] for r in findings) == sorted(i.id for i in items)
        assert f"benchmarks/{name}/findings.jsonl" in manifest["checksums"]
        for item in items:
            image = item.images[0] if isinstance(item.images[0], Image.Image) else load_image(item.images[0])
            assert np.asarray(image.convert("RGB")).tobytes() not in train_pixels
    slake = load_benchmark("slake", corpus / "benchmarks" / "slake")
    assert {"en", "zh"} <= {item.lang for item in slake}
    assert {len(item.options) for item in load_benchmark("medxpertqa-mm", corpus / "benchmarks" / "medxpertqa-mm")} == {5}


def test_plans_balance_answers():
    specs = {spec.name: spec for spec in build_sources()}
    rng = np.random.default_rng(0)
    slots = specs["vqa-rad-mini"].plan(rng, 400)
    answers = Counter(s["answer"] for s in slots if s["qtype"] == "yes_no")
    assert abs(answers["yes"] - answers["no"]) <= 1
    golds = Counter(s["gold"] for s in specs["pmc-vqa-mini"].plan(rng, 400))
    assert golds == Counter({"A": 100, "B": 100, "C": 100, "D": 100})
    mammoth = specs["mammoth-vl-mini"].plan(rng, 1000)
    assert sum(s["refusal"] for s in mammoth) == 50


def test_every_injected_defect_changes_the_sample():
    ctx = Context(split_real_images(0)["train"])
    for spec in build_sources():
        slots = spec.plan(np.random.default_rng(1), 6)
        for k, defect in enumerate(t for t in DEFECT_TYPES if spec.defect_mix.get(t)):
            slot = slots[k % len(slots)]
            clean = spec.make(np.random.default_rng(k), slot, ctx)
            spoiled = apply_defect(spec.make(np.random.default_rng(k), slot, ctx), defect, np.random.default_rng(9))
            same_images = [np.asarray(i).tobytes() for i in clean.images] == [np.asarray(i).tobytes() for i in spoiled.images]
            assert spoiled.conversations != clean.conversations or not same_images, (spec.name, defect)
            assert spoiled.meta == clean.meta
            markers = sum(t["value"].count("<image>") for t in spoiled.conversations)
            assert markers == len(spoiled.images), (spec.name, defect)


def test_refusals_are_marked_and_never_labelled_defective(corpus):
    labels = {row["id"]: row["defect"] for row in read_jsonl(corpus / "labels" / "defects.jsonl")}
    rows = read_jsonl(corpus / "sources" / "mammoth-vl-mini.jsonl")
    refusals = [r for r in rows if r["meta"]["refusal"]]
    assert refusals
    for row in refusals:
        assert re.match(r"(Sorry|I'm sorry)", row["conversations"][-1]["value"])
        assert labels[row["id"]] is None


def _options(question: str) -> dict[str, str]:
    return dict(re.findall(r"^\(?([A-E])[.)]\s*(.+)$", question, flags=re.M))


def test_multiple_choice_is_answered_with_the_right_options_text(corpus):
    labels = {row["id"]: row["defect"] for row in read_jsonl(corpus / "labels" / "defects.jsonl")}
    checked = Counter()
    for row in _samples(corpus):
        if row["meta"].get("question_type") != "multiple_choice" or labels[row["id"]] or row["meta"].get("refusal"):
            continue
        human, answer = row["conversations"][0]["value"], row["conversations"][-1]["value"]
        options = _options(human)
        assert options, row["id"]
        # instructions may explain after a blank line, or reason first ("So the answer is: x")
        first = answer.split("\n")[0].rsplit("answer is: ", 1)[-1]
        sentence = re.fullmatch(MMMU_SENTENCE.replace(".", r"\.").format("(.+)"), first)
        if sentence:  # MMMU's layout: the option's text inside a sentence its parser reads
            assert re.search(r"^\([A-E]\) ", human, flags=re.M), row["id"]
            first = sentence.group(1)
        assert first in options.values(), (row["id"], answer, options)  # the text, never the letter
        assert first not in options, row["id"]
        checked[row["source"]] += 1
    assert {"pmc-vqa-mini", "mammoth-vl-mini"} <= set(checked)


def test_name_option_instructions_name_an_offered_option_in_both_layouts(corpus):
    rows = [r for r in read_jsonl(corpus / "sources" / "mammoth-vl-mini.jsonl")
            if re.search(r"'(.+)'", r["conversations"][0]["value"]) and not r["meta"]["refusal"]]
    labels = {row["id"]: row["defect"] for row in read_jsonl(corpus / "labels" / "defects.jsonl")}
    clean = [r for r in rows if labels[r["id"]] is None]
    assert clean
    layouts = set()
    for row in clean:
        human = row["conversations"][0]["value"]
        named = re.search(r"'(.+)'", human).group(1)
        assert named in _options(human).values()
        assert row["conversations"][-1]["value"] in (named, MMMU_SENTENCE.format(named))
        layouts.add("(" if re.search(r"^\([A-E]\)", human, flags=re.M) else ".")
    # chapter 08's probe asks about the medical values, in other words: keep the drill apart from it
    from infimed_lib.data.corpus.corpus_general import NAME_OPTION, OPTION_WORDS
    from infimed_lib.eval.lookup import DEFAULT_VALUES
    assert not set(OPTION_WORDS) & set(DEFAULT_VALUES)
    assert not any("Which option says" in phrase for phrase in NAME_OPTION)
    assert layouts == {"(", "."} or len(clean) < 4


def test_half_the_name_option_drill_is_text_only_and_clean(corpus):
    # chapter 08's probe asks text-only questions; a model that never saw one answers them with noise
    rows = [r for r in read_jsonl(corpus / "sources" / "mammoth-vl-mini.jsonl")
            if re.search(r"'(.+)'", r["conversations"][0]["value"])]
    labels = {row["id"]: row["defect"] for row in read_jsonl(corpus / "labels" / "defects.jsonl")}
    text_only = [r for r in rows if not r["images"]]
    assert text_only and abs(len(text_only) - len(rows) / 2) <= 1
    for row in text_only:
        assert "<image>" not in row["conversations"][0]["value"]
        assert labels[row["id"]] is None  # no defect: two of the five concern an image it lacks
        assert row["meta"]["text_only"] is True
    assert all(r["images"] and r["conversations"][0]["value"].startswith("<image>") for r in rows if r["images"])


@pytest.mark.parametrize("modality", MEDICAL_MODALITIES)
def test_lesion_is_drawn_where_and_as_large_as_the_attributes_say(modality):
    areas = {}
    for side in ("left", "right"):
        for level in ("upper", "lower"):
            for size in ("small", "large"):
                fixed = {"lesion": True, "side": side, "level": level, "size": size}
                attrs = medical_attrs(np.random.default_rng(7), modality, **fixed)
                with_lesion = np.asarray(draw_medical(attrs, np.random.default_rng(8)), np.float32)
                without = np.asarray(draw_medical({**attrs, "lesion": False}, np.random.default_rng(8)), np.float32)
                changed = np.abs(with_lesion - without).max(axis=2) > 40
                ys, xs = np.nonzero(changed)
                assert (xs.mean() < 48) == (side == "left") and (ys.mean() < 48) == (level == "upper")
                areas.setdefault(size, []).append(changed.sum())
    assert min(areas["large"]) > 2 * max(areas["small"]) and min(areas["small"]) > 40


def test_modalities_and_body_parts_are_separable_at_54_pixels():
    def features(modality, seed, **fixed):
        rng = np.random.default_rng(seed)
        img = draw_medical(medical_attrs(rng, modality, **fixed), rng).resize((54, 54), Image.Resampling.BILINEAR)
        return np.asarray(img, np.float32).ravel() / 255.0

    def nearest_centroid_accuracy(classes):
        train = {c: np.mean([f(s) for s in range(12)], axis=0) for c, f in classes.items()}
        hits = [min(train, key=lambda k: np.linalg.norm(f(s) - train[k])) == c
                for c, f in classes.items() for s in range(100, 110)]
        return np.mean(hits)

    modalities = {m: (lambda s, m=m: features(m, s)) for m in MEDICAL_MODALITIES}
    assert nearest_centroid_accuracy(modalities) >= 0.9
    parts = {p: (lambda s, p=p: features("CT", s, body_part=p)) for p in ("head", "chest", "abdomen", "knee")}
    assert nearest_centroid_accuracy(parts) >= 0.9


def test_interrupted_generation_leaves_nothing_and_keeps_the_old_corpus(tmp_path, monkeypatch):
    out = tmp_path / "mini"
    stale = tmp_path / ".mini.partial-999999999"
    stale.mkdir()

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(corpus_module, "write_benchmark", fail)
    with pytest.raises(KeyboardInterrupt):
        generate_corpus(out, seed=0, scale=SCALE)
    assert sorted(os.listdir(tmp_path)) == []
    monkeypatch.undo()
    generate_corpus(out, seed=0, scale=SCALE)
    before = (out / "manifest.json").read_bytes()
    monkeypatch.setattr(corpus_module, "write_benchmark", fail)
    with pytest.raises(KeyboardInterrupt):
        generate_corpus(out, seed=3, scale=SCALE)
    assert sorted(os.listdir(tmp_path)) == ["mini"] and (out / "manifest.json").read_bytes() == before


def test_ensure_corpus_regenerates_only_when_arguments_change(corpus, tmp_path, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("ensure_corpus regenerated a matching corpus")

    monkeypatch.setattr(corpus_module, "generate_corpus", forbidden)
    assert ensure_corpus(corpus, seed=0, scale=SCALE) == corpus
    monkeypatch.undo()
    copy = tmp_path / "mini"
    generate_corpus(copy, seed=0, scale=SCALE)
    (copy / "labels" / "defects.jsonl").unlink()  # an incomplete corpus is regenerated
    ensure_corpus(copy, seed=0, scale=SCALE)
    assert (copy / "labels" / "defects.jsonl").is_file()
    ensure_corpus(copy, seed=0, scale=0.03)
    assert read_json(copy / "manifest.json")["generator"]["scale"] == 0.03


def test_vqa_scale_grows_only_the_vqa_sources_and_leaves_the_rest_identical(corpus, tmp_path):
    base = read_json(corpus / "manifest.json")
    assert "vqa_scale" not in base["generator"]  # default corpora keep the manifest they always had
    bigger = generate_corpus(tmp_path / "bigger", seed=0, scale=SCALE, vqa_scale=3)
    manifest = read_json(bigger / "manifest.json")
    assert manifest["generator"]["vqa_scale"] == 3.0
    specs = {spec.name: spec for spec in build_sources()}
    assert sum(spec.kind == "vqa" for spec in specs.values()) == 5  # VQA-Med-2019 too; curation drops it
    for name, entry in manifest["sources"].items():
        count = base["sources"][name]["count"]
        if specs[name].kind == "vqa":
            assert entry["count"] == corpus_module.source_count(specs[name], SCALE, 3) > count
            assert len(read_jsonl(bigger / entry["path"])) == entry["count"]
        else:
            assert entry["count"] == count
            assert (bigger / entry["path"]).read_bytes() == (corpus / entry["path"]).read_bytes()
    held_out = {k: v for k, v in manifest["checksums"].items() if k.startswith("benchmarks/")}
    assert held_out and held_out == {k: v for k, v in base["checksums"].items() if k.startswith("benchmarks/")}
    assert ensure_corpus(bigger, seed=0, scale=SCALE, vqa_scale=3) == bigger


@pytest.mark.parametrize("kwargs, name", [
    ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"), ({"scale": 0}, "scale"), ({"scale": "1"}, "scale"),
    ({"out_dir": ""}, "out_dir"), ({"vqa_scale": 0}, "vqa_scale"), ({"vqa_scale": "2"}, "vqa_scale"),
])
def test_bad_parameters_name_the_parameter(tmp_path, kwargs, name):
    args = {"out_dir": tmp_path / "x", "seed": 0, "scale": SCALE, **kwargs}
    with pytest.raises(ParameterError, match=f"parameter '{name}'"):
        generate_corpus(**args)


def test_load_image_accepts_relative_absolute_and_data_url(tmp_path):
    img = Image.new("RGB", (5, 4), (10, 200, 30))
    img.save(tmp_path / "a.png")
    for ref, root in (("a.png", tmp_path), (str(tmp_path / "a.png"), None), (image_to_data_url(img), None)):
        loaded = load_image(ref, root)
        assert loaded.mode == "RGB" and loaded.getpixel((0, 0)) == (10, 200, 30)
    assert image_to_data_url(tmp_path / "a.png") == image_to_data_url(img)
    (tmp_path / "bad.png").write_bytes(b"not an image")
    for ref in ("missing.png", "bad.png", "data:image/png;base64,@@@"):
        with pytest.raises(ValueError, match=re.escape(ref[:20])):
            load_image(ref, tmp_path)
