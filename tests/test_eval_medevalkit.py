"""``rules="medevalkit"`` and ``layout="medevalkit"``: MedEvalKit 9b12e3b's verdicts and prompts,
quirks included (Chapter 08). Every expected value below was worked out by reading MedEvalKit's
source (file and function named per table), not by running our code."""
from __future__ import annotations

from pathlib import Path

import pytest

from infimed_lib.common import ParameterError
from infimed_lib.data.benchmarks import load_benchmark
from infimed_lib.eval.medevalkit import boxed_content, parse_response_medevalkit, tag_content
from infimed_lib.data.benchmark_prompts import build_prompt, medevalkit_text, prompt_images
from infimed_lib.eval.scoring import score_item
from eval_items import make_item

BENCH = Path(__file__).parent / "fixtures" / "benchmarks"
MOD = {"A": "CT", "B": "MRI", "C": "X-ray", "D": "Ultrasound"}
FUNDUS = {"A": "Normal", "B": "Diabetic retinopathy", "C": "Glaucoma", "D": "Cataract"}
AORTA = {"A": "Aortic dissection", "B": "Pulmonary embolism", "C": "Pneumothorax", "D": "Myocardial infarction",
         "E": "Pericardial effusion"}


def verdict(item, response, **kwargs):
    return score_item(item, response, rules="medevalkit", **kwargs)["verdict"]


# utils/utils.py: parse_response, judge_judgement, judge_open_end_vqa; utils/VQA_RAD/VQA_RAD.py: cal_metrics
@pytest.mark.parametrize("benchmark", ["vqa-rad", "pathvqa"])
@pytest.mark.parametrize(
    "response, gold, expected",
    [
        ("yes", "yes", "correct"),
        ("No", "no", "correct"),
        ("I don't know", "no", "correct"),  # substring "no" of "know"
        ("A nodule is seen.", "no", "correct"),  # substring "no" of "nodule"
        ("Nope", "no", "correct"),  # "no" inside "nope"
        ("Negative.", "no", "incorrect"),  # no "no" substring at all
        ("Yes, there is no doubt.", "yes", "incorrect"),  # both substrings: not exactly one
        ("\\boxed{yes}", "yes", "correct"),
        ("The answer is yes.", "yes", "correct"),
        ("Yes", "no", "incorrect"),
        ("left lung", "left lung", "correct"),
        ("Left Lung", "left lung", "correct"),  # response lower-cased first
        ("Left lung.", "left lung", "incorrect"),  # exact match keeps the period
        ("Answer: left lung", "left lung", "incorrect"),  # the marker's tail keeps its leading space
        ("\\boxed{Left Lung}", "left lung", "correct"),
        ("<answer>left lung</answer>", "left lung", "correct"),
        ("", "left lung", "incorrect"),  # MedEvalKit crashes here (rouge on an empty hypothesis)
    ],
)
def test_vqa_rad_and_pathvqa(benchmark, response, gold, expected):
    qtype = "yes_no" if gold in ("yes", "no") else "open"
    assert verdict(make_item(benchmark=benchmark, answer=gold, question_type=qtype), response) == expected


# utils/SLAKE/SLAKE.py: cal_metrics; utils/utils.py: judge_close_end_vqa
@pytest.mark.parametrize(
    "response, gold, qtype, lang, expected",
    [
        ("Yes", "Yes", "yes_no", "en", "correct"),  # "Yes" is not in ["yes","no"]: exact match on "yes"
        ("Yes.", "Yes", "yes_no", "en", "correct"),  # periods removed
        ("yes\n", "Yes", "yes_no", "en", "correct"),  # newlines removed
        ("Yes, it is.", "Yes", "yes_no", "en", "incorrect"),  # exact match, not judgement
        ("Yes, it is.", "yes", "yes_no", "en", "correct"),  # a lower-case gold gets judge_judgement
        ("是", "是", "yes_no", "zh", "correct"),
        ("是的", "是", "yes_no", "zh", "incorrect"),
        ("liver", "Liver", "closed", "en", "correct"),
        ("The liver", "Liver", "closed", "en", "incorrect"),
        ("left lung", "Left Lung", "open", "en", "correct"),
        ("Left Lung ", "Left Lung", "open", "en", "incorrect"),  # SLAKE never strips the response
        ("Left lung.", "Left Lung", "open", "en", "incorrect"),
    ],
)
def test_slake(response, gold, qtype, lang, expected):
    item = make_item(benchmark="slake", answer=gold, question_type=qtype, lang=lang)
    assert verdict(item, response) == expected


