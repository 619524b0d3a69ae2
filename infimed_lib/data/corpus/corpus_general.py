"""Builders of the general-domain mini sources: captions, interleaved documents, instructions.

Chapter 00 (overview): DataComp and CCS become alt-text and clean captions of shape scenes, OBELICS
and MMC4 become short documents with two or three images in place, and Mammoth-VL becomes
questions about the shapes answered with a short rationale. About 5% of the Mammoth-VL
answers are safety refusals, marked ``meta.refusal``, so that the "filtered" variant of the
paper's Table 4 has something to remove.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from infimed_lib.data.benchmark_prompts import build_prompt
from infimed_lib.data.benchmarks import BenchmarkItem
from infimed_lib.data.corpus.corpus_plan import balanced, gold_letters, grouped, weighted
from infimed_lib.data.corpus.corpus_questions import LETTERS, mc_answer
from infimed_lib.data.corpus.corpus_scenes import BACKGROUNDS, COLORS, POSITIONS, SHAPES
from infimed_lib.data.corpus.corpus_text import count_word, pick, scene_caption
from infimed_lib.data.corpus.defects import Draft
from infimed_lib.data.images import general_image

REFUSALS = ("Sorry, I can't help with that.", "I'm sorry, but I can't assist with that request.",
            "Sorry, I cannot answer this question.")
REFUSAL_RATE = 0.05


def perturb_scene(attrs: dict, rng: np.random.Generator) -> dict:
    """The scene with one shape's colour or form changed, for a caption that contradicts the image (Chapter 00)."""
    shapes = [dict(s) for s in attrs["shapes"]]
    target = shapes[int(rng.integers(0, len(shapes)))]
    if rng.uniform() < 0.5:
        used = {s["color"] for s in shapes}
        target["color"] = pick(rng, [c for c in COLORS if c not in used])
    else:
        target["shape"] = pick(rng, [s for s in SHAPES if s != target["shape"]])
    return {**attrs, "shapes": shapes}


def _other_scenes(count: int):
    return lambda rng: [general_image(rng)[0] for _ in range(count)]


def caption_source(style: str):
    """(plan, make) of a general caption source: "alt" (DataComp) or "blip" (CCS) (Chapter 00)."""
    def plan(rng, n):
        return [{"count": c} for c in balanced(rng, (1, 2, 3), n)]

    def make(rng, slot, ctx):
        image, attrs = general_image(rng, slot["count"])
        seed = int(rng.integers(0, 2**31))

        def turns(a):
            return [{"from": "human", "value": "<image>"},
                    {"from": "gpt", "value": scene_caption(style, a, np.random.default_rng(seed))}]
        return Draft(turns(attrs), [image], {}, lambda r: turns(perturb_scene(attrs, r)), _other_scenes(1))
    return plan, make


INTROS = {"obelics": ("Shape gallery: a few pictures from our collection.", "Today we look at simple geometric drawings."),
          "mmc4": ("Photos from the art class this week.", "Here are the drawings the children made.")}
LINKS = ("Next, another picture.", "The following one is different.", "Then we have this one.")


def interleaved_source(style: str):
    """(plan, make) of an interleaved-document source with 2-3 images in one text (Chapter 00)."""
    def plan(rng, n):
        return [{"images": k} for k in balanced(rng, (2, 3), n)]

    def make(rng, slot, ctx):
        scenes = [general_image(rng) for _ in range(slot["images"])]
        seed = int(rng.integers(0, 2**31))

        def document(all_attrs):
            r = np.random.default_rng(seed)
            parts = [pick(r, INTROS[style])]
            for k, a in enumerate(all_attrs):
                if k:
                    parts.append(pick(r, LINKS))
                parts.append("<image>\n" + scene_caption("blip", a, r))
            return [{"from": "gpt", "value": " ".join(parts)}]

        attrs = [a for _, a in scenes]

        def wrong(r):
            k = int(r.integers(0, len(attrs)))
            return document(attrs[:k] + [perturb_scene(attrs[k], r)] + attrs[k + 1:])
        return Draft(document(attrs), [img for img, _ in scenes], {}, wrong, _other_scenes(len(scenes)))
    return plan, make


def _rationale(attrs: dict) -> str:
    listed = ", ".join(f"a {s['color']} {s['shape']} at the {s['position']}" for s in attrs["shapes"])
    return f"The image shows {count_word(len(attrs['shapes']))} shape{'s' if len(attrs['shapes']) > 1 else ''}: {listed}."


