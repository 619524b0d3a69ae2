"""The word lists and the fact table behind the offline reference judge (Chapter 01 prints them).

Small, hand-written and documented on purpose: a reader can check every entry. They cover
textbook facts and everyday imaging vocabulary, not medicine at large; the chapter says so.
"""
from __future__ import annotations

import re

# Words that mark a text as being about a medical image: modalities, anatomy, findings,
# positions and sizes. Generic words (image, cell, study) are left out: off-topic text uses them too. A long answer or caption with none of them (and nothing in common with
# its question) is off-topic.
MEDICAL_TERMS = frozenset("""
ct mri mr x-ray xray radiograph radiography scan tomography computed magnetic resonance ultrasound sonogram
sonography histopathology histology section stained h&e micrograph photomicrograph microscopy dermoscopy
dermoscopic dermatoscopy mammogram mammography angiogram angiography pet nuclear scintigraphy
axial coronal sagittal weighted t1 t2 contrast slice
head brain skull neck chest thorax lung lungs heart cardiac cardiomediastinal mediastinum diaphragm rib ribs
abdomen abdominal liver kidney spleen pancreas bowel colon stomach pelvis spine vertebra bone bones joint knee
femur tibia patella skin tissue gland glands node nodes lymph nuclei nucleus organ
lesion lesions mass nodule opacity opacities tumour tumor nest abnormality abnormal normal finding findings
hyperdense hypodense hyperintense hypointense enhancement effusion pneumothorax fracture consolidation edema
pigmented nevus naevus melanoma benign malignant border dots carcinoma metastasis inflammation diagnosis
impression silhouette clear limits focal diffuse
left right upper lower middle central centre center anterior posterior medial lateral quadrant lobe side region
small large big tiny size mm cm
yes no
""".split())
# Chinese answers are checked by characters: these mark a medical/imaging answer.
ZH_TERMS = ("左", "右", "上", "下", "大", "小", "是", "否", "有", "无", "没有", "头", "胸", "腹", "膝", "肺", "肝",
            "病灶", "异常", "核磁", "光", "CT", "部")

# Question wording -> what its answer must contain. "Where" needs a place, "what modality" a
# modality, and so on; an answer of another kind ignores the question.
EXPECTED_ANSWER = [
    (r"\b(where|which side|what side|in which part|upper or lower|left or right)\b",
     r"\b(left|right|upper|lower|central|centre|center|middle|top|bottom|anterior|posterior|lobe|quadrant|side|half)\b",
     "a location"),
    (r"\b(what|which)\s+(imaging\s+)?(modality|kind of (scan|image|imaging)|type of (scan|image|imaging))\b|\bhow was this image acquired\b",
     r"\b(ct|mri|mr|x-?ray|radiograph\w*|ultrasound|sonogra\w*|histopatholog\w*|h&e|dermoscop\w*|microscop\w*|\w*micrograph\w*|stained|pet|mammogra\w*|angiogra\w*|nuclear|scintigra\w*|tomography|magnetic)\b",
     "an imaging modality"),
    (r"\bhow (large|big)\b|\bwhat is the size\b|\bwhat size\b",
     r"\b(small|large|big|tiny|\d+(\.\d+)?\s*(mm|cm))\b", "a size"),
    (r"\bhow many\b", r"\b(\d+|no|none|zero|one|two|three|four|five|six|several|single|multiple)\b", "a count"),
    (r"\b(which|what) (body part|part of the body|organ)\b",
     r"\b(head|brain|neck|chest|thorax|lung|lungs|heart|abdomen|liver|kidney|spleen|colon|bowel|pelvis|spine|knee|skin|lymph|bone|breast)\b",
     "a body part or organ"),
    (r"\bdiagnosis\b|\bmost likely represent\b", r"\b(nevus|naevus|melanoma|tumou?r|carcinoma|benign|malignant|normal|cyst|metasta\w*|infection|fracture)\b",
     "a diagnosis"),
]
EXPECTED_ANSWER = [(re.compile(q, re.I), re.compile(a, re.I), what) for q, a, what in EXPECTED_ANSWER]

