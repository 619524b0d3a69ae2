"""The registry of mini sources: one per dataset of the paper's Table 1 and Table 4.

Chapter 00 (overview) summarises this table. Each entry fixes a source's family, kind, size
at scale 1, defect rate and defect mix. The four sources the paper dropped after its quality
assessment (IU-Xray, MedPix-2.0, PMC-OA, VQA-Med-2019; Section 3.2) carry high defect rates,
the kept ones low rates, so that curation has a real signal to find.
"""
from __future__ import annotations

from infimed_lib.data.corpus import corpus_dialogue as dialogue
from infimed_lib.data.corpus import corpus_general as general
from infimed_lib.data.corpus import corpus_medical as medical
from infimed_lib.data.corpus.corpus_plan import SourceSpec
from infimed_lib.data.images import MEDICAL_MODALITIES

RADIOLOGY = ("CT", "MRI", "X-ray")
KEPT_MIX = {"wrong_fact": 0.3, "garbled_language": 0.2, "ignores_question": 0.2, "image_mismatch": 0.2,
            "missing_image": 0.1}
CAPTION_MIX = {"wrong_fact": 0.35, "garbled_language": 0.3, "image_mismatch": 0.25, "missing_image": 0.1}


def _spec(name, family, kind, count, rate, mix, builder, stands_for, dropped=False, domain="medical"):
    plan, make = builder
    return SourceSpec(name, family, kind, count, rate, mix, plan, make, stands_for, dropped, domain)


def _slake_meta(qa, slot):
    kinds = {"lesion": "Abnormality", "modality": "Modality", "body_part": "Organ", "size": "Size"}
    return {"lang": qa.lang, "answer_type": "OPEN" if qa.question_type == "open" else "CLOSED",
            "content_type": kinds.get(qa.facet, "Position")}


def build_sources() -> list[SourceSpec]:
    """Every mini source, in a fixed order (general first, then medical; Chapter 00)."""
    g, gc, gi, gn = "general", "general_caption", "general_interleaved", "general_instruction"
    mc, mi = "medical_caption", "medical_instruction"
    return [
        _spec("datacomp-mini", gc, "caption", 600, 0.05, CAPTION_MIX, general.caption_source("alt"),
              "DataComp-Medium (DFN / MLM-Filter subsets)", domain=g),
        _spec("ccs-mini", gc, "caption", 600, 0.02, CAPTION_MIX, general.caption_source("blip"),
              "CCS (CC3M + CC12M + SBU, BLIP-filtered)", domain=g),
        _spec("obelics-mini", gi, "interleaved", 200, 0.03, CAPTION_MIX, general.interleaved_source("obelics"),
              "OBELICS", domain=g),
        _spec("mmc4-mini", gi, "interleaved", 200, 0.04, CAPTION_MIX, general.interleaved_source("mmc4"),
              "MMC4", domain=g),
        _spec("mammoth-vl-mini", gn, "instruction", 1500, 0.02, KEPT_MIX, general.instruction_source(),
              "MAmmoTH-VL-10M", domain=g),
        _spec("llava-med-alignment-mini", mc, "caption", 300, 0.06, CAPTION_MIX,
              medical.caption_source("short", MEDICAL_MODALITIES), "LLaVA-Med alignment (PMC-15M)"),
        _spec("pubmedvision-alignment-mini", mc, "caption", 300, 0.04, CAPTION_MIX,
              medical.caption_source("detailed", MEDICAL_MODALITIES, real_fraction=0.15), "PubMedVision alignment"),
        _spec("roco-mini", mc, "caption", 300, 0.08, CAPTION_MIX,
              medical.caption_source("short", RADIOLOGY, real_fraction=0.25), "ROCO (radiology)"),
        _spec("rocov2-mini", mc, "caption", 300, 0.05, CAPTION_MIX,
              medical.caption_source("terse", RADIOLOGY, real_fraction=0.25), "ROCOv2 (radiology)"),
        _spec("medtrinity-mini", mc, "caption", 300, 0.07, CAPTION_MIX,
              medical.caption_source("structured", MEDICAL_MODALITIES, real_fraction=0.15), "MedTrinity-25M"),
        _spec("llava-med-60k-im-text-mini", mc, "caption", 300, 0.06, CAPTION_MIX,
              medical.caption_source("figure", MEDICAL_MODALITIES), "LLaVA-Med-60K-IM-text"),
        _spec("iu-xray-mini", mc, "caption", 200, 0.45,
              {"wrong_fact": 0.5, "missing_image": 0.3, "garbled_language": 0.2},
              medical.caption_source("report", ("X-ray",), fixed={"body_part": "chest"},
                                     stated=("lesion", "side", "level", "size")), "IU-Xray", dropped=True),
        _spec("medpix-2.0-mini", mc, "caption", 200, 0.40,
              {"garbled_language": 0.4, "image_mismatch": 0.3, "wrong_fact": 0.3},
              medical.caption_source("case", MEDICAL_MODALITIES), "MedPix-2.0", dropped=True),
        _spec("pmc-oa-mini", mc, "caption", 200, 0.55,
              {"image_mismatch": 0.5, "ignores_question": 0.2, "garbled_language": 0.3},
              medical.caption_source("figure", MEDICAL_MODALITIES), "PMC-OA", dropped=True),
        _spec("llava-med-instruct-mini", mi, "dialogue", 500, 0.05, KEPT_MIX,
              dialogue.dialogue_source(MEDICAL_MODALITIES, real_fraction=0.1), "LLaVA-Med-Instruct"),
        _spec("pathvqa-mini", mi, "vqa", 2000, 0.04, KEPT_MIX,
              medical.vqa_source(("histopathology",), {"yes_no": 0.5, "open": 0.5}), "PathVQA"),
        _spec("pmc-vqa-mini", mi, "vqa", 2000, 0.08, KEPT_MIX,
              medical.vqa_source(MEDICAL_MODALITIES, {"multiple_choice": 1.0}, real_fraction=0.1), "PMC-VQA"),
        _spec("pubmedvision-instruct-mini", mi, "instruction", 400, 0.03, KEPT_MIX,
              dialogue.instruction_source(MEDICAL_MODALITIES, real_fraction=0.1), "PubMedVision instruction tuning"),
        _spec("slake-mini", mi, "vqa", 2000, 0.02, KEPT_MIX,
              medical.vqa_source(RADIOLOGY, {"yes_no": 0.4, "closed": 0.25, "open": 0.35},
                                 langs={"en": 0.6, "zh": 0.4}, extra_meta=_slake_meta), "SLAKE (English and Chinese)"),
        _spec("vqa-rad-mini", mi, "vqa", 2000, 0.03, KEPT_MIX,
              medical.vqa_source(RADIOLOGY, {"yes_no": 0.6, "open": 0.4}, real_fraction=0.15), "VQA-RAD"),
        _spec("vqa-med-2019-mini", mi, "vqa", 200, 0.50,
              {"ignores_question": 0.4, "wrong_fact": 0.4, "garbled_language": 0.2},
              medical.vqa_source(RADIOLOGY, {"yes_no": 0.3, "open": 0.7}, real_fraction=0.1), "VQA-Med-2019",
              dropped=True),
    ]
