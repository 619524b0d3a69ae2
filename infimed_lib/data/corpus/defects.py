"""Deliberate defects injected into the miniature corpus, so that curation can be measured.

Chapter 01 (data curation) lists the five defect types and why each maps onto one of the paper's five
quality dimensions (Section 3.2): ``wrong_fact`` (medical accuracy), ``garbled_language``
(clarity), ``ignores_question`` (completeness), ``image_mismatch`` (image relevance) and
``missing_image`` (a sample that cannot be used as intended). The label of each injected
defect is written to ``labels/defects.jsonl`` only; a defective sample looks like any other.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from PIL import Image

from infimed_lib.data.corpus.corpus_text import FALSE_FACTS, pick

DEFECT_TYPES = ("wrong_fact", "garbled_language", "ignores_question", "image_mismatch", "missing_image")
MARKER = "<image>"
OFF_TOPIC_EN = (
    "Thank you for your question. Please remember to drink enough water every day.",
    "The weather was sunny for most of the week.",
    "Photosynthesis takes place in the chloroplasts of plant cells.",
    "Click here to subscribe to our newsletter.",
    "This image was uploaded in 2016 by the department.",
    "Our clinic is open from Monday to Friday.",
)
OFF_TOPIC_ZH = ("谢谢你的提问，请记得多喝水。", "本周大部分时间天气晴朗。", "我们的诊所周一至周五开放。")


@dataclass
class Draft:
    """A sample before it is written: its text, its images, and how to spoil it (Chapter 01).

    ``wrong`` returns the conversations with a factual error (the text contradicts the image);
    ``mismatch`` returns images of another subject than the text describes.
    """

    conversations: list[dict]
    images: list[Image.Image]
    meta: dict = field(default_factory=dict)
    wrong: Callable[[np.random.Generator], list[dict]] | None = None
    mismatch: Callable[[np.random.Generator], list[Image.Image]] | None = None


def defect_counts(n: int, rate: float, mix: dict[str, float]) -> dict[str, int]:
    """How many of ``n`` samples get each defect: ``round(rate * n)`` in all, split by ``mix`` (Chapter 01).

    Largest-remainder rounding, so the counts add up exactly and the realised rate is as close
    to the nominal one as ``n`` allows.
    """
    total = int(round(rate * n))
    weights = np.array([mix.get(t, 0.0) for t in DEFECT_TYPES], dtype=np.float64)
    if total == 0 or weights.sum() <= 0:
        return {t: 0 for t in DEFECT_TYPES}
    exact = weights / weights.sum() * total
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: total - counts.sum()]:
        counts[i] += 1
    return {t: int(c) for t, c in zip(DEFECT_TYPES, counts)}


def assign_defects(n: int, counts: dict[str, int], rng: np.random.Generator) -> list[str | None]:
    """A defect type (or None) for each of ``n`` samples, with exactly ``counts`` of each type (Chapter 01)."""
    labels: list[str | None] = [t for t in DEFECT_TYPES for _ in range(counts.get(t, 0))]
    if len(labels) > n:
        raise ValueError(f"defect counts {counts} exceed the {n} samples")
    labels += [None] * (n - len(labels))
    return [labels[i] for i in rng.permutation(n)]


def _garble_word(word: str, rng: np.random.Generator) -> str:
    if len(word) < 4 or not word.isalpha():
        return word
    letters = list(word)
    i = int(rng.integers(1, len(letters) - 2))
    letters[i], letters[i + 1] = letters[i + 1], letters[i]
    if rng.uniform() < 0.3:
        letters.insert(i, letters[i])
    return "".join(letters)


def _garble_line(line: str, rng: np.random.Generator) -> str:
    if not line.strip():
        return line
    if not re.search(r"[A-Za-z]", line):
        # Chinese (or symbols only): shuffle the characters of the sentence
        chars = list(line)
        return "".join(chars[i] for i in rng.permutation(len(chars)))
    words = line.split()
    if len(words) < 3:
        return line  # a one-word answer has no word order to break
    for start in range(0, len(words) - 2, 4):
        if rng.uniform() < 0.6:
            block = words[start:start + 3]
            words[start:start + 3] = [block[i] for i in rng.permutation(len(block))]
    return " ".join(_garble_word(w, rng) if rng.uniform() < 0.45 else w for w in words)


def garble(text: str, rng: np.random.Generator) -> str:
    """Scramble word order in places and add typos, keeping ``<image>`` markers and line breaks (Chapter 01)."""
    pieces = re.split(f"({re.escape(MARKER)})", text)
    return "".join(piece if piece == MARKER else "\n".join(_garble_line(line, rng) for line in piece.split("\n"))
                   for piece in pieces)


def _strip_markers(text: str) -> str:
    return text.replace(MARKER + "\n", "").replace(MARKER, "").strip()


def apply_defect(draft: Draft, defect: str | None, rng: np.random.Generator) -> Draft:
    """Spoil ``draft`` with ``defect`` (None leaves it clean). The sample's meta is untouched (Chapter 01)."""
    if defect is None:
        return draft
    turns = [dict(t) for t in draft.conversations]
    if defect == "wrong_fact":
        if draft.wrong is None:
            raise ValueError("this sample has no way to state a wrong fact")
        turns = draft.wrong(rng)
    elif defect == "garbled_language":
        for turn in turns:
            turn["value"] = garble(turn["value"], rng)
        if turns == draft.conversations:
            # short texts can come through the random scrambling unchanged; a label must not lie
            longest = max(turns, key=lambda t: len(t["value"]))
            longest["value"] = " ".join(reversed(longest["value"].split(" ")))
    elif defect == "ignores_question":
        zh = any(re.search(r"[\u4e00-\u9fff]", t["value"]) for t in turns)
        for turn in turns:
            if turn["from"] == "gpt":
                markers = MARKER * turn["value"].count(MARKER)  # interleaved text keeps its image slots
                turn["value"] = pick(rng, OFF_TOPIC_ZH if zh else OFF_TOPIC_EN) + ("\n" + markers if markers else "")
    elif defect == "image_mismatch":
        if draft.mismatch is None:
            raise ValueError("this sample has no way to swap its image")
        return Draft(turns, draft.mismatch(rng), draft.meta, draft.wrong, draft.mismatch)
    elif defect == "missing_image":
        for turn in turns:
            turn["value"] = _strip_markers(turn["value"]) or "Describe the image."
        return Draft(turns, [], draft.meta, draft.wrong, draft.mismatch)
    else:
        raise ValueError(f"defect {defect!r} is not one of {list(DEFECT_TYPES)}")
    return Draft(turns, draft.images, draft.meta, draft.wrong, draft.mismatch)


