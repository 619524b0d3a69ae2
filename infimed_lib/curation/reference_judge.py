"""The offline reference judge: the A.2 rubric scored by transparent rules, no model needed.

It is the default judge so that Chapter 01 (data curation) runs anywhere. It reads only the
sample (its turns, its ``meta``, its image pixels), never the defect labels. What it can judge:
non-words and repetition (language), whether answers fit their questions (completeness), a
small table of textbook facts and modality consistency (accuracy), and whether the image's
colour profile fits the modality the text names (imaging). What it cannot: whether a finding
is really in the image, or any medical fact outside its table -- a real judge is needed there.
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Mapping

import numpy as np

from infimed_lib.curation.judges import JudgeReply
from infimed_lib.curation.reference_lexicon import modality_names
from infimed_lib.curation.reference_rules import Speller, completeness_score, fact_score, language_score, turns
from infimed_lib.curation.rubric import IMAGING, OVERALL
from infimed_lib.data.images import load_image

RULES_VERSION = "v2"  # v2: a \boxed{} answer is judged by what it commits to

# Modality words -> the image profiles such an image may have. Radiographs are projections
# that fill the frame; CT slices sit on a black background; MRI is greyscale but often cropped
# to fill the frame; H&E-stained tissue is pink-purple; dermoscopy shows skin tones. Left out,
# because their colour says nothing: ultrasound (colour Doppler), PET and nuclear medicine.
GREY = {"greyscale, fills the frame", "greyscale, on black", "greyscale"}
MODALITY_PROFILES = [
    (r"\b(x-?rays?|radiographs?|radiography|plain film)\b", "radiograph", {"greyscale, fills the frame", "greyscale"}),
    (r"\b(ct|computed tomography)\b", "CT", {"greyscale, on black", "greyscale"}),
    (r"\b(mri|mr|magnetic resonance)\b", "MRI", GREY),
    (r"\b(mammogra\w*|angiogra\w*)\b", "greyscale study", GREY),
    (r"\b(histopatholog\w*|histolog\w*|h&e|hematoxylin|micrograph\w*|photomicrograph\w*|microscop\w*)\b",
     "stained tissue", {"stained tissue"}),
    (r"\b(dermoscop\w*|dermatoscop\w*)\b", "dermoscopy", {"skin"}),
]
MODALITY_PROFILES = [(re.compile(p, re.I), name, profiles) for p, name, profiles in MODALITY_PROFILES]
GREY_SATURATION = 0.08  # mean HSV saturation below this: a greyscale image
DARK = 0.08  # grey level (0-1) under which a pixel counts as background black
FILLS_FRAME, ON_BLACK = 0.12, 0.30  # share of black pixels: below, a projection; above, a slice


def claimed_modalities(text: str) -> dict[str, set[str]]:
    """Modality kinds named in ``text`` -> the image profiles each allows. Chapter 01."""
    return {name: profiles for pattern, name, profiles in MODALITY_PROFILES if pattern.search(text)}


def image_profile(image) -> str:
    """What a PIL image looks like: "greyscale, fills the frame", "greyscale, on black",
    "greyscale" (in between), "stained tissue" (pink-purple), "skin" (orange-brown) or
    "other colour", from its saturation, the mean hue of its coloured pixels and its share of
    black pixels. Chapter 01."""
    small = image.convert("RGB")
    if max(small.size) > 128:  # the statistics need no detail; large scans are reduced first
        small = small.resize((96, 96))
    hsv = np.asarray(small.convert("HSV"), dtype=np.float64) / 255.0
    saturation = hsv[..., 1]
    if saturation.mean() < GREY_SATURATION:
        dark = float((np.asarray(small.convert("L"), dtype=np.float64) / 255.0 < DARK).mean())
        if dark < FILLS_FRAME:
            return "greyscale, fills the frame"
        return "greyscale, on black" if dark > ON_BLACK else "greyscale"
    hue = hsv[..., 0][saturation > GREY_SATURATION] * 2 * np.pi
    # Circular mean: hues either side of red (350 and 10 degrees) must average to red.
    angle = np.degrees(np.arctan2(np.sin(hue).mean(), np.cos(hue).mean())) % 360
    if 260 <= angle < 350:
        return "stained tissue"
    if angle >= 350 or angle < 50:
        return "skin"
    return "other colour"


class ReferenceJudge:
    """Rule-based A.2 judge (Chapter 01 lists its rules).

    ``vocabulary``: word -> number of samples using it (``reference_rules.known_vocabulary``),
    for the misspelling rule; None limits that rule to spellings no word has.
    ``use_images=False`` gives the text-only variant, which cannot check the image against the
    text: comparing the two shows what image access buys.
    """

    max_concurrency = 1  # about a millisecond per sample, mostly in C: threads would only add overhead

    def __init__(self, vocabulary: Mapping[str, int] | None = None, use_images: bool = True):
        self.vocabulary = dict(vocabulary) if vocabulary is not None else None
        self.speller = Speller(self.vocabulary)
        self.takes_images = bool(use_images)
        vocab_tag = ""
        if self.vocabulary is not None:
            listing = "\n".join(f"{w}\t{n}" for w, n in sorted(self.vocabulary.items()))
            vocab_tag = "+vocab:" + hashlib.sha256(listing.encode("utf-8")).hexdigest()[:8]
        self.judge_id = f"reference{'' if use_images else '-text'}/{RULES_VERSION}{vocab_tag}"

    def _imaging(self, sample: Mapping[str, Any], images: list[str], claims: dict[str, set[str]]) -> tuple[int, str]:
        markers = sum(str(t.get("value", "")).count("<image>") for t in sample.get("conversations") or [])
        if not images:
            if markers:
                return 1, f"No image provided, though the text refers to {markers}. Assigning a score of 1 by default."
            return 1, "No image provided. Assigning a score of 1 by default."
        if markers != len(images):
            return 3, f"{len(images)} image(s) but {markers} <image> marker(s) in the text"
        if not self.takes_images:
            return 4, "image present and referenced; not inspected (text-only judge)"
        try:
            looks = [image_profile(load_image(ref)) for ref in images]
        except ValueError as error:
            return 1, f"image unreadable: {error}"
        if not claims:
            return 4, f"image present ({'; '.join(looks)}); no modality stated to check it against"
        misfits = [look for look in looks if not any(look in allowed for allowed in claims.values())]
        if not misfits:
            return 5, f"the image ({'; '.join(looks)}) fits the stated {' / '.join(sorted(claims))}"
        return 2, f"the sample states {' / '.join(sorted(claims))}, but the image looks {misfits[0]}"

    @staticmethod
    def _accuracy(answers: str, meta_modality: str) -> tuple[int, str]:
        score, facts = fact_score(answers)
        reasons = [f"contradicts: {fact}" for fact in facts]
        stated, recorded = modality_names(answers), modality_names(meta_modality)
        if stated and recorded and not stated & recorded:
            score = min(score, 2)
            reasons.append(f"the text says {' / '.join(sorted(stated))}; the recorded modality is {meta_modality}")
        return score, "; ".join(reasons) or "no contradiction with the fact table or the recorded modality"

    def judge(self, sample: Mapping[str, Any], prompt: str, images: list[str]) -> JudgeReply:
        # Claims come from what the sample asserts -- assistant turns and the recorded modality --
        # not from questions: "Is this an MRI?" claims nothing.
        answers = " ".join(text for role, text in turns(sample) if role != "human")
        meta_modality = str((sample.get("meta") or {}).get("modality") or "")
        recorded = claimed_modalities(meta_modality)
        accuracy = self._accuracy(answers, meta_modality)
        language = language_score(sample, self.speller)
        completeness = completeness_score(sample)
        imaging = self._imaging(sample, images, claimed_modalities(answers) | recorded)
        practicality = min(accuracy[0], language[0], completeness[0])
        # Imaging counts towards the overall score when the sample is about an image.
        markers = any("<image>" in str(t.get("value", "")) for t in sample.get("conversations") or [])
        about_image = bool(images) or markers or sample.get("kind") in ("vqa", "caption")
        overall = min(practicality, imaging[0]) if about_image else practicality
        reply = {
            "Medical Information Accuracy": {"score": accuracy[0], "comment": accuracy[1]},
            "Language Clarity and Fluency": {"score": language[0], "comment": language[1]},
            "Dialogue Completeness": {"score": completeness[0], "comment": completeness[1]},
            IMAGING: {"score": imaging[0], "comment": imaging[1]},
            "Practicality": {"score": practicality, "comment": "the weakest of accuracy, language and completeness"},
            OVERALL: {"score": overall, "comment": "the weakest dimension" + (" including imaging" if about_image else "")},
        }
        return JudgeReply(text=json.dumps(reply, ensure_ascii=False))
