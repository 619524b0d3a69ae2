"""The text rules of the offline reference judge: language, completeness and facts.

Chapter 01 (data curation) lists every rule and what it cannot see. Each rule returns a score
1-5 and a short reason; ``reference_judge`` combines them into the A.2 reply format.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Any, Iterable, Mapping

from infimed_lib.data.prompt_format import instruction, parse_response

from infimed_lib.curation.reference_lexicon import EXPECTED_ANSWER, FALSE_CLAIMS, MEDICAL_TERMS, ZH_TERMS

WORD = re.compile(r"[A-Za-z][A-Za-z'&\-]*")
CJK = re.compile(r"[\u4e00-\u9fff]")
OPTION = re.compile(r"(?:^|\s|\()([A-E])[\.\):]\s*\S", re.MULTILINE)
YES_NO_START = re.compile(r"^\s*(is|are|was|were|does|do|did|can|could|has|have|had|will|would|should|may)\b"
                          r"(?!\s+you\s+(tell|describe|explain|show|identify|give|list|summari[sz]e|walk))", re.I)
EITHER_OR = re.compile(r"([\w\-]+)\s+or\s+(?:the\s+|an?\s+)?([\w\-]+)", re.I)
ZH_YES, ZH_NO = ("是", "有"), ("否", "不", "没有", "无")
LAST_WORDS = frozenset("a an the of in on at to for with and or but by from as".split())
ARTICLES = frozenset("a an the".split())
OPTION_PREFIX = re.compile(r"(?m)^\s*\(?[A-E][.):]\s*")
# After an article English needs a noun phrase, never one of these.
NOT_AFTER_ARTICLE = frozenset("a an the of in on at to for with and or but by from as is are was were".split())
# Two of these in a row ("with of", "of in") is not English either.
PREPOSITIONS = frozenset("of in on at with by from".split())
# Instructions appended to questions (MedEvalKit's prompt suffixes) are not part of the question.
# The yes/no one is cut from its "'yes' or 'no'" to the end; the others with or without their full stop.
SUFFIXES = re.compile("(" + re.escape(instruction("yes_no").split("(")[0]) + ".*$|"
                      + "|".join(re.escape(instruction(kind).rstrip(".")) + r"\.?" for kind in ("closed", "multiple_choice"))
                      + ")", re.I | re.S)


def turns(sample: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(role, text) of each turn with ``<image>`` markers removed. Chapter 01."""
    return [(str(t.get("from")), str(t.get("value", "")).replace("<image>", " ").strip())
            for t in sample.get("conversations") or []]


def words(text: str) -> list[str]:
    return [w.lower().strip("'-") for w in WORD.findall(text)]


def known_vocabulary(samples: Iterable[Mapping[str, Any]]) -> Counter:
    """Document frequency of every word over the assessment sample.

    No dictionary ships with the judge, so it learns word frequencies from the data it judges:
    a misspelling is rare, and one small edit away from a frequent word. Chapter 01.
    """
    counts: Counter[str] = Counter()
    for sample in samples:
        counts.update({w for _, text in turns(sample) for w in words(text)})
    return counts


def _edits(word: str) -> set[str]:
    """Words one swap of neighbours, one doubled letter undone, or one of each away from ``word``.

    Only doubled letters are undone ("lession"), not any letter: dropping a real suffix
    ("imaged" -> "image") must not look like a typo.
    """
    swaps = {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}
    deletions = {word[:i] + word[i + 1 :] for i in range(1, len(word)) if word[i] == word[i - 1]}
    return swaps | deletions | {d[:i] + d[i + 1] + d[i] + d[i + 2 :] for d in deletions for i in range(len(d) - 1)}


def misspelt(word: str, vocabulary: Mapping[str, int] | None) -> bool:
    """No vowel, five consonants in a row, or (with a vocabulary) at most ten times rarer than
    a word one small edit away that occurs in at least five samples. Chapter 01."""
    if len(word) < 4 or "&" in word:
        return False
    if not re.search(r"[aeiouy]", word) or re.search(r"[^aeiouy\W\d]{5}", word):
        return True
    if vocabulary is None:
        return False
    own = vocabulary.get(word, 0)
    return any(vocabulary.get(e, 0) >= max(5, 10 * own) for e in _edits(word) if e != word)


