"""The workshop kit: ``make workshop`` writes ``build/workshop/`` from an instructor's ``make book``.

``python -m infimed_lib.workshop --profile profiles/workshop.yaml --out build/workshop`` writes

* ``notebooks/``: one student notebook per chapter, plain ``.ipynb`` without solution cells (an
  empty cell takes each one's place) and without outputs, the workshop profile's values injected
  under the parameters cell the way papermill does it, so a chapter opened in JupyterLab runs as in
  the workshop's batch run: training chapters train a short continuation into their own folder;
* ``instructor_guide.md``: per chapter, learning goals and common mistakes
  (``resources/workshop.yaml``), run times, what it reads and writes (``resources/chapter_io.yaml``),
  and each exercise's expected outcome (the ``# Expected:`` line of its solution), with what the
  solution printed in the instructor's build when ``build/executed/tiny/`` (or the workshop
  profile's executed folder) holds it;
* ``runs/<name>/``: a copy of the prepared run folder (the profile's ``run_dir``, with its corpus),
  so a class can start at any chapter without running the ones before it.

The kit is written to a temporary folder and moved into place when complete. Exercises:
``infimed_lib.exercises``; the run folder's layout: CONTRIBUTING ("Run folder").
"""
from __future__ import annotations

import argparse
import copy
import os
import shutil
import sys
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import nbformat
import yaml
from nbformat.v4 import new_code_cell

from infimed_lib.chapter_box import format_duration, load_chapter_io, load_timings
from infimed_lib.common import ParameterError, atomic_write_text, run_command
from infimed_lib.exercises import clear_outputs, exercises, is_solution
from infimed_lib.profiles import load_profile, resolve
from infimed_lib.runner import list_notebooks

GUIDE = "instructor_guide.md"
# What participants write into a run folder (exercise and workshop outputs); never part of the kit.
SCRATCH = ("exercises", "workshop")
STUDENT_CELL = "# Your measurement: write and run your experiment here, then compare it with your prediction.\n"
MAX_OUTPUT_LINES = 14


