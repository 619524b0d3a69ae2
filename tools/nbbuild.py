"""Write a source notebook (no outputs) from a compact cell list; used by maintainers, not the book.

Usage in a script: ``write_notebook(path, [("md", text), ("params", code), ("code", code), ...])``.
The first code cell must be the parameters cell; it gets the ``parameters`` tag papermill needs.
``("figure", code)`` is a code cell that draws one figure and glues it for a numbered
``{glue:figure}`` in the markdown: its inline output is hidden in the book (``remove-output``),
so the figure appears once there, and still shows when the notebook runs in Jupyter.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat


def write_notebook(path: str | Path, cells: list[tuple[str, str]]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, source in cells:
        source = source.strip("\n")
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            cell = nbformat.v4.new_code_cell(source)
            if kind == "params":
                cell.metadata["tags"] = ["parameters"]
            elif kind == "hide":
                cell.metadata["tags"] = ["hide-input"]
            elif kind == "figure":
                cell.metadata["tags"] = ["remove-output"]
            nb.cells.append(cell)
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"c{index:02d}"
    path = Path(path)
    nbformat.write(nb, path)
    return path


if __name__ == "__main__":
    sys.exit("import write_notebook from this module")
