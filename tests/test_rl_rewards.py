"""Verifiable rewards on a table of responses, the corpus's closed questions read back as tasks,
and the warm-up traces, which must earn the full reward by the evaluation's own rules (chapter 10)."""
import pytest
from PIL import Image

from infimed_lib.common import ParameterError
from infimed_lib.data.benchmarks import BenchmarkItem
from infimed_lib.rl.rewards import boxed_answer, format_reward, reward, rewards
from infimed_lib.rl.tasks import drawn_tasks, read_tasks, sample_to_task, write_tasks
from infimed_lib.rl.warmup import REFLECTION, reasoning_trace, warmup_samples

YES = BenchmarkItem("vqa-rad", "q1", "Is there a lesion?", answer="yes", question_type="yes_no")
CHOICE = BenchmarkItem("pmc-vqa", "q2", "Which modality?", options={"A": "CT", "B": "MRI"}, answer="B",
                       question_type="multiple_choice")
SHORT = BenchmarkItem("slake", "q3", "Is the lesion on the left or the right?", answer="left", question_type="closed")
ZH = BenchmarkItem("slake", "q4", "这是CT图像吗？", answer="是", question_type="closed", lang="zh")

TABLE = [  # item, response, correct, format
    (YES, "\\boxed{yes}", 1, 1),
    (YES, "There is a lesion. \\boxed{yes}", 1, 1),
    (YES, "There is a lesion. \\boxed{yes}.", 1, 1),
    (YES, "yes", 1, 0),  # right, but not in the committed-answer layout
    (YES, "There is no lesion. \\boxed{no}", 0, 1),
    (YES, "\\boxed{yes} \\boxed{no}", 0, 0),  # the last box counts for the scorer; two boxes are no layout
    (YES, "\\boxed{yes} because of the bright spot", 1, 0),  # text after the box
    (YES, "\\boxed{}", 0, 0),
    (YES, "MRI", 0, 0),
    (CHOICE, "\\boxed{MRI}", 1, 1),  # the option's text, as the corpus answers
    (CHOICE, "\\boxed{B}", 1, 1),
    (CHOICE, "\\boxed{CT}", 0, 1),
    (SHORT, "\\boxed{Left.}", 1, 1),
    (SHORT, "\\boxed{right}", 0, 1),
    (ZH, "\\boxed{是}", 1, 1),
    (ZH, "\\boxed{否}", 0, 1),
]


@pytest.mark.parametrize("item, response, correct, layout", TABLE)
def test_rewards_on_a_table_of_responses(item, response, correct, layout):
    got = reward(item, response, format_weight=0.1)
    assert (got["correct"], got["format"]) == (correct, layout)
    assert got["reward"] == pytest.approx(0.9 * correct + 0.1 * layout)


def test_format_weight_mixes_the_two_rewards_and_is_checked():
    assert reward(YES, "yes", format_weight=0.0)["reward"] == 1.0
    assert reward(YES, "\\boxed{no}", format_weight=1.0)["reward"] == 1.0
    with pytest.raises(ParameterError, match="format_weight"):
        reward(YES, "yes", format_weight=1.5)
    with pytest.raises(ParameterError, match="responses"):
        rewards([YES, YES], ["yes"])


def test_boxed_answer_balances_braces():
    assert boxed_answer("so \\boxed{\\text{MRI}}") == "\\text{MRI}"
    assert boxed_answer("\\boxed{yes") is None
    assert format_reward("\\boxed{ }") == 0.0


def _sample(human, answer, qtype, images=1, **meta):
    return {"id": "s1", "source": "x-mini", "images": ["images/a.png"] * images,
            "meta": {"question_type": qtype, "modality": "CT", **meta},
            "conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": answer}]}


