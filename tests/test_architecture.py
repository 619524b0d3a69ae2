"""Imports follow the pipeline: every module's imports, read from the source, go down the layers.

The layers (a package may import its own modules and those of the packages listed for it):

- ``common``: below everything; imports nothing from the library.
- ``data``: schema, formats, tokenizer, the prompt layout and answer format shared by training and
  evaluation, the OpenAI-compatible chat client, the synthetic corpus. Stands on ``common``.
- ``curation``, ``packing``, ``model``: stand on ``data`` and not on each other. ``model`` never
  imports the tokenizer: a checkpoint carries the special-token ids it needs in its config.
- ``train``: stands on ``data``, ``curation``, ``packing`` and ``model``.
- ``eval``: stands on ``data`` and ``model`` (not ``curation``, not ``train``).
- ``rl`` (chapter 10, a training step after SFT): stands on what ``train`` stands on, plus
  ``train`` and ``eval``.
- ``report``: reads the outputs of all of them (and launches nothing).
- The tooling at the top (``runner``, ``workshop``, ``exercises``, ``notebook_pairs``,
  ``chapter_box``, ``profiles``, ``book_check``, ``book_pages``, ``book_sphinx``) may import any
  of the above; no pipeline package imports the tooling.

Function-level imports count like any other (a function-level import of a library module only
hides an edge or a cycle), and a library module is never imported inside a function.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "infimed_lib"
PIPELINE = ("common", "data", "curation", "packing", "model", "train", "eval", "rl", "report")
TOOLING = ("runner", "workshop", "exercises", "notebook_pairs", "chapter_box", "profiles", "book_check",
           "book_pages", "book_sphinx")
ALLOWED = {
    "infimed_lib": set(),  # the package root: a docstring and the version
    "common": set(),
    "resources": set(),
    "data": {"common"},
    "curation": {"common", "data"},
    "packing": {"common", "data"},
    "model": {"common", "data"},
    "train": {"common", "data", "curation", "packing", "model"},
    "eval": {"common", "data", "model"},
    "rl": {"common", "data", "curation", "packing", "model", "train", "eval"},
    "report": {"common", "data", "curation", "packing", "model", "train", "eval", "rl"},
    **{tool: {*PIPELINE, *TOOLING} for tool in TOOLING},
}
# Single modules a package may not import although their package is allowed.
FORBIDDEN_MODULES = {"model": ("infimed_lib.data.tokenizer",)}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    """``infimed_lib.data.corpus.x`` -> ``data``; the package root itself is ``common``'s peer."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "infimed_lib"


