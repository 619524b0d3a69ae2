"""Find the answer a free-text model response commits to.

Chapter 08 (evaluation) walks through these rules with examples. MedEvalKit does this with
lower-cased substring tests; we keep its order of preference (``\\boxed{}``, then
``<answer>``, then the text after an "answer is"-style marker) but match letters as tokens,
so that the article "a", the pronoun "I" or the "B" of "vitamin B12" are not read as options.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from infimed_lib.common import ParameterError
from infimed_lib.data.prompt_format import explicit_segment, parse_response
from infimed_lib.eval.answers import answer_tokens, contains_phrase, phrase_mentions
from infimed_lib.eval.text_metrics import normalize_answer

__all__ = ["extract_choice", "parse_response"]

_LATEX_WRAP = re.compile(r"\\(?:text|mathrm|textbf|mathbf|mbox)\s*\{([^{}]*)\}")
# Words after which a letter lists alternatives instead of choosing one ("A or B").
_CONNECTOR = re.compile(r"\s*(?:[,/&]|(?i:\bor\b|\band\b|\bnor\b|\bvs\b\.?|\bversus\b))\s*(?:\(\s*([A-Za-z])|([A-Z])\b)")
# A capital letter followed by one of these words is still an option ("B is correct");
# followed by any other lower-case word it is an article or pronoun ("A lesion", "I think").
_LETTER_VERBS = {
    "is", "was", "are", "would", "will", "seems", "appears", "looks", "could", "might", "should",
    "must", "matches", "fits", "best", "correct", "or", "and", "nor", "vs", "versus",
}
_NEGATION = re.compile(r"\b(?:not|n't|excluding|except|rule\s+out|ruling\s+out)\s+(?:option\s+|choice\s+)?\(?\s*$", re.I)

_AMBIGUOUS = "ambiguous"


def _clean(segment: str) -> str:
    segment = _LATEX_WRAP.sub(r"\1", segment)
    segment = re.sub(r"[*`#_]+", " ", segment)
    return segment.strip().strip("\"'“”‘’").strip()


def _check_options(options: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(options, Mapping) or not options:
        raise ParameterError("options", f"expected a non-empty dict letter -> text, got {options!r}")
    bad = [k for k in options if not (isinstance(k, str) and len(k) == 1 and k.isalpha() and k.isupper())]
    if bad:
        raise ParameterError("options", f"keys must be single capital letters, got {bad}")
    return {k: str(v) for k, v in options.items()}


def _letter_mentions(text: str, options: Mapping[str, str], explicit: bool) -> list[tuple[int, str]]:
    """(position, letter) of each place ``text`` names an option by its letter, negations dropped."""
    found: dict[int, str] = {}
    for m in re.finditer(r"\(\s*([A-Za-z])\s*(?:\)|[.:]\s)", text):  # "(A)", "(a)", "(A. CT scan)"
        found[m.start(1)] = m.group(1).upper()
    for m in re.finditer(r"(?<![\w'’\-\\])([A-Z])(?![\w'’\-])", text):
        if m.start(1) in found:
            continue
        after = re.match(r"\s+([a-z]+)", text[m.end():])
        before = text[: m.start()].lower()
        named = re.search(r"\b(?:option|choice|answer)\s*(?:is\s*)?:?\s*$", before)
        if after and after.group(1) not in _LETTER_VERBS and not named and not explicit:
            continue
        found[m.start(1)] = m.group(1)
    return sorted(
        (pos, letter) for pos, letter in found.items()
        if letter in options and not _NEGATION.search(text[:pos])
    )


def _leading_letter(segment: str, options: Mapping[str, str], explicit: bool) -> str | None:
    segment = re.sub(r"^(?:option|choice)\b\s*", "", segment, flags=re.I)
    m = re.match(r"\(?\s*([A-Za-z])\s*(\)|[.:]|(?=[\s,;，。；、\u4e00-\u9fff])|$)", segment)
    if not m or m.group(1).upper() not in options:
        return None
    letter, closer, rest = m.group(1), m.group(2), segment[m.end():]
    if letter.islower() and not (closer or not rest.strip()):
        return None  # "a benign lesion": the article, not option A
    if letter.isupper() and not explicit and not closer and rest.strip():
        word = re.match(r"\s+([a-z]+)", rest)
        if word and word.group(1) not in _LETTER_VERBS:
            return None  # "A lesion is seen": the article
    alternative = _CONNECTOR.match(rest)
    other = alternative and (alternative.group(1) or alternative.group(2)).upper()
    if other and other in options and other != letter.upper():
        return _AMBIGUOUS
    return letter.upper()


def _option_by_text(segment: str, options: Mapping[str, str], explicit: bool) -> str | None:
    norm = normalize_answer(segment)
    if not norm:
        return None
    texts = {k: normalize_answer(v) for k, v in options.items()}
    exact = [k for k, t in texts.items() if t and t == norm]
    if exact:
        return exact[0] if len(exact) == 1 else _AMBIGUOUS
    # "No, there is no lesion": the option text opens the answer; the longest one wins.
    leading = [k for k, t in texts.items() if t and norm.startswith(t + " ")]
    if leading and not explicit:
        best = max(leading, key=lambda k: len(texts[k]))
        # "Aortic dissection or pulmonary embolism", "Effusion and consolidation": another option
        # named (and not negated) after the opening one means no single commitment
        return _AMBIGUOUS if _option_in_text(segment, options) != best else best
    if explicit:
        inside = [k for k, t in texts.items() if t and re.search(rf"(?<!\w){re.escape(t)}(?!\w)", norm)]
        # An option whose text sits inside a longer matched option is the same mention.
        inside = [k for k in inside if not any(k != o and texts[k] in texts[o] for o in inside)]
        if len(inside) == 1:
            return inside[0]
        return _AMBIGUOUS if inside else None
    return None


def _resolve(segment: str, options: Mapping[str, str], explicit: bool) -> str | None:
    """A letter, _AMBIGUOUS, or None when ``segment`` commits to nothing."""
    segment = _clean(segment)
    if not segment:
        return None
    for rule in (_leading_letter, _option_by_text):
        choice = rule(segment, options, explicit)
        if choice is not None:
            return choice
    if explicit:
        letters = {letter for _, letter in _letter_mentions(segment, options, explicit)}
        if letters:
            return letters.pop() if len(letters) == 1 else _AMBIGUOUS
    return None


def _unique_letter(text: str, options: Mapping[str, str]) -> str | None:
    letters = {letter for _, letter in _letter_mentions(text, options, explicit=False)}
    if not letters:
        return None
    return letters.pop() if len(letters) == 1 else _AMBIGUOUS


def _without_option_list(segment: str, options: Mapping[str, str]) -> str | None:
    """``segment`` minus a copy of the option list ("A. CT\nB. MRI ..."); None if nothing else is left."""
    spans, letters = [], set()
    for letter, text in options.items():
        pattern = rf"(?<![A-Za-z])\(?{letter}\s*[.:)]\s*{re.escape(text.strip())}"
        for match in re.finditer(pattern, segment, flags=re.I):
            spans.append(match.span())
            letters.add(letter)
    if len(letters) < 2:
        return segment
    keep, last = [], 0
    for start, end in sorted(spans):
        keep.append(segment[last:max(last, start)])
        last = max(last, end)
    rest = "".join(keep) + segment[last:]
    rest = re.sub(r"^\W*(?:options?|choices?)\W*$", "", rest.strip(), flags=re.I | re.M)
    return rest if re.sub(r"[\W_]+", "", rest) else None


def _option_in_text(segment: str, options: Mapping[str, str]) -> str | None:
    """The one option whose text the segment names, not negated ("The image shows a pneumothorax.")."""
    texts = {letter: answer_tokens(text) for letter, text in options.items()}
    named = [letter for letter, tokens in texts.items() if tokens and phrase_mentions(segment, tokens)[0]]
    # an option named only as part of a longer named option ("tension pneumothorax") is that one
    named = [k for k in named if not any(k != o and contains_phrase(texts[o], texts[k]) for o in named)]
    return named[0] if len(named) == 1 else None


def extract_choice(response: str, options: Mapping[str, str]) -> str | None:
    """The option letter that ``response`` commits to, or None (Chapter 08).

    An explicit commitment wins and is read alone: the last ``\\boxed{}``, else the last
    ``<answer>`` tag, else the text after the last answer marker ("Final Answer: (C)",
    "Simple Answer: B", "**Answer:** A", "The answer is D", "选C"). Without one, the response
    must itself be an answer ("B", "b.", "(A. CT scan)", an option's text such as "No"), or its
    last paragraph, first paragraph, last line or whole text must name exactly one option
    letter, or else name exactly one option's text ("The image shows a pneumothorax."). Two
    different letters offered as alternatives ("A or B"), a negated letter or text ("not A",
    "without effusion"), a copy of the option list and nothing else, or no letter at all give
    None. Letters outside ``options`` never count.
    """
    if not isinstance(response, str):
        raise ParameterError("response", f"expected str, got {type(response).__name__}")
    options = _check_options(options)
    segment, explicit = explicit_segment(response)
    segment = _without_option_list(segment, options)
    if segment is None:
        return None
    if explicit:
        choice = _resolve(segment, options, explicit=True)
        return None if choice == _AMBIGUOUS else choice
    paragraphs = [p for p in re.split(r"\n\s*\n", segment) if p.strip()]
    lines = [line for line in segment.splitlines() if line.strip()]
    candidates = [segment]
    if paragraphs:
        candidates += [paragraphs[-1], paragraphs[0]]
    for piece in candidates:
        choice = _resolve(piece, options, explicit=False)
        if choice is not None:
            return None if choice == _AMBIGUOUS else choice
    for piece in ([lines[-1]] if lines else []) + [segment]:
        choice = _unique_letter(piece, options)
        if choice is not None:
            return None if choice == _AMBIGUOUS else choice
    return _option_in_text(_clean(segment), options)
