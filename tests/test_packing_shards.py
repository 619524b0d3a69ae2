"""Shards: written then read back give the same samples; any corruption fails naming file and bin."""
import json

import numpy as np
import pytest
from PIL import Image

from infimed_lib.common import ParameterError, read_json
from infimed_lib.data.images import load_image
from infimed_lib.data.tokenizer import encode_sample, train_tokenizer
from infimed_lib.packing import PackingConfig, pack_corpus, read_bins, write_shards

CAPACITY, PER_IMAGE = 120, 16


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    samples = []
    for index in range(40):
        images = []
        for k in range(index % 3):
            path = root / f"img{index}_{k}.png"
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(path)
            images.append(str(path))
        repeats = 40 if index in (4, 5) else int(rng.integers(1, 12))  # two over-long samples
        text = " ".join(["the lesion in the left lung"] * repeats)
        samples.append({"id": f"s{index}", "source": "toy", "images": images, "meta": {"k": index},
                        "conversations": [{"from": "human", "value": "<image>" * len(images) + "describe"},
                                          {"from": "gpt", "value": text}]})
    tok = train_tokenizer([t["value"] for s in samples for t in s["conversations"]], vocab_size=320)
    return samples, tok


@pytest.fixture
def shards(corpus, tmp_path):
    samples, tok = corpus
    config = PackingConfig(capacity=CAPACITY, num_visual_tokens=PER_IMAGE, bins_per_shard=4)
    result = pack_corpus(samples, tok, config, tmp_path / "shards")
    return tmp_path / "shards", result, tok