# Textbook facts, each with a pattern that matches a statement contradicting it. Written
# knowing the kinds of errors the bundled corpus injects (anatomy, imaging physics, pathology);
# its recall there is by construction, and it knows nothing beyond these lines.
FALSE_CLAIMS = [
    (r"\bmri\b[^.]*\b(uses?|involves?|emits?)\b[^.]*\bionizing radiation\b", "MRI uses no ionizing radiation"),
    (r"\b(ct|x-?rays?|radiographs?)\b[^.]*\b(uses?|involves?)\s+no\s+(ionizing\s+)?radiation\b", "CT and X-ray use ionizing radiation"),
    (r"\b(ultrasound|sonography)\b[^.]*\buses?\b[^.]*\b(ionizing radiation|x-?rays)\b", "ultrasound uses sound waves"),
    (r"\bbones?\b[^.]*\b(appears?|looks?|is|are)\s+(dark|black|hypodense)\b[^.]*\b(ct|x-?ray|radiograph)", "bone is bright (dense) on CT and radiographs"),
    (r"\b(bones?|it)\b[^.]*\babsorbs? no x-?rays\b", "bone absorbs X-rays strongly"),
    (r"\bt2\b[^.]*\bfluid\b[^.]*\b(black|dark|hypointense)\b|\bfluid\b[^.]*\b(black|dark|hypointense)\b[^.]*\bt2\b", "fluid is bright on T2-weighted MRI"),
    (r"\bheart\b[^.]*\b(below|under|beneath)\s+the\s+diaphragm\b", "the heart lies above the diaphragm, in the chest"),
    (r"\bheart has (one|two|three|five|six) chambers\b", "the heart has four chambers"),
    (r"\bliver\b[^.]*\b(lies|is located|sits|is found|is situated)\b[^.]*\bleft\b", "the liver lies in the right upper abdomen"),
    (r"\bspleen\b[^.]*\b(lies|is located|sits|is found|is situated)\b[^.]*\bright\b", "the spleen lies in the left upper abdomen"),
    (r"\bappendix\b[^.]*\b(lies|is located|sits|is found|is situated)\b[^.]*\bleft\b", "the appendix lies in the right lower abdomen"),
    (r"\bknee\b[^.]*\b(humerus|radius|ulna|scapula|clavicle)\b", "the knee joins femur, tibia and patella"),
    (r"\belbow\b[^.]*\b(femur|tibia|fibula|patella)\b", "the elbow joins humerus, radius and ulna"),
    (r"\bmelanomas?\b[^.]*\b(always|typically|usually)\b[^.]*\b(round|symmetric\w*|even(ly)? colou?r\w*|benign)\b", "melanoma is typically asymmetric and irregular"),
    (r"\bmelanomas? (is|are) benign\b", "melanoma is malignant"),
    (r"\b(contain|have|has|contains)\s+no\s+(cell\s+)?nuclei\b", "tissue cells have nuclei"),
    (r"\bhuman (body|skeleton) has (1\d\d|2[1-9]\d|3\d\d) bones\b", "an adult skeleton has 206 bones"),
    (r"\bhematoxylin\b[^.]*\bstains?\b[^.]*\b(cytoplasm|pink)\b", "hematoxylin stains nuclei blue-purple"),
    (r"\bdermoscop\w*\b[^.]*\b(brain|lung|liver|kidney|heart|knee|abdomen|chest)\b", "dermoscopy images the skin surface"),
]
FALSE_CLAIMS = [(re.compile(p, re.I), fact) for p, fact in FALSE_CLAIMS]

# Modality names, for checking what the text states against the modality the dataset records.
MODALITY_NAMES = [
    (r"\b(ct|computed tomography)\b", "CT"),
    (r"\b(mri|mr|magnetic resonance)\b", "MRI"),
    (r"\b(x-?rays?|radiographs?|radiography|plain film)\b", "X-ray"),
    (r"\b(ultrasound|sonogra\w*)\b", "ultrasound"),
    (r"\b(histopatholog\w*|histolog\w*|h&e|micrograph\w*|photomicrograph\w*)\b", "histopathology"),
    (r"\b(dermoscop\w*|dermatoscop\w*)\b", "dermoscopy"),
    (r"\b(pet)\b", "PET"),
    (r"\b(nuclear medicine|scintigra\w*)\b", "nuclear medicine"),
    (r"\b(mammogra\w*)\b", "mammography"),
    (r"\b(angiogra\w*)\b", "angiography"),
]
MODALITY_NAMES = [(re.compile(p, re.I), name) for p, name in MODALITY_NAMES]


def modality_names(text: str) -> set[str]:
    """Canonical modality names mentioned in ``text``. Chapter 01."""
    return {name for pattern, name in MODALITY_NAMES if pattern.search(text)}
