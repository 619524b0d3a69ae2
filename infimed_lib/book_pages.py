"""What each page of the built book must show, read from the notebooks it was built from.

``make check-book`` (``infimed_lib.book_check``, README "Checking the built book") opens every
page in a browser; this module holds the browser-free half: which figures and glued numbers a
chapter page owes its reader, and whether a link on a page lands on a file and an element that
exist. Every chapter of the book is a notebook executed by ``make notebooks``; Jupyter Book copies
the notebook each page was built from to ``_build/html/_sources/<page>.ipynb``, so the check reads
that copy, which is exactly what was rendered even if ``book/chapters/`` changed since.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

# Pages under this folder are chapters: each must come from a notebook that shows a figure.
CHAPTER_FOLDER = "chapters/"
# A MyST role of myst-nb's glue family, e.g. {glue:text}`kappa:.2f` or {glue}`table`.
GLUE_ROLE = re.compile(r"\{(glue(?::\w*)?)\}`([^`]+)`")
GLUE_FIGURE = re.compile(r"\{glue:figure\}[ \t]+([^\s`]+)")
GLUED_PNG = "application/papermill.record/image/png"
# Cell tags with which an author hides a cell's output on purpose (myst-nb honours them).
HIDING_TAGS = {"remove-cell", "remove-output"}
# Jupyter Book's index.html is only <meta http-equiv="Refresh" content="0; url=intro.html" />.
REDIRECT = re.compile(r"""<meta\s+http-equiv=["']refresh["']\s+content=["']\s*\d+\s*;\s*url=([^"']+)["']""", re.I)


@dataclass
class PageExpectation:
    """What one page must show. ``figures`` are (cell label, sha256 of the png bytes)."""

    page: str
    notebook: Path | None = None
    figures: list[tuple[str, str]] = field(default_factory=list)
    glue_text_roles: int = 0
    glue_keys_missing: list[str] = field(default_factory=list)


def list_pages(html_dir: Path) -> list[str]:
    """Every HTML page of a built book, relative to it, skipping Sphinx's ``_static`` & co."""
    pages = sorted(p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html"))
    return [p for p in pages if not any(part.startswith("_") for part in p.split("/")[:-1])]


def redirect_target(html_dir: Path, page: str) -> str | None:
    """The page a redirect-only page sends the reader to (its ``url=``), else None.

    The browser would leave such a page while it is being inspected, so it is judged by its
    target alone: the target must exist, and is checked as a page of its own.
    """
    head = (html_dir / page).read_text(encoding="utf-8", errors="replace")[:2000]
    match = REDIRECT.search(head)
    return match.group(1).strip() if match else None


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def read_expectation(page: str, notebook: Path) -> PageExpectation:
    """Figures (every ``image/png`` output not hidden by a cell tag, and every ``{glue:figure}``)
    and glue roles of a notebook; glued values count from every cell, hidden or not."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"{notebook}: not a readable notebook ({error})") from None
    expectation = PageExpectation(page, notebook)
    referenced: list[str] = []
    glued: dict[str, str | None] = {}  # key -> sha256 of its png, for glued figures
    shown_figures: list[str] = []
    for index, cell in enumerate(cells):
        hidden = HIDING_TAGS & set(cell.get("metadata", {}).get("tags", []))
        if cell["cell_type"] == "markdown":
            if hidden:
                continue
            text = _text(cell["source"])
            for role, content in GLUE_ROLE.findall(text):
                expectation.glue_text_roles += role == "glue:text"
                if "::" not in content:  # a value glued in another page; that page is checked there
                    referenced.append(content.rsplit(":", 1)[0] if role in ("glue:text", "glue:md") else content)
            shown_figures += [key for key in GLUE_FIGURE.findall(text) if "::" not in key]
            continue
        label = f"In [{cell['execution_count']}]" if cell.get("execution_count") else f"cell {index}"
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:  # a glued value reaches the page even from a cell whose own output is hidden
                glued[name] = _digest(data[GLUED_PNG]) if GLUED_PNG in data else None
            if "image/png" in data and not hidden:
                expectation.figures.append((label, _digest(data["image/png"])))
    for key in shown_figures:  # a {glue:figure} shows the glued png
        if glued.get(key):
            expectation.figures.append((f"glue:figure {key}", glued[key]))
    expectation.glue_keys_missing = sorted(set(referenced + shown_figures) - set(glued))
    return expectation


def _digest(png) -> str:
    return hashlib.sha256(base64.b64decode(_text(png))).hexdigest()


def page_expectations(html_dir: Path, pages: list[str]) -> dict[str, PageExpectation]:
    """One expectation per page; pages built from a notebook get its figures and glue roles."""
    result = {}
    for page in pages:
        notebook = html_dir / "_sources" / (page[: -len(".html")] + ".ipynb")
        result[page] = read_expectation(page, notebook) if notebook.is_file() else PageExpectation(page)
    return result


def figure_problems(expectation: PageExpectation, image_sources: list[str]) -> list[str]:
    """Figures of the page's notebook that no ``<img>`` on the page shows.

    myst-nb names each output image file by the sha256 of its png bytes (myst_nb/core/render.py;
    Sphinx may append a digit when two pages hold the same picture), so a figure is on the page
    when an ``<img>`` source's file name starts with that hash. Whether the file loads is the
    browser's check, not this one.
    """
    if expectation.page.startswith(CHAPTER_FOLDER) and expectation.notebook is None:
        return ["chapter page without a notebook in _sources/ (every chapter is an executed notebook)"]
    if expectation.notebook is None:
        return []
    if expectation.page.startswith(CHAPTER_FOLDER) and not expectation.figures:
        return [f"its notebook {expectation.notebook.name} has no image/png output; every chapter must show a figure"]
    names = [unquote(urlsplit(src).path).rsplit("/", 1)[-1] for src in image_sources]
    shown: Counter = Counter()
    for name in names:
        for _, digest in expectation.figures:
            if name.startswith(digest):
                shown[digest] += 1
                break
    problems, owed = [], Counter()
    for label, digest in expectation.figures:
        owed[digest] += 1
        if owed[digest] > shown[digest]:
            problems.append(f"the figure of {expectation.notebook.name} {label} is not on the page")
    return problems


def glue_problems(expectation: PageExpectation, pasted: list[str]) -> list[str]:
    """Glued values the page's notebook references but the page does not show.

    myst-nb renders a ``{glue:text}`` role as ``<span class="pasted-text">``; when the key is
    missing it only logs a warning and the sentence reads "a kappa of ." -- so count the spans
    against the roles, and name the keys no output of the notebook glued.
    """
    problems = []
    if expectation.glue_keys_missing:
        problems.append("glue keys no cell of the notebook glued: " + ", ".join(expectation.glue_keys_missing))
    if len(pasted) < expectation.glue_text_roles:
        problems.append(f"{expectation.glue_text_roles - len(pasted)} of {expectation.glue_text_roles} "
                        "{glue:text} values are missing from the page")
    blank = sum(1 for text in pasted if not text.strip())
    if blank:
        problems.append(f"{blank} glued value(s) render as blank text")
    return problems


def link_problems(html_dir: Path, page: str, links: list[tuple[str, str]],
                  ids_by_page: dict[str, set[str]]) -> list[str]:
    """Local links (``(href as written, URL the browser resolved)``) whose file or anchor is absent.

    Links leaving the book (http, mailto) are not followed: the check runs without network.
    """
    problems = []
    root = html_dir.resolve()
    for href, url in links:
        parts = urlsplit(url)
        if parts.scheme != "file":
            continue
        target = Path(unquote(parts.path))
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            problems.append(f"broken link {href!r}: no file {shown_path(target, root)}")
            continue
        anchor = unquote(parts.fragment)
        if not anchor or target.suffix != ".html":
            continue
        try:
            target_page = target.resolve().relative_to(root).as_posix()
        except ValueError:
            continue
        ids = ids_by_page.get(target_page)
        if ids is not None and anchor not in ids:
            problems.append(f"broken link {href!r}: no element with id {anchor!r} on {target_page}")
    return list(dict.fromkeys(problems))


def shown_path(path: Path, root: Path) -> str:
    """``path`` relative to the book's folder ``root`` when inside it, for messages."""
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)