def test_round_trip_gives_the_same_samples(corpus, shards):
    samples, _ = corpus
    shard_dir, result, tok = shards
    bins = list(read_bins(shard_dir, tokenizer=tok))
    assert len(bins) == result.manifest["num_bins"] == len(result.bins)
    assert len(result.manifest["shards"]) == -(-len(bins) // 4)
    by_id = {s["id"]: s for s in result.samples}
    seen = []
    for row in bins:
        assert sum(row["lengths"]) <= CAPACITY
        for sample, length in zip(row["data"], row["lengths"]):
            original = by_id[sample["id"]]
            assert {k: v for k, v in sample.items() if k != "images"} == {k: v for k, v in original.items() if k != "images"}
            assert len(sample["images"]) == len(original["images"])
            for inlined, path in zip(sample["images"], original["images"]):
                assert inlined.startswith("data:image/png;base64,")
                assert np.array_equal(np.asarray(load_image(inlined)), np.asarray(load_image(path)))
            assert length == len(encode_sample(tok, sample, PER_IMAGE, "plain"))
            seen.append(sample["id"])
    assert sorted(seen) == sorted(by_id) and len(seen) == len(samples) - result.overlong["dropped"]
    assert result.overlong["truncated"] == 2 and result.manifest["extra"]["overlong"]["truncated_ids"] == ["s4", "s5"]
    # Inside a bin, samples come in FFD placement order: longest first.
    assert all(row["lengths"] == sorted(row["lengths"], reverse=True) for row in bins)


def _edit_line(path, line_number, edit):
    lines = path.read_text().splitlines()
    row = json.loads(lines[line_number])
    edit(row)
    lines[line_number] = json.dumps(row, sort_keys=True, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n")


def _break_base64(row):
    for sample in row["data"]:
        if sample["images"]:
            sample["images"][0] = sample["images"][0][:40] + "!!not-base64!!" + sample["images"][0][40:]
            return
    raise AssertionError("no image in this bin")


def _first_bin_with_image(shard_dir):
    for path in sorted(shard_dir.glob("shard-*.jsonl")):
        for number, line in enumerate(path.read_text().splitlines()):
            if any(s["images"] for s in json.loads(line)["data"]):
                return path, number
    raise AssertionError("no image in the shards")


def test_edited_length_is_named(shards):
    shard_dir, _, tok = shards
    path = shard_dir / "shard-00001.jsonl"
    _edit_line(path, 2, lambda row: row["lengths"].__setitem__(0, row["lengths"][0] - 1))
    with pytest.raises(ValueError, match=r"shard-00001.jsonl bin 2 \(line 3\): sample 0 .* recorded length"):
        list(read_bins(shard_dir, tokenizer=tok))
    with pytest.raises(ValueError, match="shard-00001.jsonl: sha256 does not match"):
        list(read_bins(shard_dir))  # without the tokenizer only the checksum can tell


def test_overfull_bin_is_named(shards):
    shard_dir, _, _ = shards
    _edit_line(shard_dir / "shard-00000.jsonl", 1, lambda row: row["lengths"].__setitem__(0, row["lengths"][0] + CAPACITY))
    with pytest.raises(ValueError, match=r"shard-00000.jsonl bin 1 \(line 2\): lengths sum to \d+ > capacity 120"):
        list(read_bins(shard_dir))


def test_broken_base64_is_named(shards):
    shard_dir, _, _ = shards
    path, number = _first_bin_with_image(shard_dir)
    _edit_line(path, number, _break_base64)
    with pytest.raises(ValueError, match=rf"{path.name} bin {number} .*image 0 does not decode"):
        list(read_bins(shard_dir))


def test_checksum_and_manifest_problems(shards, corpus):
    shard_dir, _, tok = shards
    path = shard_dir / "shard-00002.jsonl"
    path.write_text(path.read_text().replace("lesion", "lesiom", 1))
    with pytest.raises(ValueError, match="shard-00002.jsonl: sha256 does not match"):
        list(read_bins(shard_dir))
    assert len(list(read_bins(shard_dir, validate=False))) > 0
    other = train_tokenizer(["completely different words"] * 50, vocab_size=300)
    with pytest.raises(ValueError, match="another tokenizer"):
        next(read_bins(shard_dir, tokenizer=other))
    (shard_dir / "shard-00003.jsonl").unlink()
    with pytest.raises(ValueError, match="shard-00003.jsonl: listed in manifest.json but missing"):
        list(read_bins(shard_dir, validate=False))
    (shard_dir / "manifest.json").unlink()
    with pytest.raises(ValueError, match="no manifest.json"):
        next(read_bins(shard_dir))


def test_rewrite_removes_stale_shards_and_checks_bins(corpus, shards):
    samples, tok = corpus
    shard_dir, result, _ = shards
    before = len(list(shard_dir.glob("shard-*.jsonl")))
    write_shards(shard_dir, result.samples, result.lengths, result.bins, capacity=CAPACITY,
                 num_visual_tokens=PER_IMAGE, tokenizer=tok, bins_per_shard=1000)
    assert before > 1 and sorted(p.name for p in shard_dir.glob("shard-*.jsonl")) == ["shard-00000.jsonl"]
    assert read_json(shard_dir / "manifest.json")["num_bins"] == len(result.bins)
    assert len(list(read_bins(shard_dir, tokenizer=tok))) == len(result.bins)
    with pytest.raises(ValueError, match="bin 0 holds"):
        write_shards(shard_dir, result.samples, result.lengths, [list(range(len(result.samples)))],
                     capacity=CAPACITY, num_visual_tokens=PER_IMAGE)
    with pytest.raises(ValueError, match="more than one bin"):
        write_shards(shard_dir, result.samples, result.lengths, [[0], [0]], capacity=CAPACITY, num_visual_tokens=PER_IMAGE)
    with pytest.raises(ParameterError, match="bins_per_shard"):
        write_shards(shard_dir, result.samples, result.lengths, result.bins, capacity=CAPACITY,
                     num_visual_tokens=PER_IMAGE, bins_per_shard=0)


def test_packing_config_validates():
    with pytest.raises(ParameterError, match="overlong"):
        PackingConfig(overlong="clip")
    with pytest.raises(ParameterError, match="capacity"):
        PackingConfig(capacity=0)
    with pytest.raises(ParameterError, match="num_visual_tokens"):
        PackingConfig(capacity=100, num_visual_tokens=144)


def test_image_inlining(tmp_path):
    from infimed_lib.packing.shards import image_data_url, inline_images

    pixels = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    Image.fromarray(pixels).save(tmp_path / "b.bmp")
    sample = {"id": "x", "images": ["a.png", str(tmp_path / "b.bmp"), "data:image/png;base64,AAAA"]}
    inlined = inline_images(sample, image_root=tmp_path)
    assert inlined["images"][2] == "data:image/png;base64,AAAA" and sample["images"][0] == "a.png"
    for url in inlined["images"][:2]:
        assert url.startswith("data:image/png;base64,") and np.array_equal(np.asarray(load_image(url)), pixels)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(ValueError, match="broken.png.*not a valid PNG"):
        image_data_url(tmp_path / "broken.png")
    with pytest.raises(ValueError, match="missing.png.*cannot be read"):
        image_data_url(tmp_path / "missing.png")


def test_tokenizer_fingerprint_ignores_padding_state(corpus, tmp_path):
    from infimed_lib.data.tokenizer import load_tokenizer, save_tokenizer
    from infimed_lib.packing import tokenizer_fingerprint

    _, tok = corpus
    before = tokenizer_fingerprint(tok)
    tok(["the lesion", "in the left lung of"], padding=True, truncation=True, max_length=3)
    assert tokenizer_fingerprint(tok) == before
    save_tokenizer(tok, tmp_path / "tok")
    assert tokenizer_fingerprint(load_tokenizer(tmp_path / "tok")) == before
    assert tokenizer_fingerprint(train_tokenizer(["other words entirely"] * 30, vocab_size=300)) != before


def test_jpeg_images_stay_jpeg_byte_for_byte(tmp_path):
    """Real caption sets ship JPEG photographs; re-encoding them as PNG would bloat every shard."""
    import base64

    from infimed_lib.packing.shards import image_data_url

    pixels = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "photo.jpg", quality=85)
    url = image_data_url(tmp_path / "photo.jpg")
    assert url.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == (tmp_path / "photo.jpg").read_bytes()
    assert load_image(url).size == (32, 32)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"garbage" * 10)
    with pytest.raises(ValueError, match="broken.jpg.*not a valid JPEG"):
        image_data_url(tmp_path / "broken.jpg")
