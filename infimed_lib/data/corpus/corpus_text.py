"""Words of the miniature corpus: names of modalities and findings, and caption styles.

Chapter 00 (overview) explains how each mini source imitates the writing of the real dataset it
stands for (PubMed figure captions, structured MedTrinity descriptions, chest X-ray reports,
teaching-case write-ups, web alt-text). Every caption is written from the image's true
attributes, so a caption states only what the image shows (unless a defect is injected).
"""
from __future__ import annotations

import numpy as np

MODALITY_PHRASES = {
    "CT": ("CT scan", "computed tomography image", "axial CT image"),
    "MRI": ("MRI", "magnetic resonance image", "axial T2-weighted MRI"),
    "X-ray": ("X-ray", "radiograph", "plain radiograph"),
    "histopathology": ("histopathology section", "H&E-stained section", "photomicrograph"),
    "dermoscopy": ("dermoscopic image", "dermoscopy photograph"),
    "ultrasound": ("ultrasound image", "sonogram"),
    "nuclear medicine": ("nuclear medicine scan", "scintigraphy image"),
    "mammography": ("mammogram",), "PET": ("PET image",), "angiography": ("angiogram",),
}
LESION_WORDS = {"CT": "hyperdense lesion", "MRI": "hyperintense lesion", "X-ray": "opacity",
                "histopathology": "tumour nest", "dermoscopy": "pigmented lesion"}
NORMAL_WORDS = {"CT": "no focal lesion", "MRI": "no abnormal signal", "X-ray": "no focal opacity",
                "histopathology": "no tumour", "dermoscopy": "no pigmented lesion"}
DIAGNOSES = {"regular": "benign nevus", "irregular": "melanoma"}
ZH = {
    "yes": "是", "no": "否", "left": "左侧", "right": "右侧", "upper": "上部", "lower": "下部",
    "small": "小", "large": "大", "head": "头部", "chest": "胸部", "abdomen": "腹部", "knee": "膝关节",
    "CT": "CT", "MRI": "核磁共振", "X-ray": "X光", "upper left": "左上", "upper right": "右上",
    "lower left": "左下", "lower right": "右下", "ultrasound": "超声", "nuclear medicine": "核医学",
}
# Plausible-sounding statements that contradict basic anatomy or medicine: a wrong_fact defect
# may append one to a long caption.
FALSE_FACTS = (
    "The liver normally lies in the left lower abdomen.",
    "The heart is located below the diaphragm.",
    "Bone appears dark on CT because it absorbs no X-rays.",
    "On T2-weighted MRI, fluid normally appears black.",
    "A melanoma is always perfectly round and evenly coloured.",
    "Lymph nodes contain no cell nuclei.",
    "The knee joint connects the humerus and the radius.",
)


def pick(rng: np.random.Generator, options) -> str:
    return str(options[int(rng.integers(0, len(options)))])


def location(attrs: dict) -> str:
    """Quadrant of the lesion as seen in the image, e.g. "upper left"."""
    return f"{attrs['level']} {attrs['side']}"


def subject(attrs: dict) -> str:
    """What the image is of: "of the chest", "of liver tissue", "of the skin"."""
    if attrs.get("tissue"):
        return f"of {attrs['tissue']} tissue"
    part = attrs.get("body_part")
    return f"of the {part}" if part else ""


def finding(attrs: dict) -> str:
    """The lesion sentence fragment, or the normal finding (Chapter 00)."""
    modality = attrs["modality"]
    if attrs.get("lesion") is None:
        return ""
    if not attrs["lesion"]:
        return NORMAL_WORDS[modality]
    word = LESION_WORDS[modality]
    if modality == "dermoscopy":
        border = "an irregular border and blue-black dots" if attrs["pattern"] == "irregular" else "a smooth border and even colour"
        return f"a {attrs['size']} {word} with {border} in the {location(attrs)} area, consistent with {DIAGNOSES[attrs['pattern']]}"
    return f"a {attrs['size']} {word} in the {location(attrs)} region"


def _with_finding(head: str, attrs: dict, joiner: str) -> str:
    text = finding(attrs)
    if not text:
        return head + "."
    if text.startswith("no "):
        return f"{head} with {text}."
    return f"{head} {joiner} {text}."


