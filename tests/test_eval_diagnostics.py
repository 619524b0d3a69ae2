"""Chapter 08's "where is the image signal lost?": probes, image swap, oracle captions, attention shares."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

from infimed_lib.common import ParameterError, atomic_write_jsonl
from infimed_lib.data.benchmarks import BenchmarkItem
from infimed_lib.data.images import MEDICAL_MODALITIES
from infimed_lib.eval import build_prompt
from infimed_lib.eval import diagnostics as diag
from infimed_lib.eval import generate as gen
from infimed_lib.eval.attention_share import attention_shares, eager_attention

TOKENS = 16  # visual tokens per image (4 x 4 pool): short prompts, same code path as 144 or 729
COLORS = {"red": (230, 20, 20), "blue": (20, 20, 230)}


def _image(color: str) -> Image.Image:
    return Image.new("RGB", (24, 24), COLORS[color])


def _items() -> list[BenchmarkItem]:
    """Yes/no questions whose gold is "yes" exactly when the image is red; two groups per benchmark."""
    items = []
    for i, color in enumerate(["red", "blue", "red", "blue", "red", "blue"]):
        items.append(BenchmarkItem("slake", str(i + 1), f"Is lesion {i} red?", [_image(color)],
                                   answer="yes" if color == "red" else "no", question_type="yes_no",
                                   modality=("CT", "MRI")[i % 2]))
    options = {"A": "red", "B": "blue"}
    for i, color in enumerate(["red", "blue", "blue", "red"]):
        items.append(BenchmarkItem("pmc-vqa", f"pmc_{i}", f"Which colour is study {i}?", [_image(color)], options,
                                   "A" if color == "red" else "B", "multiple_choice"))
    items.append(BenchmarkItem("mmmu-med", "validation_x_1", "<image 1> Is this red?", [_image("red")], answer="yes",
                               question_type="closed", modality="CT Scans"))  # alone in its group
    items.append(BenchmarkItem("slake", "99", "Which organ is shown?", [_image("red")], answer="liver",
                               question_type="open", modality="CT"))  # open: never asked
    return items


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from infimed_lib.data.tokenizer import model_token_ids, train_tokenizer
    from infimed_lib.model import build_model

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("diag")
    texts = [" ".join(build_prompt(item) for item in _items()) + " yes no A B Image: CT scan of the chest."] * 20
    tokenizer = train_tokenizer(texts, vocab_size=300, out_dir=root / "tokenizer")
    model = build_model("tiny", token_ids=model_token_ids(tokenizer), num_visual_tokens=TOKENS, seed=0).eval()
    return {"root": root, "tokenizer": tokenizer, "model": model}


def _by_color(batch, max_new_tokens):
    """A scripted model that reads its image: "yes"/"A" for red, "no"/"B" for blue, "unsure" without one."""
    answers = []
    for prompt in batch:
        red = bool(prompt.images) and prompt.images[0].getpixel((0, 0)) == COLORS["red"]
        answers.append("unsure" if not prompt.images else
                       ("A" if red else "B") if prompt.question_type == "multiple_choice" else ("yes" if red else "no"))
    return answers


def test_probe_reads_a_linear_facet_and_not_random_labels():
    rng = np.random.default_rng(0)
    features = torch.from_numpy(rng.normal(size=(600, 20))).float()
    linear = (features @ torch.from_numpy(rng.normal(size=(20, 3))).float()).argmax(1)
    train = torch.arange(420)
    assert diag.fit_probe(features, linear, train) > 0.9
    coin = torch.from_numpy(rng.integers(0, 3, 600))
    assert abs(diag.fit_probe(features, coin, train) - 1 / 3) < 0.15


def test_probe_in_the_training_span_matches_a_fit_on_the_raw_features():
    from infimed_lib.eval.probes import fit_gram_probe, standardized_gram

    rng = np.random.default_rng(1)
    features = torch.from_numpy(rng.normal(size=(100, 300))).float()  # more features than images
    labels = torch.from_numpy(rng.integers(0, 3, 100))
    train, test = torch.arange(60), torch.arange(60, 100)
    x = (features - features[train].mean(0)) / features[train].std(0)
    weight, bias = torch.zeros(300, 3, requires_grad=True), torch.zeros(3, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(x[train] @ weight + bias, labels[train]) + 0.1 * weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    direct = float(((x[test] @ weight + bias).argmax(1) == labels[test]).float().mean())
    found = fit_gram_probe(standardized_gram(features, train), labels, train, test, l2=0.1, max_iter=500)
    assert found == pytest.approx(direct, abs=1.5 / len(test))  # the same optimum: at most one answer apart


def test_linear_probes_on_the_tiny_model(world):
    images, attrs = diag.probe_images(140, seed=1)
    assert set(Counter(a["modality"] for a in attrs).values()) == {140 // len(MEDICAL_MODALITIES)}
    coin = np.random.default_rng(5).integers(0, 2, len(attrs))
    attrs = [{**a, "coin": int(c)} for a, c in zip(attrs, coin)]
    table = diag.linear_probes(world["model"], images, attrs, facets=("modality", "side", "body_part", "coin"))
    assert list(table.columns) == ["facet", "features", "classes", "n_train", "n_test", "accuracy_pct",
                                   "majority_pct"]
    assert len(table) == 4 * 3 and set(table["features"]) == set(diag.FEATURE_SETS)
    rows = table.drop_duplicates("facet").set_index("facet")
    assert rows.loc["side", "n_train"] + rows.loc["side", "n_test"] == sum(a["lesion"] for a in attrs)
    usable = sum(a.get("body_part") not in (None, "skin") for a in attrs)
    assert rows.loc["body_part", "n_train"] + rows.loc["body_part", "n_test"] == usable
    assert rows.loc["body_part", "classes"] == 4 and rows.loc["modality", "classes"] == len(MEDICAL_MODALITIES)
    modality = table[table["facet"] == "modality"].set_index("features")["accuracy_pct"]
    assert modality["vision tower (pooled)"] > 80 and modality["pixels (pooled)"] > 80
    assert (table[table["facet"] == "coin"]["accuracy_pct"] - 50).abs().max() < 25
    again = diag.linear_probes(world["model"], images, attrs, facets=("coin",))
    assert again["accuracy_pct"].tolist() == table[table["facet"] == "coin"]["accuracy_pct"].tolist()


def test_swap_pairs_stay_in_benchmark_and_modality_and_are_seeded():
    items = _items()
    modalities = {("pmc-vqa", f"pmc_{i}"): ("X-ray", "X-ray", "CT", "CT")[i] for i in range(4)}
    pairs = diag.swap_pairs(items, seed=0, modalities=modalities)
    assert sorted(pairs) == list(range(10))  # the lone MMMU item and the open question have no partner
    for a, b in pairs.items():
        key = lambda i: (items[i].benchmark, modalities.get((items[i].benchmark, items[i].id), items[i].modality))
        assert a != b and key(a) == key(b)
    assert sorted(pairs.values()) == sorted(pairs)  # every item gives its image to exactly one other
    assert diag.swap_pairs(items, seed=0, modalities=modalities) == pairs
    assert any(diag.swap_pairs(items, seed=s, modalities=modalities) != pairs for s in range(1, 6))
    assert len(diag.swap_pairs(items, seed=0)) == 10  # pmc-vqa has no modality field: one group of four


def test_swap_test_moves_the_images_and_counts_changed_answers(world, monkeypatch):
    monkeypatch.setattr(gen, "generate_batch", lambda model, tok, batch, n: _by_color(batch, n))
    table = diag.image_swap_test(world["model"], world["tokenizer"], _items(), seed=0).set_index("benchmark")
    pairs, items = diag.swap_pairs(_items(), seed=0), _items()
    flips = [items[a].answer != items[b].answer for a, b in pairs.items()]
    assert list(table.index) == ["slake", "pmc-vqa", "all"] and table.loc["all", "n"] == len(pairs) == 10
    assert (table["own_image_accuracy_pct"] == 100).all()
    assert table.loc["all", "answers_changed_pct"] == pytest.approx(100 * np.mean(flips))
    assert table.loc["all", "swapped_image_accuracy_pct"] == pytest.approx(100 - 100 * np.mean(flips))
    assert table.loc["all", "responses_changed_pct"] == table.loc["all", "answers_changed_pct"]
    real = diag.image_swap_test(world["model"], world["tokenizer"], _items(), max_new_tokens=2, num_threads=1)
    assert real["n"].tolist() == [6, 4, 10] and real.filter(like="pct").stack().between(0, 100).all()


def test_caption_prompts_carry_no_image_and_the_caption_in_its_place(world, monkeypatch):
    items = _items()
    captions = {(item.benchmark, item.id): f"finding {item.id}" for item in items}
    prompts = diag.caption_prompts(items[:-1], captions, world["tokenizer"], TOKENS)
    for prompt, item in zip(prompts, items):
        assert not prompt.images and "<image>" not in prompt.text and 3 not in prompt.input_ids
        assert prompt.text == build_prompt(item).replace("<image>", f"Image: finding {item.id}.", 1)
    assert prompts[-1].text.startswith("Image: finding validation_x_1. Is this red?")  # MMMU: in place
    monkeypatch.setattr(gen, "generate_batch", lambda model, tok, batch, n: _by_color(batch, n))
    del captions[("slake", "1")]
    table = diag.oracle_caption_test(world["model"], world["tokenizer"], items, captions).set_index("benchmark")
    assert table.loc["all", "n"] == 10 and table.loc["slake", "n"] == 5  # no caption, not asked; open never
    assert table.loc["all", "image_accuracy_pct"] == 100 and table.loc["all", "caption_accuracy_pct"] == 0


def test_attention_shares_on_a_toy_case():
    weights = torch.zeros(2, 2, 3, 5)  # layers x heads x queries x keys
    weights[0, 0, -1] = torch.tensor([0.1, 0.2, 0.3, 0.3, 0.1])
    weights[0, 1, -1] = torch.tensor([0.5, 0.0, 0.0, 0.0, 0.5])
    weights[1, :, -1] = torch.tensor([0.0, 0.5, 0.5, 0.0, 0.0])
    weights[:, :, 0] = torch.tensor([0.0, 1.0, 0.0, 0.0, 0.0])  # earlier queries are ignored
    is_image = torch.tensor([False, True, True, False, False])
    shares = attention_shares([layer.unsqueeze(0) for layer in weights], is_image)
    assert shares == pytest.approx([(0.5 + 0.0) / 2, 1.0])
    with pytest.raises(ParameterError, match="attentions"):
        attention_shares([torch.zeros(1, 2, 3, 4)], is_image)


def test_attention_share_per_layer_on_the_tiny_model(world, tmp_path):
    model, items = world["model"], _items()
    table = diag.image_attention_share(model, world["tokenizer"], items, count=4)
    assert model.language_model.config._attn_implementation == "sdpa"  # switched back
    assert table["layer"].tolist() == [1, 2, 3, 4] and (table["prompts"] == 4).all()
    assert table["attention_on_image_pct"].between(0, 100).all()
    lengths = [len(p.input_ids) for p in gen.build_prompts(
        [items[0], items[6], items[10], items[1]], world["tokenizer"], TOKENS, False)]
    assert table["image_token_share_pct"].iloc[0] == pytest.approx(100 * np.mean([TOKENS / n for n in lengths]))
    with eager_attention(model):
        assert model.language_model.config._attn_implementation == "eager"
    model.save_pretrained(tmp_path / "ckpt")
    both = diag.attention_share_by_checkpoint({"a": tmp_path / "ckpt", "b": tmp_path / "ckpt"},
                                              world["root"] / "tokenizer", items, count=2, device="cpu")
    assert list(both.columns)[:2] == ["checkpoint", "layer"] and both["checkpoint"].tolist() == ["a"] * 4 + ["b"] * 4


def test_headline_quotes_the_pooled_rows_and_marks_skipped_measurements():
    import pandas as pd

    probes = pd.DataFrame([{"facet": f, "features": s, "n_train": 7, "n_test": 3, "accuracy_pct": a}
                           for f, accs in (("modality", (90, 100, 100)), ("side", (60, 80, 70)))
                           for s, a in zip(diag.FEATURE_SETS, accs)])
    swap = pd.DataFrame({"benchmark": ["slake", "all"], "n": [4, 9], "own_image_accuracy_pct": [1.0, 2.0],
                         "swapped_image_accuracy_pct": [3.0, 4.0], "answers_changed_pct": [5.0, 6.0],
                         "responses_changed_pct": [7.0, 8.0]})
    attention = pd.DataFrame({"checkpoint": ["pre", "pre", "sft"], "layer": [1, 2, 1],
                              "attention_on_image_pct": [10.0, 30.0, 50.0], "image_token_share_pct": [70.0] * 3})
    head = diag.diagnostic_headline(probes, swap, None, attention)
    assert head["probe_n"] == 10 and head["probe_pixels"] == 75 and head["probe_projector"] == 85
    assert head["probe_weakest"] == "side" and head["probe_weakest_acc"] == 70
    assert (head["swap_n"], head["swap_own"], head["swap_swapped"], head["swap_changed"]) == (9, 2.0, 4.0, 6.0)
    assert head["swap_reworded"] == 8.0
    assert head["caption_n"] == 0 and head["caption_text"] != head["caption_text"]  # nan: not run
    assert (head["attention_first"], head["attention_first_peak"], head["attention_last_peak"]) == ("pre", 30.0, 50.0)
    assert diag.diagnostic_headline()["attention_last"] == "not run"


def test_benchmark_captions_read_the_sidecars(tmp_path):
    for name, rows in {"slake": [{"id": "1", "modality": "CT", "finding": "CT scan of the head without a lesion"}],
                       "pmc-vqa": [{"id": "pmc_0001", "modality": "X-ray", "finding": "X-ray of the knee"}]}.items():
        atomic_write_jsonl(tmp_path / "benchmarks" / name / "findings.jsonl", rows)
    assert diag.benchmark_captions(tmp_path) == {("slake", "1"): "CT scan of the head without a lesion",
                                                 ("pmc-vqa", "pmc_0001"): "X-ray of the knee"}
    assert diag.benchmark_modalities(tmp_path)[("pmc-vqa", "pmc_0001")] == "X-ray"
    (tmp_path / "benchmarks" / "vqa-rad").mkdir()
    with pytest.raises(ParameterError, match="corpus_dir.*regenerate"):
        diag.benchmark_captions(tmp_path)


@pytest.mark.parametrize("call, name", [
    (lambda w: diag.probe_images(3), "count"),
    (lambda w: diag.linear_probes(w["model"], [_image("red")], [{}, {}]), "attrs"),
    (lambda w: diag.linear_probes(w["model"], [_image("red")], [{"modality": "CT"}], facets=("side",)), "facets"),
    (lambda w: diag.linear_probes(w["model"], [_image("red")] * 4, [{"modality": "CT"}] * 4,
                                  facets=("modality",)), "images"),
    (lambda w: diag.linear_probes(w["model"], [_image("red")], [{"modality": "CT"}], ("modality",), l2=0), "l2"),
    (lambda w: diag.swap_pairs(_items(), seed="0"), "seed"),
    (lambda w: diag.image_swap_test(w["model"], w["tokenizer"], []), "items"),
    (lambda w: diag.image_swap_test(w["model"], w["tokenizer"], _items()[-2:]), "items"),
    (lambda w: diag.oracle_caption_test(w["model"], w["tokenizer"], _items(), ["caption"]), "captions"),
    (lambda w: diag.oracle_caption_test(w["model"], w["tokenizer"], _items(), {("slake", "nope"): "x"}), "captions"),
    (lambda w: diag.image_attention_share(w["model"], w["tokenizer"], _items(), count=0), "count"),
    (lambda w: diag.attention_share_by_checkpoint({}, "tok", _items()), "checkpoints"),
    (lambda w: diag.benchmark_captions(w["root"] / "missing"), "corpus_dir"),
])
def test_bad_arguments_name_the_parameter(world, call, name):
    with pytest.raises(ParameterError, match=f"'{name}'"):
        call(world)
