"""Batch runner: profiles, parameter checks, execution, failures, source conventions."""
import json
from pathlib import Path

import nbformat
import pytest

from infimed_lib import runner
from infimed_lib.common import ParameterError
from infimed_lib.profiles import apply_overrides, load_profile, resolve


def make_notebook(path: Path, params: str, body: str) -> Path:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), cell, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, path)
    return path


@pytest.fixture
def book(tmp_path):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    make_notebook(nbs / "00_first.ipynb", 'run_dir = "runs/x"  # where\nseed = 0  # seed\nscale = 1.0  # size',
                  "import json, pathlib\np = pathlib.Path(run_dir); p.mkdir(parents=True, exist_ok=True)\n"
                  "(p / 'out.json').write_text(json.dumps({'seed': seed, 'scale': scale}))")
    make_notebook(nbs / "01_second.ipynb", 'run_dir = "runs/x"  # where\nfail = False  # raise?',
                  "from infimed_lib.common import ParameterError\n"
                  "if fail:\n    raise ParameterError('fail', 'was asked to fail')\n"
                  "import pathlib; (pathlib.Path(run_dir) / 'second.txt').write_text('ok')")
    profile = tmp_path / "p.yaml"
    profile.write_text(f"name: t\nparameters:\n  run_dir: {tmp_path / 'run'}\n  seed: 3\n"
                       "notebooks:\n  00_first:\n    scale: 2\n")
    return tmp_path


def run_cli(book, *extra):
    return runner.main(["run", "--profile", str(book / "p.yaml"), "--notebooks", str(book / "notebooks"),
                        "--output", str(book / "build"), "--kernel", "python3", *extra])


def test_runs_in_order_with_profile_parameters(book):
    assert run_cli(book) == 0
    assert json.loads((book / "run" / "out.json").read_text()) == {"seed": 3, "scale": 2}
    assert (book / "run" / "second.txt").read_text() == "ok"
    executed = nbformat.read(book / "build" / "t" / "00_first.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    assert set(json.loads((book / "build" / "t" / "notebook_timings.json").read_text())) == {"00_first", "01_second"}
    assert run_cli(book, "--only", "01") == 0  # a partial run keeps the other chapters' times
    assert set(json.loads((book / "build" / "t" / "notebook_timings.json").read_text())) == {"00_first", "01_second"}


def test_failing_notebook_names_notebook_and_cell_and_keeps_copy(book, capsys):
    assert run_cli(book, "--set", "01_second:fail=true") == 2
    err = capsys.readouterr().err
    assert "01_second.ipynb, cell" in err and "ParameterError: parameter 'fail': was asked to fail" in err
    assert (book / "build" / "t" / "01_second.ipynb").exists()
    assert err.count("\n") <= 3


def test_wrong_type_is_refused_before_running(book, capsys):
    assert run_cli(book, "--set", "seed=abc") == 2
    err = capsys.readouterr().err
    assert "parameter 'seed'" in err and "expects int" in err
    assert not (book / "run").exists()


def test_unknown_parameter_and_profile_are_named(book, capsys):
    assert run_cli(book, "--set", "sede=1") == 2
    assert "parameter 'sede': no notebook declares it" in capsys.readouterr().err
    assert runner.main(["run", "--profile", str(book / "nope.yaml"), "--notebooks", str(book / "notebooks")]) == 2
    assert "parameter 'profile': no profile file" in capsys.readouterr().err


def test_int_is_accepted_for_float_but_not_bool_for_int(book):
    profile = apply_overrides(load_profile(book / "p.yaml"), ["scale=3"])
    nbs = sorted((book / "notebooks").glob("*.ipynb"))
    assert resolve(profile, nbs)["00_first"]["scale"] == 3
    with pytest.raises(ParameterError, match="seed"):
        resolve(apply_overrides(profile, ["seed=true"]), nbs)


def test_check_sources_flags_outputs_and_missing_comments(tmp_path):
    make_notebook(tmp_path / "00_ok.ipynb", "a = 1  # one", "print(a)")
    make_notebook(tmp_path / "01_bad.ipynb", "a = 1\nb = len('x')  # not literal", "print(a)")
    nb = nbformat.read(tmp_path / "00_ok.ipynb", as_version=4)
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="1")]
    nbformat.write(nb, tmp_path / "02_out.ipynb")
    problems = "\n".join(runner.check_sources(tmp_path))
    assert "00_ok" not in problems
    assert "01_bad.ipynb: parameter on line 1 has no trailing comment" in problems
    assert "01_bad.ipynb: parameter on line 2 is not a literal" in problems
    assert "02_out.ipynb: has outputs" in problems


def test_compare_ignores_timing_files(tmp_path):
    for name, t in (("a", 1), ("b", 2)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text('{"loss": 1}')
        (tmp_path / name / "timings.json").write_text(f'{{"s": {t}}}')
    assert runner.main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    (tmp_path / "b" / "metrics.json").write_text('{"loss": 2}')
    assert runner.main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 1


def test_compare_ignores_wall_clock_keys_but_not_losses(tmp_path):
    for name, speed in (("a", 10.5), ("b", 99.0)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.jsonl").write_text(
            f'{{"step": 1, "loss": 2.5, "tokens_per_s": {speed}, "elapsed_s": {speed}}}\n')
    assert runner.main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    (tmp_path / "b" / "metrics.jsonl").write_text('{"step": 1, "loss": 2.6, "tokens_per_s": 1, "elapsed_s": 1}\n')
    assert runner.main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 1


def test_progress_bar_redraws_collapse_to_their_last_state():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="cpt:   0%| 0/9\r"),
                    nbformat.v4.new_output("stream", name="stderr", text="cpt:  50%| 4/9\rcpt: 100%| 9/9\n"),
                    nbformat.v4.new_output("stream", name="stdout", text="done\n")]
    nb.cells = [cell]
    runner.tidy_outputs(nb)
    assert [o["text"] for o in cell.outputs] == ["cpt: 100%| 9/9\n", "done\n"]


