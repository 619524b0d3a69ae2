"""``rules="strict"``: what the response commits to (Chapter 08), per benchmark and question type,
on the extraction cases issue 18 lists and the traps beside them."""
from __future__ import annotations

import pytest

from infimed_lib.eval.answers import answer_tokens, match_short_answer, question_alternatives, read_yes_no
from infimed_lib.eval.extract import extract_choice
from infimed_lib.eval.scoring import score_item
from eval_items import make_item

PLEURA = {"A": "Pleural effusion", "B": "Pneumothorax", "C": "Consolidation", "D": "Atelectasis"}
MOD = {"A": "CT", "B": "MRI", "C": "X-ray", "D": "Ultrasound"}
FIVE = {"A": "Aortic dissection", "B": "Pulmonary embolism", "C": "Pneumothorax", "D": "Myocardial infarction",
        "E": "Pericardial effusion"}


def verdict(item, response):
    return score_item(item, response, rules="strict")["verdict"]


@pytest.mark.parametrize("benchmark", ["pmc-vqa", "omnimedvqa", "medxpertqa-mm", "mmmu-med"])
@pytest.mark.parametrize(
    "options, response, gold, expected",
    [
        (PLEURA, "The image shows a pneumothorax.", "B", "correct"),  # option text, no marker
        (PLEURA, "There is consolidation, without pleural effusion.", "C", "correct"),  # the other text negated
        (PLEURA, "Pleural effusion or pneumothorax", "A", "unanswered"),  # two answers
        (PLEURA, "Pleural effusion and consolidation are both present.", "A", "unanswered"),
        (PLEURA, "A. Pleural effusion\nB. Pneumothorax\nC. Consolidation\nD. Atelectasis", "A", "unanswered"),
        (PLEURA, "A. Pleural effusion\nB. Pneumothorax\nC. Consolidation\nD. Atelectasis\n\nAnswer: C", "C", "correct"),
        (FIVE, "选C", "C", "correct"),
        (FIVE, "我选择B", "B", "correct"),
        (FIVE, "A, not B", "A", "correct"),
        (FIVE, "B, not A", "A", "incorrect"),
        (FIVE, "A or B", "A", "unanswered"),
        (FIVE, "The correct option is C because the opacity is dense.", "C", "correct"),
        (MOD, "The image was acquired with MRI.", "B", "correct"),
        (MOD, "I cannot determine the modality.", "B", "unanswered"),
        (MOD, "", "A", "unanswered"),  # MedEvalKit reads an empty answer as A
        (MOD, "Hemangioma", "A", "unanswered"),  # names nothing offered
    ],
)
def test_multiple_choice(benchmark, options, response, gold, expected):
    item = make_item(benchmark=benchmark, id="validation_x_1", options=options, answer=gold,
                     question_type="multiple_choice")
    assert verdict(item, response) == expected


@pytest.mark.parametrize("benchmark", ["vqa-rad", "pathvqa", "slake"])
@pytest.mark.parametrize(
    "response, gold, expected",
    [
        ("It is not present.", "no", "correct"),
        ("Negative.", "no", "correct"),
        ("Nope", "no", "correct"),
        ("Not seen.", "no", "correct"),
        ("There is no evidence of fracture.", "no", "correct"),
        ("No nodule is seen.", "no", "correct"),
        ("I don't know", "no", "unanswered"),  # the "no" of "know" is no answer
        ("A nodule is seen in the left lung.", "no", "incorrect"),  # nor the "no" of "nodule"
        ("Yes or no, it is hard to say.", "yes", "unanswered"),
        ("It is hard to tell.", "yes", "unanswered"),
        ("Positive.", "yes", "correct"),
        ("Absolutely, the mass is visible.", "yes", "correct"),
        ("There is a large right-sided pleural effusion.", "yes", "correct"),
        ("Yes, it is normal.", "no", "incorrect"),
        ("<think>Probably not.</think>\\boxed{yes}", "yes", "correct"),
    ],
)
def test_yes_no(benchmark, response, gold, expected):
    gold = gold.capitalize() if benchmark == "slake" else gold  # SLAKE's published golds are capitalised
    assert verdict(make_item(benchmark=benchmark, answer=gold, question_type="yes_no"), response) == expected


@pytest.mark.parametrize(
    "response, gold, expected",
    [("是", "是", "correct"), ("没有", "否", "correct"), ("是的，可以看到肝脏。", "是", "correct"),
     ("不正常", "否", "correct"), ("无法判断", "否", "unanswered"), ("否", "是", "incorrect")],
)
def test_yes_no_chinese(response, gold, expected):
    item = make_item(benchmark="slake", answer=gold, question_type="yes_no", lang="zh")
    assert verdict(item, response) == expected


