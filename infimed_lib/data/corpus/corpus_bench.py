"""Held-out miniature versions of the seven evaluation benchmarks.

Chapter 08 (evaluation) explains what each benchmark measures; Chapter 00 (overview) explains how
the miniature splits mirror them: VQA-RAD (radiology, yes/no and short answers), SLAKE (English
and Chinese, OPEN/CLOSED), PathVQA (histopathology), PMC-VQA (4-way multiple choice),
OmniMedVQA (2-4 options, many modalities including real DICOM scans), MedXpertQA-MM (5-way
clinical vignettes) and MMMU Health & Medicine (its five subjects). Images come from a random
stream of their own and real scans from the held-out half of the DICOM split, so no benchmark
image appears in training.
"""
from __future__ import annotations

import numpy as np

from infimed_lib.data.benchmarks import BenchmarkItem
from infimed_lib.data.corpus.corpus_medical import RADIOLOGY, Context, qa_parts, vqa_source
from infimed_lib.data.corpus.corpus_plan import balanced, gold_letters, weighted
from infimed_lib.data.corpus.corpus_questions import VALUES, choice_question, finding_question, finding_text
from infimed_lib.data.corpus.corpus_text import MODALITY_PHRASES, article, pick, subject
from infimed_lib.data.images import MEDICAL_MODALITIES, medical_image

BENCHMARK_COUNTS = {"vqa-rad": 150, "slake": 150, "pathvqa": 120, "pmc-vqa": 120, "omnimedvqa": 150,
                    "medxpertqa-mm": 100, "mmmu-med": 100}
OMNI_MODALITY = {"CT": "CT(Computed Tomography)", "MRI": "MR (Mag-netic Resonance Imaging)", "X-ray": "X-Ray",
                 "histopathology": "Microscopy Images", "dermoscopy": "Dermoscopy", "ultrasound": "Ultrasound",
                 "nuclear medicine": "Nuclear Medicine"}
OMNI_TASK = {"modality": "Modality Recognition", "body_part": "Anatomy Identification",
             "tissue": "Anatomy Identification", "diagnosis": "Disease Diagnosis", "finding": "Disease Diagnosis",
             "location": "Other Biological Attributes", "size": "Lesion Grading"}
SLAKE_MODALITY = {"CT": "CT", "MRI": "MRI", "X-ray": "X-Ray"}
MMMU_IMAGE_TYPE = {"CT": "CT Scans", "MRI": "MRI Scans", "X-ray": "X-Rays", "histopathology": "Pathological Images",
                   "dermoscopy": "Medical Images", "ultrasound": "Ultrasound Images",
                   "nuclear medicine": "Medical Images"}
BODY_SYSTEM = {"head": "Nervous", "chest": "Respiratory", "abdomen": "Digestive", "knee": "Skeletal",
               "skin": "Integumentary", "colon": "Digestive", "liver": "Digestive", "lymph node": "Lymphatic"}


def _vqa_items(name, rng, n, ctx, found, modalities, qtypes, real=0.0, langs=None):
    plan, _ = vqa_source(modalities, qtypes, real_fraction=real, langs=langs)
    items = []
    for i, slot in enumerate(plan(rng, n)):
        image, attrs, qa = qa_parts(rng, slot, ctx)
        found.append(attrs)
        if name == "slake":
            part = attrs.get("body_part") or ""
            items.append(BenchmarkItem(
                "slake", str(i + 1), qa.question, [image], answer=qa.answer, question_type=qa.question_type,
                lang=qa.lang, modality=SLAKE_MODALITY.get(attrs["modality"], attrs["modality"]),
                meta={"location": part.capitalize(), "content_type": _content_type(qa.facet)}))
        else:
            items.append(BenchmarkItem(name, f"{name.replace('-', '')}_{i + 1:04d}", qa.question, [image],
                                       answer=qa.answer, question_type=qa.question_type))
    return items


