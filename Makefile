# InfiMed-Foundation, reproduced. The two front-door commands are `make book` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROFILE ?= tiny
RUN_ARGS ?=
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: venv test notebooks book html bench clean distclean check-notebooks check-book

venv: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: no python3.11 or python3 on PATH (set PYTHON=/path/to/python3.11)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -r requirements.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name infimed --display-name "InfiMed (.venv)" >/dev/null
	touch $(STAMP)

test: $(STAMP) check-notebooks
	$(PY) -m pytest -q

check-notebooks: $(STAMP)
	$(PY) -m infimed_lib.runner check-sources notebooks

notebooks: $(STAMP)
	$(PY) -m infimed_lib.runner run --profile profiles/$(PROFILE).yaml $(RUN_ARGS)

html: $(STAMP)
	$(PY) -m infimed_lib.runner stage-book --profile profiles/$(PROFILE).yaml
	$(VENV)/bin/jupyter-book build book --quiet
	@echo "book: $(CURDIR)/book/_build/html/index.html"

book: notebooks html

# Opens every page of an existing build (make html) in headless Chromium; needs `apt-get install chromium`.
check-book: $(STAMP)
	$(PY) -m infimed_lib.book_check book/_build/html

bench: $(STAMP)
	$(PY) benchmarks/bench_ffd.py

clean:
	rm -rf build book/_build book/chapters runs

distclean: clean
	rm -rf $(VENV)