def test_corpus_samples_become_tasks_in_every_layout():
    yes_no = sample_to_task(_sample("<image>\nIs there a lesion?\nPlease output 'yes' or 'no'(no extra output).",
                                    "no", "yes_no"), "vqa-rad")
    assert (yes_no.question, yes_no.answer, yes_no.options) == ("Is there a lesion?", "no", {})
    medevalkit = sample_to_task(_sample(
        "<image>\nQuestion: Which organ?\nOptions: \nA. liver\nB. colon\n"
        "Answer with the option's letter from the given choices directly.", "colon", "multiple_choice"), "pmc-vqa")
    assert (medevalkit.question, medevalkit.options, medevalkit.answer) == \
        ("Which organ?", {"A": "liver", "B": "colon"}, "B")
    mmmu = sample_to_task(_sample(
        "<image>\nHow was this image acquired?\n\n(A) CT\n(B) MRI\n\n"
        "Answer with the option's letter from the given choices directly.",
        "The option that fits the question best is CT.", "multiple_choice"), "pmc-vqa")
    assert (mmmu.question, mmmu.answer) == ("How was this image acquired?", "A")
    inline = sample_to_task(_sample("<image>\nWhich organ?\nA. liver\nB. colon", "liver", "multiple_choice"), "pmc-vqa")
    assert (inline.question, inline.answer) == ("Which organ?", "A")


def test_samples_a_reward_could_not_check_are_skipped():
    assert sample_to_task(_sample("<image>\nWhat is shown?", "CT", "open"), "vqa-rad") is None
    assert sample_to_task(_sample("Is there a lesion?", "no", "yes_no", images=0), "vqa-rad") is None
    assert sample_to_task(_sample("<image>\nIs there a lesion?", "nodule", "yes_no"), "vqa-rad") is None
    no_option = _sample("<image>\nWhich organ?\nA. liver\nB. colon", "knee", "multiple_choice")
    assert sample_to_task(no_option, "pmc-vqa") is None


def test_tasks_round_trip_through_jsonl(tmp_path):
    tasks = drawn_tasks(2, seed=0, stream=5, sources=("vqa-rad-mini", "pmc-vqa-mini"))
    back = read_tasks(write_tasks(tmp_path / "tasks.jsonl", tasks))
    assert [t.id for t in back] == [t.id for t in tasks] and back[0].images[0].startswith("data:image/png")
    assert back[-1].options == tasks[-1].options and back[0].meta == tasks[0].meta


def test_drawn_tasks_are_closed_seeded_and_distinct_per_stream():
    first, again = drawn_tasks(6, seed=0, stream=0), drawn_tasks(6, seed=0, stream=0)
    other = drawn_tasks(6, seed=0, stream=1)
    assert {t.question_type for t in first} <= {"yes_no", "closed", "multiple_choice"}
    assert [t.question for t in first] == [t.question for t in again]
    assert first[0].images[0].tobytes() == again[0].images[0].tobytes()
    assert first[0].images[0].tobytes() != other[0].images[0].tobytes()
    assert all(t.meta["finding"] and t.meta["facet"] for t in first)


def test_every_warmup_trace_earns_the_full_reward():
    tasks = drawn_tasks(10, seed=0, stream=3)
    for task in tasks:
        for reflective in (False, True):
            trace = reasoning_trace(task, reflective)
            assert reward(task, trace)["reward"] == pytest.approx(1.0), (task.question, trace)
            assert (REFLECTION in trace) == reflective


def test_warmup_samples_mark_the_reflective_share():
    tasks = drawn_tasks(5, seed=0, stream=3)
    samples = warmup_samples(tasks, reflective_share=0.25, seed=0)
    assert sum(s["meta"]["reflective"] for s in samples) == round(0.25 * len(tasks))
    assert all(s["conversations"][0]["value"].startswith("<image>") and len(s["images"]) == 1 for s in samples)
    with pytest.raises(ParameterError, match="reflective_share"):
        warmup_samples(tasks, reflective_share=2.0)
    plain = BenchmarkItem("vqa-rad", "x", "Is there a lesion?", [Image.new("RGB", (4, 4))], answer="yes",
                          question_type="yes_no")
    with pytest.raises(ParameterError, match="tasks"):
        reasoning_trace(plain, False)
