"""Batch runner: execute the book's notebooks in order with papermill. Chapter 00 shows its use.

``python -m infimed_lib.runner run --profile profiles/tiny.yaml [--set name=value ...]``
executes ``notebooks/NN_*.ipynb`` into ``build/executed/<profile>/`` with the profile's
parameters. A failing notebook stops the run with one message naming the notebook and the cell,
and its partly executed copy is kept. ``check-sources`` verifies the committed notebooks follow
the conventions (no outputs, a literal ``parameters`` cell with a comment on every line) and match
their Markdown twins (``infimed_lib.notebook_pairs``);
``stage-book`` copies the executed notebooks where Jupyter Book reads them, each with a box under its
title (run time, reads, writes; ``infimed_lib.chapter_box``); ``compare`` checks two run folders for
byte-identical data files.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat

from infimed_lib.chapter_box import TIMINGS_FILE, add_boxes, load_timings
from infimed_lib.common import ParameterError, atomic_write_json, file_sha256
from infimed_lib.exercises import write_without_solutions
from infimed_lib.notebook_pairs import pair_problems
from infimed_lib.profiles import apply_overrides, load_profile, resolve

DEFAULT_NOTEBOOKS = Path("notebooks")
DEFAULT_OUTPUT = Path("build/executed")
BOOK_CHAPTERS = Path("book/chapters")
# Files whose content is wall-clock time by nature; everything else must be reproducible.
TIMING_MARKERS = ("timing", "throughput", "benchmark_times")
# Keys of JSON/JSONL records that hold wall-clock measurements (seconds, rates); compare skips them.
TIMING_KEY = re.compile(r"(_per_s|_time_s|elapsed_s|_seconds|wall_time_s|_ms|\((ms|s)\))$")

OFFLINE_ENVIRONMENT = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


class NotebookFailed(RuntimeError):
    pass


def list_notebooks(folder: Path, only: list[str] | None = None, start: str | None = None) -> list[Path]:
    """Numbered notebooks (``NN_name.ipynb``) in order, optionally a subset."""
    notebooks = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise ParameterError("notebooks", f"no numbered notebooks in {folder}")
    if only:
        notebooks = [p for p in notebooks if p.stem[:2] in only or p.stem in only]
    if start:
        notebooks = [p for p in notebooks if p.stem[:2] >= start[:2]]
    return notebooks


def kernel_name() -> str:
    """Our registered kernel if present (``make venv`` installs it), else this interpreter's."""
    from jupyter_client.kernelspec import KernelSpecManager  # papermill and Jupyter load only when notebooks run

    return "infimed" if "infimed" in KernelSpecManager().find_kernel_specs() else "python3"


