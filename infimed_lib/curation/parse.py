"""Reading a judge's reply into six integer scores, accepting only what is unambiguous.

Chapter 01 (data curation) shows the reply forms real judges produce and which ones we accept.
"""
from __future__ import annotations

import ast
import json
import re
from typing import Any

from infimed_lib.curation.rubric import SCORE_KEYS

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_FRACTION = re.compile(r"^\s*(\d+(?:\.0+)?)\s*/\s*5\s*$")

# The paper's headings and its JSON keys differ ("Caption/Dialogue Completeness" vs
# "Dialogue Completeness", "Overall Score" vs "Overall"); both spellings mean one key.
_ALIASES = {
    "caption/dialogue completeness": "Dialogue Completeness",
    "caption completeness": "Dialogue Completeness",
    "overall score": "Overall",
}
_CANONICAL = {key.lower(): key for key in SCORE_KEYS} | _ALIASES


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out and out[key] != value:
            raise _DuplicateKey(f"key {key!r} appears twice with different values")
        out[key] = value
    return out


def _balanced_objects(text: str) -> list[str]:
    """Outermost ``{...}`` spans, skipping braces inside single- or double-quoted strings."""
    spans, depth, start, quote, escaped = [], 0, -1, "", False
    for i, char in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
            continue
        if char in "\"'" and depth > 0:
            # An apostrophe inside a word (patient's) is prose, not a string opener.
            if char == "'" and i > 0 and text[i - 1].isalnum() and i + 1 < len(text) and text[i + 1].isalnum():
                continue
            quote = char
        elif char == "{":
            if depth == 0:
                start = i
            depth += 1
        elif char == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                spans.append(text[start : i + 1])
    return spans


def _load_lenient(span: str) -> Any:
    """JSON, then JSON without trailing commas, then a Python literal (single quotes)."""
    attempts = [span, _TRAILING_COMMA.sub(r"\1", span)]
    for attempt in attempts:
        try:
            return json.loads(attempt, object_pairs_hook=_no_duplicates)
        except _DuplicateKey:
            raise
        except json.JSONDecodeError:
            pass
    pythonic = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", re.sub(r"\bnull\b", "None", span)))
    for attempt in (span, pythonic):
        try:
            tree = ast.parse(attempt, mode="eval")
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                keys = [ast.literal_eval(k) for k in node.keys if isinstance(k, ast.Constant)]
                if len(keys) != len(set(keys)):
                    raise _DuplicateKey("a key appears twice in one object")
        try:
            return ast.literal_eval(tree)
        except ValueError:
            continue
    return None


def _score(key: str, value: Any) -> int:
    if isinstance(value, dict):
        inner = {str(k).strip().lower(): v for k, v in value.items()}
        if "score" not in inner:
            raise ValueError(f"'{key}': object without a 'score' field: {value!r}")
        value = inner["score"]
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        raise ValueError(f"'{key}': score {value!r} is not a number")
    if isinstance(value, str):
        text = value.strip()
        fraction = _FRACTION.match(text)
        try:
            value = float(fraction.group(1) if fraction else text)
        except ValueError:
            raise ValueError(f"'{key}': score {value!r} is not a number") from None
    if not float(value).is_integer():
        raise ValueError(f"'{key}': score {value!r} is not a whole number on the 1-5 scale")
    score = int(value)
    if not 1 <= score <= 5:
        raise ValueError(f"'{key}': score {score} is outside 1-5")
    return score


def _find_scores(obj: Any) -> dict[str, Any] | None:
    """The mapping that holds the score keys: the object itself or one wrapper level down."""
    if not isinstance(obj, dict):
        return None
    found: dict[str, Any] = {}
    for raw_key, value in obj.items():
        key = _CANONICAL.get(" ".join(str(raw_key).split()).lower())
        if key is None:
            continue
        if key in found and found[key] != value:
            raise ValueError(f"'{key}' is given twice with different values")
        found[key] = value
    if found:
        return found
    nested = [v for v in obj.values() if isinstance(v, dict)]
    if len(nested) == 1:
        return _find_scores(nested[0])
    return None


def parse_judgement(text: str) -> dict[str, int]:
    """Parse a judge reply into the six A.2 keys -> integer scores 1-5, or raise ValueError.

    Accepted (unambiguous): code fences and prose around the JSON, ``<think>`` blocks, single
    quotes, trailing commas, scores as ints, integral floats or numeric strings ("4", 4.0,
    "4/5"), nested ``{"score": ..}`` or bare numbers, the paper's heading spellings of two keys,
    repeated objects that agree. Refused: missing keys, scores outside 1-5 or not whole,
    duplicate keys or objects that disagree, no JSON object at all. Chapter 01.
    """
    if not isinstance(text, str):
        raise ValueError(f"judge reply must be a string, got {type(text).__name__}")
    cleaned = _THINK.sub(" ", text)
    candidates: list[dict[str, Any]] = []
    broken = 0
    try:  # the common case, a bare JSON object, needs no scanning
        spans = [cleaned] if isinstance(json.loads(cleaned), dict) else _balanced_objects(cleaned)
    except (json.JSONDecodeError, _DuplicateKey):
        spans = _balanced_objects(cleaned)
    for span in spans:
        try:
            obj = _load_lenient(span)
        except _DuplicateKey as error:
            raise ValueError(f"ambiguous judge reply: {error}") from None
        if obj is None:
            broken += 1
            continue
        found = _find_scores(obj)
        if found:
            candidates.append(found)
    if not candidates:
        why = "a JSON object that does not parse" if broken else "no JSON object with the score keys"
        raise ValueError(f"judge reply has {why}: {text[:120]!r}")
    parsed = []
    for found in candidates:
        missing = [key for key in SCORE_KEYS if key not in found]
        if missing:
            raise ValueError(f"judge reply is missing score keys: {', '.join(missing)}")
        parsed.append({key: _score(key, found[key]) for key in SCORE_KEYS})
    if any(p != parsed[0] for p in parsed[1:]):
        raise ValueError(f"ambiguous judge reply: {len(parsed)} JSON objects with different scores")
    return parsed[0]


def reply_comments(text: str) -> dict[str, str]:
    """The judge's comment per score key, best effort (for display only; never raises). Chapter 01."""
    for span in _balanced_objects(_THINK.sub(" ", text)):
        try:
            found = _find_scores(_load_lenient(span))
        except ValueError:
            continue
        if found:
            return {k: str(v.get("comment", "")) if isinstance(v, dict) else "" for k, v in found.items()}
    return {}
