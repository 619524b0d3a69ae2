"""The exercises at the end of every chapter: find them, check their conventions, run them alone.

Each chapter ends with a ``## Exercises`` section: for every exercise a Markdown cell (a ``### Exercise``
heading, the task, and a "Predict first" prompt), then a code cell tagged ``solution`` that runs the
experiment at a small scale and ends with an ``assert`` stating the expected outcome (its first
comment line, ``# Expected: ...``, says it in words for the instructor guide). The book folds the
solution behind a toggle (myst-nb's ``hide-cell`` tag); the workshop's student copies drop it
(``infimed_lib.workshop``).

A solution may use only what the chapter's ``parameters`` cell and the cell after it (imports,
``enter_project_root()``, derived values) define, plus what it or an earlier exercise cell defines,
and reads everything else from the run folder. So the exercises run without the chapter's body:
``exercise_notebook`` keeps exactly those cells, and the tests execute it against a finished run.
CONTRIBUTING ("Chapters in the book") describes the conventions.
"""
from __future__ import annotations

import ast
import builtins
import copy
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

SOLUTION_TAG = "solution"
FOLD_TAG = "hide-cell"  # myst-nb folds input and output behind a "Show the solution" toggle
EXERCISES_HEADING = "## Exercises"
EXERCISE_HEADING = re.compile(r"^###\s+Exercise\b[^\n]*", re.MULTILINE)
EXPECTED = re.compile(r"^#\s*Expected:\s*(.+?)\s*$", re.MULTILINE)
PREDICT = re.compile(r"\bpredict\b", re.IGNORECASE)
MIN_EXERCISES, MAX_EXERCISES = 2, 4
SETUP_CELLS = 2  # the parameters cell and the cell that derives values from them


@dataclass
class Exercise:
    """One exercise: its heading, its task (Markdown) and its solution (code)."""

    title: str
    task: str
    solution: str
    expected: str


def is_solution(cell) -> bool:
    return cell.cell_type == "code" and SOLUTION_TAG in cell.metadata.get("tags", [])


def _section_start(nb) -> int | None:
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith(EXERCISES_HEADING):
            return index
    return None


def exercises(nb) -> list[Exercise]:
    """The exercises of a chapter, in order (each solution with the Markdown cell before it)."""
    found = []
    for index, cell in enumerate(nb.cells):
        if is_solution(cell) and index > 0 and nb.cells[index - 1].cell_type == "markdown":
            task = nb.cells[index - 1].source
            heading = EXERCISE_HEADING.search(task)
            expected = EXPECTED.search(cell.source)
            found.append(Exercise(heading.group(0).lstrip("#").strip() if heading else "", task, cell.source,
                                  expected.group(1) if expected else ""))
    return found


def _bound_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            names.update(arg.arg for arg in ast.walk(node.args) if isinstance(arg, ast.arg))
        elif isinstance(node, ast.Lambda):
            names.update(arg.arg for arg in ast.walk(node.args) if isinstance(arg, ast.arg))
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _used_names(tree: ast.AST) -> set[str]:
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def _real_assert(tree: ast.AST) -> bool:
    """An ``assert`` whose test is not a constant (``assert True`` checks nothing)."""
    return any(isinstance(node, ast.Assert) and not isinstance(node.test, ast.Constant) for node in ast.walk(tree))


def problems(nb, name: str) -> list[str]:
    """Convention problems of a chapter's exercises, one line each naming the chapter (empty when fine)."""
    start = _section_start(nb)
    if start is None:
        return [f"{name}: no '{EXERCISES_HEADING}' section"]
    found = []
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    known = set(dir(builtins)) | {"display", "get_ipython"}
    for cell in code[:SETUP_CELLS]:
        known |= _bound_names(ast.parse(cell.source))
    for index, cell in enumerate(nb.cells[start + 1:], start + 1):
        if cell.cell_type == "markdown":
            continue
        if not is_solution(cell):
            found.append(f"{name}: cell {index + 1} in the exercises section is code without the '{SOLUTION_TAG}' tag")
            continue
        where = f"{name}: solution in cell {index + 1}"
        task = nb.cells[index - 1]
        if task.cell_type != "markdown" or not EXERCISE_HEADING.search(task.source):
            found.append(f"{where} is not preceded by a Markdown cell with a '### Exercise' heading")
        elif not PREDICT.search(task.source):
            found.append(f"{where}: its exercise does not ask the reader to predict first")
        if FOLD_TAG not in cell.metadata.get("tags", []):
            found.append(f"{where} lacks the '{FOLD_TAG}' tag that folds it in the book")
        if not EXPECTED.search(cell.source):
            found.append(f"{where} has no '# Expected: ...' comment line")
        try:
            tree = ast.parse(cell.source)
        except SyntaxError as error:
            found.append(f"{where} does not parse ({error})")
            continue
        if not _real_assert(tree):
            found.append(f"{where} has no assert that checks a result")
        unknown = sorted(_used_names(tree) - known - _bound_names(tree))
        if unknown:
            found.append(f"{where} uses {', '.join(unknown)}, which neither the parameters and setup cells nor "
                         "the exercises define (import it in the solution, or read the value from the run folder)")
        known |= _bound_names(tree)
    count = sum(is_solution(cell) for cell in nb.cells)
    if not MIN_EXERCISES <= count <= MAX_EXERCISES:
        found.append(f"{name}: {count} solution cells, expected {MIN_EXERCISES} to {MAX_EXERCISES}")
    if any(is_solution(cell) for cell in nb.cells[:start]):
        found.append(f"{name}: a solution cell stands before the '{EXERCISES_HEADING}' section")
    return found


def exercise_notebook(nb):
    """A copy of the chapter with only its parameters cell, its setup cell and its exercises section,
    outputs cleared: what the tests run against a finished run folder."""
    start = _section_start(nb)
    if start is None:
        raise ValueError("the notebook has no exercises section")
    code = [index for index, cell in enumerate(nb.cells) if cell.cell_type == "code"][:SETUP_CELLS]
    kept = copy.deepcopy(nb)
    kept.cells = [copy.deepcopy(nb.cells[i]) for i in code] + copy.deepcopy(nb.cells[start:])
    return clear_outputs(kept)


def clear_outputs(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
    nb.metadata.pop("papermill", None)
    return nb


def write_without_solutions(notebook: str | Path, folder: str | Path) -> Path:
    """Copy ``notebook`` into ``folder`` without its solution cells; the runner executes this copy for a
    profile with ``exercises: false`` (the solutions' expected outcomes are stated for the tiny scale)."""
    nb = nbformat.read(notebook, as_version=4)
    nb.cells = [cell for cell in nb.cells if not is_solution(cell)]
    target = Path(folder) / Path(notebook).name
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target