def test_check_sources_flags_comments_papermill_cannot_parse(tmp_path):
    make_notebook(tmp_path / "00_x.ipynb", 'a = ""  # fine\nb = ""  # empty ("" = keep all)', "print(a)")
    problems = runner.check_sources(tmp_path)
    assert any("parameter 'b'" in p for p in problems) and not any("parameter 'a'" in p for p in problems)


def test_compare_skips_keys_that_name_a_time_unit(tmp_path):
    for name, ms in (("a", 14.9), ("b", 137.6)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(f'{{"forward (ms)": {ms}, "parameters": 10}}')
    assert runner.main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0


def _glued_notebook():
    # myst-nb's own glue output, captured: numpy 2 stores "np.float64(1.5)", which {glue:text}`x:.1f` cannot format.
    import numpy as np
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from myst_nb import glue

    InteractiveShell.instance()
    with capture_output() as captured:
        glue("ratio", np.float64(1.5), display=False)
        glue("share", 2.5, display=False)
        glue("count", np.int64(3), display=False)
    cell = nbformat.v4.new_code_cell("glue(...)")
    cell.outputs = [nbformat.v4.new_output("display_data", data=o.data, metadata=o.metadata) for o in captured.outputs]
    return nbformat.v4.new_notebook(cells=[cell])


def test_glued_numpy_scalars_the_book_would_print_as_blanks_are_found():
    problems = runner.numpy_glue(_glued_notebook(), "03_model")
    assert len(problems) == 2 and "'ratio' = np.float64(1.5)" in problems[0] and "'count'" in problems[1]
    assert all(p.startswith("03_model: ") for p in problems)


def test_stage_book_refuses_before_replacing_the_last_good_chapters(tmp_path, monkeypatch):
    import argparse

    nb = _glued_notebook()
    executed = tmp_path / "executed" / "tiny"
    executed.mkdir(parents=True)
    nbformat.write(nb, executed / "03_model.ipynb")
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    (chapters / "03_model.ipynb").write_text("last good build")
    monkeypatch.setattr(runner, "BOOK_CHAPTERS", chapters)
    args = argparse.Namespace(profile="profiles/tiny.yaml", output=str(tmp_path / "executed"), notebooks="notebooks")
    with pytest.raises(ParameterError, match="03_model: glue 'ratio'"):
        runner.stage_book(args)
    assert (chapters / "03_model.ipynb").read_text() == "last good build"


def _executed_chapter(path: Path, title: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\nWhat this chapter does."),
                nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, path)


def test_stage_book_puts_run_time_reads_and_writes_under_each_title(book, monkeypatch):
    import argparse

    from infimed_lib import chapter_box

    executed = book / "build" / "t"
    executed.mkdir(parents=True)
    _executed_chapter(executed / "00_first.ipynb", "00 · First")
    _executed_chapter(executed / "01_second.ipynb", "01 · Second")
    (executed / "notebook_timings.json").write_text('{"00_first": 331.6}')  # 01 was never timed
    io = {"00_first": {"reads": [{"path": "data/"}], "writes": [{"path": "{run_dir}/first/", "what": "tables"}]},
          "01_second": {"reads": [{"path": "{run_dir}/first/", "from": "00"}], "writes": []}}
    monkeypatch.setattr(chapter_box, "load_chapter_io", lambda path=None: io)
    monkeypatch.setattr(runner, "BOOK_CHAPTERS", book / "chapters")
    args = argparse.Namespace(profile=str(book / "p.yaml"), output=str(book / "build"), notebooks=str(book / "notebooks"))
    assert runner.stage_book(args) == 0
    first, second = (nbformat.read(book / "chapters" / f"{s}.ipynb", as_version=4) for s in ("00_first", "01_second"))
    assert [c.source for c in first.cells[:1] + first.cells[2:3]] == ["# 00 · First", "What this chapter does."]
    box = first.cells[1]
    assert box.cell_type == "markdown" and box.source.startswith("```{admonition} This chapter")
    assert "**Run time:** 5 min 32 s on this build (t profile)." in box.source
    assert "- `data/`" in box.source and f"- `{book / 'run'}/first/`: tables" in box.source
    assert box.source.index("**Reads:**") < box.source.index("**Writes:**")
    box = second.cells[1]
    assert "**Run time:** not measured on this build (t profile): no entry for 01_second" in box.source
    assert f"- `{book / 'run'}/first/` (from [chapter 00](00_first.ipynb))" in box.source


def test_every_chapter_lists_what_it_reads_and_writes():
    from infimed_lib.chapter_box import format_duration, load_chapter_io

    chapter_io = load_chapter_io()
    stems = [p.stem for p in runner.list_notebooks(Path("notebooks"))]
    assert sorted(chapter_io) == stems
    for stem, io in chapter_io.items():
        assert io["writes"] and all(entry["path"] for entry in io["reads"] + io["writes"]), stem
        assert all(str(e["from"]) < stem[:2] for e in io["reads"] if "from" in e), f"{stem} reads from a later chapter"
    assert (format_duration(53.2), format_duration(59.6), format_duration(331.6)) == ("53 s", "1 min 00 s", "5 min 32 s")
