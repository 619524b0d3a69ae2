"""The copy-curriculum experiment's text-only samples (tools/copy_curriculum.py; chapter 08's levers table)."""
import importlib.util
import json
from pathlib import Path

import numpy as np

from infimed_lib.eval.extract import extract_choice

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("copy_curriculum", ROOT / "tools" / "copy_curriculum.py")
copy_curriculum = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(copy_curriculum)

VOCAB = ["MRI", "CT", "liver", "upper left", "knee", "melanoma"]


def test_corpus_vocabulary_counts_words_and_listed_options(tmp_path):
    turn = "Which part?\nA. upper left\nB. knee"
    rows = [{"conversations": [{"from": "human", "value": turn}, {"from": "gpt", "value": "knee"}]}] * 3
    path = tmp_path / "mixture.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    vocab = copy_curriculum.corpus_vocabulary([path])
    assert "upper left" in vocab and "knee" in vocab and "Which" in vocab
    assert copy_curriculum.corpus_vocabulary([path], min_count=4) == ["knee"]  # in a line and an answer: 6 times


def test_samples_are_text_only_and_answer_what_they_name():
    samples = copy_curriculum.text_samples(300, {"list": 1, "copy": 1, "drill": 1}, VOCAB, seed=0)
    kinds = {"list": 0, "copy": 0, "drill": 0}
    for sample in samples:
        assert sample["images"] == [] and sample["meta"]["text_only"] and "<image>" not in json.dumps(sample)
        question, answer = (turn["value"] for turn in sample["conversations"])
        if question.startswith("Repeat these words:\n"):
            kinds["list"] += 1
            assert answer == question.split("\n", 1)[1]
        elif "Options:" in question or "\n(A) " in question:
            kinds["drill"] += 1
            named = question.split("'")[1]
            options = dict(line.split(". ", 1) for line in question.splitlines() if line[:2] in {f"{c}." for c in "ABCDE"})
            options |= {line[1]: line[4:] for line in question.splitlines() if line[:1] == "(" and line[2:4] == ") "}
            assert named in options.values()
            assert "Which option says" not in question  # the probe's own phrasing stays held out
            assert extract_choice(answer, options) == next(k for k, v in options.items() if v == named)
            assert answer == named or answer.endswith(f"'{named}'.")  # MMMU's sentence quotes the option
        else:
            kinds["copy"] += 1
            assert f"'{answer}'" in question
    assert min(kinds.values()) > 50


def test_samples_are_reproducible():
    first = copy_curriculum.text_samples(20, {"drill": 1}, VOCAB, seed=3)
    assert first == copy_curriculum.text_samples(20, {"drill": 1}, VOCAB, seed=3)
    assert first != copy_curriculum.text_samples(20, {"drill": 1}, VOCAB, seed=4)
    assert len({s["id"] for s in first}) == 20 and np.all([s["source"] == "copy-curriculum" for s in first])
