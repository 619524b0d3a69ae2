"""The exercises at the end of every chapter: their conventions (fast, always), and their solutions
run against a finished tiny run with their assertions holding (slow; set INFIMED_EXERCISE_RUN to the
run folder, e.g. `make test-exercises` after `make book`)."""
import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from infimed_lib import runner
from infimed_lib.common import ParameterError
from infimed_lib.exercises import (exercise_notebook, exercises, is_solution, problems,
                                   write_without_solutions)
from infimed_lib.profiles import load_profile, resolve

REPO = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
RUN_ENV = "INFIMED_EXERCISE_RUN"


def read(path):
    return nbformat.read(path, as_version=4)


def solution(source, tags=("solution", "hide-cell")):
    cell = new_code_cell(source)
    cell.metadata["tags"] = list(tags)
    return cell


def chapter(*exercise_cells):
    """A chapter shaped like ours: parameters, setup, a body cell, then the exercises section."""
    params = new_code_cell('run_dir = "runs/tiny"  # where the run is\ncapacity = 1024  # tokens per row')
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[new_markdown_cell("# 02 · Packing"), params,
                             new_code_cell("from pathlib import Path\nimport numpy as np\nrows = Path(run_dir)"),
                             new_code_cell("lengths = np.arange(10)  # the chapter's body"),
                             new_markdown_cell("## Exercises\n\nIntro."), *exercise_cells])
    return nb


GOOD = [new_markdown_cell("### Exercise 1: rows\n\n**Predict first:** how many?"),
        solution("# Expected: fewer rows.\nhalf = capacity // 2\nassert half < capacity"),
        new_markdown_cell("### Exercise 2: paths\n\nPredict the folder."),
        solution("# Expected: under the run folder.\nfolder = rows / 'packing'\nassert folder.parent == rows and half")]


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_chapter_ends_with_two_to_four_exercises_that_follow_the_conventions(path):
    nb = read(path)
    assert problems(nb, path.stem) == []
    found = exercises(nb)
    assert 2 <= len(found) <= 4
    assert all(e.title.startswith("Exercise") and e.expected for e in found)
    last = max(i for i, cell in enumerate(nb.cells) if is_solution(cell))
    assert all(cell.cell_type == "markdown" for cell in nb.cells[last + 1:])  # the section ends the chapter


def test_a_well_formed_chapter_passes_and_its_exercises_are_read_in_order():
    nb = chapter(*GOOD)
    assert problems(nb, "02_packing") == []
    assert [(e.title, e.expected) for e in exercises(nb)] == [("Exercise 1: rows", "fewer rows."),
                                                               ("Exercise 2: paths", "under the run folder.")]


@pytest.mark.parametrize("cells, message", [
    ([GOOD[0], solution("# Expected: x\nassert True")], "no assert that checks a result"),
    ([GOOD[0], solution("# Expected: x\nassert lengths.sum() > 0")], "uses lengths, which neither"),
    ([GOOD[0], solution("# Expected: x\nassert capacity", tags=["solution"])], "lacks the 'hide-cell' tag"),
    ([GOOD[0], solution("assert capacity > 0")], "no '# Expected: ...' comment"),
    ([new_markdown_cell("### Exercise 1\n\nMeasure it."), solution("# Expected: x\nassert capacity")],
     "does not ask the reader to predict"),
    ([new_markdown_cell("Some text."), solution("# Expected: x\nassert capacity")], "'### Exercise' heading"),
    ([GOOD[0], new_code_cell("x = 1")], "code without the 'solution' tag"),
    (GOOD[:2], "1 solution cells, expected 2 to 4"),
])
def test_each_broken_convention_is_named(cells, message):
    found = "\n".join(problems(chapter(*cells), "02_packing"))
    assert message in found and "02_packing" in found


def test_a_chapter_without_an_exercises_section_is_refused():
    nb = chapter(*GOOD)
    nb.cells[4].source = "## Further reading"
    assert problems(nb, "02_packing") == ["02_packing: no '## Exercises' section"]