def _content_type(facet: str) -> str:
    return {"lesion": "Abnormality", "modality": "Modality", "body_part": "Organ", "size": "Size"}.get(facet, "Position")


def _mc_slots(rng, n, modalities, options, real):
    counts = [options[i % len(options)] for i in rng.permutation(n)]
    reals = weighted(rng, {True: real, False: 1.0 - real}, n)
    return [{"modality": m, "qtype": "multiple_choice", "gold": g, "n_options": k, "real": r, "lang": "en"}
            for m, g, k, r in zip(balanced(rng, modalities, n), gold_letters(rng, counts), counts, reals)]


def _pmc(rng, n, ctx, found):
    items = []
    for i, slot in enumerate(_mc_slots(rng, n, MEDICAL_MODALITIES, (4,), 0.1)):
        image, attrs, qa = qa_parts(rng, slot, ctx)
        found.append(attrs)
        items.append(BenchmarkItem("pmc-vqa", f"pmc_{i + 1:04d}", qa.question, [image], qa.options, qa.answer,
                                   "multiple_choice", meta={"Caption": f"Figure {i % 6 + 1}."}))
    return items


def _omni(rng, n, ctx, found):
    items = []
    for i, slot in enumerate(_mc_slots(rng, n, MEDICAL_MODALITIES, (2, 3, 4), 0.3)):
        image, attrs, qa = qa_parts(rng, slot, ctx)
        found.append(attrs)
        dataset = "DICOM-Library" if attrs.get("origin") == "dicom" else f"Mini-{attrs['modality']}"
        items.append(BenchmarkItem(
            "omnimedvqa", f"omni_{i + 1:04d}", qa.question, [image], qa.options, qa.answer, "multiple_choice",
            modality=OMNI_MODALITY[attrs["modality"]],
            meta={"dataset": dataset, "question_type": OMNI_TASK.get(qa.facet, "Other Biological Attributes")}))
    return items


def _vignette(attrs: dict, rng: np.random.Generator) -> str:
    age, sex = int(rng.integers(20, 86)), pick(rng, ("man", "woman"))
    complaint = pick(rng, ("persistent pain", "an incidental finding", "a palpable mass", "fatigue and weight loss"))
    study = MODALITY_PHRASES[attrs["modality"]][0]
    return f"{article(str(age)).capitalize()} {age}-year-old {sex} is evaluated for {complaint}. The {study} shown was obtained. "


def _medxpert(rng, n, ctx, found):
    items = []
    modalities = balanced(rng, MEDICAL_MODALITIES, n)
    golds = gold_letters(rng, [5] * n)
    for i in range(n):
        location_question = rng.uniform() < 0.3
        image, attrs = medical_image(rng, modalities[i], **({"lesion": True} if location_question else {}))
        found.append(attrs)
        stem = _vignette(attrs, rng)
        if location_question:
            qa = choice_question("location", f"{attrs['level']} {attrs['side']}", VALUES["location"] + ("no visible lesion",),
                                 golds[i], 5, rng, stem + "Where in the image is the abnormality located?")
        else:
            qa = finding_question(attrs, golds[i], 5, rng, stem + "Which of the following best describes the image?")
        system = BODY_SYSTEM.get(attrs.get("tissue") or attrs.get("body_part"), "Other")
        items.append(BenchmarkItem("medxpertqa-mm", f"MM-{i + 1:04d}", qa.question, [image], qa.options, qa.answer,
                                   "multiple_choice", meta={"medical_task": "Diagnosis", "body_system": system,
                                                            "question_type": "Understanding"}))
    return items


MMMU_SUBJECT = {"modality": "Diagnostics_and_Laboratory_Medicine", "finding": "Diagnostics_and_Laboratory_Medicine",
                "location": "Clinical_Medicine", "diagnosis": "Clinical_Medicine", "size": "Clinical_Medicine",
                "body_part": "Basic_Medical_Science", "tissue": "Basic_Medical_Science"}
