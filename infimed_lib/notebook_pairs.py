"""Each chapter has two files that jupytext keeps in step: ``notebooks/NN_name.ipynb``, which papermill
runs and the book shows, and its MyST Markdown twin ``NN_name.md``, which reviewers diff. Chapter 00
shows the batch run that executes them; CONTRIBUTING ("Chapters in the book") says how to edit one.

``pair_problems`` reads both files of every pair and writes nothing: ``make sync-notebooks``
(``jupytext --sync``) is what brings a pair back in step. Pairs are compared with jupytext's own
``compare_notebooks``, so metadata that jupytext keeps out of the text file on purpose (a cell's
``scrolled`` or ``execution`` entries, written by JupyterLab) never counts as a difference, while
sources, cell types and tags (``parameters``, ``remove-output``...) do.
"""
from __future__ import annotations

from pathlib import Path

PAIRED_FORMATS = "ipynb,md:myst"
TEXT_FORMAT = "md:myst"
SYNC_HINT = "run `make sync-notebooks`"


def pair_problems(folder: str | Path) -> list[str]:
    """What is wrong with the chapter pairs in ``folder``, one line each naming the chapter (empty
    when every ``NN_*.ipynb`` has an in-step ``NN_*.md`` twin and every twin has its notebook)."""
    folder = Path(folder)
    problems = []
    for notebook in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        problems += _chapter_problems(notebook)
    for text in sorted(folder.glob("[0-9][0-9]_*.md")):
        if not text.with_suffix(".ipynb").exists():
            problems.append(f"{text.stem}: {text} has no {text.stem}.ipynb beside it; create it with "
                            f"`jupytext --to ipynb --set-formats {PAIRED_FORMATS} {text}`")
    return problems


def _chapter_problems(notebook_path: Path) -> list[str]:
    import jupytext  # jupytext loads only when pairs are checked or synced
    import nbformat
    from jupytext.compare import NotebookDifference, compare_notebooks

    chapter, text_path = notebook_path.stem, notebook_path.with_suffix(".md")
    notebook = nbformat.read(notebook_path, as_version=4)
    formats = notebook.metadata.get("jupytext", {}).get("formats")
    if formats != PAIRED_FORMATS:
        return [f"{chapter}: {notebook_path.name} is not paired with its Markdown twin (jupytext formats "
                f"{formats!r}, expected {PAIRED_FORMATS!r}); run `jupytext --set-formats {PAIRED_FORMATS} "
                f"{notebook_path}`"]
    if not text_path.exists():
        return [f"{chapter}: {text_path} is missing; {SYNC_HINT}"]
    text = jupytext.read(text_path, fmt=TEXT_FORMAT)
    problems = []
    text_formats = text.metadata.get("jupytext", {}).get("formats")
    if text_formats != PAIRED_FORMATS:
        problems.append(f"{chapter}: the header of {text_path.name} pairs it as {text_formats!r}, "
                        f"expected {PAIRED_FORMATS!r}")
    try:
        compare_notebooks(_without_empty_tags(text), _without_empty_tags(notebook), fmt=TEXT_FORMAT)
    except NotebookDifference as difference:
        # jupytext labels the notebook "expected" and the text file "actual"; name the files instead,
        # and leave out the whole cell it appends to a metadata difference (the cell number says which).
        detail = str(difference).split("\nCell content:\n")[0]
        detail = detail.replace("--- expected", f"--- {notebook_path.name}").replace("+++ actual", f"+++ {text_path.name}")
        problems.append(f"{chapter}: {text_path.name} and {notebook_path.name} are out of step (cells are "
                        f"numbered from 1): {detail.strip()}\n{chapter}: {SYNC_HINT}")
    return problems


def _without_empty_tags(notebook):
    """The Markdown file cannot hold an empty ``tags`` list (jupytext leaves it out), so a notebook cell
    whose last tag was removed would never match its twin again; both mean "no tags"."""
    for cell in notebook.cells:
        if cell.metadata.get("tags") == []:
            del cell.metadata["tags"]
    return notebook
