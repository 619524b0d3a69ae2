"""Relative path parameters mean one folder whatever the kernel's working directory (common.enter_project_root)."""
import ast
import os
from pathlib import Path

import nbformat
import pytest

from infimed_lib.common import PROJECT_ROOT_ENV, ParameterError, enter_project_root, find_project_root

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A folder shaped like a checkout (the markers find_project_root looks for), with no INFIMED_ROOT."""
    monkeypatch.delenv(PROJECT_ROOT_ENV, raising=False)
    root = tmp_path / "clone"
    (root / "notebooks" / "sub").mkdir(parents=True)
    (root / "infimed_lib").mkdir()
    (root / "infimed_lib" / "__init__.py").write_text("")
    return root


def test_the_root_is_found_from_notebooks_and_below(checkout, monkeypatch):
    for start in (checkout, checkout / "notebooks", checkout / "notebooks" / "sub"):
        monkeypatch.chdir(start)
        assert find_project_root() == checkout.resolve()
    monkeypatch.chdir(checkout / "notebooks")
    assert enter_project_root() == checkout.resolve()
    assert Path.cwd() == checkout.resolve() and Path("runs/tiny").resolve() == checkout.resolve() / "runs" / "tiny"


def test_no_checkout_is_one_error_that_names_the_override(tmp_path, monkeypatch):
    monkeypatch.delenv(PROJECT_ROOT_ENV, raising=False)
    (tmp_path / "notebooks").mkdir()  # notebooks/ alone is not a checkout
    monkeypatch.chdir(tmp_path / "notebooks")
    with pytest.raises(ParameterError, match=f"parameter '{PROJECT_ROOT_ENV}': no checkout of the project"):
        enter_project_root()
    assert Path.cwd() == (tmp_path / "notebooks").resolve()  # nothing changed on failure


def test_the_environment_variable_overrides_and_is_checked(checkout, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(checkout / "notebooks")
    monkeypatch.setenv(PROJECT_ROOT_ENV, str(elsewhere))
    assert find_project_root() == elsewhere.resolve()
    monkeypatch.setenv(PROJECT_ROOT_ENV, str(tmp_path / "missing"))
    with pytest.raises(ParameterError, match="is not a folder"):
        find_project_root()


def test_a_notebook_run_from_notebooks_writes_into_the_root_run_folder(checkout, monkeypatch):
    import papermill

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('run_dir = "runs/x"  # where the run writes')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "from pathlib import Path\nfrom infimed_lib.common import enter_project_root\n\nenter_project_root()\n"
        "Path(run_dir).mkdir(parents=True, exist_ok=True)\n(Path(run_dir) / 'out.txt').write_text('ok')")]
    nbformat.write(nb, checkout / "notebooks" / "00_x.ipynb")
    # The kernel imports this checkout's library whatever its working directory.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    papermill.execute_notebook(str(checkout / "notebooks" / "00_x.ipynb"), str(checkout / "out.ipynb"),
                               kernel_name="python3", cwd=str(checkout / "notebooks"), progress_bar=False)
    assert (checkout / "runs" / "x" / "out.txt").read_text() == "ok"
    assert not (checkout / "notebooks" / "runs").exists()


@pytest.mark.parametrize("notebook", sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_every_chapter_enters_the_root_before_using_a_parameter(notebook):
    code = [c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    statements = [s for s in ast.parse(code[1].source).body if not isinstance(s, (ast.Import, ast.ImportFrom))]
    first = statements[0]
    assert isinstance(first, ast.Expr) and ast.unparse(first.value) == "enter_project_root()", ast.unparse(first)
