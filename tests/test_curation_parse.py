"""parse_judgement: every reply form real judges produce, accepted when unambiguous, refused when not."""
import json

import pytest

from infimed_lib.curation import SCORE_KEYS, parse_judgement

GOOD = {
    "Medical Information Accuracy": {"score": 4, "comment": "sound"},
    "Language Clarity and Fluency": {"score": 5, "comment": "fluent"},
    "Dialogue Completeness": {"score": 3, "comment": "brief"},
    "Medical Imaging Relevance": {"score": 2, "comment": "weak"},
    "Practicality": {"score": 4, "comment": "useful"},
    "Overall": {"score": 4, "comment": "good"},
}
EXPECTED = {"Medical Information Accuracy": 4, "Language Clarity and Fluency": 5, "Dialogue Completeness": 3,
            "Medical Imaging Relevance": 2, "Practicality": 4, "Overall": 4}


def with_score(key, value):
    reply = json.loads(json.dumps(GOOD))
    reply[key]["score"] = value
    return json.dumps(reply)


def test_plain_json_gives_six_int_scores_in_paper_order():
    scores = parse_judgement(json.dumps(GOOD))
    assert scores == EXPECTED
    assert list(scores) == list(SCORE_KEYS)
    assert all(type(v) is int for v in scores.values())


@pytest.mark.parametrize(
    "reply",
    [
        "```json\n" + json.dumps(GOOD, indent=2) + "\n```",
        "Here is my evaluation of the sample.\n" + json.dumps(GOOD) + "\nI hope this helps! {not json}",
        "<think>Maybe {\"Overall\": {\"score\": 1}}? No, it is decent.</think>\n" + json.dumps(GOOD),
        json.dumps(GOOD).replace('"', "'"),  # single quotes (a Python dict repr)
        json.dumps(GOOD, indent=1).replace("}\n}", "},\n}").replace('"good"}', '"good",}'),  # trailing commas
        json.dumps({"evaluation": GOOD}),  # one wrapper level
        json.dumps({k: v["score"] for k, v in GOOD.items()}),  # bare numbers
        json.dumps({k: str(v["score"]) for k, v in GOOD.items()}),  # numbers as strings
        json.dumps({k: float(v["score"]) for k, v in GOOD.items()}),  # floats like 4.0
        json.dumps({k: {"score": f"{v['score']}/5"} for k, v in GOOD.items()}),  # "4/5"
        json.dumps(GOOD).replace("Dialogue Completeness", "Caption/Dialogue Completeness"),  # paper heading
        json.dumps(GOOD) + "\nTo repeat: " + json.dumps(GOOD),  # two objects that agree
        json.dumps({k.lower(): v for k, v in GOOD.items()}),  # key case differs
    ],
    ids=["fence", "prose", "think", "single-quotes", "trailing-comma", "wrapper", "bare", "strings",
         "floats", "fraction", "heading-name", "agreeing-twice", "lowercase-keys"],
)
def test_unambiguous_forms_are_accepted(reply):
    assert parse_judgement(reply) == EXPECTED


def test_apostrophes_in_comments_do_not_break_json():
    reply = json.loads(json.dumps(GOOD))
    reply["Overall"]["comment"] = "The patient's {history} isn't given"
    assert parse_judgement("Answer: " + json.dumps(reply)) == EXPECTED


@pytest.mark.parametrize(
    "reply, message",
    [
        (json.dumps({k: v for k, v in GOOD.items() if k != "Practicality"}), "missing score keys: Practicality"),
        (with_score("Overall", 0), "'Overall': score 0 is outside 1-5"),
        (with_score("Practicality", 7), "'Practicality': score 7 is outside 1-5"),
        (with_score("Dialogue Completeness", 3.5), "not a whole number"),
        (with_score("Dialogue Completeness", "3.5"), "not a whole number"),
        (with_score("Overall", "good"), "not a number"),
        (with_score("Overall", None), "not a number"),
        (with_score("Overall", True), "not a number"),
        (with_score("Overall", [4]), "not a number"),
        (json.dumps(GOOD) + "\n" + with_score("Overall", 2), "different scores"),
        ('{"Overall": {"score": 4}, "Overall": {"score": 2}}', "appears twice"),
        (json.dumps({**GOOD, "overall": {"score": 1}}), "given twice"),
        ("I rate it 4 out of 5 overall.", "no JSON object"),
        ("{'Overall': {'score': 4,}, oops", "no JSON object"),
        ('{"Medical Information Accuracy": {"score": <1-5>}}', "does not parse"),
        (json.dumps({k: {"comment": "fine"} for k in GOOD}), "without a 'score' field"),
        ("", "no JSON object"),
    ],
    ids=["missing-key", "zero", "seven", "half", "half-string", "word", "null", "bool", "list",
         "disagreeing-objects", "duplicate-key", "case-duplicate", "no-json", "unclosed", "template-echo",
         "no-score-field", "empty"],
)
def test_ambiguous_or_invalid_forms_are_refused(reply, message):
    with pytest.raises(ValueError, match=message):
        parse_judgement(reply)


def test_non_string_is_refused():
    with pytest.raises(ValueError, match="must be a string"):
        parse_judgement(GOOD)  # type: ignore[arg-type]