MMMU_PREFIX = {"Pharmacy": "A contrast agent was given before this study. ",
               "Public_Health": "This image comes from a screening programme. "}


def _mmmu(rng, n, ctx, found):
    items = []
    slots = _mc_slots(rng, n, MEDICAL_MODALITIES, (4, 5), 0.0)
    closed = set(rng.permutation(n)[: max(1, n // 10)].tolist())
    for i, slot in enumerate(slots):
        if i in closed:
            slot = {**slot, "qtype": "closed"}
        image, attrs, qa = qa_parts(rng, slot, ctx)
        found.append(attrs)
        subject = MMMU_SUBJECT.get(qa.facet, "Clinical_Medicine")
        if i % 5 == 3:  # the two subjects with no imaging facet of their own get a share of questions
            subject = "Pharmacy" if i % 10 == 3 else "Public_Health"
        question = f"<image 1> {MMMU_PREFIX.get(subject, '')}{qa.question}"
        items.append(BenchmarkItem(
            "mmmu-med", f"validation_{subject}_{i + 1}", question, [image], qa.options, qa.answer,
            "closed" if qa.question_type == "closed" else "multiple_choice",
            modality=MMMU_IMAGE_TYPE[attrs["modality"]],
            meta={"subject": subject, "subfield": qa.facet.replace("_", " ").title(),
                  "topic_difficulty": "Easy" if qa.question_type == "closed" else "Medium"}))
    return items


def build_benchmark(name: str, count: int, rng: np.random.Generator, ctx: Context,
                    attrs_out: list | None = None) -> list[BenchmarkItem]:
    """``count`` held-out items of benchmark ``name`` (Chapter 00); ``ctx`` holds held-out real scans.

    ``attrs_out``, when given, receives each item's true image attributes in item order (the
    published formats have no place for them; :func:`findings_rows` turns them into the sidecar
    that chapter 08's diagnostics read). Collecting them draws nothing from ``rng``.
    """
    found: list[dict] = [] if attrs_out is None else attrs_out
    if name == "vqa-rad":
        return _vqa_items(name, rng, count, ctx, found, RADIOLOGY, {"yes_no": 0.6, "open": 0.4}, real=0.15)
    if name == "pathvqa":
        return _vqa_items(name, rng, count, ctx, found, ("histopathology",), {"yes_no": 0.5, "open": 0.5})
    if name == "slake":
        return _vqa_items(name, rng, count, ctx, found, RADIOLOGY, {"yes_no": 0.4, "closed": 0.25, "open": 0.35},
                          langs={"en": 0.6, "zh": 0.4})
    builders = {"pmc-vqa": _pmc, "omnimedvqa": _omni, "medxpertqa-mm": _medxpert, "mmmu-med": _mmmu}
    if name in builders:
        return builders[name](rng, count, ctx, found)
    raise ValueError(f"unknown benchmark {name!r}; expected one of {list(BENCHMARK_COUNTS)}")


def finding_line(attrs: dict) -> str:
    """One line of an image's true findings, e.g. "CT scan of the chest with a small lesion in the
    upper left" (Chapter 08's oracle-caption test). A real scan's lesion status is unknown, so its
    line names only the modality and the body part."""
    if attrs.get("lesion") is None:
        return f"{MODALITY_PHRASES[attrs['modality']][0]} {subject(attrs)}".strip()
    return finding_text(attrs)


def findings_rows(items: list[BenchmarkItem], attrs: list[dict]) -> list[dict]:
    """``{"id", "modality", "finding"}`` per item: the ``findings.jsonl`` sidecar the corpus writes
    beside each miniature benchmark (Chapter 08). Evaluation never reads it; only the diagnostics
    of "where is the image signal lost?" do."""
    if len(items) != len(attrs):
        raise ValueError(f"{len(items)} items but {len(attrs)} attribute dicts")
    return [{"id": item.id, "modality": a["modality"], "finding": finding_line(a)} for item, a in zip(items, attrs)]
