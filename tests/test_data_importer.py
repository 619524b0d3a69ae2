"""Importing real-format datasets into the corpus layout (the paper profile's entry point)."""
import yaml

from infimed_lib.common import read_json, read_jsonl
from infimed_lib.data import importer
from infimed_lib.data.mixtures import MixtureSpec, build_mixture

FIX = "tests/fixtures"


def test_import_llava_and_vqa_sources_then_mix(tmp_path):
    spec = {"sources": [
        {"name": "llava-med-instruct", "format": "llava", "path": f"{FIX}/llava/llava_med_instruct.json",
         "image_root": f"{FIX}/llava/images", "family": "medical_instruction", "kind": "dialogue"},
        {"name": "vqa-rad", "format": "vqa-rad", "path": f"{FIX}/benchmarks/vqa-rad"},
    ], "benchmarks": {"slake": f"{FIX}/benchmarks/slake"}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    assert importer.main([str(tmp_path / "s.yaml"), str(tmp_path / "corpus")]) == 0
    manifest = read_json(tmp_path / "corpus" / "manifest.json")
    assert set(manifest["sources"]) == {"llava-med-instruct", "vqa-rad"}
    for name, info in manifest["sources"].items():
        rows = read_jsonl(tmp_path / "corpus" / "sources" / f"{name}.jsonl")
        assert len(rows) == info["num_samples"] > 0
        for row in rows:
            markers = sum(t["value"].count("<image>") for t in row["conversations"])
            assert markers == len(row["images"])
    mixture = build_mixture(MixtureSpec({"vqa-rad": 1.0, "llava-med-instruct": 1.0}), tmp_path / "corpus")
    assert len(mixture.samples) == sum(i["num_samples"] for i in manifest["sources"].values())


def test_bad_spec_names_the_field(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"sources": [
        {"name": "x", "format": "csv", "path": str(tmp_path)}]}))
    assert importer.main([str(tmp_path / "s.yaml"), str(tmp_path / "out")]) == 2
    assert "sources.x.format" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
