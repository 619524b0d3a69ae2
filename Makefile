# InfiMed-Foundation, reproduced. The two front-door commands are `make book` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROFILE ?= tiny
RUN_ARGS ?=
# Where torch comes from: PyTorch's CPU wheels by default. A GPU machine passes a CUDA index and
# optional extras, e.g. `make venv TORCH_INDEX=https://download.pytorch.org/whl/cu128 GPU_EXTRAS="flash deepspeed"`.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
# Asked only when it answers: behind a mirror that carries its own torch wheel (a pip configuration
# with find-links or a local index) the index is unreachable, and pip would retry it for every package.
TORCH_INDEX_FLAG = $(if $(shell $(PYTHON) -c "import urllib.request; urllib.request.urlopen('$(TORCH_INDEX)/', timeout=5)" >/dev/null 2>&1 && echo up),--extra-index-url $(TORCH_INDEX))
GPU_EXTRAS ?=
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: venv test notebooks book html bench clean distclean check-notebooks sync-notebooks check-book lab \
	gpu-check paper-smoke test-exercises workshop

venv: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: no python3.11 or python3 on PATH (set PYTHON=/path/to/python3.11)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_INDEX_FLAG) -c constraints.txt -r requirements.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(if $(GPU_EXTRAS),$(PY) -m pip install -q --no-build-isolation -c constraints.txt -e ".[$(shell echo $(GPU_EXTRAS) | tr ' ' ',')]")
	$(PY) -m ipykernel install --sys-prefix --name infimed --display-name "InfiMed (.venv)" >/dev/null
	touch $(STAMP)

test: $(STAMP) check-notebooks
	$(PY) -m pytest -q

# Conventions of the committed chapters, and each .ipynb in step with its MyST Markdown twin; writes nothing.
check-notebooks: $(STAMP)
	$(PY) -m infimed_lib.runner check-sources notebooks

# Every chapter's exercise solutions against the finished run of `make book` (slow: each chapter's
# parameters and setup cells, then its solutions; they write only under runs/<profile>/exercises/).
test-exercises: $(STAMP)
	INFIMED_EXERCISE_RUN=runs/$(PROFILE) $(PY) -m pytest -q -m slow tests/test_exercises.py

# The workshop kit in build/workshop/: student notebooks (no solutions, no outputs), the instructor
# guide, and a copy of the finished run of `make book` (runs/tiny), so a class can start anywhere.
workshop: $(STAMP)
	$(PY) -m infimed_lib.workshop --profile profiles/workshop.yaml --out build/workshop

# Brings each pair back in step: cells come from whichever of the two files was saved last. A new
# chapter may start as its .md alone (an existing chapter's header copied): this writes its .ipynb.
CHAPTERS := $(sort $(basename $(wildcard notebooks/[0-9][0-9]_*.ipynb notebooks/[0-9][0-9]_*.md)))
sync-notebooks: $(STAMP)
	$(VENV)/bin/jupytext --sync $(foreach chapter,$(CHAPTERS),$(firstword $(wildcard $(chapter).ipynb) $(chapter).md))

# JupyterLab on the chapters with the project's kernel; saving a notebook there also updates its .md twin.
# Jupyter refuses to serve as root without --allow-root (containers often run as root). LAB_ARGS adds
# options, e.g. LAB_ARGS="--no-browser --port 8899".
LAB_ARGS ?=
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks --MultiKernelManager.default_kernel_name=infimed \
		$$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS)

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

# The day a GPU is lent: the 1.7B-shaped model (random weights) in bf16, one JSON report
# (build/gpu_check.json, format in the README). Without a GPU it runs a tiny shape and says what it skipped.
gpu-check: $(STAMP)
	$(PY) benchmarks/gpu_check.py --out build/gpu_check.json

# The paper profile end to end on CPU with format-exact stand-ins of the real folders (tests/paper_standins.py):
# imports the sources, then runs chapters 00-10 with profiles/paper.yaml's code path; fails on any error.
paper-smoke: $(STAMP)
	$(PY) tools/paper_smoke.py --out build/paper_smoke

clean:
	rm -rf build book/_build book/chapters runs

distclean: clean
	rm -rf $(VENV)
