"""The findings sidecar of the miniature benchmarks (chapter 08's diagnostics): aligned with the items."""
from __future__ import annotations

import numpy as np
import pytest

from infimed_lib.data.benchmarks import load_benchmark, write_benchmark
from infimed_lib.data.corpus.corpus_bench import OMNI_MODALITY, SLAKE_MODALITY, build_benchmark, findings_rows
from infimed_lib.data.corpus.corpus_medical import Context
from infimed_lib.data.corpus.corpus_questions import YES_NO_EN
from infimed_lib.data.corpus.dicom_images import split_real_images


@pytest.fixture(scope="module")
def benchmarks(tmp_path_factory):
    root, held_out, out = tmp_path_factory.mktemp("bench"), Context(split_real_images(0)["benchmark"]), {}
    for name in ("vqa-rad", "slake", "pathvqa", "omnimedvqa"):
        plain = build_benchmark(name, 40, np.random.default_rng(3), held_out)
        attrs: list[dict] = []
        items = build_benchmark(name, 40, np.random.default_rng(3), held_out, attrs)
        assert [(i.id, i.question, i.answer) for i in items] == [(i.id, i.question, i.answer) for i in plain]
        rows = {row["id"]: row for row in findings_rows(items, attrs)}
        out[name] = (load_benchmark(name, write_benchmark(name, items, root / name)), rows)
    return out


def test_rows_follow_the_items_the_published_files_hold(benchmarks):
    for name, (items, rows) in benchmarks.items():
        assert sorted(rows) == sorted(item.id for item in items), name
    slake, rows = benchmarks["slake"]
    assert all(SLAKE_MODALITY[rows[i.id]["modality"]] == i.modality for i in slake)
    omni, rows = benchmarks["omnimedvqa"]
    assert all(OMNI_MODALITY[rows[i.id]["modality"]] == i.modality for i in omni)
    assert all(row["modality"] == "histopathology" and row["finding"].startswith("histopathology section of ")
               for row in benchmarks["pathvqa"][1].values())


def test_lesion_questions_agree_with_their_finding_line(benchmarks):
    asked = 0
    for name in ("vqa-rad", "slake", "pathvqa"):
        items, rows = benchmarks[name]
        for item in items:
            if item.question in YES_NO_EN["lesion"] and item.question_type == "yes_no":
                asked += 1
                assert ("without a lesion" in rows[item.id]["finding"]) == (item.answer == "no"), item.id
    assert asked >= 5
