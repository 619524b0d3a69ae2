"""Open every page of the built book in headless Chromium and report what a reader would miss.

``make check-book`` runs ``python -m infimed_lib.book_check book/_build/html`` on a book that
``make html`` built (README, "Checking the built book"). One line per problem, naming the page:
a console error or uncaught script error; an ``<img>`` or other local file that does not load;
a chapter page missing a figure its executed notebook produced (or a chapter whose notebook has
none); a glued value that did not render (``{glue`` left in the text, ``problematic`` markup, a
``{glue:text}`` role with no value); a link to a local page or anchor that does not exist.

The browser is Debian's ``chromium`` driven by Playwright through ``executable_path``;
Playwright's own browser download is never used, and Chromium resolves no host names, so the
check never touches the network: resources outside the book (a CDN's MathJax) are listed, not
judged.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from infimed_lib.book_pages import (figure_problems, glue_problems, link_problems, list_pages, page_expectations,
                                    redirect_target, shown_path)

INSTALL_HINT = "apt-get install chromium"
# Every host name fails to resolve at once: offline by construction, no waiting on a CDN.
OFFLINE_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND"]
# Chromium's console echo of a failed request; the requestfailed event names the file instead.
RESOURCE_ECHO = "Failed to load resource"

# Run in the page once it has loaded. Images are made eager and decoded so that a lazy or slow
# one is judged loaded or not, rather than not yet; the timer keeps a stalled one from hanging us.
INSPECT_JS = """async () => {
  const images = [...document.images];
  const settled = p => Promise.race([p.catch(() => null), new Promise(done => setTimeout(done, 10000))]);
  await Promise.all(images.map(i => { i.loading = 'eager'; return settled(i.decode()); }));
  const visible = node => !node.parentElement.closest('pre, code, script, style, textarea');
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const glueText = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.nodeValue.includes('{glue') && visible(node)) glueText.push(node.nodeValue.trim().slice(0, 80));
  }
  return {
    images: images.map(i => ({src: i.getAttribute('src') || '', url: i.currentSrc || i.src, width: i.naturalWidth})),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id)
           .concat([...document.querySelectorAll('a[name]')].map(e => e.name)),
    links: [...document.querySelectorAll('a[href]')].map(a => [a.getAttribute('href'), a.href]),
    problematic: [...document.querySelectorAll('.problematic, .system-message')]
                   .map(e => e.textContent.trim().slice(0, 80)),
    pasted: [...document.querySelectorAll('.pasted-text')].map(e => e.textContent),
    glueText,
  };
}"""


class BrowserMissing(RuntimeError):
    """No usable Chromium (or no Playwright) on this machine; the message says how to install it."""


@dataclass
class BookReport:
    """Result of ``check_book``: ``problems`` are ``"<page>: <problem>"`` lines, empty when clean."""

    pages: list[str]
    problems: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)


def find_chromium(path: str | None = None) -> str:
    """The Chromium executable to drive: ``path`` if given, else ``chromium`` on PATH."""
    found = shutil.which(path or "chromium")
    if not found:
        where = f"at {path}" if path else "on PATH"
        raise BrowserMissing(f"check-book needs Debian's chromium, found none {where}: "
                             f"install it with `{INSTALL_HINT}`")
    return found


def _visit(context, html_dir: Path, page: str, screenshots: Path | None) -> dict:
    """Load one page, collect what the browser saw: console, failed requests, the DOM facts."""
    seen = {"console": [], "failed": {}}
    tab = context.new_page()
    tab.on("console", lambda m: m.type == "error" and not m.text.startswith(RESOURCE_ECHO)
           and seen["console"].append(f"console error: {m.text[:200]}"))
    tab.on("pageerror", lambda e: seen["console"].append(f"uncaught script error: {str(e)[:200]}"))
    tab.on("requestfailed", lambda r: seen["failed"].setdefault(r.url, r.failure or "failed"))
    try:
        tab.goto((html_dir / page).resolve().as_uri(), wait_until="load")
        seen.update(tab.evaluate(INSPECT_JS))
        if screenshots is not None:
            screenshots.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(screenshots / (page.replace("/", "__")[: -len(".html")] + ".png")), full_page=True)
    except Exception as error:  # a Playwright timeout or crash: report it for this page, go on
        seen["broken"] = f"page did not load: {str(error).splitlines()[0][:200]}"
    finally:
        tab.close()
    return seen


def _page_problems(html_dir: Path, seen: dict, expectation, external: list[str]) -> list[str]:
    failed = dict(seen["failed"])
    problems = list(seen["console"])
    if "broken" in seen:  # nothing else about the page is known
        return problems + [seen["broken"]]
    for image in seen.get("images", []):
        if image["width"] == 0:
            why = failed.pop(image["url"], "the file is not a decodable image")
            problems.append(f"image does not load: {image['src'] or '(no src)'} ({why})")
    for url, why in failed.items():
        if urlsplit(url).scheme == "file":
            local = shown_path(Path(unquote(urlsplit(url).path)), html_dir.resolve())
            problems.append(f"file does not load: {local} ({why})")
        else:
            external.append(url)
    problems += [f"unrendered markup: {text!r}" for text in seen.get("problematic", [])]
    problems += [f"glue markup left in the text: {text!r}" for text in seen.get("glueText", [])]
    problems += glue_problems(expectation, seen.get("pasted", []))
    problems += figure_problems(expectation, [image["src"] for image in seen.get("images", [])])
    return problems


def check_book(html_dir: str | Path, chromium: str | None = None, screenshots: str | Path | None = None) -> BookReport:
    """Check every page of the book built in ``html_dir`` in headless Chromium.

    ``screenshots``: a folder to save a full-page PNG of each page in (for looking, not judged).
    Raises ``BrowserMissing`` without Chromium or Playwright, ``FileNotFoundError`` without a book.
    """
    html_dir = Path(html_dir)
    if not (html_dir / "index.html").is_file():
        raise FileNotFoundError(f"no built book at {html_dir} (index.html missing): run `make html` first")
    executable = find_chromium(chromium)
    try:
        from playwright.sync_api import Error as PlaywrightError, sync_playwright  # optional: only make check-book drives a browser
    except ImportError:
        raise BrowserMissing("playwright is not installed in this environment: run `make venv` "
                             "(requirements.txt pins it)") from None
    pages = list_pages(html_dir)
    expectations = page_expectations(html_dir, pages)
    report, seen_by_page = BookReport(pages), {}
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, args=OFFLINE_ARGS)
        except PlaywrightError as error:
            raise BrowserMissing(f"could not start {executable} ({str(error).splitlines()[0]}); "
                                 f"reinstall it with `{INSTALL_HINT}`") from None
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        for page in pages:
            target = redirect_target(html_dir, page)
            if target is None:
                seen_by_page[page] = _visit(context, html_dir, page, Path(screenshots) if screenshots else None)
            else:  # judged by its target only (see redirect_target)
                url = urljoin((html_dir / page).resolve().as_uri(), target)
                seen_by_page[page] = {"console": [], "failed": {}, "links": [(f"redirect to {target}", url)]}
        browser.close()
    ids_by_page = {page: set(seen.get("ids", [])) for page, seen in seen_by_page.items()}
    for page, seen in seen_by_page.items():
        found = _page_problems(html_dir, seen, expectations[page], report.external)
        found += link_problems(html_dir, page, [tuple(link) for link in seen.get("links", [])], ids_by_page)
        report.problems += [f"{page}: {problem}" for problem in dict.fromkeys(found)]
    report.external = sorted(set(report.external))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infimed_lib.book_check", description=__doc__.split("\n")[0])
    parser.add_argument("html_dir", nargs="?", default="book/_build/html", help="the built book (default: %(default)s)")
    parser.add_argument("--chromium", help="Chromium executable (default: chromium on PATH)")
    parser.add_argument("--screenshots", metavar="DIR", help="also save a full-page screenshot of every page here")
    args = parser.parse_args(argv)
    try:
        report = check_book(args.html_dir, args.chromium, args.screenshots)
    except (BrowserMissing, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for line in report.problems:
        print(line)
    if report.external:
        print(f"not fetched (outside the book, checked offline): {', '.join(report.external)}")
    bad = len({line.split(": ", 1)[0] for line in report.problems})
    if report.problems:
        print(f"check-book: {len(report.problems)} problem(s) on {bad} of {len(report.pages)} pages")
        return 1
    print(f"check-book: {len(report.pages)} pages OK in {args.html_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
