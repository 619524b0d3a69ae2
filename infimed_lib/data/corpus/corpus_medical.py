"""Builders of the medical mini sources: captions, VQA, instructions and dialogues.

Chapter 00 (overview) describes each mini source and the real dataset it imitates. A builder is a
pair (plan, make): the plan fixes balanced choices for all samples of a source, and ``make``
draws one image, writes its text from the image's true attributes, and says how the sample
could be spoiled (a wrong fact, a swapped image) should a defect be injected.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from infimed_lib.data.benchmark_prompts import build_prompt
from infimed_lib.data.benchmarks import BenchmarkItem
from infimed_lib.data.corpus.corpus_plan import balanced, gold_letters, grouped, weighted
from infimed_lib.data.corpus.corpus_questions import (QA, closed_question, facets, finding_question, format_mc, mc_answer,
                               multiple_choice, needs, open_question, yes_no)
from infimed_lib.data.corpus.corpus_text import caption, pick
from infimed_lib.data.corpus.defects import Draft, false_fact, perturb
from infimed_lib.data.corpus.dicom_images import RealImage, augment
from infimed_lib.data.images import MEDICAL_MODALITIES, medical_image

RADIOLOGY = ("CT", "MRI", "X-ray")
# Facets each kind of image can be asked about, per question type; repeats weight the draw.
FACET_TABLE = {
    "radiology": {"yes_no": ("lesion", "lesion", "side", "level", "size", "modality", "body_part"),
                  "open": ("modality", "body_part", "location", "size"),
                  "closed": ("modality", "body_part", "side", "level", "size"),
                  "multiple_choice": ("modality", "body_part", "location", "finding", "finding")},
    "histopathology": {"yes_no": ("lesion", "lesion", "side", "level", "size", "tissue"),
                       "open": ("tissue", "location", "size"), "closed": ("tissue", "side", "level", "size"),
                       "multiple_choice": ("tissue", "location", "finding")},
    "dermoscopy": {"yes_no": ("lesion", "lesion", "diagnosis", "side", "level", "size"),
                   "open": ("diagnosis", "location", "size"), "closed": ("side", "level", "size"),
                   "multiple_choice": ("diagnosis", "location", "finding", "modality")},
}
ZH_FACETS = {"yes_no": ("lesion", "lesion", "side", "level", "size", "modality", "body_part"),
             "open": ("modality", "body_part", "location", "size"), "closed": ("modality", "side", "level", "body_part")}


@dataclass
class Context:
    """What builders share: the real DICOM images they may use (Chapter 00)."""

    real_images: list[RealImage]


def real_attrs(real: RealImage) -> dict:
    return {"modality": real.modality, "body_part": real.body_part, "lesion": None, "origin": "dicom",
            "dicom_file": real.ref}


def meta_for(attrs: dict, **extra) -> dict:
    """What a real dataset would record about a sample: its modality tag, and provenance."""
    meta = {"modality": attrs["modality"], **extra}
    if attrs.get("origin") == "dicom":
        meta["dicom_file"] = attrs["dicom_file"]
    return meta


def swap_images(attrs: dict):
    """A closure giving an image of another modality than ``attrs`` (image_mismatch) (Chapter 00)."""
    def make(rng: np.random.Generator) -> list[Image.Image]:
        pool = [m for m in MEDICAL_MODALITIES if m != attrs["modality"]]
        return [medical_image(rng, pick(rng, pool))[0]]
    return make


def draw(rng: np.random.Generator, slot: dict, ctx: Context, fixed: dict | None = None) -> tuple[Image.Image, dict]:
    """The slot's image: a real scan (lightly augmented) or a procedural one (Chapter 00)."""
    if slot.get("real") and ctx.real_images:
        real = ctx.real_images[int(rng.integers(0, len(ctx.real_images)))]
        return augment(real.image, rng), real_attrs(real)
    return medical_image(rng, slot["modality"], **(fixed or {}))


def caption_turns(text: str) -> list[dict]:
    return [{"from": "human", "value": "<image>"}, {"from": "gpt", "value": text}]


def caption_source(style: str, modalities, real_fraction: float = 0.0, fixed: dict | None = None,
                   stated: tuple[str, ...] = ("lesion", "side", "level", "size", "body_part", "tissue", "modality")):
    """(plan, make) of a caption source written in ``style`` (see corpus_text.caption) (Chapter 00)."""
    def plan(rng, n):
        reals = weighted(rng, {True: real_fraction, False: 1 - real_fraction}, n)
        return [{"modality": m, "real": r} for m, r in zip(balanced(rng, modalities, n), reals)]

    def make(rng, slot, ctx):
        image, attrs = draw(rng, slot, ctx, fixed)
        seed = int(rng.integers(0, 2**31))
        text = caption(style, attrs, np.random.default_rng(seed))

        def wrong(r):
            for _ in range(10):
                changed = caption(style, perturb(attrs, r, stated), np.random.default_rng(seed))
                if changed != text:
                    return caption_turns(changed)
            return caption_turns(f"{text} {false_fact(r)}")
        return Draft(caption_turns(text), [image], meta_for(attrs), wrong, swap_images(attrs))
    return plan, make