class Speller:
    """:func:`misspelt` against one vocabulary, remembered per word (words repeat a lot). Chapter 01."""

    def __init__(self, vocabulary: Mapping[str, int] | None):
        self.vocabulary = vocabulary
        self._seen: dict[str, bool] = {}

    def __call__(self, word: str) -> bool:
        if word not in self._seen:
            self._seen[word] = misspelt(word, self.vocabulary)
        return self._seen[word]


def language_score(sample: Mapping[str, Any], speller: Speller | Mapping[str, int] | None) -> tuple[int, str]:
    """Misspellings, stuttered words, repeated phrases and broken word order lower the score.

    ``speller``: a :class:`Speller`, or a vocabulary to build one from (None: no vocabulary). Chapter 01."""
    speller = speller if isinstance(speller, Speller) else Speller(speller)
    problems, score = [], 5
    for role, text in turns(sample):
        tokens = words(text)
        long_tokens = [w for w in tokens if len(w) >= 4]
        bad = [w for w in long_tokens if speller(w)]
        if bad:
            share = len(bad) / len(long_tokens)
            problems.append(f"{len(bad)}/{len(long_tokens)} words misspelt (e.g. {bad[0]!r})")
            score = min(score, 1 if share >= 0.5 else 2 if share >= 0.15 or len(bad) >= 2 else 3)
        if role != "gpt":
            continue  # questions and option lists repeat words by design; judge the answers
        # Within a line: "A. CT\n\nCT scan of ..." repeats an option, it does not stutter.
        stutter = sum(a == b for line in text.splitlines() for a, b in zip(words(line), words(line)[1:])
                      if a not in {"very", "had", "that"})
        if stutter:
            problems.append("a word repeated")
            score = min(score, 3 if stutter == 1 and len(tokens) >= 8 else 2)
        trigrams = list(zip(tokens, tokens[1:], tokens[2:]))
        if len(trigrams) >= 6 and len(set(trigrams)) / len(trigrams) < 0.6:
            problems.append("repeated phrases")
            score = min(score, 2)
        prose = words(OPTION_PREFIX.sub("", text))  # "A. in the upper left" is an option, not an article
        broken = [f"{a} {b}" for a, b in zip(prose, prose[1:])
                  if (a in ARTICLES and b in NOT_AFTER_ARTICLE) or (a in PREPOSITIONS and b in PREPOSITIONS)]
        if broken:
            problems.append(f"{broken[0]!r}: words in an impossible order")
            score = min(score, 2)
        sentences = [(sentence, bool(OPTION_PREFIX.match(line))) for line in text.splitlines()
                     for sentence in re.split(r"(?<=[.!?])\s+", OPTION_PREFIX.sub("", line, count=1))]
        for sentence, is_option in sentences:
            sentence_words = WORD.findall(sentence)
            if len(sentence_words) < 4:
                continue
            if sentence_words[0][0].islower() and not is_option:  # options are often lower case
                problems.append(f"sentence starts in lower case ({sentence_words[0]!r}: word order)")
                score = min(score, 3)
            if sentence_words[-1].lower() in LAST_WORDS:
                problems.append(f"sentence ends on {sentence_words[-1]!r} (word order)")
                score = min(score, 3)
    if len(problems) >= 2 and score == 3:
        score = 2  # several independent signs of broken language
    return score, "; ".join(dict.fromkeys(problems)) or "fluent: no misspellings, repetitions or broken word order"


def question_type(question: str, meta: Mapping[str, Any] | None, single_turn: bool) -> str:
    """``meta.question_type`` when it describes this turn, else inferred from the wording. Chapter 01."""
    if single_turn and meta and meta.get("question_type"):
        return str(meta["question_type"])
    if len(set(OPTION.findall(question))) >= 2:
        return "multiple_choice"
    question = SUFFIXES.sub("", question)
    if EITHER_OR.search(question) or "还是" in question:
        return "closed"
    return "yes_no" if YES_NO_START.search(question) else "open"


def boxed_answer(answer: str) -> str:
    """What a reasoned answer commits to: its last ``\\boxed{}`` content, else the whole answer. Chapter 01."""
    return parse_response(answer, markers=False) if "boxed" in answer else answer


def on_topic(question: str, answer: str) -> bool:
    """Short answers, and answers sharing a word with the question or the medical word list. Chapter 01."""
    if CJK.search(answer):
        return len(CJK.findall(answer)) < 6 or any(t in answer for t in ZH_TERMS)
    answer_words = set(words(answer))
    if len(answer_words) <= 4:
        return True
    question_words = {w for w in words(question) if len(w) >= 4}
    return bool(answer_words & (MEDICAL_TERMS | question_words))


