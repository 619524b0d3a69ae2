"""Importing real-format datasets into the corpus layout (the paper profile's entry point)."""
import shutil
from pathlib import Path

import pytest
import yaml

from infimed_lib.common import read_json, read_jsonl
from infimed_lib.data import importer
from infimed_lib.data.benchmarks import load_benchmark
from infimed_lib.data.mixtures import MixtureSpec, build_mixture
from infimed_lib.eval import benchmark_folders

FIX = "tests/fixtures"


@pytest.fixture
def vqa_rad(tmp_path):
    """VQA-RAD as published: data/train-*.parquet beside data/test-*.parquet (train = other questions)."""
    folder = tmp_path / "vqa-rad"
    shutil.copytree(f"{FIX}/benchmarks/vqa-rad", folder)
    test = next((folder / "data").glob("test-*.parquet"))
    shutil.copy(test, folder / "data" / "train-00000-of-00001-aaaa.parquet")
    shutil.copy(test, folder / "data" / "train-00000-of-00001-bbbb.parquet")  # twice the test's rows
    return folder


def write_spec(path, spec):
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def test_import_llava_and_vqa_sources_then_mix(tmp_path, vqa_rad):
    spec = write_spec(tmp_path / "s.yaml", {"sources": [
        {"name": "llava-med-instruct", "format": "llava", "path": f"{FIX}/llava/llava_med_instruct.json",
         "image_root": f"{FIX}/llava/images", "family": "medical_instruction", "kind": "dialogue"},
        {"name": "mammoth-vl", "format": "llava", "path": f"{FIX}/llava/mammoth.jsonl",
         "image_root": f"{FIX}/llava/images", "family": "general_instruction", "kind": "instruction"},
        {"name": "vqa-rad", "format": "vqa-rad", "path": str(vqa_rad)},
    ]})
    assert importer.main([spec, str(tmp_path / "corpus")]) == 0
    manifest = read_json(tmp_path / "corpus" / "manifest.json")
    assert set(manifest["sources"]) == {"llava-med-instruct", "mammoth-vl", "vqa-rad"}
    for name, info in manifest["sources"].items():
        rows = read_jsonl(tmp_path / "corpus" / "sources" / f"{name}.jsonl")
        assert len(rows) == info["num_samples"] > 0
        for row in rows:
            markers = sum(t["value"].count("<image>") for t in row["conversations"])
            assert markers == len(row["images"])
    test_rows = len(load_benchmark("vqa-rad", vqa_rad))
    assert manifest["sources"]["vqa-rad"]["num_samples"] == 2 * test_rows  # the train files, not the test file
    assert manifest["sources"]["vqa-rad"]["split"] == "train"
    mixture = build_mixture(MixtureSpec({"vqa-rad": 1.0, "llava-med-instruct": 1.0}), tmp_path / "corpus")
    assert len(mixture.samples) == sum(manifest["sources"][n]["num_samples"] for n in ("vqa-rad", "llava-med-instruct"))


