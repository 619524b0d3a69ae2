"""The paper's five-dimension rubric: dimension names, the judge prompt, and how a sample is shown.

Chapter 01 (data curation) explains the rubric; the prompt itself is the paper's Appendix A.2,
kept verbatim as the data file ``infimed_lib/resources/judge_prompt_a2.txt``.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Mapping

# Spelled exactly as the keys of the paper's JSON response format (Appendix A.2).
DIMENSIONS: tuple[str, ...] = (
    "Medical Information Accuracy",
    "Language Clarity and Fluency",
    "Dialogue Completeness",
    "Medical Imaging Relevance",
    "Practicality",
)
OVERALL = "Overall"
SCORE_KEYS: tuple[str, ...] = DIMENSIONS + (OVERALL,)
IMAGING = "Medical Imaging Relevance"

# Short labels for tables and figure axes; the long names stay the data keys.
SHORT_NAMES: dict[str, str] = {
    "Medical Information Accuracy": "accuracy",
    "Language Clarity and Fluency": "language",
    "Dialogue Completeness": "completeness",
    "Medical Imaging Relevance": "imaging",
    "Practicality": "practicality",
    "Overall": "overall",
}

PROMPT_RESOURCE = "judge_prompt_a2.txt"
SAMPLE_SLOT = "{s}"

# The paper names three sample types; our schema's ``kind`` maps onto them (and two more).
KIND_DESCRIPTIONS: dict[str, str] = {
    "vqa": "visual question answering",
    "caption": "captioning",
    "dialogue": "case reporting (multi-turn dialogue)",
    "instruction": "instruction following",
    "interleaved": "interleaved image-text document",
}
ROLE_NAMES = {"human": "User", "gpt": "Assistant", "system": "System"}
DEFAULT_META_KEYS: tuple[str, ...] = ("modality", "question_type", "body_part", "lang")


def load_prompt_template(path: str | Path | None = None) -> str:
    """Return the judge prompt with its ``{s}`` slot; the bundled A.2 prompt when ``path`` is None.

    Leading ``#`` header lines (the citation) are stripped. Chapter 01 shows the prompt.
    """
    if path is None:
        # Beside the package (installed as package data): plain paths work for source trees,
        # wheels and editable installs alike, where importlib.resources trips on the latter.
        text = (Path(__file__).resolve().parent.parent / "resources" / PROMPT_RESOURCE).read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    lines = text.splitlines()
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    template = "\n".join(lines).strip() + "\n"
    if template.count(SAMPLE_SLOT) != 1:
        raise ValueError(
            f"judge prompt {path or PROMPT_RESOURCE}: needs exactly one '{SAMPLE_SLOT}' slot "
            f"for the sample, found {template.count(SAMPLE_SLOT)}"
        )
    return template


def prompt_hash(template: str) -> str:
    """Short content hash of a prompt template: part of every cache key (Chapter 01)."""
    return hashlib.sha256(template.encode("utf-8")).hexdigest()[:16]


def _replace_markers(text: str, counter: list[int]) -> str:
    parts = text.split("<image>")
    out = [parts[0]]
    for part in parts[1:]:
        counter[0] += 1
        out.append(f"[image {counter[0]}]" + part)
    return "".join(out)


def render_sample(
    sample: Mapping[str, Any],
    images_attached: bool,
    meta_keys: tuple[str, ...] = DEFAULT_META_KEYS,
) -> str:
    """Render one schema sample as the text that fills the prompt's ``{s}`` slot.

    One documented form (Chapter 01): a header with the sample type and its image count, the
    whitelisted ``meta`` fields, then each turn as ``User:`` / ``Assistant:`` with every
    ``<image>`` marker written ``[image k]``. When ``images_attached`` the images travel with the
    request in order; otherwise the header says the judge cannot see them, so a text-only
    judge is told the truth rather than left to guess.
    """
    kind = sample.get("kind", "")
    images = list(sample.get("images") or [])
    lines = [f"Sample type: {KIND_DESCRIPTIONS.get(kind, kind or 'unknown')}"]
    if not images:
        lines.append("Images: none (no image is provided with this sample)")
    elif images_attached:
        lines.append(f"Images: {len(images)}, attached to this message in order as image 1..{len(images)}")
    else:
        lines.append(f"Images: {len(images)} in the sample, not shown to you (text-only evaluation)")
    meta = sample.get("meta") or {}
    for key in meta_keys:
        if meta.get(key) not in (None, ""):
            lines.append(f"{key.replace('_', ' ').capitalize()}: {meta[key]}")
    lines.append("Conversation:")
    counter = [0]
    for turn in sample.get("conversations") or []:
        role = ROLE_NAMES.get(turn.get("from"), str(turn.get("from")))
        lines.append(f"{role}: {_replace_markers(str(turn.get('value', '')), counter).strip()}")
    return "\n".join(lines)


def render_prompt(template: str, sample: Mapping[str, Any], images_attached: bool) -> str:
    """Fill the template's ``{s}`` slot with :func:`render_sample` (plain replace, since the
    template's JSON braces would break ``str.format``). Chapter 01."""
    return template.replace(SAMPLE_SLOT, render_sample(sample, images_attached), 1)


def apply_no_image_rule(scores: Mapping[str, int], has_image: bool) -> tuple[dict[str, int], bool]:
    """Enforce A.2's rule "no image -> Medical Imaging Relevance = 1".

    Returns the scores and whether the judge's answer had to be corrected; judges that ignore
    the rule would otherwise make text-only samples look image-relevant. Chapter 01.
    """
    out = dict(scores)
    if has_image or out.get(IMAGING) == 1:
        return out, False
    out[IMAGING] = 1
    return out, True
