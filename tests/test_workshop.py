"""The workshop kit (make workshop) and the workshop profile: student copies without solutions or
outputs, a guide that covers every chapter, a copied run folder, one clear error without a run."""
from pathlib import Path

import nbformat
import pytest

from infimed_lib.chapter_box import load_chapter_io
from infimed_lib.common import ParameterError
from infimed_lib.exercises import exercises, is_solution
from infimed_lib.profiles import load_profile, resolve
from infimed_lib.workshop import GUIDE, STUDENT_CELL, build_kit, load_notes, main, student_notebook

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
CHAPTERS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
PROFILE = "name: class\nextends: workshop\n"


def fake_run(root: Path, run_dir: str = "runs/tiny", skip: str = "") -> Path:
    """A run folder holding every output chapter_io.yaml lists (except those of chapter ``skip``)."""
    for stem, io in load_chapter_io().items():
        for entry in (io.get("writes") or []) if stem != skip else []:
            path = root / entry["path"].format(run_dir=run_dir, corpus_dir=f"{run_dir}/corpus")
            if entry["path"].endswith("/"):
                path.mkdir(parents=True, exist_ok=True)
                (path / "file.json").write_text("{}")
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("{}")
    for scratch in ("exercises/04/lr-0.001", "workshop/stage1"):  # what a class wrote: never shipped
        (root / run_dir / scratch).mkdir(parents=True, exist_ok=True)
        (root / run_dir / scratch / "metrics.jsonl").write_text("{}\n")
    return root / run_dir


@pytest.fixture
def classroom(tmp_path, monkeypatch):
    """A working folder with the profiles and a finished fake run; relative paths resolve here."""
    (tmp_path / "profiles").mkdir()
    for name in ("tiny", "workshop"):
        (tmp_path / "profiles" / f"{name}.yaml").write_text((REPO / "profiles" / f"{name}.yaml").read_text())
    (tmp_path / "profiles" / "class.yaml").write_text(PROFILE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_kit_has_student_notebooks_a_guide_for_every_chapter_and_the_run_folder(classroom):
    run = fake_run(classroom)
    kit = build_kit("profiles/class.yaml", "build/workshop", NOTEBOOKS, classroom / "no-executed-runs")
    assert sorted(p.name for p in (kit / "notebooks").iterdir()) == [p.name for p in CHAPTERS]
    for path in CHAPTERS:
        source, student = nbformat.read(path, as_version=4), nbformat.read(kit / "notebooks" / path.name, as_version=4)
        assert not any(is_solution(c) for c in student.cells)
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in student.cells if c.cell_type == "code")
        assert sum(c.source == STUDENT_CELL for c in student.cells) == len(exercises(source))
        assert "jupytext" not in student.metadata  # plain .ipynb: JupyterLab must not pair it with a twin
        nbformat.validate(student)
    guide = (kit / GUIDE).read_text()
    for path in CHAPTERS:
        title = nbformat.read(path, as_version=4).cells[0].source.splitlines()[0].lstrip("# ")
        assert f"## {title}" in guide and f"notebooks/{path.stem}.ipynb" in guide
        for exercise in exercises(nbformat.read(path, as_version=4)):
            assert exercise.expected in guide
    assert "not written yet" not in guide and "runs/tiny/stage2/checkpoint/" in guide
    copied = kit / "runs" / "tiny"
    assert (copied / "stage3" / "checkpoint").is_dir() and (copied / "corpus").is_dir()
    assert not (copied / "exercises").exists() and not (copied / "workshop").exists()
    assert (run / "exercises").is_dir()  # the instructor's run folder is left as it was
    assert not list(classroom.glob("build/.*partial"))


def test_the_student_notebooks_carry_the_workshop_values_for_training_chapters():
    profile = load_profile(REPO / "profiles" / "workshop.yaml")
    path = NOTEBOOKS / "05_sft_general.ipynb"
    values = resolve(profile, [path], CHAPTERS)[path.stem]
    student = student_notebook(nbformat.read(path, as_version=4), values)
    injected = [c for c in student.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and 'output_dir = "runs/tiny/workshop/stage1"' in injected[0].source
    tags = [c.metadata.get("tags", []) for c in student.cells]
    assert tags.index(["parameters"]) + 1 == tags.index(["injected-parameters"])


def test_without_a_run_folder_the_kit_stops_with_one_clear_error(classroom, capsys):
    with pytest.raises(ParameterError, match=r"no run folder runs/tiny.*make book"):
        build_kit("profiles/class.yaml", "build/workshop", NOTEBOOKS)
    assert main(["--profile", "profiles/class.yaml", "--out", "build/workshop", "--notebooks", str(NOTEBOOKS)]) == 2
    assert capsys.readouterr().err.count("error:") == 1
    assert not (classroom / "build").exists()


def test_an_unfinished_run_names_the_chapter_whose_outputs_are_missing(classroom):
    fake_run(classroom, skip="09_ablation_case_studies")
    with pytest.raises(ParameterError) as error:
        build_kit("profiles/class.yaml", "build/workshop", NOTEBOOKS)
    assert "09_ablation_case_studies: runs/tiny/ablation/sft1+3" in str(error.value)
    assert "08_evaluation" not in str(error.value)
    assert not (classroom / "build").exists()


def test_the_workshop_profile_is_the_tiny_one_with_short_training_chapters_in_their_own_folders():
    tiny, workshop = load_profile(REPO / "profiles" / "tiny.yaml"), load_profile(REPO / "profiles" / "workshop.yaml")
    resolved = resolve(workshop, CHAPTERS, CHAPTERS)  # every override names a parameter its chapter declares
    changed = {p.stem for p in CHAPTERS if workshop.for_notebook(p.stem) != tiny.for_notebook(p.stem)}
    assert changed == {"05_sft_general", "06_sft_medical", "07_sft_cross_distribution"}
    for stem in changed:
        assert resolved[stem]["output_dir"].startswith(f"{resolved[stem]['run_dir']}/workshop/")
        assert sum(v for v in resolved[stem]["mixture"].values() if isinstance(v, int)) <= 300


def test_a_profile_extends_another_chapter_by_chapter_and_a_circle_is_refused(tmp_path):
    (tmp_path / "base.yaml").write_text("parameters: {run_dir: runs/a, seed: 1}\n"
                                        "notebooks: {02_packing: {capacity: 1024, shard_bins: 8}}\n")
    (tmp_path / "child.yaml").write_text("extends: base\nparameters: {seed: 2}\nnotebooks: {02_packing: {capacity: 512}}\n")
    child = load_profile(tmp_path / "child.yaml")
    assert child.parameters == {"run_dir": "runs/a", "seed": 2}
    assert child.notebooks == {"02_packing": {"capacity": 512, "shard_bins": 8}}
    (tmp_path / "base.yaml").write_text("extends: child\n")
    with pytest.raises(ParameterError, match="circle"):
        load_profile(tmp_path / "child.yaml")


def test_every_chapter_has_learning_goals_and_common_mistakes_for_the_guide():
    chapters = load_notes().get("chapters") or {}
    for path in CHAPTERS:
        assert len(chapters.get(path.stem, {}).get("goals") or []) >= 2, path.stem
        assert len(chapters.get(path.stem, {}).get("mistakes") or []) >= 2, path.stem
