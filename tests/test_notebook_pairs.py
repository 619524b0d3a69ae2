"""Chapter pairs (.ipynb + MyST .md): the check finds pairs out of step, never writes, and a sync fixes them."""
import os
from pathlib import Path

import jupytext
import nbformat

from infimed_lib import runner
from infimed_lib.notebook_pairs import PAIRED_FORMATS, pair_problems

REPO = Path(__file__).resolve().parents[1]


def write_pair(folder: Path, stem: str = "02_packing") -> tuple[Path, Path]:
    """A chapter shaped like ours: parameters cell, a figure cell hidden in the book, a glued figure."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "InfiMed (.venv)", "language": "python", "name": "infimed"}
    nb.metadata["jupytext"] = {"formats": PAIRED_FORMATS}
    params = nbformat.v4.new_code_cell('run_dir = "runs/tiny"  # where the run writes\ncapacity = 4096  # tokens per row')
    params.metadata["tags"] = ["parameters"]
    figure = nbformat.v4.new_code_cell("fig = plt.figure()\nglue('fig-x', fig, display=False)")
    figure.metadata["tags"] = ["remove-output"]
    nb.cells = [nbformat.v4.new_markdown_cell("# 02 · Packing"), params, figure,
                nbformat.v4.new_markdown_cell('```{glue:figure} fig-x\n:name: "fig-x"\n\nA caption.\n```')]
    notebook, text = folder / f"{stem}.ipynb", folder / f"{stem}.md"
    nbformat.write(nb, notebook)
    jupytext.write(nb, text, fmt="md:myst")
    return notebook, text


def snapshot(folder: Path) -> dict:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}


def test_a_synced_pair_passes_and_keeps_tags_in_the_markdown(tmp_path):
    notebook, text = write_pair(tmp_path)
    assert pair_problems(tmp_path) == []
    assert ":tags: [parameters]" in text.read_text() and ":tags: [remove-output]" in text.read_text()
    assert runner.main(["check-sources", str(tmp_path)]) == 0


def test_an_edited_markdown_is_out_of_step_naming_chapter_cell_and_line(tmp_path):
    notebook, text = write_pair(tmp_path)
    text.write_text(text.read_text().replace("capacity = 4096", "capacity = 2048"))
    before = snapshot(tmp_path)
    problems = "\n".join(pair_problems(tmp_path))
    assert "02_packing: 02_packing.md and 02_packing.ipynb are out of step" in problems
    assert "code cell #2" in problems
    assert "-capacity = 4096" in problems and "+capacity = 2048" in problems
    assert "make sync-notebooks" in problems
    assert runner.main(["check-sources", str(tmp_path)]) == 1
    assert snapshot(tmp_path) == before  # the check never rewrites either file


def test_a_lost_tag_or_a_changed_cell_type_is_out_of_step(tmp_path):
    notebook, text = write_pair(tmp_path)
    text.write_text(text.read_text().replace(":tags: [remove-output]\n", ""))
    problems = "\n".join(pair_problems(tmp_path))
    assert "Metadata differ on code cell #3" in problems and "remove-output" in problems
    notebook, text = write_pair(tmp_path)
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[3] = nbformat.v4.new_raw_cell(nb.cells[3].source)
    nbformat.write(nb, notebook)
    assert "expecting a raw cell, but got a markdown cell" in "\n".join(pair_problems(tmp_path))


def test_missing_twin_unpaired_notebook_and_orphan_markdown_are_named(tmp_path):
    notebook, text = write_pair(tmp_path, "03_model")
    text.unlink()
    write_pair(tmp_path, "04_pretraining")[0].unlink()
    nb = nbformat.read(write_pair(tmp_path, "05_sft_general")[0], as_version=4)
    del nb.metadata["jupytext"]
    nbformat.write(nb, tmp_path / "05_sft_general.ipynb")
    problems = pair_problems(tmp_path)
    assert any(p.startswith("03_model:") and "03_model.md is missing" in p for p in problems)
    assert any(p.startswith("04_pretraining:") and "has no 04_pretraining.ipynb" in p for p in problems)
    assert any(p.startswith("05_sft_general:") and "is not paired" in p for p in problems)


def test_outputs_in_the_notebook_are_named_by_cell(tmp_path):
    notebook, _ = write_pair(tmp_path)
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="x")]
    nbformat.write(nb, notebook)
    problems = "\n".join(runner.check_sources(tmp_path))
    assert f"{notebook}: has outputs or execution counts committed (cells 3," in problems


def test_sync_brings_the_notebook_in_step_with_an_edited_markdown(tmp_path):
    from jupytext.cli import jupytext as jupytext_cli

    notebook, text = write_pair(tmp_path)
    text.write_text(text.read_text().replace("capacity = 4096", "capacity = 2048"))
    os.utime(text, ns=(notebook.stat().st_mtime_ns + 10**9,) * 2)  # the Markdown is the newer file
    jupytext_cli(["--sync", "--quiet", str(notebook)])
    assert pair_problems(tmp_path) == []
    params = nbformat.read(notebook, as_version=4).cells[1]
    assert "capacity = 2048" in params.source and params.metadata["tags"] == ["parameters"]


def test_the_committed_chapters_are_paired_and_in_step():
    folder = REPO / "notebooks"
    chapters = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    assert len(chapters) == 11 and all(p.with_suffix(".md").is_file() for p in chapters)  # chapters 00-10
    assert pair_problems(folder) == []
