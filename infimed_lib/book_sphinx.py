"""Sphinx extension for the book: removes two console errors that the pinned theme stack prints.

``book/_config.yml`` loads it (``sphinx.extra_extensions``); ``make check-book``
(``infimed_lib.book_check``) fails on any console error, and without this every page had two:

* ``Identifier 'THEBE_JS_URL' has already been declared``: Sphinx 7.4 adds an inline script
  registered after the builder started (sphinx-thebe's configuration) twice, once with filename
  ``None`` and once with ``''``, so the page declares the same ``const`` twice. Fixed upstream in
  Sphinx 8.2 (sphinx-doc/sphinx#13402), which Jupyter Book 1.x (``sphinx~=7.0``) cannot use.
* ``Got invalid theme mode: . Resetting to auto.``: pydata-sphinx-theme starts a first-time
  visitor (empty localStorage) in mode ``default_mode``, an empty string unless ``html_context``
  names one; ``auto`` is what it falls back to anyway.
"""
from __future__ import annotations


def _set_default_mode(app, config) -> None:
    config.html_context = {"default_mode": "auto", **(config.html_context or {})}


def _drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    unique, seen = [], set()
    for script in scripts:
        key = (str(getattr(script, "filename", script) or ""), repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("config-inited", _set_default_mode)
    app.connect("html-page-context", _drop_repeated_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
