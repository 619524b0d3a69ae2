"""Profiles: the parameter files that pick a scale (``profiles/tiny.yaml``, ``profiles/paper.yaml``).

A profile has ``parameters`` given to every notebook that declares them and ``notebooks``, a
mapping from notebook stem to its own overrides. Command-line ``--set`` overrides come last.
``exercises: false`` runs the chapters without their exercises' solution cells (their expected
outcomes are stated for the miniature scale; ``infimed_lib.exercises``).
Chapter 00 describes the profiles; this module checks them before any notebook runs, so a typo
or a wrong type stops the run at once with one message naming the parameter.
"""
from __future__ import annotations

import ast
import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import yaml

from infimed_lib.common import ParameterError


@dataclass
class Profile:
    name: str
    path: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    notebooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    command_line: dict[str, Any] = field(default_factory=dict)
    exercises: bool = True

    def for_notebook(self, stem: str) -> dict[str, Any]:
        """Profile parameters, then the notebook's own, then command-line ``--set`` (last wins)."""
        merged = copy.deepcopy(self.parameters)
        merged.update(copy.deepcopy(self.notebooks.get(stem, {})))
        merged.update(copy.deepcopy(self.command_line))
        return merged


def load_profile(path: str | Path, _seen: tuple[Path, ...] = ()) -> Profile:
    """Read and shape-check a profile file; unknown file or bad layout -> ParameterError.

    ``extends: tiny`` starts from ``tiny.yaml`` beside it: its parameters, then its per-notebook
    overrides merged notebook by notebook, then this file's (the workshop profile is the tiny one
    with a few chapters shortened).
    """
    path = Path(path)
    if not path.exists():
        folder = path.parent if path.parent.exists() else Path("profiles")
        known = sorted(p.stem for p in folder.glob("*.yaml"))
        raise ParameterError("profile", f"no profile file {path} (available: {', '.join(known) or 'none'})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ParameterError("profile", f"{path} is not valid YAML: {error}") from None
    unknown = set(data) - {"name", "description", "parameters", "notebooks", "exercises", "extends"}
    if unknown:
        raise ParameterError("profile", f"{path}: unknown top-level keys {sorted(unknown)}")
    notebooks = data.get("notebooks") or {}
    if not isinstance(data.get("parameters") or {}, dict) or not isinstance(notebooks, dict):
        raise ParameterError("profile", f"{path}: 'parameters' and 'notebooks' must be mappings")
    for stem, overrides in notebooks.items():
        if not isinstance(overrides or {}, dict):
            raise ParameterError(f"notebooks.{stem}", "must be a mapping of parameter -> value")
    exercises = data.get("exercises", True)
    if not isinstance(exercises, bool):
        raise ParameterError("profile", f"{path}: 'exercises' must be true or false, got {exercises!r}")
    parameters, per_notebook = data.get("parameters") or {}, {stem: overrides or {} for stem, overrides in notebooks.items()}
    if data.get("extends"):
        base_path = path.parent / f"{data['extends']}.yaml"
        if base_path.resolve() in _seen or base_path.resolve() == path.resolve():
            raise ParameterError("extends", f"{path}: profiles extend each other in a circle")
        base = load_profile(base_path, (*_seen, path.resolve()))
        parameters = {**base.parameters, **parameters}
        per_notebook = {stem: {**base.notebooks.get(stem, {}), **per_notebook.get(stem, {})}
                        for stem in {**base.notebooks, **per_notebook}}
    return Profile(data.get("name", path.stem), path, parameters, per_notebook, exercises=exercises)


def parse_override(text: str) -> tuple[str | None, str, Any]:
    """``[notebook:]name=value`` with value parsed as YAML (so 3 is int, 3.0 float, [1,2] a list)."""
    if "=" not in text:
        raise ParameterError(text, "an override must look like name=value or notebook:name=value")
    key, raw = text.split("=", 1)
    notebook, _, name = key.rpartition(":")
    return (notebook or None), name.strip(), yaml.safe_load(raw)


def apply_overrides(profile: Profile, overrides: list[str]) -> Profile:
    profile = copy.deepcopy(profile)
    for text in overrides:
        notebook, name, value = parse_override(text)
        target = profile.notebooks.setdefault(notebook, {}) if notebook else profile.command_line
        target[name] = value
    return profile


def declared_parameters(notebook: Path) -> dict[str, Any]:
    """The literal defaults of a notebook's ``parameters`` cell (name -> value)."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            if "parameters" not in cell.metadata.get("tags", []):
                raise ParameterError(notebook.name, "first code cell is not tagged 'parameters'")
            return _literal_assignments(cell.source, notebook.name)
    return {}


def _literal_assignments(source: str, where: str) -> dict[str, Any]:
    declared = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise ParameterError(where, f"parameters cell line {node.lineno}: only 'name = literal' is allowed")
        try:
            declared[node.targets[0].id] = ast.literal_eval(node.value)
        except ValueError:
            raise ParameterError(where, f"parameters cell line {node.lineno}: value is not a literal") from None
    return declared


def check_value(notebook: str, name: str, default: Any, value: Any) -> None:
    """Raise ParameterError when ``value`` does not have the type of the declared ``default``."""
    if default is None or value is None:
        return
    expected = type(default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return
    if isinstance(value, bool) != (expected is bool) or not isinstance(value, expected):
        raise ParameterError(name, f"{notebook} expects {expected.__name__} (default {default!r}), "
                                   f"got {type(value).__name__} {value!r}")


def resolve(profile: Profile, notebooks: list[Path], all_notebooks: list[Path] | None = None) -> dict[str, dict[str, Any]]:
    """Parameters for each selected notebook: only those it declares, type-checked.

    Names that no notebook of the book declares, and per-notebook overrides for a notebook that
    does not exist or does not declare them, are refused (they are typos, not settings).
    """
    known = {nb.stem: nb for nb in (all_notebooks or notebooks)}
    declared = {stem: declared_parameters(path) for stem, path in known.items()}
    everywhere = set().union(*declared.values()) if declared else set()
    for name in list(profile.parameters) + list(profile.command_line):
        if name not in everywhere:
            raise ParameterError(name, f"no notebook declares it (profile {profile.path})")
    for stem, overrides in profile.notebooks.items():
        if stem not in declared:
            raise ParameterError(f"notebooks.{stem}", f"no notebook named {stem} (known: {sorted(declared)})")
        for name in overrides:
            if name not in declared[stem]:
                raise ParameterError(name, f"notebook {stem} does not declare it")
    resolved = {}
    for nb in notebooks:
        values = {k: v for k, v in profile.for_notebook(nb.stem).items() if k in declared[nb.stem]}
        for name, value in values.items():
            check_value(nb.stem, name, declared[nb.stem][name], value)
        resolved[nb.stem] = values
    return resolved
