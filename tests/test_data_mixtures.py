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


def test_filtered_drops_refusals_by_their_text_without_a_refusal_flag(tmp_path):
    """Real Mammoth-VL records have no meta.refusal: the reply's opening words must decide."""
    replies = ["Sorry, I can't help with that.", "I’m sorry, but I cannot assist with that request.",
               "I apologize, but I am unable to identify people in images.", "As an AI, I cannot do that.",
               "Sorry for the wait: the answer is B.", "I cannot see a fracture; the bone is intact.",
               "The chart peaks in 2019."]
    rows = [{"id": f"m-{i}", "source": "mammoth-vl", "domain": "general", "images": [],
             "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": reply}], "meta": {}}
            for i, reply in enumerate(replies)]
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "mammoth-vl.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    mixture = build_mixture(MixtureSpec({"mammoth-vl-filtered": 1.0}), tmp_path)
    assert sorted(s["id"] for s in mixture.samples) == ["m-4", "m-5", "m-6"]
    assert mixture.available == {"mammoth-vl-filtered": 3}
    assert len(build_mixture(MixtureSpec({"mammoth-vl": 1.0}), tmp_path).samples) == 7


def test_mixture_reads_sources_as_a_stream(corpus, monkeypatch):
    """A source is never loaded whole: only the chosen records are kept."""
    from infimed_lib.data import mixtures

    monkeypatch.setattr(mixtures, "read_jsonl", lambda *a: pytest.fail("read a whole source"), raising=False)
    mixture = build_mixture(MixtureSpec({"big-med-mini": 7}, seed=2), corpus)
    assert mixture.counts == {"big-med-mini": 7} and len({s["id"] for s in mixture.samples}) == 7
