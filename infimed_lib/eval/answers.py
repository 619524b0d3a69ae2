"""What a free-text answer means, for the ``strict`` rules: yes/no and short answers (Chapter 08).

MedEvalKit tests substrings ("no" inside "know" is a no) and exact strings ("Yes, it is." is
not "yes"). These readers ask instead what the answer commits to:

* :func:`read_yes_no`: "yes" or "no" from the words a reader would take as the answer: the words
  yes/no themselves (both: no commitment), then a hedge ("I don't know", "hard to tell": no
  commitment), then the opening word ("Nope", "Negative.", "Absolutely, ..."), then a negation
  anywhere ("It is not present."), then an affirming statement ("There is a large effusion.");
  Chinese by its opening (是/否/没有 ...) and by 没有/未见/不 inside.
* :func:`match_short_answer`: the gold phrase, up to case, punctuation, articles, simple
  plurals and number words, found as whole words in the answer and not negated; an answer that
  offers alternatives ("left kidney or adrenal", "left or right") or names two of the
  question's own alternatives commits to none.

The word lists are short and hand-written because they encode the benchmarks' answer style
(radiology yes/no questions), not general language; the graded table in ``tests/data`` measures
how often the result agrees with a careful human grade.
"""
from __future__ import annotations

import re
import unicodedata

from infimed_lib.eval.text_metrics import strip_punctuation

__all__ = ["answer_tokens", "contains_phrase", "match_short_answer", "phrase_mentions", "question_alternatives",
           "read_yes_no"]

_HEDGE = re.compile(
    r"\b(?:do(?:es)?\s*n[o']?t\s+know|not\s+sure|unsure|uncertain|unclear|cannot\s+(?:be\s+)?(?:determine|tell|say|"
    r"assess|confirm|evaluate|decide)|can'?t\s+(?:tell|say|determine)|hard\s+to\s+(?:say|tell|determine)|"
    r"difficult\s+to\s+(?:say|tell|determine)|impossible\s+to|unable\s+to|not\s+possible\s+to|insufficient)\b"
    r"|无法|不确定|不清楚|难以|不能确定",
    re.I,
)
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_OPENING_YES = {"yes", "yeah", "yep", "yup", "correct", "true", "affirmative", "absolutely", "definitely",
                "certainly", "indeed", "positive", "present", "sure"}
_OPENING_NO = {"no", "nope", "nah", "negative", "false", "incorrect", "absent", "none", "not", "never", "neither"}
_NEGATION = re.compile(r"\b(?:no|not|none|never|neither|nor|without|absent|negative|nothing)\b|n't\b|\bfree\s+of\b",
                       re.I)
_AFFIRMING = re.compile(
    r"\b(?:there\s+(?:is|are)|present|visible|seen|noted|observed|identified|evident|shows?|showing|"
    r"demonstrates?|contains?|consistent\s+with|positive)\b", re.I)
_ZH_OPENING = (("无法", None), ("不确定", None), ("是否", None), ("不是", "no"), ("没有", "no"), ("不对", "no"),
               ("否", "no"), ("无", "no"), ("是的", "yes"), ("是", "yes"), ("对", "yes"), ("有", "yes"))
_ZH_NEGATION = re.compile(r"没有|未见|不存在|不是|无(?!法)|不")
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_ARTICLES = {"a", "an", "the"}
# A word or phrase in single quotes ("is 'MRI'."): the quotes open after a space and close
# before one; an apostrophe inside or at the end of a word ("don't", "kidneys'") is not a quote.
_SINGLE_QUOTED = re.compile(r"(?<![\w'])'(?=\w)([^'\n]*?\w)'(?![\w'])")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\s\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_ALTERNATIVE = re.compile(r"\b(?:or|either|versus|vs)\b|或|还是|/", re.I)
_CLAUSE = re.compile(r"[,;:!?，。；：]|\.(?!\d)|\bbut\b", re.I)
_NEGATORS = {"not", "no", "without", "non", "never", "excluding", "except", "nor", "isn't", "aren't", "wasn't"}


