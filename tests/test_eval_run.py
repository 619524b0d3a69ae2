"""Evaluation driver (Chapter 08): generation batches, end-to-end runs, resume, baselines, judge."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from infimed_lib.common import ParameterError, read_json, read_jsonl
from infimed_lib.data.benchmarks import BenchmarkItem, load_benchmark, write_benchmark
from infimed_lib.eval import generate as gen
from infimed_lib.eval import (LLMJudge, evaluate, evaluate_majority, majority_answers, make_open_judge,
                              parse_judge_reply, score_item)
from infimed_lib.eval.generate import build_prompts, left_pad, plan_batches, resolve_max_new_tokens

TOKENS = 16  # visual tokens per image: keeps prompts short, the code path is the same as 729


def _image(rng):
    return Image.fromarray((rng.random((24, 24, 3)) * 255).astype("uint8"))


def _items():
    rng = np.random.default_rng(0)
    options = {"A": "CT", "B": "MRI", "C": "X-ray", "D": "ultrasound"}
    return {
        "vqa-rad": [BenchmarkItem("vqa-rad", f"rad_{i}", f"Is there a lesion in region {i}?", [_image(rng)],
                                  answer=("yes", "no", "no")[i % 3], question_type="yes_no") for i in range(5)]
        + [BenchmarkItem("vqa-rad", f"rad_open_{i}", f"Which organ is shown in scan {i}?", [_image(rng)], answer="liver",
                         question_type="open") for i in range(2)],
        "pmc-vqa": [BenchmarkItem("pmc-vqa", f"pmc_{i}", f"Which modality was used for study {i}?", [_image(rng)],
                                  options, "ABCB"[i % 4], "multiple_choice") for i in range(6)],
        "slake": [BenchmarkItem("slake", str(i + 1), f"Which side is lesion {i} on?", [_image(rng)], answer="left",
                                question_type="closed", modality=("CT", "MRI")[i % 2]) for i in range(3)],
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from infimed_lib.data.tokenizer import model_token_ids, train_tokenizer
    from infimed_lib.model import build_model

    root = tmp_path_factory.mktemp("eval")
    paths = {name: str(write_benchmark(name, items, root / "bench" / name)) for name, items in _items().items()}
    texts = ["Is there a lesion in region one? yes no. Which organ is shown? liver. Which modality was used?"
             " CT MRI X-ray ultrasound. Question: Options: Answer with the option's letter. left right"] * 30
    tokenizer = train_tokenizer(texts, vocab_size=320, out_dir=root / "tokenizer")
    model = build_model("tiny", token_ids=model_token_ids(tokenizer), num_visual_tokens=TOKENS, seed=1)
    model.save_pretrained(root / "checkpoint")
    return {"root": root, "paths": paths, "tokenizer": tokenizer, "model": model.eval()}


def _run(world, out, **kwargs):
    settings = dict(batch_size=4, max_new_tokens=3, num_threads=1)
    settings.update(kwargs)
    return evaluate(world["root"] / "checkpoint", world["root"] / "tokenizer", world["paths"], out, **settings)


def test_end_to_end_counts_and_verdicts_recomputable_from_predictions(world, tmp_path):
    result = _run(world, tmp_path / "eval")
    scores = read_json(tmp_path / "eval" / "scores.json")
    assert scores == json.loads(json.dumps(result.scores)) and scores["order"] == ["vqa-rad", "slake", "pmc-vqa"]
    for name, path in world["paths"].items():
        items = {item.id: item for item in load_benchmark(name, path)}
        records = read_jsonl(tmp_path / "eval" / name / "predictions.jsonl")
        assert [r["id"] for r in records] == list(items) and scores["benchmarks"][name]["n"] == len(items)
        for record in records:
            assert {"prompt", "response", "extracted", "gold", "verdict", "question_type", "modality"} <= set(record)
            again = score_item(items[record["id"]], record["response"], seed=0)
            assert again["verdict"] == record["verdict"] and again["extracted"] == record["extracted"]
        right = sum(r["verdict"] == "correct" for r in records)
        assert scores["benchmarks"][name]["accuracy"] == pytest.approx(right / len(records))
    means = [scores["benchmarks"][b]["accuracy"] for b in scores["order"]]
    assert scores["average"] == pytest.approx(sum(means) / 3)
    assert set(scores["benchmarks"]["slake"]["by_modality"]) == {"CT", "MRI"}


def test_same_inputs_give_byte_identical_outputs_and_resume_skips_finished_benchmarks(world, tmp_path):
    first, second = _run(world, tmp_path / "a"), _run(world, tmp_path / "b")
    assert first.resumed == [] and second.resumed == []
    for rel in ["scores.json", "metrics.json", *[f"{b}/predictions.jsonl" for b in world["paths"]]]:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert _run(world, tmp_path / "a").resumed == ["vqa-rad", "slake", "pmc-vqa"]
    saved = tmp_path / "a" / "pmc-vqa" / "predictions.jsonl"
    honest = saved.read_bytes()
    saved.write_text(honest.decode().replace('"verdict": "unanswered"', '"verdict": "correct"'))
    assert saved.read_bytes() != honest
    assert _run(world, tmp_path / "a").resumed == ["vqa-rad", "slake", "pmc-vqa"]
    assert saved.read_bytes() == honest  # read-back responses are scored again by the current rules
    (tmp_path / "a" / "slake" / "state.json").unlink()  # as if interrupted before the benchmark finished
    assert _run(world, tmp_path / "a").resumed == ["vqa-rad", "pmc-vqa"]
    assert _run(world, tmp_path / "a", max_new_tokens=2).resumed == []  # other settings: nothing reused


def test_scripted_answers_are_scored_by_the_rules(world, tmp_path, monkeypatch):
    """With generation replaced by known answers, the verdict counts are exactly the expected ones."""
    from infimed_lib.data.benchmark_prompts import build_prompt

    knows = {"rad_0", "rad_1", "rad_open_0", "pmc_0", "pmc_2", "pmc_5", "2"}  # answered with the gold answer
    by_prompt = {build_prompt(item): item for items in _items().values() for item in items}
    assert len(by_prompt) == sum(len(items) for items in _items().values())

    def scripted(model, tokenizer, batch, max_new_tokens):
        return [by_prompt[p.text].answer if by_prompt[p.text].id in knows else "I am not sure" for p in batch]

    monkeypatch.setattr(gen, "generate_batch", scripted)
    bench = _run(world, tmp_path / "s").scores["benchmarks"]
    assert (bench["pmc-vqa"]["correct"], bench["pmc-vqa"]["unanswered"]) == (3, 3)  # no letter: unanswered
    rad = bench["vqa-rad"]["by_question_type"]
    assert (rad["yes_no"]["correct"], rad["open"]["correct"], bench["vqa-rad"]["unanswered"]) == (2, 1, 3)
    assert (bench["slake"]["correct"], bench["slake"]["unanswered"]) == (1, 0)  # a wrong short answer is wrong


def test_both_rule_sets_are_kept_and_medevalkit_prompts_are_used(world, tmp_path, monkeypatch):
    from infimed_lib.eval import records_under, rules_table, scores_under
    from infimed_lib.data.benchmark_prompts import build_prompt

    items = {item.id: item for its in _items().values() for item in its}
    by_prompt = {build_prompt(item, layout="medevalkit"): item for item in items.values()}
    replies = {"rad_0": "Yes, there is.", "rad_1": "I don't know", "rad_open_0": "Liver.", "pmc_0": "",
               "pmc_1": "B", "1": "Left"}

    def scripted(model, tokenizer, batch, max_new_tokens):
        return [replies.get(by_prompt[p.text].id, "I am not sure") for p in batch]

    monkeypatch.setattr(gen, "generate_batch", scripted)
    result = _run(world, tmp_path / "m", rules="medevalkit", prompts="medevalkit")
    scores = result.scores
    assert scores["rules"] == "medevalkit" and set(scores["rule_sets"]) == {"strict", "medevalkit"}
    assert scores["benchmarks"] == scores["rule_sets"]["medevalkit"]["benchmarks"]
    every = []
    for name in world["paths"]:
        assert read_json(tmp_path / "m" / name / "state.json")["prompts"] == "medevalkit"
        for record in read_jsonl(tmp_path / "m" / name / "predictions.jsonl"):
            item = items[record["id"]]
            assert record["prompt"] == build_prompt(item, layout="medevalkit")
            assert record["verdicts"] == {rules: score_item(item, record["response"], rules=rules)["verdict"]
                                          for rules in ("strict", "medevalkit")}
            every.append(record)
    # "I don't know" is a right "no" to MedEvalKit ("know"), unanswered to strict; "Liver." is wrong
    # to MedEvalKit (the period), right to strict; an empty answer is MedEvalKit's option A.
    verdicts = {r["id"]: r["verdicts"] for r in every}
    assert verdicts["rad_1"] == {"strict": "unanswered", "medevalkit": "correct"}
    assert verdicts["rad_open_0"] == {"strict": "correct", "medevalkit": "incorrect"}
    assert verdicts["pmc_0"] == {"strict": "unanswered", "medevalkit": "correct"}
    for rules in ("strict", "medevalkit"):
        right = sum(r["correct"] for r in records_under(every, rules) if r["benchmark"] == "vqa-rad")
        assert scores_under(scores, rules)["benchmarks"]["vqa-rad"]["correct"] == right
    table = rules_table(scores)
    assert list(table.columns) == ["strict", "medevalkit", "strict - medevalkit"]
    assert list(table.index) == ["vqa-rad", "slake", "pmc-vqa", "Avg."]
    assert table.loc["vqa-rad", "strict - medevalkit"] == pytest.approx(
        table.loc["vqa-rad", "strict"] - table.loc["vqa-rad", "medevalkit"])
    with pytest.raises(ParameterError, match="rules"):
        _run(world, tmp_path / "x", rules="lenient")
    with pytest.raises(ParameterError, match="prompts"):
        _run(world, tmp_path / "x", prompts="lingshu")


def test_a_judge_rejecting_the_request_fails_the_evaluation_once(world, tmp_path, monkeypatch):
    from infimed_lib.eval import JudgeRejected
    from judge_server import ReasoningServer

    monkeypatch.setattr(gen, "generate_batch", lambda model, tokenizer, batch, max_new_tokens: ["liver"] * len(batch))
    with ReasoningServer() as server:
        judge = make_open_judge(server.url, "o3", api_key_env="", max_concurrency=4)
        with pytest.raises(JudgeRejected, match="rejected the request: HTTP 400"):
            _run(world, tmp_path / "r", judge=judge)
        assert 1 <= len(server.bodies) <= 4  # at most the requests already in flight, none after
    assert not (tmp_path / "r" / "vqa-rad" / "state.json").exists()  # nothing marked complete


def test_batched_left_padded_generation_matches_one_by_one(world):
    model, tokenizer = world["model"], world["tokenizer"]
    items = [item for name, path in world["paths"].items() for item in load_benchmark(name, path)[-2:]]
    prompts = build_prompts(items, tokenizer, TOKENS, reasoning=False)
    assert len({len(p.input_ids) for p in prompts}) > 1  # the batch really needs padding
    with gen.cpu_threads(1):
        batched = gen.generate_batch(model, tokenizer, prompts, 4)
        single = [gen.generate_batch(model, tokenizer, [p], 4)[0] for p in prompts]
    assert batched == single


def test_left_pad_and_batch_plan():
    ids, mask = left_pad([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]] and mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    prompts = [gen.Prompt(i, qt, "", [1] * n, []) for i, (qt, n) in
               enumerate([("open", 5), ("yes_no", 9), ("open", 3), ("yes_no", 4), ("yes_no", 4), ("open", 7)])]
    batches = plan_batches(prompts, 2)
    assert sorted(p.index for b in batches for p in b) == list(range(6))
    assert all(len(b) <= 2 and len({p.question_type for p in b}) == 1 for b in batches)
    assert [[p.index for p in b] for b in batches] == [[3, 4], [1], [2, 0], [5]]
    with pytest.raises(ParameterError, match="batch_size"):
        plan_batches(prompts, 0)


def test_max_new_tokens_per_type_and_config_errors(world, tmp_path):
    assert resolve_max_new_tokens(5) == {"multiple_choice": 5, "yes_no": 5, "closed": 5, "open": 5}
    with pytest.raises(ParameterError, match="max_new_tokens.*missing \\['open'\\]"):
        resolve_max_new_tokens({"multiple_choice": 4, "yes_no": 4, "closed": 4})
    with pytest.raises(ParameterError, match="max_new_tokens"):
        resolve_max_new_tokens(0)
    with pytest.raises(ParameterError, match="benchmarks.*unknown"):
        evaluate(tmp_path, tmp_path, {"medqa": str(tmp_path)}, tmp_path / "x")
    with pytest.raises(ParameterError, match="checkpoint_dir"):
        evaluate(tmp_path / "missing", tmp_path, world["paths"], tmp_path / "x")


def test_majority_baseline_on_hand_made_items(tmp_path, world):
    def item(bench, qtype, answer, i, lang="en", options=None):
        return BenchmarkItem(bench, f"{bench}-{i}", "q?", ["x.png"], options or {}, answer, qtype, lang=lang)

    abc = {"A": "a1", "B": "b1", "C": "c1"}
    items = [item("pmc-vqa", "multiple_choice", g, i, options=abc) for i, g in enumerate("CABCB")]
    items += [item("vqa-rad", "yes_no", a, 10 + i) for i, a in enumerate(["Yes", "no", "yes"])]
    items += [item("slake", "yes_no", a, 20 + i, lang="zh") for i, a in enumerate(["是", "否"])]  # a tie
    items += [item("slake", "closed", a, 30 + i) for i, a in enumerate(["Liver", "liver.", "lung"])]
    answers = majority_answers(items)
    assert answers[("pmc-vqa", "multiple_choice", "en")] == "B"  # B and C tie at 2: B sorts first
    assert answers[("vqa-rad", "yes_no", "en")] == "Yes"  # "Yes" and "yes" count together
    assert answers[("slake", "yes_no", "zh")] == "否"
    assert answers[("slake", "closed", "en")] == "Liver"
    result = evaluate_majority(world["paths"], tmp_path / "majority")
    rad = result.scores["benchmarks"]["vqa-rad"]["by_question_type"]
    assert rad["yes_no"]["correct"] == 3 and rad["open"]["correct"] == 2  # "no" is 3 of 5; "liver" is 2 of 2
    assert result.scores["benchmarks"]["pmc-vqa"]["correct"] == 3  # "B" is gold for 3 of 6
    with pytest.raises(ParameterError, match="items"):
        majority_answers([])


class _FakeClient:
    model = "fake-judge"

    def __init__(self, replies):
        self.replies, self.prompts = list(replies), []

    def chat(self, messages):
        from infimed_lib.data.chat_client import ChatResult, JudgeError

        self.prompts.append(messages[0]["content"])
        reply = self.replies.pop(0)
        if reply is None:
            raise JudgeError("server down")
        return ChatResult(reply, 1, 0.0)


def test_judge_replies_and_open_questions_only(world, tmp_path, monkeypatch):
    assert parse_judge_reply("<judge>1</judge>") is True and parse_judge_reply("<JUDGE> 0 </judge>") is False
    assert parse_judge_reply("maybe") is None and parse_judge_reply("<judge>1</judge><judge>0</judge>") is None
    judge = LLMJudge(_FakeClient(["ok <judge>1</judge>", None, "<judge>0</judge>"]))
    assert [judge("Q?", "a", "b") for _ in range(3)] == [True, None, False]
    assert judge.stats() == {"judge_id": "openai:fake-judge", "calls": 3, "failures": 1}
    assert "Reference answer: b" in judge.client.prompts[0] and make_open_judge("", "m") is None
    monkeypatch.setattr(gen, "generate_batch", lambda model, tok, batch, n: ["spleen"] * len(batch))
    calls = []

    def always_right(question, answer, gold):
        calls.append(gold)
        return True

    scores = _run(world, tmp_path / "j", judge=always_right).scores
    assert calls == ["liver", "liver"]  # the two open questions, nothing else
    assert scores["benchmarks"]["vqa-rad"]["by_question_type"]["open"]["correct"] == 2
    assert scores["benchmarks"]["vqa-rad"]["by_question_type"]["yes_no"]["correct"] == 0
    assert read_json(tmp_path / "j" / "config.json")["judge"] == "function"


def test_cpu_threads_are_restored_and_bad_counts_refused(world, tmp_path):
    before = torch.get_num_threads()
    with gen.cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ParameterError, match="num_threads"):
        _run(world, tmp_path / "t", num_threads=-1)


def test_benchmark_folders_default_to_the_corpus_and_take_overrides(tmp_path):
    from infimed_lib.eval import benchmark_folders

    paths = benchmark_folders(["vqa-rad", "slake"], tmp_path, "", {"slake": "/data/SLAKE"})
    assert paths == {"vqa-rad": str(tmp_path / "benchmarks" / "vqa-rad"), "slake": "/data/SLAKE"}
    assert benchmark_folders(["vqa-rad"], tmp_path, "/b")["vqa-rad"] == "/b/vqa-rad"


def test_evaluate_many_in_worker_processes_writes_what_one_by_one_writes(world, tmp_path):
    import shutil

    from infimed_lib.eval.parallel import evaluate_many

    for stage in ("stage1", "stage2"):  # two checkpoints, as chapter 09 has: eval folders named after the stage
        shutil.copytree(world["root"] / "checkpoint", tmp_path / stage / "checkpoint")
    checkpoints = {"1": tmp_path / "stage1" / "checkpoint", "1+2": tmp_path / "stage2" / "checkpoint"}
    settings = dict(batch_size=4, max_new_tokens=3, num_threads=1)
    apart = evaluate_many(checkpoints, world["root"] / "tokenizer", world["paths"], tmp_path / "parallel", workers=2,
                          **settings)
    here = evaluate_many(checkpoints, world["root"] / "tokenizer", world["paths"], tmp_path / "serial", workers=1,
                         **settings)
    assert list(apart) == ["1", "1+2"] and apart["1"].scores == here["1"].scores
    for stage in ("stage1", "stage2"):
        for rel in ["scores.json", *[f"{b}/predictions.jsonl" for b in world["paths"]]]:
            assert (tmp_path / "parallel" / stage / rel).read_bytes() == (tmp_path / "serial" / stage / rel).read_bytes()
    with pytest.raises(ParameterError, match="checkpoints"):
        evaluate_many({"a": checkpoints["1"], "b": checkpoints["1"]}, world["root"] / "tokenizer", world["paths"],
                      tmp_path / "x")
