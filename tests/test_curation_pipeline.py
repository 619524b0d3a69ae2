"""Notebook 01's steps end to end on a hand-made corpus in the bundled layout: a clean source,
a defective one, a general one; the reference judge must keep, drop and pass them through."""
import json

import numpy as np
import pytest
from PIL import Image

from infimed_lib.common import ParameterError, read_json, read_jsonl
from infimed_lib.curation import (
    CurationConfig, JudgeSpec, Thresholds, build_keep_list, compare_with_ground_truth, dataset_summary,
    flag_samples, judge_agreement, judgements_frame, load_defect_labels,
)
from infimed_lib.curation.curation_steps import all_source_names, draw_samples, prepare, run_judge, status_counts, write_outputs

CAPTIONS = ["Axial CT scan of the chest showing a small lesion in the upper left region.",
            "CT scan of the abdomen with no focal lesion.",
            "Computed tomography image of the head showing a large lesion in the lower right region."]
GARBLED = ["Axial CT scna fo the chset shwoing a smlal lesoin in the uppper left rgeion.",
           "CT sacn of the abodmen wiht no foacl lesion.",
           "Computed tomogarphy imgae of the haed showing a lagre lesion in the lowre rihgt region.",
           "Axial CT scan of the cehst showign a smlal leison in the upper lfet reigon."]
OFF_TOPIC = "Our clinic is open from Monday to Friday."


def write_source(root, name, family, rows, labels):
    lines = []
    for i, (text, defect, image) in enumerate(rows):
        sid = f"{name}-{i:03d}"
        refs = []
        if image is not None:
            ref = f"images/{name}/{i:03d}.png"
            (root / ref).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(root / ref)
            refs = [ref]
        human = "<image>" if refs else "Describe the image."
        lines.append(json.dumps({"id": sid, "source": name, "family": family, "kind": "caption",
                                 "domain": family.split("_")[0], "images": refs, "meta": {"modality": "CT"},
                                 "conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": text}]}))
        labels.append(json.dumps({"id": sid, "source": name, "defect": defect}))
    (root / "sources" / f"{name}.jsonl").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    (root / "sources").mkdir()
    (root / "labels").mkdir()
    ct = np.zeros((48, 48, 3), np.uint8)
    ct[8:40, 8:40] = 130
    labels = []
    write_source(root, "clean-mini", "medical_caption", [(CAPTIONS[i % 3], None, ct) for i in range(20)], labels)
    bad = [(CAPTIONS[i % 3], None, ct) for i in range(12)] + [(text, "garbled_language", ct) for text in GARBLED] \
        + [(OFF_TOPIC, "ignores_question", ct)] * 2 + [(CAPTIONS[0], "missing_image", None)] * 2
    write_source(root, "bad-mini", "medical_caption", bad, labels)
    write_source(root, "general-mini", "general_caption", [("A red circle on a white background.", None, ct)] * 5, labels)
    (root / "labels" / "defects.jsonl").write_text("\n".join(labels) + "\n")
    return root


def test_curation_steps_end_to_end(corpus, tmp_path):
    config = CurationConfig(run_dir=str(tmp_path / "run"), corpus_dir=str(corpus), samples_per_dataset=15,
                            second_judge=JudgeSpec(kind="reference-text"))
    out, template = prepare(config)
    assert read_json(out / "config.json")["samples_per_dataset"] == 15
    samples, counts = draw_samples(config)
    assert counts["sampled"].to_dict() == {"bad-mini": 15, "clean-mini": 15}  # general sources are not assessed
    records = run_judge(config, config.judge, samples, template, progress=False)
    assert status_counts(records) == {"ok": 30, "parse_error": 0, "request_error": 0}
    frame = judgements_frame(records)
    summary = dataset_summary(frame, config.thresholds)
    assert summary.loc["clean-mini", "decision"] == "keep" and summary.loc["bad-mini", "decision"] == "drop"
    keep = build_keep_list(summary, config.thresholds, all_source_names(config.corpus_dir), "reference", "h", 15)
    assert keep["keep"] == ["clean-mini", "general-mini"] and keep["drop"] == ["bad-mini"]
    labels = load_defect_labels(config.corpus_dir)
    truth = compare_with_ground_truth(frame, flag_samples(frame, config.thresholds), summary, labels)
    assert truth["samples"]["precision"] == 1.0 and truth["samples"]["fp"] == 0
    second = judgements_frame(run_judge(config, config.second_judge, samples, template, "judgements_second", progress=False))
    agreement = judge_agreement(frame, second)
    assert agreement.loc["language", "kappa_quadratic"] == pytest.approx(1.0)  # same text rules
    metrics = write_outputs(config, template, summary, keep, status_counts(records), truth, agreement)
    assert read_json(out / "metrics.json") == json.loads(json.dumps(metrics))
    assert metrics["dropped"] == ["bad-mini"] and (out / "summary.csv").exists()
    assert len(read_jsonl(out / "judgements.jsonl")) == 30 and len(read_jsonl(out / "judgements_second.jsonl")) == 30
    # Re-running reads everything back from the cache and writes identical files.
    before = (out / "judgements.jsonl").read_bytes()
    run_judge(config, config.judge, samples, template, progress=False)
    assert (out / "judgements.jsonl").read_bytes() == before


def test_config_errors_name_the_parameter(tmp_path):
    with pytest.raises(ParameterError, match="samples_per_dataset"):
        CurationConfig(run_dir="r", corpus_dir="c", samples_per_dataset=0)
    with pytest.raises(ParameterError, match="corpus_dir.*does not exist"):
        prepare(CurationConfig(run_dir=str(tmp_path), corpus_dir=str(tmp_path / "nope")))
    with pytest.raises(ParameterError, match="max_flagged_fraction"):
        Thresholds(max_flagged_fraction=-0.1)