def perturb(attrs: dict, rng: np.random.Generator,
            keys: tuple[str, ...] = ("lesion", "side", "level", "size", "body_part", "tissue", "modality")) -> dict:
    """A copy of a medical image's attributes with one visible finding changed (for wrong_fact) (Chapter 01).

    ``keys`` limits the change to attributes that the text at hand actually states.
    """
    other = dict(attrs)
    usable = [k for k in keys if other.get(k) is not None]
    if attrs["modality"] == "dermoscopy" and "body_part" in usable:
        usable.remove("body_part")  # "skin" has no sensible alternative
    if attrs.get("origin") == "dicom":
        usable = ["modality"]
    key = pick(rng, usable)
    swaps = {"side": ("left", "right"), "level": ("upper", "lower"), "size": ("small", "large")}
    if key == "lesion":
        other["lesion"] = not attrs["lesion"]
        if other["lesion"]:
            other.update(side=pick(rng, ("left", "right")), level=pick(rng, ("upper", "lower")),
                         size=pick(rng, ("small", "large")))
    elif key in swaps:
        a, b = swaps[key]
        other[key] = b if attrs[key] == a else a
    elif key == "body_part":
        other[key] = pick(rng, [p for p in ("head", "chest", "abdomen", "knee") if p != attrs[key]])
    elif key == "tissue":
        other[key] = pick(rng, [t for t in ("colon", "liver", "lymph node") if t != attrs[key]])
    else:
        pool = ("CT", "MRI", "X-ray", "ultrasound") if attrs.get("origin") == "dicom" else \
            ("CT", "MRI", "X-ray", "histopathology", "dermoscopy")
        other["modality"] = pick(rng, [m for m in pool if m != attrs["modality"]])
    if other.get("lesion") and other["modality"] == "dermoscopy" and not other.get("pattern"):
        other["pattern"] = pick(rng, ("regular", "irregular"))
    return other


def false_fact(rng: np.random.Generator) -> str:
    """A statement that contradicts basic anatomy or medicine (Chapter 01)."""
    return pick(rng, FALSE_FACTS)
