"""Builders of the long-answer medical sources: multi-turn dialogues and instructions.

Chapter 00 (overview): ``llava-med-instruct-mini`` imitates LLaVA-Med's multi-turn conversations
about one figure; ``pubmedvision-instruct-mini`` imitates PubMedVision's instruction data
(detailed descriptions, multiple choice with an explanation, and sentence answers). All text
is rendered from the image's attributes, so a wrong-fact defect is the same rendering from
attributes with one finding changed.
"""
from __future__ import annotations

import numpy as np

from infimed_lib.data.corpus.corpus_medical import draw, meta_for, qa_parts, swap_images
from infimed_lib.data.corpus.corpus_plan import balanced, gold_letters, weighted
from infimed_lib.data.corpus.corpus_questions import format_mc
from infimed_lib.data.corpus.corpus_text import MODALITY_PHRASES, article, caption, finding, location, pick, subject
from infimed_lib.data.corpus.defects import Draft, false_fact, perturb

SENTENCES = {
    "modality": "This image was acquired with {v}.", "body_part": "The image shows the {v}.",
    "tissue": "This tissue comes from the {v}.", "location": "The lesion is in the {v} part of the image.",
    "size": "The lesion is {v}.", "diagnosis": "The appearance is most consistent with a {v}.",
    "side": "The lesion is on the {v} side of the image.", "level": "The lesion is in the {v} part of the image.",
}


def render_dialogue(attrs: dict, seed: int) -> list[dict]:
    """Two or three question-answer rounds about one image, all from its attributes (Chapter 00)."""
    rng = np.random.default_rng(seed)
    mod = pick(rng, MODALITY_PHRASES[attrs["modality"]])
    what = f"{mod} {subject(attrs)}".strip()
    turns = [("<image>\n" + pick(rng, ("What type of image is this?", "Can you tell me what this image shows?",
                                       "What are we looking at here?")), f"This is {article(what)} {what}.")]
    if attrs.get("lesion") is None:
        turns.append((pick(rng, ("Is anything labelled in the image?", "What else can you say about it?")),
                      f"No annotations are shown; it is a typical {mod} without marked findings."))
    elif attrs["lesion"]:
        turns.append((pick(rng, ("Is there anything abnormal?", "Do you see any lesion?", "What is the main finding?")),
                      f"Yes. There is {finding(attrs)}."))
        turns.append((pick(rng, ("Where exactly is it, and how big is it?", "Can you describe its location and size?")),
                      f"It is {attrs['size']} and lies in the {location(attrs)} part of the image."))
    else:
        turns.append((pick(rng, ("Is there anything abnormal?", "Do you see any lesion?")),
                      f"No. The image shows {finding(attrs)}."))
    return [msg for q, a in turns for msg in ({"from": "human", "value": q}, {"from": "gpt", "value": a})]


def _wrong_render(render, attrs: dict, seed: int):
    def wrong(rng: np.random.Generator) -> list[dict]:
        text = render(attrs, seed)
        for _ in range(10):
            changed = render(perturb(attrs, rng), seed)
            if changed != text:
                return changed
        text[-1] = {**text[-1], "value": text[-1]["value"] + " " + false_fact(rng)}
        return text
    return wrong


def dialogue_source(modalities, real_fraction: float = 0.0):
    """(plan, make) of a multi-turn dialogue source; half the images carry a lesion (Chapter 00)."""
    def plan(rng, n):
        reals = weighted(rng, {True: real_fraction, False: 1 - real_fraction}, n)
        return [{"modality": m, "lesion": les, "real": r}
                for m, les, r in zip(balanced(rng, modalities, n), balanced(rng, (True, False), n), reals)]

    def make(rng, slot, ctx):
        image, attrs = draw(rng, slot, ctx, {"lesion": slot["lesion"]})
        seed = int(rng.integers(0, 2**31))
        return Draft(render_dialogue(attrs, seed), [image], meta_for(attrs),
                     _wrong_render(render_dialogue, attrs, seed), swap_images(attrs))
    return plan, make


def _describe(rng, slot, ctx) -> Draft:
    image, attrs = draw(rng, slot, ctx)
    seed = int(rng.integers(0, 2**31))
    ask_text = pick(rng, ("Describe the findings in this image.", "Please give a detailed description of this medical image.",
                          "What can you observe in this image?"))

    def render(a, s):
        return [{"from": "human", "value": "<image>\n" + ask_text},
                {"from": "gpt", "value": caption("detailed", a, np.random.default_rng(s))}]
    return Draft(render(attrs, seed), [image], meta_for(attrs, question_type="open"),
                 _wrong_render(render, attrs, seed), swap_images(attrs))


def _answered(rng, slot, ctx) -> Draft:
    """Multiple choice with an explanation, or an open question answered in a sentence."""
    image, attrs, qa = qa_parts(rng, slot, ctx)
    note = caption("short", attrs, rng)
    human = "<image>\n" + (format_mc(qa) if qa.options else qa.question)

    def say(answer: str) -> list[dict]:
        if qa.options:
            text = f"{qa.options[answer]}\n\n{note}"  # the option's text: see corpus_questions.format_mc
        else:
            text = SENTENCES[qa.facet].format(v=answer)
        return [{"from": "human", "value": human}, {"from": "gpt", "value": text}]
    return Draft(say(qa.answer), [image], meta_for(attrs, question_type=qa.question_type),
                 lambda r: say(qa.wrong), swap_images(attrs))


def instruction_source(modalities, real_fraction: float = 0.0):
    """(plan, make) of a PubMedVision-style instruction source (Chapter 00)."""
    def plan(rng, n):
        n_options = [(2, 3, 4, 5)[i % 4] for i in rng.permutation(n)]
        tasks = weighted(rng, {"describe": 0.4, "multiple_choice": 0.35, "open": 0.25}, n)
        reals = weighted(rng, {True: real_fraction, False: 1 - real_fraction}, n)
        return [{"modality": m, "qtype": t, "gold": g, "n_options": k, "real": r, "lang": "en"}
                for m, t, g, k, r in zip(balanced(rng, modalities, n), tasks, gold_letters(rng, n_options),
                                         n_options, reals)]

    def make(rng, slot, ctx):
        return _describe(rng, slot, ctx) if slot["qtype"] == "describe" else _answered(rng, slot, ctx)
    return plan, make