def ask(attrs: dict, facet: str, slot: dict, rng: np.random.Generator) -> QA:
    """The question of ``slot`` (type, wanted answer, gold letter, language) about ``facet`` (Chapter 00)."""
    qtype, lang = slot["qtype"], slot.get("lang", "en")
    if qtype == "yes_no":
        return yes_no(attrs, facet, slot["answer"], rng, lang)
    if qtype == "open":
        return open_question(attrs, facet, rng, lang)
    if qtype == "closed":
        return closed_question(attrs, facet, rng, lang)
    if facet == "finding":
        return finding_question(attrs, slot["gold"], slot["n_options"], rng, pick(rng, (
            "Which description matches the image?", "Which of the following best describes this image?")))
    return multiple_choice(attrs, facet, slot["gold"], slot["n_options"], rng)


def pick_facet(slot: dict, rng: np.random.Generator, attrs: dict | None) -> str:
    """A facet for the slot's question type; a real scan can only be asked what it truly shows (Chapter 00)."""
    qtype = slot["qtype"]
    if attrs is not None:
        return pick(rng, facets(attrs))
    if slot.get("lang") == "zh":
        return pick(rng, ZH_FACETS[qtype])
    group = slot["modality"] if slot["modality"] in FACET_TABLE else "radiology"
    return pick(rng, FACET_TABLE[group][qtype])


def qa_parts(rng: np.random.Generator, slot: dict, ctx: Context) -> tuple[Image.Image, dict, QA]:
    """The image, its attributes and the question of ``slot`` (Chapter 00).

    A multiple-choice slot asks for ``n_options`` options; facets with fewer possible values
    (two diagnoses, three tissues) are redrawn so that every question has the planned count.
    """
    real = bool(slot.get("real") and ctx.real_images)
    for _ in range(20):
        if real:
            image, attrs = draw(rng, slot, ctx)
            facet = pick_facet(slot, rng, attrs)
        else:
            facet = pick_facet(slot, rng, None)
            image, attrs = medical_image(rng, slot["modality"], **needs(facet, slot["qtype"], slot.get("answer")))
        qa = ask(attrs, facet, slot, rng)
        if not qa.options or len(qa.options) >= slot.get("n_options", 0):
            break
    return image, attrs, qa


def qa_draft(rng: np.random.Generator, slot: dict, ctx: Context, p_formatted: float = 0.8) -> tuple[Draft, QA]:
    """A one-turn VQA sample for ``slot``; its wrong_fact variant gives the plausible wrong answer (Chapter 00).

    Most samples (``p_formatted``) ask in the evaluation's own prompt format (MedEvalKit's, built
    by ``data.benchmark_prompts.build_prompt``) and answer as that format asks: yes/no, a short phrase. The
    rest keep the LLaVA-style layout (options inline), so the model also meets other phrasings.
    Multiple-choice questions are answered with the right option's text in both layouts (see
    `corpus_questions.format_mc` for why the miniature does not answer with the letter).
    """
    image, attrs, qa = qa_parts(rng, slot, ctx)
    formatted = rng.uniform() < p_formatted
    # A third of the formatted multiple choice in MMMU's "(A) text" layout, the rest in MedEvalKit's.
    layout = "mmmu-med" if formatted and qa.options and rng.uniform() < 1 / 3 else "vqa-rad"
    if formatted:
        item = BenchmarkItem(benchmark=layout, id="train", question=qa.question, images=[image],
                             options=dict(qa.options), answer=qa.answer, question_type=qa.question_type,
                             lang=qa.lang)
        human = build_prompt(item)
    else:
        human = "<image>\n" + (format_mc(qa) if qa.options else qa.question)

    def say(answer: str) -> list[dict]:
        # Multiple choice is answered with the option's text, not its letter (see `format_mc`).
        answer = mc_answer(qa.options[answer], layout) if qa.options else answer
        return [{"from": "human", "value": human}, {"from": "gpt", "value": answer}]
    meta = meta_for(attrs, question_type=qa.question_type)
    return Draft(say(qa.answer), [image], meta, lambda r: say(qa.wrong), swap_images(attrs)), qa


def vqa_source(modalities, qtypes: dict[str, float], real_fraction: float = 0.0,
               langs: dict[str, float] | None = None, options: tuple[int, ...] = (4,), extra_meta=None):
    """(plan, make) of a short-answer VQA source with balanced answers (Chapter 00)."""
    def plan(rng, n):
        n_options = [options[i % len(options)] for i in rng.permutation(n)]
        kinds, languages = weighted(rng, qtypes, n), weighted(rng, langs or {"en": 1.0}, n)
        groups = list(zip(kinds, languages))
        answers = grouped(groups, lambda idx: balanced(rng, ("yes", "no"), len(idx)))
        golds = grouped(kinds, lambda idx: gold_letters(rng, [n_options[i] for i in idx]))
        slots = zip(balanced(rng, modalities, n), kinds, answers, golds, n_options, languages,
                    weighted(rng, {True: real_fraction, False: 1 - real_fraction}, n))
        return [{"modality": m, "qtype": q, "answer": a, "gold": g, "n_options": k, "lang": lang, "real": r}
                for m, q, a, g, k, lang, r in slots]

    def make(rng, slot, ctx):
        draft, qa = qa_draft(rng, slot, ctx)
        if extra_meta is not None:
            draft.meta.update(extra_meta(qa, slot))
        return draft
    return plan, make