def test_a_benchmark_folder_without_a_train_split_is_refused_not_read_as_training_data(tmp_path):
    spec = write_spec(tmp_path / "s.yaml", {"sources": [
        {"name": "vqa-rad", "format": "vqa-rad", "path": f"{FIX}/benchmarks/vqa-rad"}]})
    assert importer.main([spec, str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out" / "manifest.json").exists()


@pytest.mark.parametrize("entry, field", [
    ({"split": "test"}, "sources.vqa-rad.split"),
    ({"path": f"{FIX}/benchmarks/vqa-rad-json/test.json"}, "sources.vqa-rad.path"),
    ({"format": "omnimedvqa"}, "sources.vqa-rad.format"),
])
def test_test_splits_and_evaluation_only_benchmarks_are_refused(tmp_path, capsys, vqa_rad, entry, field):
    spec = write_spec(tmp_path / "s.yaml", {"sources": [
        {"name": "vqa-rad", "format": "vqa-rad", "path": str(vqa_rad), **entry}]})
    assert importer.main([spec, str(tmp_path / "out")]) == 2
    assert f"'{field}'" in capsys.readouterr().err


def test_benchmarks_section_is_where_chapters_08_and_09_evaluate(tmp_path, vqa_rad):
    spec = write_spec(tmp_path / "s.yaml", {
        "sources": [{"name": "vqa-rad", "format": "vqa-rad", "path": str(vqa_rad)}],
        "benchmarks": {"vqa-rad": str(vqa_rad), "slake": f"{FIX}/benchmarks/slake"}})
    assert importer.main([spec, str(tmp_path / "corpus")]) == 0
    paths = benchmark_folders(["vqa-rad", "slake", "pmc-vqa"], tmp_path / "corpus")
    assert paths["vqa-rad"] == str(vqa_rad.resolve())
    assert paths["slake"] == str(Path(f"{FIX}/benchmarks/slake").resolve())
    assert paths["pmc-vqa"] == str(tmp_path / "corpus" / "benchmarks" / "pmc-vqa")  # not imported: the default
    assert benchmark_folders(["slake"], tmp_path / "corpus", "", {"slake": "/x"}) == {"slake": "/x"}
    assert len(load_benchmark("vqa-rad", paths["vqa-rad"])) == 3  # the test split


def test_bad_spec_names_the_field(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"sources": [
        {"name": "x", "format": "csv", "path": str(tmp_path)}]}))
    assert importer.main([str(tmp_path / "s.yaml"), str(tmp_path / "out")]) == 2
    assert "sources.x.format" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"sources": [
        {"name": "x", "format": "llava", "path": str(tmp_path)}], "benchmark": {}}))
    assert importer.main([str(tmp_path / "s.yaml"), str(tmp_path / "out")]) == 2
    assert "'benchmark'" in capsys.readouterr().err


@pytest.mark.parametrize("name, layout", [
    ("slake", {"test.json": "train.json"}), ("pmc-vqa", {"test_2.csv": "train_2.csv"}),
    ("pathvqa", {"data/test-00000-of-00002-0a1b2c3d4e5f6a7b.parquet": "data/train-00000-of-00002-0a1b.parquet",
                 "data/test-00001-of-00002-8c9d0e1f2a3b4c5d.parquet": "data/train-00001-of-00002-8c9d.parquet"}),
])
def test_each_training_benchmark_reads_its_published_train_file(tmp_path, name, layout):
    folder = tmp_path / name
    shutil.copytree(f"{FIX}/benchmarks/{name}", folder)
    for test_file, train_file in layout.items():
        (folder / test_file).rename(folder / train_file)
    train = load_benchmark(name, folder, split="train")
    assert train and all(item.benchmark == name for item in train)
    with pytest.raises(ValueError, match="test"):
        load_benchmark(name, folder)
    spec = importer.SourceSpec(name=name, format=name, path=str(folder))
    assert len(list(importer.source_samples(spec))) == len(train)


def test_in_memory_images_are_written_once_and_referenced_by_path(tmp_path, vqa_rad):
    """VQA-RAD's parquet holds JPEG bytes; two questions on one image must not inline it twice."""
    import pyarrow.parquet as pq

    from infimed_lib.data.images import load_image

    spec = write_spec(tmp_path / "s.yaml", {"sources": [{"name": "vqa-rad", "format": "vqa-rad", "path": str(vqa_rad)}]})
    assert importer.main([spec, str(tmp_path / "corpus")]) == 0
    rows = read_jsonl(tmp_path / "corpus" / "sources" / "vqa-rad.jsonl")
    refs = [ref for row in rows for ref in row["images"]]
    assert len(refs) == 6 and all(ref.startswith("images/vqa-rad/") and ref.endswith(".jpg") for ref in refs)
    files = sorted((tmp_path / "corpus" / "images" / "vqa-rad").iterdir())
    published = {row["image"]["bytes"] for row in pq.read_table(next((vqa_rad / "data").glob("train-*"))).to_pylist()}
    assert len(files) == len(set(refs)) == 3 and {f.read_bytes() for f in files} == published  # JPEG kept as is
    mixture = build_mixture(MixtureSpec({"vqa-rad": 1.0}), tmp_path / "corpus")
    assert load_image(mixture.samples[0]["images"][0]).size == (4, 4)
