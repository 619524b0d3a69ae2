"""Shared test helper: a benchmark item with sensible defaults (tests of the eval package)."""
from infimed_lib.data.benchmarks import BenchmarkItem


def make_item(**fields) -> BenchmarkItem:
    base = dict(benchmark="vqa-rad", id="q1", question="What is shown?", images=["img.png"], options={},
                answer="", question_type="open", lang="en", modality="CT", meta={})
    base.update(fields)
    return BenchmarkItem(**base)