def caption(style: str, attrs: dict, rng: np.random.Generator) -> str:
    """A caption of ``attrs`` in the writing style of one mini source (Chapter 00)."""
    mod = pick(rng, MODALITY_PHRASES[attrs["modality"]])
    head = f"{mod} {subject(attrs)}".strip()
    Head = head[0].upper() + head[1:]
    if style == "short":  # LLaVA-Med alignment, ROCO: one figure-caption line
        return _with_finding(Head, attrs, pick(rng, ("showing", "demonstrating", "revealing")))
    if style == "terse":  # ROCOv2: clipped radiology shorthand
        text = finding(attrs)
        return f"{Head}: {text}." if text else f"{Head}."
    if style == "detailed":  # PubMedVision: several descriptive sentences
        return _detailed(attrs, Head, rng)
    if style == "structured":  # MedTrinity: labelled fields
        fields = [f"Modality: {attrs['modality']}.", f"Region: {subject(attrs)[3:] or 'not stated'}."]
        if attrs.get("lesion") is not None:
            fields.append(f"Findings: {finding(attrs)}.")
            fields.append(f"Impression: {'focal lesion' if attrs['lesion'] else 'normal study'}.")
        return " ".join(fields)
    if style == "figure":  # LLaVA-Med 60K-IM / PMC-OA: numbered figure with panel letters
        number, panel = int(rng.integers(1, 7)), pick(rng, "ABCD")
        return f"Figure {number}{panel}. " + _with_finding(Head, attrs, "showing") + pick(
            rng, ("", " Scale bar, 10 mm.", " Arrow marks the finding.", " (original magnification).")).rstrip()
    if style == "report":  # IU-Xray: findings and impression of a radiology report
        return _report(attrs, rng)
    if style == "case":  # MedPix: a teaching case
        age, sex = int(rng.integers(18, 86)), pick(rng, ("man", "woman"))
        complaint = pick(rng, ("pain", "swelling", "a routine check-up", "fever", "weight loss"))
        opening = f"{article(str(age)).capitalize()} {age}-year-old {sex} presented with {complaint}."
        return f"{opening} {_with_finding(Head, attrs, 'shows')}"
    raise ValueError(f"unknown caption style {style!r}")


def _detailed(attrs: dict, head: str, rng: np.random.Generator) -> str:
    sentences = [f"This is {article(head)} {head[0].lower() + head[1:]}."]
    if attrs.get("lesion") is None:
        sentences.append("The anatomy is shown without annotations.")
    elif attrs["lesion"]:
        sentences.append(f"There is {finding(attrs)}.")
        sentences.append(pick(rng, (f"The lesion is {attrs['size']} and clearly separated from the background.",
                                    f"Its {attrs['size']} size and {location(attrs)} position are the key findings.")))
    else:
        sentences.append(f"The image shows {finding(attrs)}.")
        sentences.append(pick(rng, ("The study appears normal.", "No abnormality is identified.")))
    return " ".join(sentences)


def _report(attrs: dict, rng: np.random.Generator) -> str:
    base = pick(rng, ("The cardiomediastinal silhouette is within normal limits.",
                      "Heart size is normal.", "No pleural effusion or pneumothorax."))
    if attrs.get("lesion"):
        found = f"There is a {attrs['size']} opacity in the {location(attrs)} region."
        impression = f"{attrs['size'].capitalize()} {location(attrs)} opacity."
    else:
        found, impression = "The lungs are clear.", "No acute cardiopulmonary abnormality."
    return f"FINDINGS: {base} {found} IMPRESSION: {impression}"


def article(text: str) -> str:
    """ "a" or "an" for a word, including the initialisms that start with a vowel sound."""
    return "an" if text[:1].lower() in "aeiou" or text.startswith(("MRI", "X-ray", "H&E", "8", "18")) else "a"


def scene_caption(style: str, attrs: dict, rng: np.random.Generator) -> str:
    """A caption of a shapes scene: web alt-text ("alt") or a clean BLIP-style sentence ("blip") (Chapter 00)."""
    parts = [f"{s['color']} {s['shape']}" for s in attrs["shapes"]]
    if style == "alt":
        return ", ".join(parts) + f" on {attrs['background']} background" + pick(rng, ("", " stock image", " clipart"))
    placed = [f"a {s['size']} {s['color']} {s['shape']} at the {s['position']}" for s in attrs["shapes"]]
    listed = placed[0] if len(placed) == 1 else ", ".join(placed[:-1]) + " and " + placed[-1]
    return f"{listed[0].upper()}{listed[1:]} on a {attrs['background']} background."


def count_word(n: int) -> str:
    return ("zero", "one", "two", "three", "four")[n]