# utils/PMC_VQA/PMC_VQA.py: cal_metrics; utils/utils.py: judge_multi_choice, find_most_similar_index
@pytest.mark.parametrize(
    "response, gold, expected, fallback",
    [
        ("B", "B", "correct", None),
        ("b", "B", "correct", None),
        ("The answer is C", "C", "correct", None),
        ("**Answer**: D", "D", "correct", None),
        ("\\boxed{B}", "B", "correct", None),
        ("A", "B", "incorrect", None),  # a letter that is not the gold: wrong, no fallback
        ("B\n\nBecause MRI shows soft tissue.", "B", "correct", None),  # first paragraph is a letter
        ("MRI shows soft tissue best.\n\nB. MRI", "B", "correct", None),  # last paragraph's letter
        ("MRI", "B", "correct", "difflib"),  # not a letter: the most similar cell, " B:MRI "
        ("", "A", "correct", "difflib"),  # every ratio is 0: option A
        ("", "B", "incorrect", "difflib"),
    ],
)
def test_pmc_vqa(response, gold, expected, fallback):
    item = make_item(benchmark="pmc-vqa", options=MOD, answer=gold, question_type="multiple_choice",
                     published={"Question": "Which modality? ", "choices": [f" {k}:{v} " for k, v in MOD.items()],
                                "Answer": gold})
    record = score_item(item, response, rules="medevalkit")
    assert (record["verdict"], record["fallback"]) == (expected, fallback)


# utils/OmniMedVQA/OmniMedVQA.py and utils/MedXpertQA/MedXpertQA.py: extract(response, "answer") first
@pytest.mark.parametrize(
    "benchmark, options, response, gold, expected",
    [
        ("omnimedvqa", FUNDUS, "<answer>C</answer>", "C", "correct"),
        ("omnimedvqa", FUNDUS, "C. Glaucoma", "C", "correct"),
        ("omnimedvqa", FUNDUS, "Glaucoma", "C", "correct"),  # option text: only difflib finds "c. glaucoma"
        ("omnimedvqa", FUNDUS, "Normal", "A", "correct"),
        ("omnimedvqa", FUNDUS, "D", "C", "incorrect"),
        ("medxpertqa-mm", AORTA, "A", "A", "correct"),
        ("medxpertqa-mm", AORTA, "Final answer: E", "A", "incorrect"),
        ("medxpertqa-mm", AORTA, "选A", "A", "incorrect"),  # difflib: the shortest option holding "a", C
        ("medxpertqa-mm", AORTA, "", "A", "correct"),  # empty: option A
    ],
)
def test_omnimedvqa_and_medxpertqa(benchmark, options, response, gold, expected):
    item = make_item(benchmark=benchmark, options=options, answer=gold, question_type="multiple_choice")
    assert verdict(item, response) == expected


# utils/MMMU/eval_val.py: run_model; utils/MMMU/eval_utils.py: parse_multi_choice_response, eval_open
def test_mmmu():
    mc = make_item(benchmark="mmmu-med", id="validation_x_1", options=MOD, answer="B", question_type="multiple_choice")
    assert verdict(mc, "(B)") == verdict(mc, "The answer is (B).") == verdict(mc, "B") == "correct"
    assert verdict(mc, "I choose B because (A) is wrong") == "incorrect"  # bracketed letters come first
    assert verdict(mc, "<answer>B</answer>") == verdict(mc, "\\boxed{B}") == "correct"
    guessed = [score_item(mc, "\\boxed B", rules="medevalkit", seed=s) for s in range(20)]  # no box: "None"
    assert {g["fallback"] for g in guessed} == {"random"} and {g["extracted"] for g in guessed} == set(MOD)
    for gold, response in (("5", "5"), ("radial nerve", "radial nerve"), ("0.25", "Approximately 0.25 mg/kg")):
        open_item = make_item(benchmark="mmmu-med", id="validation_x_2", answer=gold, question_type="closed")
        assert verdict(open_item, response) == "incorrect"  # raw string as parsed_pred: never right


