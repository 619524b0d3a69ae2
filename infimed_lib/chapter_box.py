"""The box under each chapter's title in the book: its run time on this build, what it reads and
what it writes.

``python -m infimed_lib.runner stage-book`` adds it to the staged copy of every executed notebook
(the committed notebooks stay as they are). Run times come from the ``notebook_timings.json`` the
runner writes beside the executed notebooks; a chapter missing there is reported as not measured,
never given a number. Reads and writes come from ``resources/chapter_io.yaml``, with the profile's
``run_dir`` and ``corpus_dir`` put into the paths.
"""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import nbformat
import yaml

TIMINGS_FILE = "notebook_timings.json"
BOX_CELL_ID = "chapter-box"
PLACEHOLDERS = ("run_dir", "corpus_dir")


def load_chapter_io(path: str | Path | None = None) -> dict[str, dict[str, list[dict[str, str]]]]:
    """Reads and writes per notebook stem, from ``resources/chapter_io.yaml`` unless ``path`` is given."""
    text = Path(path).read_text(encoding="utf-8") if path else \
        resources.files("infimed_lib.resources").joinpath("chapter_io.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text) or {}


def load_timings(folder: str | Path) -> dict[str, float]:
    """Seconds per notebook stem measured by ``runner run``; empty when the file is missing."""
    path = Path(folder) / TIMINGS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def format_duration(seconds: float) -> str:
    """``53 s``, ``5 min 32 s``: whole seconds, as a reader compares them."""
    whole = round(seconds)
    return f"{whole} s" if whole < 60 else f"{whole // 60} min {whole % 60:02d} s"


def chapter_link(number: str, chapters: Mapping[str, str]) -> str:
    """``[chapter 02](02_packing.ipynb)``, the link form the staged chapters use between them."""
    stem = chapters.get(number)
    return f"[chapter {number}]({stem}.ipynb)" if stem else f"chapter {number}"


def _item(entry: Mapping[str, str], values: Mapping[str, str], chapters: Mapping[str, str]) -> str:
    path = entry["path"].format_map({name: (values.get(name) or f"<{name}>").rstrip("/") for name in PLACEHOLDERS})
    text = f"- `{path}`"
    if entry.get("what"):
        text += f": {entry['what']}"
    if entry.get("from"):
        text += f" (from {chapter_link(str(entry['from']), chapters)})"
    return text


def box_text(stem: str, timings: Mapping[str, float], profile: str, values: Mapping[str, str],
             chapters: Mapping[str, str], chapter_io: Mapping[str, Any]) -> str:
    """The markdown of one chapter's box (a MyST admonition)."""
    seconds = timings.get(stem)
    run_time = (f"{format_duration(seconds)} on this build ({profile} profile)" if seconds is not None
                else f"not measured on this build ({profile} profile): no entry for {stem} in {TIMINGS_FILE}")
    lines = ["```{admonition} This chapter", ":class: tip", "", f"**Run time:** {run_time}."]
    io = chapter_io.get(stem)
    if io is None:
        lines += ["", "**Reads and writes:** not listed in `infimed_lib/resources/chapter_io.yaml`."]
    for key, title in (("reads", "Reads"), ("writes", "Writes")):
        if io is not None:
            lines += ["", f"**{title}:**", ""] + [_item(e, values, chapters) for e in io.get(key) or []]
    return "\n".join(lines + ["```"])


def insert_box(nb, text: str) -> None:
    """Put the box directly under the title: the first cell is split after its ``# title`` line."""
    box = nbformat.v4.new_markdown_cell(text)
    box["id"] = BOX_CELL_ID
    first = nb.cells[0] if nb.cells else None
    if first is None or first.cell_type != "markdown" or not first.source.lstrip().startswith("# "):
        nb.cells.insert(0, box)
        return
    title, _, rest = first.source.lstrip().partition("\n")
    first.source = title
    cells = [first, box]
    if rest.strip():
        intro = nbformat.v4.new_markdown_cell(rest.strip("\n"))
        intro["id"] = f"{BOX_CELL_ID}-intro"
        cells.append(intro)
    nb.cells[0:1] = cells


def add_boxes(notebooks: Mapping[str, Any], executed_dir: str | Path, profile) -> None:
    """Insert each chapter's box into ``notebooks`` (file name -> notebook), in place."""
    timings = load_timings(executed_dir)
    chapter_io = load_chapter_io()
    chapters = {Path(name).stem[:2]: Path(name).stem for name in notebooks}
    for name, nb in notebooks.items():
        stem = Path(name).stem
        values = {key: str(value) for key, value in profile.for_notebook(stem).items() if key in PLACEHOLDERS}
        insert_box(nb, box_text(stem, timings, profile.name, values, chapters, chapter_io))
