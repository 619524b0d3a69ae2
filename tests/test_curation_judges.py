"""The local transformers judge (tiny random Qwen3 + a BPE trained here) and the offline
reference judge's rules, each on hand-made samples."""
import json

import numpy as np
import pytest
from PIL import Image

from infimed_lib.common import ParameterError
from infimed_lib.curation import load_prompt_template, parse_judgement, render_prompt
from infimed_lib.curation.assess import assess
from infimed_lib.curation.curation_config import JudgeSpec, make_judge
from infimed_lib.curation.reference_judge import ReferenceJudge, image_profile
from infimed_lib.curation.reference_rules import known_vocabulary

TEMPLATE = load_prompt_template()


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    folder = tmp_path_factory.mktemp("tiny_judge")
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    specials = ["<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator([TEMPLATE, '{"Overall": {"score": 4}}'] * 3, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token="<unk>")
    tokenizer.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                               "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    tokenizer.save_pretrained(folder)
    config = Qwen3Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=4096,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    Qwen3ForCausalLM(config).save_pretrained(folder)
    return folder


def vqa(sid, question, answer, images=(), **meta):
    return {"id": sid, "source": "hand", "kind": "vqa", "family": "medical_instruction", "images": list(images),
            "conversations": [{"from": "human", "value": "<image>\n" * len(images) + question},
                              {"from": "gpt", "value": answer}], "meta": meta}


def caption(sid, text, images=("img.png",), **meta):
    return {"id": sid, "source": "hand", "kind": "caption", "family": "medical_caption", "images": list(images),
            "conversations": [{"from": "human", "value": "<image>" * len(images)}, {"from": "gpt", "value": text}],
            "meta": meta}


def test_transformers_judge_generates_greedily_and_failures_are_recorded(tiny_lm, tmp_path):
    judge = make_judge(JudgeSpec(kind="hf", model=str(tiny_lm), max_new_tokens=8))
    assert judge.judge_id == f"hf:{tiny_lm.name}" and not judge.takes_images
    sample = vqa("s1", "Is there a lesion?", "yes")
    prompt = render_prompt(TEMPLATE, sample, images_attached=False)
    first, second = judge.judge(sample, prompt, []), judge.judge(sample, prompt, [])
    assert first.text == second.text  # greedy: deterministic
    assert first.usage["completion_tokens"] <= 8 and first.usage["prompt_tokens"] > 100
    (record,) = assess([sample], judge, tmp_path / "cache.jsonl", progress=False)
    assert record["status"] == "parse_error" and record["raw"] == first.text  # a random model writes no JSON


def test_transformers_judge_needs_an_existing_folder(tmp_path):
    with pytest.raises(ParameterError, match="judge_model"):
        make_judge(JudgeSpec(kind="hf", model=str(tmp_path / "missing")))
    with pytest.raises(ParameterError, match="judge_base_url"):
        JudgeSpec(kind="openai", model="m")
    with pytest.raises(ParameterError, match="'judge'.*not one of"):
        JudgeSpec(kind="gpt")


def scores(judge, sample, images=()):
    return parse_judgement(judge.judge(sample, "", list(images)).text)


def png(tmp_path, name, rgb):
    path = tmp_path / name
    Image.fromarray(np.full((32, 32, 3), rgb, np.uint8)).save(path)
    return str(path)


def test_reference_judge_completeness_rules():
    judge = ReferenceJudge()
    assert scores(judge, vqa("a", "Is there a lesion?", "yes"))["Dialogue Completeness"] == 5
    assert scores(judge, vqa("b", "Is there a lesion?", "The liver."))["Dialogue Completeness"] == 2
    assert scores(judge, vqa("c", "Where is the lesion?", "yes"))["Dialogue Completeness"] == 2
    assert scores(judge, vqa("d", "Where is the lesion?", "MRI"))["Dialogue Completeness"] == 2
    assert scores(judge, vqa("e", "Where is the lesion?", "upper left"))["Dialogue Completeness"] == 5
    mc = "Which organ is shown?\nA. liver\nB. lung\nC. knee"
    assert scores(judge, vqa("f", mc, "B"))["Dialogue Completeness"] == 5
    assert scores(judge, vqa("g", mc, "lung"))["Dialogue Completeness"] == 5
    assert scores(judge, vqa("h", mc, "D"))["Dialogue Completeness"] == 2
    assert scores(judge, vqa("h2", mc, "Our clinic is open from Monday to Friday."))["Dialogue Completeness"] == 1
    closed = "Was this image taken with CT or MRI? Answer the question using a single word or phrase."
    assert scores(judge, vqa("i", closed, "MRI"))["Dialogue Completeness"] == 5
    assert scores(judge, vqa("j", closed, "X-ray"))["Dialogue Completeness"] == 2
    assert scores(judge, vqa("k", "病灶在左侧还是右侧？", "左侧"))["Dialogue Completeness"] == 5
    assert scores(judge, vqa("l", "图中是否有病灶？", "是", question_type="closed"))["Dialogue Completeness"] == 5
    off_topic = vqa("m", "图中是否有病灶？", "谢谢你的提问，请记得多喝水。", question_type="closed")
    assert scores(judge, off_topic)["Dialogue Completeness"] == 1
    assert scores(judge, caption("i", ""), [])["Dialogue Completeness"] == 1


def test_reference_judge_reads_a_reasoned_answer_by_its_boxed_commitment():
    judge = ReferenceJudge()
    yes_no = 'Is this a CT image?\nPlease output "yes" or "no" and put the answer in one "\\boxed{}".'
    said = "This is an MRI image. So the answer is \\boxed{no}."
    assert scores(judge, vqa("a", yes_no, said))["Dialogue Completeness"] == 5
    # Without the box the same text commits to nothing: yes/no is missing.
    assert scores(judge, vqa("b", yes_no, "This is an MRI image."))["Dialogue Completeness"] == 2
    assert scores(judge, vqa("c", yes_no, "This is an MRI image. So the answer is \\boxed{MRI}."))["Dialogue Completeness"] == 2
    zh = vqa("d", "图中是否有病灶？", "图中没有病灶。所以答案是\\boxed{否}。", question_type="closed")
    assert scores(judge, zh)["Dialogue Completeness"] == 5
    mc = "Which organ is shown?\nA. liver\nB. lung\nC. knee"
    assert scores(judge, vqa("e", mc, "The image shows the lung. So the answer is \\boxed{B}."))["Dialogue Completeness"] == 5
    assert scores(judge, vqa("f", mc, "The image shows the heart. So the answer is \\boxed{D}."))["Dialogue Completeness"] == 2


def test_reference_judge_language_and_facts():
    good = [caption(f"g{i}", "Axial CT scan of the chest showing a small lesion in the upper left region.") for i in range(6)]
    judge = ReferenceJudge(vocabulary=known_vocabulary(good))
    assert scores(judge, good[0], [])["Language Clarity and Fluency"] == 5
    scrambled = caption("s", "Axial CT scan fo the chset shwoing a smlal lesoin in the uppper left rgeion.")
    assert scores(judge, scrambled, [])["Language Clarity and Fluency"] <= 2
    stutter = caption("t", "Axial CT scan scan of the the chest showing a small lesion lesion.")
    assert scores(judge, stutter, [])["Language Clarity and Fluency"] <= 2
    shuffled = caption("o", "scan Axial CT the chest of showing a small lesion in the upper left region of.")
    assert scores(judge, shuffled, [])["Language Clarity and Fluency"] <= 2
    swapped = caption("p", "Axial CT scan with of the chest showing a small lesion in the upper left region.")
    assert scores(judge, swapped, [])["Language Clarity and Fluency"] == 2
    wrong = caption("w", "Axial CT scan of the chest. The heart has three chambers.")
    assert scores(judge, wrong, [])["Medical Information Accuracy"] == 2
    conflict = caption("m", "Axial CT scan of the chest.", modality="dermoscopy")
    assert scores(judge, conflict, [])["Medical Information Accuracy"] == 2


def test_reference_judge_imaging_rules(tmp_path):
    grey, pink = png(tmp_path, "g.png", (20, 20, 20)), png(tmp_path, "p.png", (220, 140, 200))
    skin = png(tmp_path, "s.png", (200, 140, 100))
    assert (image_profile(Image.open(grey)), image_profile(Image.open(pink)), image_profile(Image.open(skin))) == \
        ("greyscale, on black", "stained tissue", "skin")
    black = np.zeros((40, 40, 3), np.uint8)
    black[10:30, 10:30] = 120
    assert image_profile(Image.fromarray(black)) == "greyscale, on black"
    assert image_profile(Image.fromarray(np.full((40, 40, 3), 150, np.uint8))) == "greyscale, fills the frame"
    judge = ReferenceJudge()
    ct = caption("c", "Axial CT scan of the chest showing a small lesion.")
    assert scores(judge, ct, [grey])["Medical Imaging Relevance"] == 5
    assert scores(judge, ct, [pink])["Medical Imaging Relevance"] == 2  # image does not fit the text
    assert scores(judge, ct, [pink])["Overall"] == 2
    assert scores(ReferenceJudge(use_images=False), ct, [pink])["Medical Imaging Relevance"] == 4  # cannot see it
    missing = caption("n", "Axial CT scan of the chest.", images=())
    missing["conversations"][0]["value"] = "<image>"
    result = scores(judge, missing, [])
    assert result["Medical Imaging Relevance"] == 1 and result["Overall"] == 1
    assert "unreadable" in json.loads(judge.judge(ct, "", [str(tmp_path / "none.png")]).text)["Medical Imaging Relevance"]["comment"]


def test_reference_judge_id_tracks_rules_and_vocabulary():
    assert ReferenceJudge().judge_id == "reference/v2"
    assert ReferenceJudge(use_images=False).judge_id == "reference-text/v2"
    a, b = ReferenceJudge(vocabulary={"lesion": 3}), ReferenceJudge(vocabulary={"lesion": 3, "chest": 5})
    assert a.judge_id != b.judge_id  # a new word list must not reuse old cached verdicts