@pytest.mark.parametrize(
    "benchmark, qtype, question, response, gold, expected",
    [
        ("vqa-rad", "open", "Which lobe?", "The lesion is in the right upper lobe.", "right upper lobe", "correct"),
        ("vqa-rad", "open", "Which lobe?", "left lower lobe", "right upper lobe", "incorrect"),
        ("vqa-rad", "open", "Which organs?", "kidney", "kidneys", "correct"),  # plural
        ("vqa-rad", "open", "How many?", "Two ribs.", "2", "correct"),  # number word
        ("vqa-rad", "open", "Where?", "left kidney or left adrenal gland", "left kidney", "unanswered"),
        ("vqa-rad", "open", "Where?", "", "axial", "unanswered"),
        ("pathvqa", "open", "What is present?", "Granuloma", "granulomas", "correct"),
        ("pathvqa", "open", "What is present?", "There is no fibrosis.", "fibrosis", "incorrect"),  # negated
        ("pathvqa", "open", "What is it?", "carcinoma", "metastatic carcinoma", "incorrect"),
        ("slake", "closed", "Which is bigger, liver or spleen?", "The liver is bigger.", "Liver", "correct"),
        ("slake", "closed", "Which is bigger, liver or spleen?", "The liver and the spleen.", "Liver", "unanswered"),
        ("slake", "closed", "Left or right?", "Left or right, hard to say.", "Left", "unanswered"),
        ("slake", "closed", "Is it on the left or right side?", "Right side.", "Right", "correct"),
        ("slake", "open", "Which organ is enlarged?", "Not the liver, the spleen.", "Spleen", "correct"),
        ("slake", "open", "Which organ?", "the lungs", "Lung", "correct"),
        ("slake", "open", "哪个器官异常?", "肺部", "肺", "correct"),
        # MMMU's official parse_open_response + eval_open
        ("mmmu-med", "closed", "<image 1> How many?", "1,000", "1000", "correct"),
        ("mmmu-med", "closed", "<image 1> Dose?", "Approximately 0.25 mg/kg", "0.25", "correct"),
        ("mmmu-med", "closed", "<image 1> Dose?", "The dose is 5 mg.", "5", "correct"),
        ("mmmu-med", "closed", "<image 1> Dose?", "10 mg", "5", "incorrect"),
        ("mmmu-med", "closed", "<image 1> Risk?", "The relative risk is 2.50.", "2.5", "correct"),
        ("mmmu-med", "closed", "<image 1> Rate?", "Sensitivity = 80%", "80", "correct"),
        ("mmmu-med", "closed", "<image 1> Which?", "The radial nerve.", "['radial nerve', 'radial']", "correct"),
        ("mmmu-med", "closed", "<image 1> Dose?", "", "5", "unanswered"),
    ],
)
def test_short_answers(benchmark, qtype, question, response, gold, expected):
    item = make_item(benchmark=benchmark, id="validation_x_2", question=question, answer=gold, question_type=qtype,
                     lang="zh" if "肺" in gold else "en")
    assert verdict(item, response) == expected


def test_readers_directly():
    assert read_yes_no("Nope") == "no" and read_yes_no("I don't know") is None and read_yes_no("") is None
    assert answer_tokens("The Kidneys' right-sided lesions: 2.50") == ["kidneys'", "right", "sided", "lesion", "2.50"]
    # single quotes around a phrase are not part of its words; apostrophes in and after words are
    assert answer_tokens("It's 'lower left', not 'MRI'.") == ["it's", "lower", "left", "not", "mri"]
    assert extract_choice("The option that fits the question best is 'upper left'.",
                          {"A": "upper", "B": "upper left", "C": "MRI"}) == "B"
    assert question_alternatives("Which is bigger in this image, liver or spleen?") == [["liver"], ["spleen"]]
    assert question_alternatives("What is shown?") == []
    assert match_short_answer("left lung", "left lung", "Left or right lung?") is True
    assert match_short_answer("...", "left lung") is None
    assert extract_choice("A. CT B. MRI C. X-ray D. Ultrasound", MOD) is None  # a copied list, on one line


def test_strict_is_the_default_and_records_the_rule_set():
    item = make_item(answer="no", question_type="yes_no")
    record = score_item(item, "Nope")
    assert (record["rules"], record["verdict"], record["extracted"]) == ("strict", "correct", "no")
    assert score_item(item, "Nope", rules="medevalkit")["rules"] == "medevalkit"