def _english_words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def read_yes_no(text: str) -> str | None:
    """"yes", "no", or None when ``text`` commits to neither or to both (Chapter 08)."""
    text = unicodedata.normalize("NFKC", text).strip()
    words = _english_words(text)
    said = {word for word in words if word in ("yes", "no")}
    if len(said) == 2:
        return None
    if len(said) == 1:
        return said.pop()
    opening = re.sub(r"[\W_]+", "", text)[:3]
    for phrase, meaning in _ZH_OPENING:
        if opening.startswith(phrase):
            return meaning
    if _HEDGE.search(text):
        return None
    if words and words[0] in _OPENING_YES:
        return "yes"
    if words and words[0] in _OPENING_NO:
        return "no"
    if _NEGATION.search(text) or _ZH_NEGATION.search(text):
        return "no"
    if _AFFIRMING.search(text) or "可见" in text or "有" in text:
        return "yes"
    return None


def _singular(word: str) -> str:
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "ches", "shes", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def answer_tokens(text: str) -> list[str]:
    """Tokens compared by :func:`match_short_answer`: lower-cased, punctuation dropped (hyphens
    split words), articles dropped, simple plurals singular, number words as digits."""
    text = _SINGLE_QUOTED.sub(r"\1", unicodedata.normalize("NFKC", text).lower().replace("’", "'"))
    # keep decimal points and apostrophes inside words; every other punctuation splits
    # a private-use character holds decimal points and apostrophes through strip_punctuation
    text = re.sub(r"(?<=\d)\.(?=\d)", "\ue000", text).replace("'", "\ue001")
    tokens = _TOKEN.findall(strip_punctuation(text).replace("\ue000", ".").replace("\ue001", "'"))
    tokens = [_NUMBER_WORDS.get(token, token) for token in tokens if token not in _ARTICLES]
    return [_singular(token) for token in tokens]


def _find(tokens: list[str], phrase: list[str]) -> list[int]:
    size = len(phrase)
    return [i for i in range(len(tokens) - size + 1) if tokens[i:i + size] == phrase]


def contains_phrase(tokens: list[str], phrase: list[str]) -> bool:
    """Whether ``phrase`` occurs as consecutive tokens in ``tokens``."""
    return bool(phrase) and bool(_find(tokens, phrase))


def _negated(tokens: list[str], start: int) -> bool:
    return any(token in _NEGATORS or token.endswith("n't") for token in tokens[max(0, start - 3):start])


def question_alternatives(question: str) -> list[list[str]]:
    """The two words a closed question offers as alternatives, as tokens: the word before and the
    word after its last "or" ("..., liver or spleen?", "on the left or right side?")."""
    match = re.search(r"(\S+)\s+(?:or|还是|或)\s+(?:an?\s+|the\s+)?(\S+)[^?]*\?*\s*$", question.strip(), re.I)
    if not match:
        return []
    left, right = answer_tokens(match.group(1)), answer_tokens(match.group(2))
    return [left[-1:], right[:1]] if left and right else []


def phrase_mentions(text: str, phrase: list[str]) -> tuple[int, int]:
    """(plain, negated) mentions of ``phrase`` in ``text``; negation reaches three words back
    within the clause ("no fibrosis", "not the liver, the spleen": the spleen is not negated)."""
    plain = negated = 0
    for clause in _CLAUSE.split(text):
        tokens = answer_tokens(clause)
        for start in _find(tokens, phrase):
            if _negated(tokens, start):
                negated += 1
            else:
                plain += 1
    return plain, negated


def match_short_answer(answer: str, gold: str, question: str = "") -> bool | None:
    """True/False when ``answer`` commits to a short answer, None when it commits to none (Chapter 08).

    True when the gold's tokens occur, in order and not negated ("not the liver"), in the
    answer's tokens ("The lesion is in the right upper lobe." for "right upper lobe"), and the
    answer neither offers alternatives ("or", "either") nor names another of the question's own
    alternatives. Chinese compares characters, so 肺部 holds 肺.
    """
    tokens, wanted = answer_tokens(answer), answer_tokens(gold)
    if not tokens:
        return None
    if _ALTERNATIVE.search(answer) and len(tokens) > len(wanted):
        return None
    hits = phrase_mentions(answer, wanted)[0] if wanted else 0
    others = [alt for alt in question_alternatives(question) if not _find(wanted, alt)]
    if hits and any(phrase_mentions(answer, alt)[0] for alt in others):
        return None
    return bool(hits)