def load_notes(path: str | Path | None = None) -> dict[str, Any]:
    """Goals, common mistakes and measured workshop times (``resources/workshop.yaml`` unless ``path``)."""
    text = Path(path).read_text(encoding="utf-8") if path else \
        resources.files("infimed_lib.resources").joinpath("workshop.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text) or {}


def _outputs(stem: str, values: Mapping[str, str], chapter_io: Mapping[str, Any]) -> list[Path]:
    entries = [e for e in (chapter_io.get(stem) or {}).get("writes") or []
               if not any(f"{{run_dir}}/{folder}/" in e["path"] for folder in SCRATCH)]  # optional, never shipped
    return [Path(e["path"].format_map({k: str(v).rstrip("/") for k, v in values.items()})) for e in entries]


def missing_outputs(values: Mapping[str, Mapping[str, str]], chapter_io: Mapping[str, Any]) -> dict[str, list[str]]:
    """For each chapter (stem -> its ``run_dir`` and ``corpus_dir``), the outputs it lists in
    ``chapter_io.yaml`` that are not on disk."""
    missing = {}
    for stem, chapter_values in values.items():
        absent = [str(path) for path in _outputs(stem, chapter_values, chapter_io) if not path.exists()]
        if absent:
            missing[stem] = absent
    return missing


def require_finished_run(values: Mapping[str, Mapping[str, str]], chapter_io: Mapping[str, Any]) -> None:
    """Raise one ParameterError naming every chapter whose outputs are missing from the run folder."""
    run_dirs = sorted({str(v.get("run_dir", "")) for v in values.values()})
    for run_dir in run_dirs:
        if not Path(run_dir).is_dir():
            raise ParameterError("run_dir", f"no run folder {run_dir}: the kit copies a finished run; "
                                            "run `make book` first (or name another profile with --profile)")
    missing = missing_outputs(values, chapter_io)
    if missing:
        lines = [f"  {stem}: {', '.join(paths)}" for stem, paths in missing.items()]
        raise ParameterError("run_dir", f"{', '.join(run_dirs)} is not a finished run; missing outputs:\n"
                             + "\n".join(lines) + "\nrun `make book` first, or the chapters named above")


def student_notebook(nb, parameters: Mapping[str, Any], kernel: str = "python3"):
    """The student copy of a chapter: solution cells replaced by an empty cell, no outputs, no
    jupytext pairing, and ``parameters`` injected below the parameters cell as papermill does."""
    from papermill.parameterize import parameterize_notebook  # papermill loads only when student notebooks are written

    student = clear_outputs(copy.deepcopy(nb))
    student.cells = [new_code_cell(STUDENT_CELL) if is_solution(cell) else cell for cell in student.cells]
    for cell in student.cells:
        cell.pop("id", None)  # new ids below; JupyterLab would otherwise meet duplicates
    student.metadata.pop("jupytext", None)
    if parameters:
        for cell in student.cells:  # what papermill's own notebook loader adds before parameterising
            cell.metadata.setdefault("tags", [])
        student.metadata["papermill"] = {}
        student = parameterize_notebook(student, dict(parameters), kernel_name=kernel, language="python")
        student.metadata.pop("papermill", None)
        for cell in student.cells:
            cell.metadata.pop("papermill", None)
            if not cell.metadata.get("tags"):
                cell.metadata.pop("tags", None)
    for index, cell in enumerate(student.cells):
        cell["id"] = f"cell-{index}"
    return student


def _solution_outputs(executed) -> list[str]:
    """What each solution cell printed in an executed chapter (text only), in order."""
    texts = []
    for cell in executed.cells if executed is not None else []:
        if is_solution(cell):
            parts = [o.get("text", "") if o.get("output_type") == "stream" else o.get("data", {}).get("text/plain", "")
                     for o in cell.get("outputs", []) if o.get("name") != "stderr"]
            lines = [line for line in "\n".join(parts).splitlines() if line.strip()]
            cut = lines[:MAX_OUTPUT_LINES] + (["..."] if len(lines) > MAX_OUTPUT_LINES else [])
            texts.append("\n".join(cut))
    return texts


def _times(stem: str, timings: Mapping[str, Mapping[str, float]], measured: Mapping[str, Any]) -> list[str]:
    lines = []
    for label, table in timings.items():
        if stem in table:
            lines.append(f"- {label}: {format_duration(table[stem])}")
    seconds = (measured.get("seconds") or {}).get(stem)
    if seconds is not None:
        lines.append(f"- workshop profile, measured for this guide ({measured.get('conditions', 'conditions not recorded')}): "
                     f"{format_duration(seconds)}")
    return lines or ["- not measured: run the chapter under the workshop profile (see above) to time it"]


def chapter_section(stem: str, nb, executed, notes: Mapping[str, Any], timings: Mapping[str, Mapping[str, float]],
                    values: Mapping[str, str], chapter_io: Mapping[str, Any]) -> str:
    """The guide's section of one chapter."""
    title = next((c.source.splitlines()[0].lstrip("# ").strip() for c in nb.cells if c.cell_type == "markdown"), stem)
    chapter = (notes.get("chapters") or {}).get(stem) or {}
    lines = [f"## {title}", "", f"Student notebook: `notebooks/{stem}.ipynb`.", "", "**Learning goals**", ""]
    lines += [f"- {goal}" for goal in chapter.get("goals") or ["not written yet (infimed_lib/resources/workshop.yaml)"]]
    lines += ["", "**Run time on 2 cores**", ""] + _times(stem, timings, notes.get("measured") or {})
    spent = [c.metadata.get("papermill", {}).get("duration") for c in (executed.cells if executed else []) if is_solution(c)]
    if spent and all(isinstance(s, (int, float)) for s in spent):
        lines += [f"- of that, the exercises' solutions in the instructor's build: {format_duration(sum(spent))}"]
    io = chapter_io.get(stem) or {}
    for key, label in (("reads", "Reads"), ("writes", "Writes")):
        entries = io.get(key) or []
        paths = [e["path"].format_map({k: str(v).rstrip("/") for k, v in values.items()}) for e in entries]
        lines += ["", f"**{label}**", ""] + ([f"- `{p}`: {e.get('what', '')}".rstrip(": ") for p, e in zip(paths, entries)]
                                             or ["- nothing listed in chapter_io.yaml"])
    printed = _solution_outputs(executed)
    lines += ["", "**Exercises and their expected outcomes**", ""]
    for number, exercise in enumerate(exercises(nb), 1):
        lines += [f"- *{exercise.title or f'Exercise {number}'}*: {exercise.expected or 'no expected outcome stated'}"]
        if number <= len(printed) and printed[number - 1]:
            lines += ["", "  In the instructor's build the solution printed:", "", "  ```text"]
            lines += [f"  {line}" for line in printed[number - 1].splitlines()] + ["  ```", ""]
    lines += ["", "**Common mistakes**", ""]
    lines += [f"- {mistake}" for mistake in chapter.get("mistakes") or ["not written yet (infimed_lib/resources/workshop.yaml)"]]
    return "\n".join(lines) + "\n"


def guide_text(sections: list[str], profile_name: str, run_dir: str) -> str:
    parent = Path(run_dir).parent
    intro = f"""# Workshop guide: InfiMed-Foundation, reproduced

This kit was written by `make workshop` from a finished `make book` run. It holds one student
notebook per chapter (`notebooks/`, without solutions), this guide, and the prepared run folder
(`{run_dir}/`), so a class can start at any chapter.

**Before the class.** Each participant needs a checkout of the project with `make venv` done,
the prepared run folder of this kit at the same place in the checkout (`{run_dir}/`), and the
student notebooks anywhere inside the checkout, e.g. this kit as `<checkout>/build/workshop/`
(from a kit folder elsewhere: `cp -r <kit>/{run_dir} <checkout>/{parent}/`; a notebook opened
outside a checkout needs `INFIMED_ROOT=<checkout>`). `make lab` starts JupyterLab; open the
chapters from the kit's `notebooks/` folder.

**During the class.** The student notebooks carry the `{profile_name}` profile's values (the
injected-parameters cell below each parameters cell): chapters that train run a short continuation
from the prepared checkpoint of the stage before into their own folder under `{run_dir}/workshop/`,
and never touch the prepared stages that later chapters read. The exercises write under
`{run_dir}/exercises/`. To run a chapter in batch as it is timed here:
`python -m infimed_lib.runner run --profile profiles/{profile_name}.yaml --only NN`.
Each exercise's solution is in the book (folded under the exercise) and in `notebooks/` of the
repository (cells tagged `solution`).
"""
    return intro + "\n" + "\n".join(sections)


def _copy_run(source: Path, target: Path, link: bool) -> None:
    def skip_scratch(folder: str, names: list[str]) -> set[str]:
        return {name for name in names if name in SCRATCH} if Path(folder) == source else set()

    shutil.copytree(source, target, ignore=skip_scratch, copy_function=os.link if link else shutil.copy2)


def build_kit(profile_path: str | Path, out_dir: str | Path, notebooks_dir: str | Path = "notebooks",
              executed_dir: str | Path = "build/executed", link: bool = False, notes_path: str | Path | None = None) -> Path:
    """Write the kit into ``out_dir`` (replaced when complete); returns it. ``link`` hard-links the run
    folder's files instead of copying them (same file system only)."""
    profile = load_profile(profile_path)
    chapters = list_notebooks(Path(notebooks_dir))
    resolved = resolve(profile, chapters, chapters)
    values = {nb.stem: {k: str(v) for k, v in profile.for_notebook(nb.stem).items() if k in ("run_dir", "corpus_dir")}
              for nb in chapters}
    chapter_io = load_chapter_io()
    require_finished_run(values, chapter_io)
    run_dirs = {v["run_dir"] for v in values.values()}
    if len(run_dirs) != 1:
        raise ParameterError("run_dir", f"the profile names several run folders {sorted(run_dirs)}; the kit copies one")
    run_dir = Path(run_dirs.pop())
    corpus_dirs = {Path(v["corpus_dir"]) for v in values.values() if v.get("corpus_dir")}
    outside = [str(c) for c in corpus_dirs if run_dir.resolve() not in c.resolve().parents]
    if outside or run_dir.is_absolute():
        raise ParameterError("corpus_dir" if outside else "run_dir",
                             f"the kit copies one relative run folder holding its corpus; got run_dir {run_dir}, "
                             f"corpus outside it: {outside or 'none'}")
    notes = load_notes(notes_path)
    timings = {f"full chapter, {name} profile (this build)": load_timings(Path(executed_dir) / name)
               for name in ("tiny", profile.name)}
    out_dir = Path(out_dir)
    staging = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _write_kit(staging, chapters, profile, resolved, values, chapter_io, notes, timings, executed_dir, run_dir, link)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)
    return out_dir


