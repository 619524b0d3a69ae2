"""The A.2 prompt as a data file, the one way samples are rendered into it, and the no-image rule."""
import pytest

from infimed_lib.curation import SCORE_KEYS, apply_no_image_rule, load_prompt_template, prompt_hash, render_prompt, render_sample

SAMPLE = {"id": "x", "kind": "vqa", "images": ["a.png", "b.png"], "meta": {"modality": "CT", "question_type": "yes_no", "refusal": True},
          "conversations": [{"from": "human", "value": "<image>\n<image>\nIs the lesion larger in the second image?"},
                            {"from": "gpt", "value": "yes"}]}


def test_bundled_prompt_is_the_paper_prompt_without_its_header():
    template = load_prompt_template()
    assert template.startswith("You are evaluating the quality of a single data sample")
    assert template.rstrip().endswith("Here is the sample: {s}")
    assert "Assign 1 by default if no image" in template and "# Source" not in template
    for key in SCORE_KEYS:
        assert f'"{key}"' in template  # the JSON answer format names the six keys


def test_custom_prompt_needs_exactly_one_slot(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("# my header\nGrade this: {s}\n")
    assert load_prompt_template(path) == "Grade this: {s}\n"
    path.write_text("Grade this.\n")
    with pytest.raises(ValueError, match="exactly one '\\{s\\}' slot"):
        load_prompt_template(path)
    assert prompt_hash("Grade this: {s}\n") != prompt_hash("Grade that: {s}\n")


def test_render_sample_in_one_documented_form():
    text = render_sample(SAMPLE, images_attached=True)
    assert text.splitlines() == [
        "Sample type: visual question answering",
        "Images: 2, attached to this message in order as image 1..2",
        "Modality: CT",
        "Question type: yes_no",
        "Conversation:",
        "User: [image 1]",
        "[image 2]",
        "Is the lesion larger in the second image?",
        "Assistant: yes",
    ]
    assert "not shown to you" in render_sample(SAMPLE, images_attached=False)
    assert "refusal" not in text  # only whitelisted meta fields reach the judge
    no_image = dict(SAMPLE, images=[], conversations=[{"from": "gpt", "value": "A caption."}])
    assert "Images: none" in render_sample(no_image, images_attached=True)
    prompt = render_prompt("A {s} B {\"Overall\": 1}", SAMPLE, images_attached=True)
    assert prompt.startswith("A Sample type") and prompt.endswith('B {"Overall": 1}')


def test_no_image_rule():
    scores = dict.fromkeys(SCORE_KEYS, 4)
    fixed, corrected = apply_no_image_rule(scores, has_image=False)
    assert corrected and fixed["Medical Imaging Relevance"] == 1 and fixed["Overall"] == 4
    assert apply_no_image_rule(scores, has_image=True) == (scores, False)