def _either_or(question: str, answer: str) -> tuple[int, str] | None:
    """"CT or MRI?" (or "CT还是MRI"): the answer must be one of the two offered."""
    match = EITHER_OR.search(question)
    if "还是" in question:
        offered = "two options"
    elif match:
        offered = f"{match.group(1)!r} or {match.group(2)!r}"
    else:
        return None
    given = re.sub(r"[\s。.!?？！]+$", "", answer.strip()).lower()
    if given and given in question.lower() or (match and {match.group(1).lower(), match.group(2).lower()} & set(words(answer))):
        return 5, "one of the two offered answers was given"
    return 2, f"the question offers {offered}; the answer gives neither"


def answers_pair(question: str, answer: str, qtype: str) -> tuple[int, str]:
    """Completeness of one answer to one question of type ``qtype`` (rules in Chapter 01)."""
    question = SUFFIXES.sub("", question).strip()
    if not words(answer) and not re.search(r"\d", answer) and not CJK.search(answer):
        return 1, "empty answer"
    if not on_topic(question, answer):
        return 1, "the answer is off-topic: nothing in it relates to the question or to medicine"
    # A reasoned answer commits in its \boxed{}: the rules below judge that part, as a reader
    # would, and the sentence before it only has to stay on topic (checked above).
    answer = boxed_answer(answer)
    answer_words = words(answer)
    first = answer_words[0] if answer_words else ""
    if qtype == "yes_no" or (qtype == "closed" and CJK.search(question) and "还是" not in question):
        if first in ("yes", "no") or answer.strip().startswith(ZH_YES + ZH_NO):
            return 5, "yes/no question answered yes/no"
        if {"yes", "no"} & set(answer_words):
            return 4, "yes/no given, not first"
        return 2, "yes/no question not answered with yes or no"
    if qtype == "multiple_choice":
        letters = set(OPTION.findall(question))
        options = {m.group(1): m.group(2).strip().lower() for m in
                   re.finditer(r"([A-E])[\.\):]\s*([^\n]+?)(?=\s+[A-E][\.\):]|\n|$)", question)}
        said = re.findall(r"\b([A-E])\b", answer)
        if any(letter in letters for letter in said) or any(t and t in answer.lower() for t in options.values()):
            return 5, "an offered option was chosen"
        return 2, "multiple-choice question answered with no offered option"
    either = _either_or(question, answer)
    if either is not None:
        return either
    if first in ("yes", "no") and len(answer_words) <= 2 and not YES_NO_START.search(question):
        return 2, "open question answered only yes/no"
    for asks, expects, what in EXPECTED_ANSWER:
        if asks.search(question) and not expects.search(answer) and not CJK.search(answer):
            return 2, f"the question asks for {what}; the answer gives none"
    return 5, "the answer fits the question"


def completeness_score(sample: Mapping[str, Any]) -> tuple[int, str]:
    """Does each answer address its question, does a caption describe the image? Chapter 01."""
    pairs, question = [], None
    for role, text in turns(sample):
        if role == "human":
            question = text
        elif role == "gpt":
            pairs.append((question or "", text))
            question = None
    if not pairs:
        return 1, "no assistant turn"
    if len(pairs) == 1 and sample.get("kind") in ("caption", "interleaved"):
        text, n = pairs[0][1], len(words(pairs[0][1]))
        if n and not set(words(text)) & MEDICAL_TERMS and sample.get("domain", "medical") == "medical":
            return 1, "the caption is off-topic: it names no modality, anatomy or finding"
        if n == 0:
            return 1, "empty caption"
        return (5, "a descriptive caption") if n >= 6 else (4, "a short caption") if n >= 3 else (3, "a very short caption")
    meta = sample.get("meta") or {}
    results = [answers_pair(q, a, question_type(q, meta, len(pairs) == 1)) if q else (4, "answer without a question")
               for q, a in pairs]
    worst = min(results, key=lambda r: r[0])
    return worst[0], worst[1] if len(results) == 1 else f"{worst[1]} (worst of {len(results)} turns)"


def fact_score(text: str) -> tuple[int, list[str]]:
    """Statements that contradict the fact table score 2 (one) or 1 (several). Chapter 01."""
    contradicted = [fact for pattern, fact in FALSE_CLAIMS if pattern.search(text)]
    if not contradicted:
        return 5, []
    return (2 if len(contradicted) == 1 else 1), contradicted
