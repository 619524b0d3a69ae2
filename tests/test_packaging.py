"""The install files agree: what the library imports is declared, pinned, and pinned alike everywhere."""
import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import yaml


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pins(lines) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            pins[_name(name)] = version
    return pins


def imported_modules(paths) -> set[str]:
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m != "infimed_lib"}


def notebook_code(tmp_path) -> list[Path]:
    import nbformat

    files = []
    for notebook in sorted(Path("notebooks").glob("*.ipynb")):
        code = "\n".join(c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code")
        (tmp_path / f"{notebook.stem}.py").write_text("\n".join(
            line for line in code.splitlines() if not line.lstrip().startswith(("%", "!"))))
        files.append(tmp_path / f"{notebook.stem}.py")
    return files


def test_every_imported_package_is_declared_in_pyproject(tmp_path):
    project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
    core = {_name(r) for r in project["dependencies"]}
    extras = {_name(r) for group in project["optional-dependencies"].values() for r in group}
    distributions = importlib.metadata.packages_distributions()
    library = imported_modules(Path("infimed_lib").rglob("*.py"))
    notebooks = imported_modules(notebook_code(tmp_path)) - {"IPython"}  # IPython: the kernel itself
    lazily_optional = {"playwright", "vllm"}  # book_check only (the 'book' extra); chapter 10's GPU sampling (the 'vllm' extra)
    missing = []
    for module in sorted(library | notebooks):
        names = {_name(d) for d in distributions.get(module, [module])}
        wanted = core | extras if module in lazily_optional else core
        if not names & wanted:
            missing.append(f"{module} ({', '.join(sorted(names))})")
    assert not missing, f"imported but not declared in pyproject.toml dependencies: {missing}"


def test_requirements_constraints_and_environment_pin_alike():
    constraints = _pins(Path("constraints.txt").read_text().splitlines())
    requirements = _pins(Path("requirements.txt").read_text().splitlines())
    assert {n: v for n, v in requirements.items() if constraints.get(n) != v} == {}
    environment = yaml.safe_load(Path("environment.yml").read_text())
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert _pins(pip_section) == constraints
    declared = {_name(r) for r in tomllib.loads(Path("pyproject.toml").read_text())["project"]["dependencies"]}
    assert declared <= set(requirements), f"not pinned in requirements.txt: {sorted(declared - set(requirements))}"


def test_the_cpu_install_names_its_torch_index():
    makefile = Path("Makefile").read_text()
    index = re.search(r"^TORCH_INDEX \?= (\S+)", makefile, re.M)
    assert index and index.group(1) == "https://download.pytorch.org/whl/cpu"
    assert "--extra-index-url $(TORCH_INDEX)" in makefile
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in Path("environment.yml").read_text()