def execute(notebook: Path, output: Path, parameters: dict, cwd: Path, kernel: str) -> float:
    """Run one notebook; on failure raise NotebookFailed naming notebook and cell."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    output.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=parameters, kernel_name=kernel, language="python",
                                   cwd=str(cwd), progress_bar=False, log_output=False)
    except PapermillExecutionError as error:
        raise NotebookFailed(
            f"{notebook.name}, cell {error.exec_count} (index {error.cell_index}): {error.ename}: "
            f"{error.evalue}\npartly executed copy kept at {output}") from None
    return time.perf_counter() - started


def run(args: argparse.Namespace) -> int:
    profile = apply_overrides(load_profile(args.profile), args.set or [])
    everything = list_notebooks(Path(args.notebooks))
    selected = list_notebooks(Path(args.notebooks), args.only.split(",") if args.only else None, args.start)
    resolved = resolve(profile, selected, everything)
    out_dir = Path(args.output) / profile.name
    kernel = args.kernel or kernel_name()
    # Kernels inherit the environment: redraw progress bars every few seconds, not every step,
    # so executed notebooks stay small (tqdm reads TQDM_* variables as defaults).
    os.environ.setdefault("TQDM_MININTERVAL", "5")
    timings = {}
    for notebook in selected:
        print(f"[{profile.name}] {notebook.name} ...", flush=True)
        source = notebook if profile.exercises else write_without_solutions(notebook, out_dir / "sources")
        seconds = execute(source, out_dir / notebook.name, resolved[notebook.stem], Path.cwd(), kernel)
        timings[notebook.stem] = round(seconds, 1)
        print(f"[{profile.name}] {notebook.name} done in {seconds:.1f} s", flush=True)
    # A partial run (--only, --start) keeps the other chapters' times: the book prints them all.
    atomic_write_json(out_dir / TIMINGS_FILE, {**load_timings(out_dir), **timings})
    print(f"executed notebooks: {out_dir} (total {sum(timings.values()):.0f} s)")
    return 0


def check_sources(folder: Path) -> list[str]:
    """Convention problems of the committed notebooks (empty list when all is well)."""
    problems = []
    for path in sorted(folder.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        executed = [str(i) for i, c in enumerate(nb.cells, 1) if c.get("outputs") or c.get("execution_count")]
        if executed:
            problems.append(f"{path}: has outputs or execution counts committed (cells {', '.join(executed)}, "
                            f"numbered from 1); clear them: jupyter nbconvert --clear-output --inplace {path}")
        if not code or "parameters" not in code[0].metadata.get("tags", []):
            problems.append(f"{path}: first code cell is not tagged 'parameters'")
            continue
        problems += _check_parameters_cell(path, code[0].source)
        problems += _check_papermill_parses(path, code[0])
    return problems


def _check_papermill_parses(path: Path, cell) -> list[str]:
    """Papermill documents parameters from the cell; a comment it cannot parse loses that help."""
    from papermill.translators import PythonTranslator

    logger = logging.getLogger("papermill")
    level, logger.level = logger.level, logging.ERROR
    try:
        parsed = {p.name for p in PythonTranslator.inspect(cell)}
    finally:
        logger.setLevel(level)
    names = [n.targets[0].id for n in ast.parse(cell.source).body
             if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)]
    return [f"{path}: papermill cannot parse the line of parameter '{name}' "
            "(keep quotes and '=' out of its comment)" for name in names if name not in parsed]


def _check_parameters_cell(path: Path, source: str) -> list[str]:
    problems = []
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        return [f"{path}: parameters cell does not parse ({error})"]
    lines = source.splitlines()
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)):
            problems.append(f"{path}: parameters line {node.lineno} is not 'name = literal'")
            continue
        try:
            ast.literal_eval(node.value)
        except ValueError:
            problems.append(f"{path}: parameter on line {node.lineno} is not a literal")
        if "#" not in lines[node.end_lineno - 1]:
            problems.append(f"{path}: parameter on line {node.lineno} has no trailing comment")
    return problems


def collapse_progress(text: str) -> str:
    """Keep only what a terminal would show: for each line, the text after its last carriage return.

    tqdm redraws a bar with ``\\r``; a notebook stores every redraw, and the book would show them
    all as separate lines.
    """
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


def tidy_outputs(nb) -> None:
    """Merge consecutive stream outputs of a cell and collapse progress-bar redraws."""
    for cell in nb.cells:
        merged = []
        for output in cell.get("outputs", []):
            if (output.get("output_type") == "stream" and merged and merged[-1].get("output_type") == "stream"
                    and merged[-1]["name"] == output["name"]):
                merged[-1]["text"] += output["text"]
            else:
                merged.append(output)
        for output in merged:
            if output.get("output_type") == "stream":
                output["text"] = collapse_progress(output["text"])
        if "outputs" in cell:
            cell["outputs"] = merged


_NUMPY_REPR = re.compile(r"^np\.\w+\(")


def numpy_glue(nb, name: str) -> list[str]:
    """Glued values stored as a numpy repr ("np.float64(35.1)"), which the book cannot format.

    myst-nb formats ``{glue:text}`key:.1f``` by parsing the stored text as a number; numpy 2
    writes its scalars' repr with the type around it, so the sentence silently loses the number.
    """
    problems = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook")
            text = output.get("data", {}).get(f"{record['mime_prefix']}text/plain", "") if record else ""
            if record and _NUMPY_REPR.match(text):
                problems.append(f"{name}: glue {record['name']!r} = {text} (glue float(value) instead)")
    return problems


def stage_book(args: argparse.Namespace) -> int:
    """Copy executed notebooks into the book's chapter folder (the book never executes), each with
    its box of run time, reads and writes under the title."""
    profile = load_profile(args.profile)
    source = Path(args.output) / profile.name
    executed = sorted(source.glob("[0-9][0-9]_*.ipynb"))
    if not executed:
        raise ParameterError("profile", f"no executed notebooks in {source}; run `make notebooks` first")
    notebooks = {path.name: nbformat.read(path, as_version=4) for path in executed}
    problems = [problem for name, nb in notebooks.items() for problem in numpy_glue(nb, Path(name).stem)]
    if problems:  # checked before anything is replaced, so a refused book keeps the last good chapters
        raise ParameterError("notebooks", "values the book cannot print:\n" + "\n".join(problems))
    add_boxes(notebooks, source, profile)
    if BOOK_CHAPTERS.exists():
        shutil.rmtree(BOOK_CHAPTERS)
    BOOK_CHAPTERS.mkdir(parents=True)
    for name, nb in notebooks.items():
        tidy_outputs(nb)
        nbformat.write(nb, BOOK_CHAPTERS / name)
    for stem in (p.stem for p in list_notebooks(Path(args.notebooks))):
        if not (BOOK_CHAPTERS / f"{stem}.ipynb").exists():
            raise ParameterError("notebooks", f"{stem} has no executed copy in {source}; run all notebooks")
    print(f"staged {len(executed)} chapters into {BOOK_CHAPTERS}")
    return 0


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if not TIMING_KEY.search(str(k))}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _digest(path: Path) -> str:
    """sha256 of a file; for JSON/JSONL, of its content without wall-clock keys."""
    if path.suffix not in (".json", ".jsonl"):
        return file_sha256(path)
    lines = path.read_text(encoding="utf-8").splitlines() if path.suffix == ".jsonl" else [path.read_text(encoding="utf-8")]
    cleaned = [json.dumps(_without_timings(json.loads(line)), sort_keys=True) for line in lines if line.strip()]
    return hashlib.sha256("\n".join(cleaned).encode()).hexdigest()


def data_digests(run_dir: Path) -> dict[str, str]:
    """Digest of every data file under ``run_dir``: figures and timing files are skipped, and
    wall-clock keys (``*_per_s``, ``*_time_s``, ``elapsed_s``...) are left out of JSON records."""
    digests = {}
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        rel = str(path.relative_to(run_dir))
        if any(marker in rel for marker in TIMING_MARKERS) or path.suffix in {".png", ".svg", ".pdf"}:
            continue
        digests[rel] = _digest(path)
    return digests


def compare(args: argparse.Namespace) -> int:
    first, second = data_digests(Path(args.first)), data_digests(Path(args.second))
    differing = sorted(k for k in set(first) | set(second) if first.get(k) != second.get(k))
    print(json.dumps({"files": len(first), "differing": differing}, indent=2))
    return 1 if differing else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infimed_lib.runner", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="execute notebooks with a profile")
    run_p.add_argument("--profile", required=True)
    run_p.add_argument("--set", action="append", metavar="[NOTEBOOK:]NAME=VALUE")
    run_p.add_argument("--only", help="comma-separated notebook numbers, e.g. 00,02")
    run_p.add_argument("--start", help="start at this notebook number")
    run_p.add_argument("--kernel")
    for p in (run_p, stage := sub.add_parser("stage-book", help="copy executed notebooks into book/")):
        p.add_argument("--notebooks", default=str(DEFAULT_NOTEBOOKS))
        p.add_argument("--output", default=str(DEFAULT_OUTPUT))
    stage.add_argument("--profile", required=True)
    check = sub.add_parser("check-sources", help="check committed notebooks follow the conventions and match "
                                                 "their Markdown twins")
    check.add_argument("folder", nargs="?", default=str(DEFAULT_NOTEBOOKS))
    cmp_p = sub.add_parser("compare", help="compare two run folders' data files")
    cmp_p.add_argument("first")
    cmp_p.add_argument("second")
    args = parser.parse_args(argv)
    for name, value in OFFLINE_ENVIRONMENT.items():  # the kernels inherit them: nothing is downloaded
        os.environ.setdefault(name, value)
    try:
        if args.command == "check-sources":
            problems = check_sources(Path(args.folder)) + pair_problems(args.folder)
            print("\n".join(problems) or f"notebooks in {args.folder} follow the conventions and match their "
                  "Markdown twins")
            return 1 if problems else 0
        return {"run": run, "stage-book": stage_book, "compare": compare}[args.command](args)
    except (ParameterError, NotebookFailed) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