def test_the_exercise_notebook_keeps_parameters_setup_and_the_exercises_only():
    nb = chapter(*GOOD)
    nb.cells[3].outputs = [nbformat.v4.new_output("stream", text="body output")]
    nb.cells[6].execution_count = 3
    kept = exercise_notebook(nb)
    assert [c.source.splitlines()[0] for c in kept.cells] == [
        'run_dir = "runs/tiny"  # where the run is', "from pathlib import Path", "## Exercises",
        "### Exercise 1: rows", "# Expected: fewer rows.", "### Exercise 2: paths", "# Expected: under the run folder."]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in kept.cells if c.cell_type == "code")
    assert len(nb.cells) == 9  # the chapter itself is left as it was


def test_a_profile_without_exercises_runs_copies_without_solution_cells(tmp_path):
    source = tmp_path / "02_packing.ipynb"
    nbformat.write(chapter(*GOOD), source)
    copy = write_without_solutions(source, tmp_path / "stripped")
    stripped = read(copy)
    assert copy.parent == tmp_path / "stripped" and not any(is_solution(c) for c in stripped.cells)
    assert [c.source for c in stripped.cells] == [c.source for c in read(source).cells if not is_solution(c)]
    profile = tmp_path / "big.yaml"
    profile.write_text("name: big\nexercises: false\nparameters: {run_dir: runs/big}\n")
    assert load_profile(profile).exercises is False
    assert load_profile(REPO / "profiles" / "tiny.yaml").exercises is True
    assert load_profile(REPO / "profiles" / "paper.yaml").exercises is False
    profile.write_text("name: big\nexercises: 'no'\n")
    with pytest.raises(ParameterError, match="'exercises' must be true or false"):
        load_profile(profile)


def test_the_runner_executes_solutions_unless_the_profile_turns_exercises_off(tmp_path, capsys):
    nb = chapter(new_markdown_cell("### Exercise 1: a wrong claim\n\nPredict the folder."),
                 solution('# Expected: a failing claim.\nassert str(rows) == "elsewhere", "the claim"'))
    (tmp_path / "notebooks").mkdir()
    nbformat.write(nb, tmp_path / "notebooks" / "02_packing.ipynb")
    arguments = ["run", "--notebooks", str(tmp_path / "notebooks"), "--output", str(tmp_path / "build"), "--kernel", "python3"]
    for name, switch in (("with", "true"), ("without", "false")):
        (tmp_path / f"{name}.yaml").write_text(f"name: {name}\nexercises: {switch}\nparameters: {{run_dir: {tmp_path / 'run'}}}\n")
    assert runner.main([*arguments, "--profile", str(tmp_path / "with.yaml")]) == 2
    assert "AssertionError: the claim" in capsys.readouterr().err  # make book fails on a claim that does not hold
    assert runner.main([*arguments, "--profile", str(tmp_path / "without.yaml")]) == 0
    executed = read(tmp_path / "build" / "without" / "02_packing.ipynb")
    assert not any(is_solution(c) for c in executed.cells) and "### Exercise 1" in executed.cells[-1].source


def _finished_run() -> Path:
    run = os.environ.get(RUN_ENV, "")
    if not run:
        pytest.skip(f"set {RUN_ENV} to a finished tiny run folder (make test-exercises does, after make book)")
    path = Path(run) if Path(run).is_absolute() else REPO / run
    if not (path / "report" / "metrics.json").is_file():
        raise ParameterError(RUN_ENV, f"{path} holds no finished run (no report/metrics.json); run `make book` first")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_the_solutions_run_and_their_assertions_hold_on_a_finished_tiny_run(path, tmp_path):
    run = _finished_run()
    values = resolve(load_profile(REPO / "profiles" / "tiny.yaml"), [path], CHAPTERS)[path.stem]
    relative = os.path.relpath(run, REPO)
    values.update({k: v for k, v in {"run_dir": relative, "corpus_dir": f"{relative}/corpus"}.items() if k in values})
    source = tmp_path / path.name
    nbformat.write(exercise_notebook(read(path)), source)
    # Papermill names the failing cell and the assertion's message (NotebookFailed); the run folder
    # only gains files under <run>/exercises/, which the solutions write.
    runner.execute(source, tmp_path / "executed" / path.name, values, REPO, runner.kernel_name())
    executed = read(tmp_path / "executed" / path.name)
    assert sum(is_solution(c) for c in executed.cells) == len(exercises(read(path)))
