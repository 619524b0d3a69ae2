"""Stage mixtures: fractions, counts, the -filtered variant, stage-3 balancing, the keep-list."""
import json

import pytest

from infimed_lib.common import ParameterError
from infimed_lib.data.mixtures import MixtureSpec, build_mixture


@pytest.fixture
def corpus(tmp_path):
    (tmp_path / "sources").mkdir()
    def write(name, n, domain, refusals=0):
        rows = [{"id": f"{name}-{i}", "source": name, "domain": domain, "images": [f"images/{name}/{i}.png"],
                 "conversations": [{"from": "human", "value": "<image>\nq"}, {"from": "gpt", "value": "a"}],
                 "meta": {"refusal": i < refusals}} for i in range(n)]
        (tmp_path / "sources" / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    write("general-mini", 100, "general", refusals=10)
    write("big-med-mini", 200, "medical")
    write("small-med-mini", 30, "medical")
    write("bad-med-mini", 50, "medical")
    return tmp_path


def test_fractions_counts_and_filtered(corpus):
    spec = MixtureSpec({"general-mini-filtered": 0.5, "big-med-mini": 20, "small-med-mini": 1.0})
    mixture = build_mixture(spec, corpus)
    assert mixture.counts == {"general-mini-filtered": 45, "big-med-mini": 20, "small-med-mini": 30}
    assert not any(s["meta"]["refusal"] for s in mixture.samples if s["source"] == "general-mini")
    assert all(s["images"][0].startswith(str(corpus)) for s in mixture.samples)


def test_balance_caps_medical_sources_only(corpus):
    spec = MixtureSpec({"general-mini": 1.0, "big-med-mini": 1.0, "small-med-mini": 1.0}, balance_to=25)
    assert build_mixture(spec, corpus).counts == {"general-mini": 100, "big-med-mini": 25, "small-med-mini": 25}


def test_seeded_and_keep_list_respected(corpus, tmp_path):
    keep = tmp_path / "keep_list.json"
    keep.write_text(json.dumps({"keep": ["big-med-mini"], "drop": ["bad-med-mini"]}))
    spec = MixtureSpec({"big-med-mini": 10, "bad-med-mini": 1.0}, seed=3)
    first, second = build_mixture(spec, corpus, keep), build_mixture(spec, corpus, keep)
    assert [s["id"] for s in first.samples] == [s["id"] for s in second.samples]
    assert first.skipped == {"bad-med-mini": "dropped by curation"} and "bad-med-mini" not in first.counts
    other = build_mixture(MixtureSpec({"big-med-mini": 10, "bad-med-mini": 1.0}, seed=4), corpus, keep)
    assert [s["id"] for s in other.samples] != [s["id"] for s in first.samples]


def test_bad_specs_name_the_parameter(corpus):
    with pytest.raises(ParameterError, match="sft2.sources.x"):
        MixtureSpec({"x": 1.5}, name="sft2")
    with pytest.raises(ParameterError, match="unknown source 'nope'"):
        build_mixture(MixtureSpec({"nope": 1.0}), corpus)
    with pytest.raises(ParameterError, match="corpus_dir"):
        build_mixture(MixtureSpec({"a": 1.0}), corpus / "missing")
