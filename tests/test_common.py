"""Shared utilities: streaming JSONL reads and writes that never leave a half-written file."""
import pytest

from infimed_lib.common import atomic_write_jsonl, iter_jsonl, read_jsonl


def test_iter_jsonl_yields_records_before_reading_the_rest(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"i": 0}\n\n{"i": 1}\nnot json\n')
    rows = iter_jsonl(path)
    assert next(rows) == {"i": 0} and next(rows) == {"i": 1}
    with pytest.raises(ValueError, match=r"a.jsonl:4: not valid JSON"):
        next(rows)


def test_atomic_write_jsonl_streams_a_generator_and_keeps_the_old_file_on_failure(tmp_path):
    path = tmp_path / "out.jsonl"
    atomic_write_jsonl(path, ({"i": i} for i in range(3)))
    assert read_jsonl(path) == [{"i": 0}, {"i": 1}, {"i": 2}]

    def failing():
        yield {"i": 9}
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError):
        atomic_write_jsonl(path, failing())
    assert read_jsonl(path) == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]
