"""Chapter 00's corpus helpers on an imported corpus, whose sources have the real datasets' names."""
import json

import pytest

from infimed_lib.common import ParameterError
from infimed_lib.report.overview import corpus_summary, first_sample


@pytest.fixture
def corpus(tmp_path):
    """An imported corpus: no *-mini sources, a text-only general source listed first."""
    sources = {"mammoth-vl": ("instruction", "general", []), "llava-med-instruct": ("dialogue", "medical", ["a.jpg"]),
               "slake": ("vqa", "medical", ["s.jpg"])}
    (tmp_path / "sources").mkdir()
    manifest = {"kind": "imported", "sources": {}}
    for name, (kind, domain, images) in sources.items():
        rows = [{"id": f"{name}-{i}", "source": name, "kind": kind, "domain": domain, "images": images if i else [],
                 "conversations": [{"from": "human", "value": "<image>\nq" if images and i else "q"},
                                   {"from": "gpt", "value": "a"}], "meta": {}} for i in range(3)]
        (tmp_path / "sources" / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        manifest["sources"][name] = {"kind": kind, "domain": domain, "family": "x"}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


def test_first_sample_finds_a_medical_vqa_source_of_any_corpus(corpus):
    example = first_sample(corpus)
    assert example["id"] == "slake-1" and example["images"] == ["s.jpg"]
    assert first_sample(corpus, "llava-med-instruct")["id"] == "llava-med-instruct-1"
    with pytest.raises(ParameterError, match="example_source.*'vqa-rad-mini'.*known"):
        first_sample(corpus, "vqa-rad-mini")


def test_corpus_summary_counts_streamed_sources(corpus):
    summary = corpus_summary(corpus).set_index("source")
    assert summary.loc["slake", "samples"] == 3 and summary.loc["slake", "images"] == 2
    assert summary.loc["mammoth-vl", "images"] == 0