def test_readers_and_judge():
    assert boxed_content("x \\boxed{a{b}c} y \\boxed{d}") == "d" and boxed_content("\\boxed{a") == "None"
    assert tag_content("<answer>a</answer> and <answer>b</answer>") == "a b" and tag_content("plain") == "plain"
    assert parse_response_medevalkit("The final answer is: **Answer**: B") == " b"
    assert parse_response_medevalkit("boxed without braces") == "None"
    item = make_item(answer="left lung", question_type="open")
    judged = score_item(item, "left upper lung", rules="medevalkit", judge=lambda q, a, g: True)
    assert (judged["verdict"], judged["judge"]) == ("correct", True)
    failed = score_item(item, "left lung", rules="medevalkit", judge=lambda q, a, g: None)
    assert failed["verdict"] == "incorrect"  # a failed judge call reads as wrong in MedEvalKit
    closed = make_item(answer="yes", question_type="yes_no")
    assert score_item(closed, "yes", rules="medevalkit", judge=lambda q, a, g: False)["verdict"] == "correct"
    with pytest.raises(ParameterError, match="rules"):
        score_item(item, "x", rules="lenient")
    with pytest.raises(ParameterError, match="difflib_fallback"):
        score_item(item, "x", rules="medevalkit", difflib_fallback=True)


# ---- prompts, character for character -------------------------------------------------------

MC_TAIL = "Answer with the option's letter from the given choices directly."
MC_BOXED = 'Answer with the option\'s letter from the given choices and put the letter in one "\\boxed{}".'