def _scene_question(attrs: dict, task: str, slot: dict, rng: np.random.Generator) -> tuple[str, str, str]:
    """(question, answer, wrong answer) about a scene."""
    shapes = attrs["shapes"]
    item = shapes[int(rng.integers(0, len(shapes)))]
    if task == "count":
        n = len(shapes)
        return "How many shapes are in the image?", str(n), str(n % 3 + 1)
    if task == "color":
        wrong = pick(rng, [c for c in COLORS if c != item["color"]])
        return f"What colour is the shape at the {item['position']}?", item["color"], wrong
    if task == "position":
        wrong = pick(rng, [p for p in POSITIONS if p != item["position"]])
        return f"Where is the {item['color']} {item['shape']}?", f"at the {item['position']}", f"at the {wrong}"
    if task == "yes_no":
        absent = [c for c in COLORS if c not in {s["color"] for s in shapes}]
        color = item["color"] if slot["answer"] == "yes" else pick(rng, absent)
        wrong = "no" if slot["answer"] == "yes" else "yes"
        return f"Is there a {color} {item['shape']} in the image?", slot["answer"], wrong
    if task == "name_option":
        return _name_option(slot, rng)
    k = slot["n_options"]
    others = [c for c in COLORS if c != item["color"]]
    distractors = [others[i] for i in rng.permutation(len(others))[: k - 1]]
    g = LETTERS.index(slot["gold"])
    texts = distractors[:g] + [item["color"]] + distractors[g:]
    listed = "\n".join(f"{LETTERS[i]}. {t}" for i, t in enumerate(texts))
    # answered with the option's text, as all the corpus's multiple choice (corpus_questions.format_mc)
    return f"What colour is the {item['shape']} at the {item['position']}?\n{listed}", item["color"], texts[(g + 1) % k]


def instruction_source():
    """(plan, make) of the Mammoth-VL-like general instruction source (Chapter 00)."""
    def plan(rng, n):
        n_options = [(2, 3, 4)[i % 3] for i in rng.permutation(n)]
        tasks = weighted(rng, {"count": 1, "color": 1, "position": 1, "yes_no": 1.5, "multiple_choice": 1.5,
                               "name_option": 2}, n)
        refusals = weighted(rng, {True: REFUSAL_RATE, False: 1 - REFUSAL_RATE}, n)
        answers = grouped(tasks, lambda idx: balanced(rng, ("yes", "no"), len(idx)))
        golds = grouped(tasks, lambda idx: gold_letters(rng, [n_options[i] for i in idx]))
        text_only = grouped(tasks, lambda idx: balanced(rng, (True, False), len(idx)))
        return [{"task": t, "answer": a, "gold": g, "n_options": k, "refusal": ref,
                 "text_only": t == "name_option" and txt}
                for t, a, g, k, ref, txt in zip(tasks, answers, golds, n_options, refusals, text_only)]

    def make(rng, slot, ctx):
        image, attrs = general_image(rng)
        question, answer, wrong_answer = _scene_question(attrs, slot["task"], slot, rng)
        meta = {"question_type": "multiple_choice" if slot["task"] in ("multiple_choice", "name_option") else
                ("yes_no" if slot["task"] == "yes_no" else "open"), "refusal": bool(slot["refusal"])}
        marker = "" if slot["text_only"] else "<image>\n"

        def say(ans: str) -> list[dict]:
            reply = pick(np.random.default_rng(len(question)), REFUSALS) if slot["refusal"] \
                else ans if slot["task"] == "name_option" else f"{_rationale(attrs)} So the answer is: {ans}"
            return [{"from": "human", "value": marker + question}, {"from": "gpt", "value": reply}]
        if slot["text_only"]:
            return Draft(say(answer), [], {**meta, "text_only": True}, lambda r: say(wrong_answer), None)
        return Draft(say(answer), [image], meta, lambda r: say(wrong_answer), _other_scenes(1))
    return plan, make


# Instructions that name the option to pick, in general words and several phrasings. They teach
# the miniature model to answer a multiple-choice question with the text of the option it means
# (corpus_questions.format_mc); chapter 08's option-lookup probe asks in other words ("Which
# option says ...?") about medical values, so it measures whether the skill carries over. Half of
# them come without an image: a model that has only ever seen an image before a question answers
# a text-only one with noise (the probe's answers were "." before these; chapter 08), and
# instruction mixtures such as Mammoth-VL hold text-only samples too.
NAME_OPTION = ("Pick the option that reads '{v}'.", "Choose '{v}' from the list below.",
               "Select the choice written as '{v}'.", "Find '{v}' among these options.")
# "left" and "right" are left out: they are option texts of the probe (lesion sides).
OPTION_WORDS = tuple(w for w in dict.fromkeys([*COLORS, *SHAPES, *BACKGROUNDS, *POSITIONS]) if w not in ("left", "right"))


def name_option_prompt(phrasing: str, texts: Sequence[str], gold: int, layout: str) -> str:
    """An instruction naming option ``texts[gold]`` in ``phrasing`` ("... '{v}' ..."), the options
    listed in a benchmark's own layout ("pmc-vqa": MedEvalKit's "A. x" lines, "mmmu-med": MMMU's
    "(A) x"), without an image marker: the caller adds one or none (Chapter 00)."""
    item = BenchmarkItem(layout, "train", phrasing.format(v=texts[gold]), ["image"],
                         dict(zip(LETTERS, texts)), LETTERS[gold], "multiple_choice")
    return build_prompt(item).replace("<image>\n", "", 1)


def _name_option(slot: dict, rng: np.random.Generator) -> tuple[str, str, str]:
    k, g = slot["n_options"], LETTERS.index(slot["gold"])
    texts = [OPTION_WORDS[i] for i in rng.permutation(len(OPTION_WORDS))[:k]]
    layout = "pmc-vqa" if rng.uniform() < 0.5 else "mmmu-med"
    prompt = name_option_prompt(pick(rng, NAME_OPTION), texts, g, layout)
    return prompt, mc_answer(texts[g], layout), mc_answer(texts[(g + 1) % k], layout)
