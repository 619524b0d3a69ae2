"""make check-book (infimed_lib.book_check): a real browser finds what a reader of the book would miss.

The browser tests need Debian's chromium (`apt-get install chromium`; .ci/run installs it) and
skip without it. One two-page Jupyter Book is built for real; the other failure kinds use small
hand-written pages.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from PIL import Image

import infimed_lib
from infimed_lib.book_check import BrowserMissing, check_book, find_chromium, main
from infimed_lib.book_pages import figure_problems, link_problems, read_expectation
from infimed_lib.book_sphinx import _drop_repeated_scripts

REPO = Path(infimed_lib.__file__).resolve().parents[1]
needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None,
                                    reason="Debian's chromium is not installed (apt-get install chromium); CI installs it")


def _png(color: str) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (12, 8), color).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _notebook(markdown: str, pngs: list[str], glued: dict[str, str]) -> nbformat.NotebookNode:
    """An executed-looking notebook: one figure cell per png, one glue output per key (papermill's format)."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_markdown_cell(markdown)]
    for count, png in enumerate(pngs, start=1):
        output = nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"})
        notebook.cells.append(nbformat.v4.new_code_cell("plot()", execution_count=count, outputs=[output]))
    for key, value in glued.items():
        output = nbformat.v4.new_output("display_data", data={"application/papermill.record/text/plain": value},
                                        metadata={"scrapbook": {"name": key, "mime_prefix": "application/papermill.record/"}})
        notebook.cells.append(nbformat.v4.new_code_cell(f"glue({key!r}, ...)", outputs=[output]))
    return notebook


# ---- browser-free parts -------------------------------------------------------------------------

def test_notebook_expectation_counts_figures_glue_roles_and_unglued_keys(tmp_path):
    markdown = "A {glue:text}`kappa:.2f`, {glue:text}`gone` and {glue}`other::x`."
    notebook = _notebook(markdown, [_png("red")], {"kappa": "0.5"})
    blue = nbformat.v4.new_output("display_data", data={"image/png": _png("blue")})
    hidden = nbformat.v4.new_code_cell("plot()", outputs=[blue])
    hidden.metadata["tags"] = ["remove-output"]
    notebook.cells.append(hidden)
    nbformat.write(notebook, tmp_path / "01_x.ipynb")
    expectation = read_expectation("chapters/01_x.html", tmp_path / "01_x.ipynb")
    red = hashlib.sha256(base64.b64decode(_png("red"))).hexdigest()
    assert expectation.figures == [("In [1]", red)]  # the output its author hid is not owed
    assert expectation.glue_text_roles == 2
    assert expectation.glue_keys_missing == ["gone"]  # kappa is glued; other::x lives on another page


def test_figure_problems_match_images_by_hash_and_demand_a_figure_per_chapter(tmp_path):
    nbformat.write(_notebook("# x", [_png("red"), _png("red")], {}), tmp_path / "a.ipynb")
    expectation = read_expectation("chapters/a.html", tmp_path / "a.ipynb")
    digest = expectation.figures[0][1]
    assert figure_problems(expectation, [f"../_images/{digest}.png", f"../_images/{digest}1.png"]) == []
    assert figure_problems(expectation, [f"../_images/{digest}.png"]) == ["the figure of a.ipynb In [2] is not on the page"]
    nbformat.write(_notebook("# x", [], {}), tmp_path / "b.ipynb")
    assert "has no image/png output" in figure_problems(read_expectation("chapters/b.html", tmp_path / "b.ipynb"), [])[0]
    assert figure_problems(read_expectation("intro.html", tmp_path / "b.ipynb"), []) == []  # only chapters owe a figure


def test_link_problems_name_missing_files_and_anchors(tmp_path):
    (tmp_path / "a.html").write_text("x")
    base = tmp_path.resolve().as_uri()
    links = [("a.html#top", f"{base}/a.html#top"), ("a.html#gone", f"{base}/a.html#gone"),
             ("b.html", f"{base}/b.html"), ("https://example.org", "https://example.org/")]
    assert link_problems(tmp_path, "a.html", links, {"a.html": {"top"}}) == [
        "broken link 'a.html#gone': no element with id 'gone' on a.html", "broken link 'b.html': no file b.html"]


def test_missing_chromium_and_missing_book_say_what_to_do(tmp_path, capsys):
    with pytest.raises(BrowserMissing, match="apt-get install chromium"):
        find_chromium(str(tmp_path / "no-such-chromium"))
    assert main([str(tmp_path / "nowhere")]) == 2
    assert "run `make html` first" in capsys.readouterr().err
    (tmp_path / "index.html").write_text("<p>a book</p>")
    assert main([str(tmp_path), "--chromium", str(tmp_path / "no-such-chromium")]) == 2
    assert capsys.readouterr().err.strip().endswith("install it with `apt-get install chromium`")


def test_book_extension_keeps_one_copy_of_an_inline_script():
    from sphinx.builders.html._assets import _JavaScript

    body = "const THEBE_JS_URL = 1"
    context = {"script_files": [_JavaScript(None, body=body), _JavaScript("a.js"), _JavaScript("", body=body)]}
    _drop_repeated_scripts(None, "p", "page.html", context, None)
    assert [str(s.filename) for s in context["script_files"]] == ["None", "a.js"]


# ---- hand-written pages, one defect each ----------------------------------------------------------

PAGE = "<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{}</body></html>"
SITE = {
    "index.html": "<h1 id='top'>Fine</h1><a href='#top'>up</a> <a href='console.html'>next</a> <code>{glue:text}`shown`</code>",
    "console.html": "<script>console.error('boom from the page')</script>",
    "exception.html": "<script>null.x</script>",
    "links.html": "<a href='missing.html'>a</a> <a href='index.html#nowhere'>b</a> <a href='index.html#top'>c</a>",
    "glue.html": "<p>We kept {glue:text}`n_kept` samples, <span class='problematic'>:unknown:`x`</span>.</p>",
    "images.html": "<img src='nope.png'> <img src='notpng.png'> <img src='ok.png'>",
    "old.html": "<meta http-equiv='Refresh' content='0; url=gone.html'>",
    "chapters/01_empty.html": "<p>No figure here.</p>",
    "chapters/02_blank.html": "<p>Kappa is <span class='pasted-text'> </span>.</p>",
}


@pytest.fixture(scope="module")
def site_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    for name, body in SITE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(PAGE.format(body))
    (root / "ok.png").write_bytes(base64.b64decode(_png("green")))
    (root / "notpng.png").write_text("not an image")
    (root / "_sources/chapters").mkdir(parents=True)
    nbformat.write(_notebook("# Empty", [], {}), root / "_sources/chapters/01_empty.ipynb")
    nbformat.write(_notebook("{glue:text}`kappa` and {glue:text}`lost`", [_png("red")], {"kappa": "0.5"}),
                   root / "_sources/chapters/02_blank.ipynb")
    report = check_book(root)
    return {page: [p.split(": ", 1)[1] for p in report.problems if p.startswith(page + ": ")] for page in SITE}


@needs_chromium
@pytest.mark.parametrize("page, expected", [
    ("index.html", []),  # glue markup inside <code> is an explanation, not a failure
    ("console.html", ["console error: boom from the page"]),
    ("exception.html", ["uncaught script error: Cannot read properties of null (reading 'x')"]),
    ("links.html", ["broken link 'missing.html': no file missing.html",
                    "broken link 'index.html#nowhere': no element with id 'nowhere' on index.html"]),
    ("glue.html", ["unrendered markup: ':unknown:`x`'", "glue markup left in the text: 'We kept {glue:text}`n_kept` samples,'"]),
    ("images.html", ["image does not load: nope.png (net::ERR_FILE_NOT_FOUND)",
                     "image does not load: notpng.png (the file is not a decodable image)"]),
    ("old.html", ["broken link 'redirect to gone.html': no file gone.html"]),  # judged by its target
    ("chapters/01_empty.html", ["its notebook 01_empty.ipynb has no image/png output; every chapter must show a figure"]),
    ("chapters/02_blank.html", ["glue keys no cell of the notebook glued: lost",
                                "1 of 2 {glue:text} values are missing from the page",
                                "1 glued value(s) render as blank text",
                                "the figure of 02_blank.ipynb In [1] is not on the page"]),
])
def test_each_defect_is_one_line_naming_its_page(site_report, page, expected):
    assert site_report[page] == expected


# ---- a two-page Jupyter Book, built for real --------------------------------------------------------

@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    book = tmp_path_factory.mktemp("book") / "book"
    (book / "chapters").mkdir(parents=True)
    (book / "intro.md").write_text("# Intro\n\nThe chapter: {doc}`chapters/01_demo`.\n")
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: chapters/01_demo\n")
    # The project's own settings that matter here: no execution, and the console-error fixes.
    (book / "_config.yml").write_text("title: t\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: 'off'\n"
                                      "sphinx:\n  extra_extensions:\n    - infimed_lib.book_sphinx\n")
    nbformat.write(_notebook("# Demo\n\nThe answer is {glue:text}`answer`. Back to [the intro](../intro.md).",
                             [_png("red")], {"answer": "42"}), book / "chapters/01_demo.ipynb")
    # PYTHONPATH: Sphinx must load this checkout's infimed_lib.book_sphinx, not another install's.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([str(Path(sys.executable).with_name("jupyter-book")), "build", str(book), "--quiet"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return book / "_build/html"


@needs_chromium
def test_built_book_passes(built_book, capsys):
    assert main([str(built_book)]) == 0
    assert "pages OK" in capsys.readouterr().out


@needs_chromium
def test_built_book_with_a_missing_figure_file_fails_naming_it(built_book, tmp_path, capsys):
    html = shutil.copytree(built_book, tmp_path / "html")
    [figure] = (html / "_images").glob("*.png")
    figure.unlink()
    assert main([str(html)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert f"chapters/01_demo.html: image does not load: ../_images/{figure.name} (net::ERR_FILE_NOT_FOUND)" in lines
    assert lines[-1] == "check-book: 1 problem(s) on 1 of 5 pages"


@needs_chromium
def test_built_book_whose_page_lost_its_figure_fails(built_book, tmp_path):
    html = shutil.copytree(built_book, tmp_path / "html")
    page = html / "chapters/01_demo.html"
    text = page.read_text()
    start = text.index("<img")
    page.write_text(text[:start] + text[text.index(">", start) + 1:])
    assert check_book(html).problems == ["chapters/01_demo.html: the figure of 01_demo.ipynb In [1] is not on the page"]


def test_glued_values_and_glue_figures_count_from_cells_whose_output_is_hidden(tmp_path):
    from infimed_lib.book_pages import read_expectation

    png = base64.b64encode(b"\x89PNG fake bytes").decode()
    glued = {"output_type": "display_data", "metadata": {"scrapbook": {"name": "fig-loss", "mime_prefix": ""}},
             "data": {"application/papermill.record/image/png": png}}
    number = {"output_type": "display_data", "metadata": {"scrapbook": {"name": "steps", "mime_prefix": ""}},
              "data": {"application/papermill.record/text/plain": "90"}}
    inline = {"output_type": "display_data", "metadata": {}, "data": {"image/png": png}}
    cells = [{"cell_type": "code", "metadata": {"tags": ["remove-output"]}, "execution_count": 1, "source": "",
              "outputs": [number, glued, inline]},
             {"cell_type": "markdown", "metadata": {}, "source": "{glue:text}`steps` steps\n```{glue:figure} fig-loss\n```"},
             {"cell_type": "markdown", "metadata": {}, "source": "{glue:text}`never_glued`"}]
    notebook = tmp_path / "chapter.ipynb"
    notebook.write_text(json.dumps({"cells": cells}))
    expectation = read_expectation("chapters/chapter.html", notebook)
    digest = hashlib.sha256(base64.b64decode(png)).hexdigest()
    assert expectation.figures == [("glue:figure fig-loss", digest)]  # the hidden inline copy is not owed
    assert expectation.glue_keys_missing == ["never_glued"]