def imports(source: str, module: str, is_package: bool) -> list[tuple[int, str, bool]]:
    """(line, imported module, inside a function) for every import of the library in ``source``.

    Relative imports are resolved against ``module``; ``from pkg import name`` counts as an import
    of ``pkg.name`` when that is a module, else of ``pkg``.
    """
    tree = ast.parse(source)
    in_function = {id(sub) for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                   for sub in ast.walk(node) if isinstance(sub, (ast.Import, ast.ImportFrom))}
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[:len(package) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets = [f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base for alias in node.names]
        else:
            continue
        for target in targets:
            if target == "infimed_lib" or target.startswith("infimed_lib."):
                found.append((node.lineno, target, id(node) in in_function))
    return found


def _is_module(name: str) -> bool:
    path = ROOT.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def violations(module: str, source: str, is_package: bool = False) -> list[str]:
    """Every import of ``module`` (its source given) that runs against the layers, as messages."""
    problems = []
    own = layer(module)
    for line, target, in_function in imports(source, module, is_package):
        where = f"{module}:{line}"
        if in_function:
            problems.append(f"{where} imports {target} inside a function (import library modules at the top)")
        theirs = layer(target)
        if theirs == own:
            continue
        if theirs not in ALLOWED.get(own, set()):
            problems.append(f"{where} imports {target}: edge {own} -> {theirs} runs against the pipeline")
        if any(target == bad or target.startswith(bad + ".") for bad in FORBIDDEN_MODULES.get(own, ())):
            problems.append(f"{where} imports {target}: {own} must not import it")
    return list(dict.fromkeys(problems))


def library_modules():
    return sorted(ROOT.rglob("*.py"))


def test_every_layer_is_known():
    found = {layer(module_name(path)) for path in library_modules()} - {"infimed_lib"}
    assert found <= set(ALLOWED), f"packages or top-level modules without a layer: {sorted(found - set(ALLOWED))}"


@pytest.mark.parametrize("path", library_modules(), ids=lambda p: module_name(p))
def test_imports_follow_the_pipeline(path):
    module = module_name(path)
    assert violations(module, path.read_text(encoding="utf-8"), path.name == "__init__.py") == []


def test_no_import_cycle_between_modules():
    graph = {}
    for path in library_modules():
        module = module_name(path)
        graph[module] = {t for _, t, _ in imports(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")}
    state: dict[str, int] = {}

    def visit(node, trail):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt.startswith(node + "."):
                continue  # a package re-exporting its own module is not a cycle
            if state.get(nxt) == 1:
                cycle = trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt in graph and not state.get(nxt):
                visit(nxt, trail + [nxt])
        state[node] = 2

    for module in sorted(graph):
        if not state.get(module):
            visit(module, [module])


def test_file_names_say_what_they_hold_without_their_folder():
    seen: dict[str, str] = {}
    for path in library_modules():
        if path.name in ("__init__.py", "__main__.py"):
            continue
        other = seen.setdefault(path.name, module_name(path))
        assert other == module_name(path), f"{path.name} names both {other} and {module_name(path)}"


# The checker itself: it must see a forbidden edge, a hidden one and a relative one.
@pytest.mark.parametrize("module, source, expected", [
    ("infimed_lib.data.loaders", "from infimed_lib.eval.scoring import score_item\n", "edge data -> eval"),
    ("infimed_lib.eval.judge", "def f():\n    from infimed_lib.curation.judges import JudgeError\n",
     "edge eval -> curation"),
    ("infimed_lib.eval.judge", "def f():\n    from infimed_lib.data.images import load_image\n", "inside a function"),
    ("infimed_lib.curation.parse", "from ..eval import extract\n", "edge curation -> eval"),
    ("infimed_lib.model.presets", "import infimed_lib.data.tokenizer\n", "model must not import it"),
    ("infimed_lib.data.tokenizer", "from infimed_lib import runner\n", "edge data -> runner"),
    ("infimed_lib.common", "from infimed_lib.data import images\n", "edge common -> data"),
])
def test_the_checker_finds_forbidden_imports(module, source, expected):
    problems = violations(module, source)
    assert any(expected in problem for problem in problems), problems
    assert all(problem.startswith(module + ":") for problem in problems)


def test_the_checker_accepts_allowed_imports():
    source = "from infimed_lib.common import ParameterError\nfrom . import tokenizer\nfrom .corpus import corpus_text\n"
    assert violations("infimed_lib.data.loaders", source) == []
    assert violations("infimed_lib.report.training", "from infimed_lib.train.metrics_log import load_metrics\n") == []


def test_importing_every_module_changes_no_environment_variable_and_no_warning_filter():
    """No import-time side effects: the Makefile, the runner and the chapters set what they need."""
    script = ("import importlib, os, pkgutil, warnings\n"
              "before_env, before_filters = dict(os.environ), list(warnings.filters)\n"
              "import infimed_lib\n"
              "for m in pkgutil.walk_packages(infimed_lib.__path__, 'infimed_lib.'):\n"
              "    importlib.import_module(m.name)\n"
              "changed = sorted(k for k in set(os.environ) | set(before_env) if os.environ.get(k) != before_env.get(k)\n"
              "                 and not k.startswith('TORCHINDUCTOR_'))\n"  # torch's own, when flex attention loads
              "ours = [f for f in warnings.filters if f not in before_filters and f[1] is not None\n"
              "        and 'IProgress' in f[1].pattern]\n"
              "print(changed, ours)\n")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[] []"