def _write_kit(staging: Path, chapters, profile, resolved, values, chapter_io, notes, timings, executed_dir,
               run_dir: Path, link: bool) -> None:
    (staging / "notebooks").mkdir(parents=True)
    sections = []
    for path in chapters:
        nb = nbformat.read(path, as_version=4)
        runs = [nbformat.read(p, as_version=4) for p in (Path(executed_dir) / n / path.name for n in ("tiny", profile.name))
                if p.exists()]
        executed = next((run for run in runs if any(is_solution(cell) for cell in run.cells)), None)
        nbformat.write(student_notebook(nb, resolved[path.stem]), staging / "notebooks" / path.name)
        section = chapter_section(path.stem, nb, executed, notes, timings, values[path.stem], chapter_io)
        if resolved[path.stem].get("output_dir"):  # a training chapter that writes a continuation
            section = section.replace("\n**Exercises", f"\nUnder the {profile.name} profile this chapter's stage writes into "
                                      f"`{resolved[path.stem]['output_dir']}/` instead, leaving the prepared stage as "
                                      "it is.\n\n**Exercises", 1)
        sections.append(section)
    atomic_write_text(staging / GUIDE, guide_text(sections, profile.name, str(run_dir)))
    _copy_run(run_dir, staging / run_dir, link)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infimed_lib.workshop", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="profiles/workshop.yaml")
    parser.add_argument("--out", default="build/workshop")
    parser.add_argument("--notebooks", default="notebooks")
    parser.add_argument("--executed", default="build/executed", help="where `runner run` wrote executed chapters")
    parser.add_argument("--link", action="store_true", help="hard-link the run folder's files instead of copying")
    args = parser.parse_args(argv)
    return run_command(lambda: build_kit(args.profile, args.out, args.notebooks, args.executed, args.link),
                       lambda out: f"workshop kit: {out} (guide: {out / GUIDE})")


if __name__ == "__main__":
    sys.exit(main())