@pytest.mark.parametrize(
    "fields, reasoning, expected",
    [
        # utils/VQA_RAD/VQA_RAD.py: construct_messages (gold lower-cased before the yes/no test)
        (dict(benchmark="vqa-rad", question="Is there a fracture?", answer="Yes", question_type="yes_no"), False,
         "<image>\nIs there a fracture?\nPlease output 'yes' or 'no'(no extra output)."),
        (dict(benchmark="vqa-rad", question="Where is it? ", answer="left lobe", question_type="open"), False,
         "<image>\nWhere is it? \nPlease answer the question concisely."),
        (dict(benchmark="vqa-rad", question="Is it?", answer="no", question_type="yes_no"), True,
         '<image>\nIs it?\nPlease output "yes" or "no" and put the answer in one "\\boxed{}".'),
        # utils/PATH_VQA/PATH_VQA.py: construct_messages tests the raw gold
        (dict(benchmark="pathvqa", question="Is this necrosis?", answer="Yes", question_type="yes_no"), False,
         "<image>\nIs this necrosis?\nPlease answer the question concisely."),
        (dict(benchmark="pathvqa", question="Is this necrosis?", answer="yes", question_type="yes_no"), False,
         "<image>\nIs this necrosis?\nPlease output 'yes' or 'no'(no extra output)."),
        # utils/SLAKE/SLAKE.py: load_data -- every CLOSED question gets the close-ended prompt
        (dict(benchmark="slake", question="Does the picture contain liver?", answer="Yes", question_type="yes_no"),
         False, "<image>\nDoes the picture contain liver?\nAnswer the question using a single word or phrase."),
        (dict(benchmark="slake", question="Which organ?", answer="Liver", question_type="open"), True,
         '<image>\nWhich organ?\nPlease answer the question concisely and put the answer in one "\\boxed{}".'),
        (dict(benchmark="slake", question="图中有肝脏吗?", answer="是", question_type="yes_no", lang="zh"), False,
         "<image>\n图中有肝脏吗?\n请用一个单词或者短语回答该问题。"),
        (dict(benchmark="slake", question="图中有肝脏吗?", answer="是", question_type="yes_no", lang="zh"), True,
         "<image>\n图中有肝脏吗?\n请用一个单词或者短语回答该问题，并将答案放在一个'\\boxed{}'中。"),
        (dict(benchmark="slake", question="哪个器官异常?", answer="肺", question_type="open", lang="zh"), False,
         "<image>\n哪个器官异常?\n请简要回答该问题。"),
        # utils/OmniMedVQA/OmniMedVQA.py: construct_messages; utils/question_formats.py
        (dict(benchmark="omnimedvqa", question="What modality?", options={"A": "CT", "B": "MR"}, answer="B",
              question_type="multiple_choice"), False,
         f"<image>\n\nQuestion: What modality?\nOptions: \nA. CT\nB. MR\n{MC_TAIL}"),
        (dict(benchmark="omnimedvqa", question="What modality?", options={"A": "CT", "B": "MR"}, answer="B",
              question_type="multiple_choice"), True,
         f"<image>\n\nQuestion: What modality?\nOptions: \nA. CT\nB. MR\n{MC_BOXED}"),
        # an in-memory PMC-VQA item: the cells our writer writes ("A:CT")
        (dict(benchmark="pmc-vqa", question="Which modality?", options={"A": "CT", "B": "MRI", "C": "PET", "D": "US"},
              answer="A", question_type="multiple_choice"), False,
         f"<image>\n\nQuestion: Which modality?\nOptions: \nA:CT\nB:MRI\nC:PET\nD:US\n{MC_TAIL}"),
        # utils/MMMU/data_utils.py: construct_prompt -- <image 1> kept, only image_1 passed
        (dict(benchmark="mmmu-med", question="<image 1> Which?", images=["i1", "i2"], options={"A": "x", "B": "<image 2>"},
              answer="A", question_type="multiple_choice"), False,
         f"<image>\n\n<image 1> Which?\n\n(A) x\n(B) <image 2>\n\n\n        {MC_TAIL}"),
        (dict(benchmark="mmmu-med", question="<image 1> Rate?", answer="0.25", question_type="closed"), False,
         "<image>\n\n<image 1> Rate?\n\n        Answer the question using a single word or phrase."),
        (dict(benchmark="mmmu-med", question="<image 1> Rate?", answer="0.25", question_type="closed"), True,
         '<image>\n\n<image 1> Rate?\n\n        Answer the question using a single word or phrase and put the answer '
         'in one "\\boxed{}".'),
    ],
)
def test_medevalkit_prompts(fields, reasoning, expected):
    item = make_item(**fields)
    assert build_prompt(item, reasoning, layout="medevalkit") == expected
    markers = expected.count("<image>\n")
    assert prompt_images(item, layout="medevalkit") == item.images[:markers]


def test_medevalkit_prompts_on_published_files():
    pmc = load_benchmark("pmc-vqa", BENCH / "pmc-vqa")[0]  # the CSV's cells, spaces and all
    assert medevalkit_text(pmc) == (
        "\nQuestion: What is the uptake pattern in the breast? \nOptions: \n A:Diffuse uptake pattern \n"
        " B:Focal uptake pattern \n C:No uptake pattern \n D:Cannot determine from the information given \n" + MC_TAIL)
    assert build_prompt(pmc).startswith("<image>\nQuestion: What is the uptake pattern in the breast?\nOptions: \n"
                                        "A. Diffuse uptake pattern\n")  # the book's layout is unchanged
    mxq = load_benchmark("medxpertqa-mm", BENCH / "medxpertqa-mm")[1]  # two images, options listed twice
    assert build_prompt(mxq, layout="medevalkit") == (
        "<image>\n<image>\n\nQuestion: A 7-year-old girl has a rash (first image) and this biopsy (second image). "
        "Which treatment is most appropriate?\nAnswer Choices: (A) Oral corticosteroids (B) Topical antifungal "
        "(C) Observation (D) Methotrexate (E) Oral antibiotics\nOptions: \nA. Oral corticosteroids\n"
        "B. Topical antifungal\nC. Observation\nD. Methotrexate\nE. Oral antibiotics\n" + MC_TAIL)
    assert prompt_images(mxq, layout="medevalkit") == mxq.images
    with pytest.raises(ParameterError, match="prompts"):
        build_prompt(mxq, layout="lingshu")
